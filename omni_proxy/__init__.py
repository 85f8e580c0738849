"""omni-proxy: a drop-in OpenAI-compatible LLM proxy and router.

Everything a plugin needs is importable from here (``__all__``, guarded by
``tests/test_public_api.py``); the modules behind these names may move, these names stay.
Plugin tests also have ``omni_proxy.testing``.
"""

from .classifier import heuristic_classify
from .config import Config, ConfigError, ProviderSettings, load_config
from .errors import ProxyError, bad_request, upstream_error
from .guardrails.stream import StreamGuard, guard_blocked
from .plugins import (
    PluginManager,
    await_me_maybe,
    get_plugin_manager,
    hookimpl,
    provider_classes,
)
from .provider import Provider
from .registry import Providers, Registry, build_registry
from .services import Services
from .text import CHARS_PER_TOKEN, content_text, estimate_tokens, last_user_text
from .types import (
    TASK_TYPES,
    CallContext,
    Classification,
    ModelInfo,
    Principal,
    RequestRecord,
    Route,
    RoutePlan,
    Usage,
)
from .upstream.errors import (
    arguments_object,
    error_body,
    error_from_exception,
    error_from_status,
    error_message,
    parse_data_uri,
    parse_json,
    retry_after_of,
    sse_events,
)
from .upstream.pool import UpstreamResponse, stream_complete
from .wire.chat import assistant_texts, function_calls, function_tools, stop_sequences

__version__ = "0.1.0"

__all__ = [
    "CHARS_PER_TOKEN",
    "TASK_TYPES",
    "CallContext",
    "Classification",
    "Config",
    "ConfigError",
    "ModelInfo",
    "PluginManager",
    "Principal",
    "Provider",
    "ProviderSettings",
    "Providers",
    "ProxyError",
    "Registry",
    "RequestRecord",
    "Route",
    "RoutePlan",
    "Services",
    "StreamGuard",
    "UpstreamResponse",
    "Usage",
    "__version__",
    "arguments_object",
    "assistant_texts",
    "await_me_maybe",
    "bad_request",
    "build_registry",
    "content_text",
    "error_body",
    "error_from_exception",
    "error_from_status",
    "error_message",
    "estimate_tokens",
    "function_calls",
    "function_tools",
    "get_plugin_manager",
    "guard_blocked",
    "heuristic_classify",
    "hookimpl",
    "last_user_text",
    "load_config",
    "parse_data_uri",
    "parse_json",
    "provider_classes",
    "retry_after_of",
    "sse_events",
    "stop_sequences",
    "stream_complete",
    "upstream_error",
]
