"""Rate limits and budgets as an ordinary plugin: ``admit`` refuses, ``record`` settles.

Registered at start-up, once the database and Redis it reads are connected, under
``omni_proxy.defaults.limits`` (``data.start``). A plugin can add its own limits with its
own ``admit``; the built-in one is never skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from ..accounts.limits import Limiter
from ..plugins import hookimpl
from ..types import CallContext, Principal, RequestRecord

log = logging.getLogger("omni_proxy.limits")

NAME = "omni_proxy.defaults.limits"


class LimitsPlugin:
    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter

    @hookimpl(trylast=True)
    def admit(self, principal: Principal, context: CallContext) -> Awaitable[None] | None:
        if not principal.limits:
            return None  # unlimited (the master key): no coroutine to make and await
        return self.limiter.admit(principal, context)

    @hookimpl(tryfirst=True)
    def record(self, event: RequestRecord) -> None:
        # Settled first (before the recorder queues the row) and never raised: a failing
        # ``record`` implementation would stop pluggy from calling the ones after it.
        try:
            self.limiter.settle(event)
        except Exception:
            log.exception("settling usage failed for request %s", event.request_id)
