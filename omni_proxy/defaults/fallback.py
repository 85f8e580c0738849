"""Default ``fallback_route``: the next untried model in the plan, for errors a retry can fix.

400/401/403/404 say the request itself is wrong, so another model would only repeat them.
A model of another provider goes before the rest of the failed one's (an outage or a
rate limit usually takes a whole provider), and the last attempt the budget allows is
kept for the configured ``routing.fallback_model``, so a healthy fallback is never left
untried behind cheaper models of one failing provider.
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
    tried = {a.model for a in attempts} | {route.model.name}
    untried = [r for r in plan.routes if r.model.name not in tried]
    reserved = config.routing.fallback_model if config else None
    last = next((r for r in untried if r.model.name == reserved), None)
    if last is not None and len(attempts) + 1 >= max_attempts:
        return last
    if untried:
        other = (r for r in untried if r.model.provider != route.model.provider)
        return next(other, untried[0])
    # Everything was tried: the last model again (after a back-off) if waiting can help.
    if error.code in NOT_FIXED_BY_WAITING:
        return None
    return route
