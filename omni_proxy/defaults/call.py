"""Default ``call_provider``: hand the request to the route's registered provider."""

from __future__ import annotations

from typing import Any

from ..errors import ProxyError
from ..plugins import hookimpl
from ..registry import Providers
from ..types import Route


@hookimpl(trylast=True)
def call_provider(
    route: Route, body: dict[str, Any], stream: bool, providers: Providers, operation: str = "chat"
) -> Any:
    provider = providers.get(route.model.provider)
    if provider is None:
        raise ProxyError(
            503,
            f"provider {route.model.provider!r} is not configured",
            type="server_error",
            code="provider_not_configured",
        )
    upstream = {**body, "model": route.model.model}
    if operation == "embeddings":
        return provider.embed(upstream, route.model)
    if operation == "responses":  # only for providers whose supports_responses() is true
        if stream:
            return provider.responses_stream(upstream, route.model)
        return provider.responses(upstream, route.model)
    if stream:
        return provider.stream(upstream, route.model)
    return provider.chat(upstream, route.model)
