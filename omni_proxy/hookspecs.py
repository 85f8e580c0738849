"""The hooks a request flows through: authenticate → classify → select → call → fallback → record.

Every implementation is a plain ``def``. One that needs I/O returns an awaitable (or an
async iterator, for streams) and the core awaits it: pluggy knows nothing of asyncio, and an
``async def`` implementation of a ``firstresult`` hook would always "win" because a
coroutine object is never ``None``. ``async def`` implementations are refused at
registration.

Implementations may take any subset of a hook's arguments, so arguments are only ever
added, never renamed or removed. Each hook is documented in ``docs/plugin-hooks.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import pluggy

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request

    from .config import Config
    from .errors import ProxyError
    from .provider import Provider
    from .quality import QualityModel
    from .registry import Providers, Registry
    from .routing.health import Health
    from .services import Services
    from .types import (
        Attempt,
        CallContext,
        Classification,
        Principal,
        RequestRecord,
        Route,
        RoutePlan,
    )

hookspec = pluggy.HookspecMarker("omni_proxy")

T = TypeVar("T")
#: A hook's answer: the value itself, or an awaitable the core awaits.
Maybe: TypeAlias = "T | Awaitable[T]"
#: A classifier ``register_classifiers`` registers: a request body in, a label (or None) out.
ClassifierFn: TypeAlias = (
    "Callable[[dict[str, Any]], Classification | Awaitable[Classification | None] | None]"
)


@hookspec
def register_providers(register: Callable[[str, type[Provider]], None]) -> None:
    """Call ``register(plugin_name, ProviderClass)`` for each provider this plugin offers.

    Called once at start-up. ``plugin_name`` is what a config's ``providers.*.plugin`` names.
    """


@hookspec
def register_classifiers(register: Callable[[str, ClassifierFn], None]) -> None:
    """Call ``register(name, classify_function)`` for each task classifier this plugin offers.

    ``classify_function(body) -> Classification | None`` (or an awaitable of one). Called once
    at start-up; the default ``classify`` hook tries the classifiers named in the config.
    """


@hookspec
def startup(app: Starlette, config: Config, services: Services) -> Maybe[None]:
    """Called when the server starts, after the registry is built. May return an awaitable."""


@hookspec
def shutdown(app: Starlette, services: Services) -> Maybe[None]:
    """Called when the server stops, before the recorder is flushed. May return an awaitable."""


@hookspec
def authenticate(request: Request, api_key: str | None, config: Config) -> Maybe[Principal | None]:
    """Return a ``Principal`` for ``api_key`` (the bearer or ``X-API-Key`` value, or None), None
    to let the next plugin decide, or an awaitable of either. Raise ``ProxyError`` to reject.

    All implementations run in order; the first non-None answer wins.
    """


@hookspec
def admit(principal: Principal, context: CallContext) -> Maybe[None]:
    """Let an authenticated request through, or refuse it by raising ``ProxyError`` (a 429
    for a rate limit or budget), before anything is classified or called.

    All implementations run, in order; an awaitable answer is awaited. ``context`` holds the
    estimates admission needs (``prompt_estimate``, ``output_estimate``, ``requested_model``).
    The built-in rate limits and budgets are one such plugin (``omni_proxy.defaults.limits``).
    """


@hookspec(firstresult=True)
def classify(
    body: dict[str, Any],
    principal: Principal | None,
    config: Config,
    classifiers: list[tuple[str, ClassifierFn]],
) -> Maybe[Classification | None]:
    """Return the request's ``Classification`` (task type, confidence, signals), or an
    awaitable of it. The first non-None answer wins. ``classifiers`` are the registered
    classifiers named in ``routing.classifiers``, as ``(name, function)`` in order."""


@hookspec(firstresult=True)
def select_route(
    body: dict[str, Any],
    principal: Principal | None,
    classification: Classification,
    registry: Registry,
    config: Config,
    health: Health,
    quality: QualityModel | None,
) -> RoutePlan | None:
    """Return the ``RoutePlan`` for a request: the models to try, in order. Pure: no I/O.

    ``body["model"]`` is the model the client asked for (``"auto"`` to let the router pick).
    ``health.configured(provider)`` and ``health.cooled_down(model)`` answer from memory.
    ``quality`` is the ``omni_proxy.quality.QualityModel`` loaded at start-up.
    """


@hookspec(firstresult=True)
def call_provider(
    route: Route,
    body: dict[str, Any],
    stream: bool,
    providers: Providers,
    context: CallContext,
    operation: str,
) -> Awaitable[dict[str, Any]] | AsyncIterator[bytes] | None:
    """Call the route's provider. Return an awaitable of the OpenAI response dict, or (when
    ``stream`` is true) an async iterator of chunk JSON bytes. Raise ``ProxyError`` on failure.
    ``operation`` is ``"chat"``, ``"embeddings"`` or ``"responses"`` (a ``CreateResponse``
    body for a provider whose ``supports_responses()`` is true: answer the upstream's
    ``Response`` dict, or when streaming its raw SSE events as bytes).
    """


@hookspec(firstresult=True)
def fallback_route(
    plan: RoutePlan,
    route: Route,
    error: ProxyError,
    attempts: list[Attempt],
    context: CallContext,
) -> Route | None:
    """After ``route`` failed with ``error`` (a ``ProxyError``), return the next ``Route`` to
    try, or None to give up and return the error to the client."""


@hookspec
def record(event: RequestRecord) -> Awaitable[None] | None:
    """Receive the ``RequestRecord`` of every request that reached a provider (and every
    rejected one). All implementations run; errors are logged, never raised into the request.
    Must not block: queue the work (an awaitable return value is scheduled, not awaited)."""


@hookspec
def guard_request(body: Any, principal: Any, config: Any, context: Any, operation: Any) -> Any:
    """Check a request after authentication and before any provider sees it.

    Redact by changing ``body`` in place; block by raising ``ProxyError`` (``guard_blocked``
    makes the 400); pass by returning None. May return an awaitable. All implementations run,
    in order, each seeing the previous one's redactions. Per-request state for the answer
    goes in ``context.guard`` (a dict, keyed by your plugin's name); counts of what was found
    in ``context.findings`` (``type -> count``; never the values).
    """


@hookspec
def guard_response(
    response: Any, stream: Any, principal: Any, config: Any, context: Any, operation: Any
) -> Any:
    """Check the answer before the client sees it.

    Not streaming: ``response`` is the OpenAI response dict; change it in place, or raise
    ``ProxyError`` to answer an error instead. Streaming: ``response`` is None; return a
    ``StreamGuard`` (``scan(text, final) -> (release, hold)``) to see the content as it
    passes, or None to leave the stream alone. All implementations run, in order.
    """
