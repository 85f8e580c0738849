"""``POST /v1/completions`` (legacy), served by chat models (endpoints/completions.py)."""

from __future__ import annotations

from ..endpoints import route
from ..endpoints.completions import Completions

completions = route(Completions())
