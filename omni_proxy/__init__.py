"""omni-proxy: a drop-in OpenAI-compatible LLM proxy and router."""

from .errors import ProxyError
from .guardrails.stream import StreamGuard, guard_blocked
from .plugins import hookimpl
from .provider import Provider
from .types import Classification, ModelInfo, Principal, RequestRecord, Route, RoutePlan

__version__ = "0.1.0"

__all__ = [
    "Classification",
    "ModelInfo",
    "Principal",
    "Provider",
    "ProxyError",
    "RequestRecord",
    "Route",
    "RoutePlan",
    "StreamGuard",
    "__version__",
    "guard_blocked",
    "hookimpl",
]
