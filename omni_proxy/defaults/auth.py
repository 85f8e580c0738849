"""Default ``authenticate``: the bootstrap master key (``OMNI_MASTER_KEY``)."""

from __future__ import annotations

import hmac

from ..config import Config
from ..plugins import hookimpl
from ..types import Principal

MASTER = Principal(org_id="default", key_id=None, permissions=frozenset({"read", "write", "admin"}))


@hookimpl(trylast=True)
def authenticate(api_key: str | None, config: Config) -> Principal | None:
    master = config.master_key
    if api_key and master and hmac.compare_digest(api_key.encode(), master.encode()):
        return MASTER
    return None
