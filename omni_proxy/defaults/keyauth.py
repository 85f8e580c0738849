"""Default ``authenticate`` for database keys: answered from the in-memory ``KeyCache``."""

from __future__ import annotations

from ..keys import KeyCache
from ..plugins import hookimpl
from ..types import Principal


class KeyAuthPlugin:
    """Registered by ``data.start``; ``trylast`` like the master-key default, so an installed
    plugin's ``authenticate`` runs first and both defaults are still consulted."""

    def __init__(self, cache: KeyCache) -> None:
        self.cache = cache

    @hookimpl(trylast=True)
    def authenticate(self, api_key: str | None) -> Principal | None:
        if not api_key:
            return None
        return self.cache.lookup(api_key)
