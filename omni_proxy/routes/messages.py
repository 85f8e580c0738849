"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages format
(omni_proxy/endpoints/messages.py)."""

from __future__ import annotations

from ..endpoints import route
from ..endpoints.messages import CountTokens, Messages

messages = route(Messages())
count_tokens = route(CountTokens())
