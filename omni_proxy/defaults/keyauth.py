"""Default ``authenticate`` for database keys: answered from the in-memory ``KeyCache``."""

from __future__ import annotations

import hmac
from typing import Any

from ..accounts.keys import KeyCache
from ..plugins import hookimpl


class KeyAuthPlugin:
    """Registered by ``data.start``; ``trylast`` like the master-key default, so an installed
    plugin's ``authenticate`` runs first and both defaults are still consulted."""

    def __init__(self, cache: KeyCache) -> None:
        self.cache = cache

    @hookimpl(trylast=True)
    def authenticate(self, api_key: str | None, config: Any) -> Any:
        if not api_key:
            return None
        if self.cache.knows(api_key):
            return self.cache.lookup(api_key)  # the hot path: memory only
        master = getattr(config, "master_key", None)
        if master and hmac.compare_digest(api_key.encode(), master.encode()):
            return None  # the master key's default answers it: no database look-up
        # A key created elsewhere since the last reload: asked of the database (rarely).
        return self.cache.lookup_missing(api_key)
