"""Default ``fallback_route``: the next untried model in the plan, for errors a retry can fix.

400/401/403/404 say the request itself is wrong, so another model would only repeat them.
"""

from __future__ import annotations

import time

from ..config import Config
from ..errors import ProxyError
from ..plugins import hookimpl
from ..types import Attempt, CallContext, Route, RoutePlan

# Failures that the same model will repeat however long we wait.
NOT_FIXED_BY_WAITING = frozenset(
    {"upstream_auth_failed", "upstream_model_not_found", "upstream_insufficient_credits"}
)


@hookimpl(trylast=True)
def fallback_route(
    plan: RoutePlan, route: Route, error: ProxyError, attempts: list[Attempt], context: CallContext
) -> Route | None:
    if not error.retryable:
        return None
    config: Config | None = context.config
    max_attempts = config.routing.max_attempts if config else 3
    if len(attempts) >= max_attempts:
        return None
    if context.deadline is not None and time.monotonic() >= context.deadline:
        return None
    tried = {a.model for a in attempts}
    for candidate in plan.routes:
        if candidate.model.name not in tried and candidate is not route:
            return candidate
    # Everything was tried: the last model again (after a back-off) if waiting can help.
    if error.code in NOT_FIXED_BY_WAITING:
        return None
    return route
