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

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("omni_proxy")


@hookspec
def register_providers(register: Any) -> None:
    """Call ``register(plugin_name, ProviderClass)`` for each provider this plugin offers.

    Called once at start-up. ``plugin_name`` is what a config's ``providers.*.plugin`` names.
    """


@hookspec
def register_classifiers(register: Any) -> None:
    """Call ``register(name, classify_function)`` for each task classifier this plugin offers.

    ``classify_function(body) -> Classification | None`` (or an awaitable of one). Called once
    at start-up; the default ``classify`` hook tries the classifiers named in the config.
    """


@hookspec
def startup(app: Any, config: Any) -> Any:
    """Called when the server starts, after the registry is built. May return an awaitable."""


@hookspec
def shutdown(app: Any) -> Any:
    """Called when the server stops, before the recorder is flushed. May return an awaitable."""


@hookspec
def authenticate(request: Any, api_key: Any, config: Any) -> Any:
    """Return a ``Principal`` for ``api_key`` (the bearer or ``X-API-Key`` value, or None), None
    to let the next plugin decide, or an awaitable of either. Raise ``ProxyError`` to reject.

    All implementations run in order; the first non-None answer wins.
    """


@hookspec(firstresult=True)
def classify(body: Any, principal: Any, config: Any, classifiers: Any) -> Any:
    """Return the request's ``Classification`` (task type, confidence, signals), or an
    awaitable of it. The first non-None answer wins. ``classifiers`` are the registered
    classifiers named in ``routing.classifiers``, as ``(name, function)`` in order."""


@hookspec(firstresult=True)
def select_route(
    body: Any,
    principal: Any,
    classification: Any,
    registry: Any,
    config: Any,
    health: Any,
    quality: Any,
) -> Any:
    """Return the ``RoutePlan`` for a request: the models to try, in order. Pure: no I/O.

    ``body["model"]`` is the model the client asked for (``"auto"`` to let the router pick).
    ``health.configured(provider)`` and ``health.cooled_down(model)`` answer from memory.
    ``quality`` is the ``omni_proxy.quality.QualityModel`` loaded at start-up.
    """


@hookspec(firstresult=True)
def call_provider(
    route: Any, body: Any, stream: Any, providers: Any, context: Any, operation: Any
) -> Any:
    """Call the route's provider. Return an awaitable of the OpenAI response dict, or (when
    ``stream`` is true) an async iterator of chunk JSON bytes. Raise ``ProxyError`` on failure.
    ``operation`` is ``"chat"``, ``"embeddings"`` or ``"responses"`` (a ``CreateResponse``
    body for a provider whose ``supports_responses()`` is true: answer the upstream's
    ``Response`` dict, or when streaming its raw SSE events as bytes).
    """


@hookspec(firstresult=True)
def fallback_route(plan: Any, route: Any, error: Any, attempts: Any, context: Any) -> Any:
    """After ``route`` failed with ``error`` (a ``ProxyError``), return the next ``Route`` to
    try, or None to give up and return the error to the client."""


@hookspec
def record(event: Any) -> Any:
    """Receive the ``RequestRecord`` of every request that reached a provider (and every
    rejected one). All implementations run; errors are logged, never raised into the request.
    Must not block: queue the work (an awaitable return value is scheduled, not awaited)."""
