"""Default ``select_route``: the routing engine of ``omni_proxy.routing.plan``."""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..plugins import hookimpl
from ..quality import QualityModel
from ..registry import Registry
from ..routing.health import Health
from ..routing.plan import plan_route
from ..types import Classification, RoutePlan


@hookimpl(trylast=True)
def select_route(
    body: dict[str, Any],
    classification: Classification,
    registry: Registry,
    config: Config,
    health: Health,
    quality: QualityModel | None = None,
) -> RoutePlan:
    return plan_route(
        body,
        classification,
        registry,
        config,
        configured=health.configured,
        cooled_down=health.cooled_down,
        quality=quality,
    )
