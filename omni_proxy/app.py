"""Building the ASGI app: config → plugins → registry → pipeline → routes.

Everything that can be wrong with the config is found in ``create_app`` (before a port is
bound); I/O (database, migrations, the recorder) happens in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from . import dashboard
from .config import Config, ConfigError, load_config
from .defaults.record import RecordPlugin
from .errors import ProxyError
from .pipeline import Pipeline
from .plugins import PluginManager, await_me_maybe, get_plugin_manager, provider_classes
from .registry import Providers, build_registry
from .routes import (
    admin,
    audit,
    chat,
    completions,
    embeddings,
    feedback,
    key_admin,
    messages,
    meta,
    responses,
    usage,
)
from .routing.health import Health
from .server import alerts, security
from .server.http import (
    RequestIdMiddleware,
    assign_request_id,
    error_response,
    fast_request,
    id_headers,
)
from .server.logs import RequestLogPlugin, configure
from .server.metrics import MetricsPlugin, metrics_endpoint
from .server.otel import build_exporter
from .services import AppState, Services
from .storage import bodies, data, open_database
from .storage.cache import build_cache
from .storage.recorder import Recorder
from .storage.storable import error_kind
from .wire import openapi

log = logging.getLogger("omni_proxy")


def chosen_classifiers(pm: PluginManager, config: Config) -> list[tuple[str, Any]]:
    """The registered classifiers ``routing.classifiers`` names, in its order."""
    found: dict[str, Any] = {}
    pm.hook.register_classifiers(register=lambda name, fn: found.setdefault(name, fn))
    missing = [n for n in config.routing.classifiers if n not in found]
    if missing:
        raise ConfigError(
            f"invalid config: routing.classifiers: no plugin registers {missing[0]!r} "
            f"(registered: {', '.join(sorted(found)) or 'none'})"
        )
    return [(name, found[name]) for name in config.routing.classifiers]


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = {
        404: f"Unknown request URL: {request.method} {request.url.path}.",
        405: f"Method {request.method} is not allowed on {request.url.path}.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(
        ProxyError(exc.status_code, message, code=code), request.scope["state"].get("request_id")
    )


def _proxy_error(request: Request, exc: Exception) -> Response:
    """A ``ProxyError`` a route raised: CONTRACT.md's error body, with its status and headers.
    Routes that must also record the failure (the model calls) catch it themselves."""
    assert isinstance(exc, ProxyError)
    return error_response(exc, request.scope["state"].get("request_id"))


#: Exception types answered below ServerErrorMiddleware (which would log each twice, re-raise
#: it to the server and close the client's keep-alive connection).
_BUG_TYPES: tuple[type[Exception], ...] = (
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    OSError,
    RuntimeError,
    TypeError,
    ValueError,
)


def _server_error(request: Request, exc: Exception) -> Response:
    if error_kind(exc) == "outage":
        # The database (usage, keys, the dashboard) is away: a 503 to retry, not a bug.
        log.warning("database unavailable on %s: %s", request.url.path, exc)
        err = ProxyError(
            503,
            "The proxy's database is unavailable; retry shortly.",
            type="server_error",
            code="database_unavailable",
            headers={"retry-after": "5"},
        )
    else:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        err = ProxyError(500, "The proxy hit an internal error.", type="server_error")
    rid = request.scope.get("state", {}).get("request_id")
    response = error_response(err, rid)
    if rid:  # this response bypasses RequestIdMiddleware (it sits outside it)
        response.raw_headers.extend(id_headers(request.scope))
    return response


Endpoint = Callable[[Request], Awaitable[Response]]


class OmniApp(Starlette):
    """Starlette, with the hottest routes dispatched straight to their endpoint.

    Five middleware layers, the router and Starlette's endpoint wrapper took about a tenth of
    a proxied chat completion's CPU. For the routes in ``fast_routes`` this does what that
    stack does for them (request id, header limit, an unhandled error as CONTRACT.md's 500)
    and nothing else; every other request goes through the stack as before. The shortcut is
    only taken while the stack is exactly the one it reproduces: once any other middleware
    (CORS, or a user's ``add_middleware``) or exception handler is there, ``fast_routes`` is
    emptied when the stack is built, so that middleware sees every route.
    """

    #: The middleware ``_dispatch`` does the work of, outermost first.
    REPRODUCED: tuple[object, ...] = (RequestIdMiddleware, security.HeaderLimitMiddleware)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_routes: dict[tuple[str, str], Endpoint] = {}
        self._own_handlers = dict(self.exception_handlers)

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette calls this once, on the first event, after every ``add_middleware``."""
        stack: tuple[object, ...] = tuple(m.cls for m in self.user_middleware)
        if stack != self.REPRODUCED or self.exception_handlers != self._own_handlers:
            self.fast_routes.clear()
        return super().build_middleware_stack()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        if scope["type"] == "http":
            endpoint = self.fast_routes.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                await self._dispatch(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _dispatch(
        self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send
    ) -> None:
        rid = assign_request_id(scope)
        request = fast_request(scope, receive, send)
        response: Response
        if security.head_size(scope) > security.MAX_HEADER_BYTES:
            response = error_response(security.headers_too_large(security.MAX_HEADER_BYTES), rid)
        else:
            try:
                response = await endpoint(request)
            except ProxyError as exc:
                response = _proxy_error(request, exc)
            except Exception as exc:
                response = _server_error(request, exc)
        if not any(k == b"x-request-id" for k, _ in response.raw_headers):
            response.raw_headers.extend(id_headers(scope))
        await response(scope, receive, send)


def _unreachable(exc: BaseException) -> bool:
    """Errors that waiting can fix: no route, refused, or PostgreSQL not up yet (psycopg is
    only imported when PostgreSQL is configured, so it is recognised by module name)."""
    if isinstance(exc, OSError):
        return True
    return type(exc).__module__.startswith(("psycopg", "psycopg_pool")) and any(
        cls.__name__ == "OperationalError" for cls in type(exc).__mro__
    )


async def connect_database(url: str, wait_s: float = 30.0) -> Any:
    """Open and migrate the database, waiting for it a while: in a fresh deployment the
    proxy often starts before PostgreSQL accepts connections."""
    async for attempt in AsyncRetrying(
        wait=wait_random_exponential(multiplier=0.25, max=4),
        stop=stop_after_delay(wait_s),
        retry=retry_if_exception(_unreachable),
        before_sleep=lambda state: log.warning(
            "database not reachable yet (%s); retrying", state.outcome and state.outcome.exception()
        ),
        reraise=True,
    ):
        with attempt:
            db = await open_database(url)
            try:
                await db.migrate()
            except BaseException:
                await db.close()
                raise
            return db
    raise AssertionError("unreachable")  # pragma: no cover


def routes() -> list[Route]:
    return [
        Route("/v1/chat/completions", chat.chat_completions, methods=["POST"]),
        Route("/chat/completions", chat.chat_completions, methods=["POST"]),
        Route("/v1/chat", chat.simple_chat, methods=["POST"]),
        Route("/v1/agent-step", chat.agent_step, methods=["POST"]),
        Route("/v1/router/debug", chat.router_debug, methods=["POST"]),
        Route("/v1/embeddings", embeddings.embeddings, methods=["POST"]),
        Route("/embeddings", embeddings.embeddings, methods=["POST"]),
        Route("/v1/completions", completions.completions, methods=["POST"]),
        Route("/completions", completions.completions, methods=["POST"]),
        Route("/v1/messages", messages.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", messages.count_tokens, methods=["POST"]),
        Route("/v1/responses", responses.create_response, methods=["POST"]),
        Route("/v1/responses/{response_id}", responses.get_response, methods=["GET"]),
        Route("/v1/responses/{response_id}", responses.delete_response, methods=["DELETE"]),
        Route("/v1/responses/{response_id}/input_items", responses.list_input_items),
        Route("/v1/models", meta.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", meta.get_model, methods=["GET"]),
        Route("/health", meta.health, methods=["GET"]),
        Route("/ready", meta.ready, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi.openapi_endpoint, methods=["GET"]),
        *usage.ROUTES,
        *feedback.ROUTES,
        *admin.ROUTES,
        *audit.ROUTES,
        *key_admin.ROUTES,
        *dashboard.ROUTES,
    ]


def create_app(config: Config | None = None, pm: PluginManager | None = None) -> Starlette:
    """The app for a config (default: read from the environment) and plugin manager."""
    config = config or load_config()
    pm = pm or get_plugin_manager()
    classes = provider_classes(pm)
    registry = build_registry(config, classes)
    providers = Providers(config, classes)
    health = Health(providers.configured)
    bodies.install(pm, config)  # before the pipeline: its guard steps look for guard hooks
    pipeline = Pipeline(pm, config, registry, providers, health)
    pipeline.classifiers = chosen_classifiers(pm, config)
    if not pm.has_plugin("omni_proxy.defaults.log"):
        pm.register(RequestLogPlugin(), name="omni_proxy.defaults.log")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await connect_database(config.database_url)
        recorder = Recorder(db)
        await recorder.start()
        record_plugin = RecordPlugin(recorder)
        pm.register(record_plugin, name="omni_proxy.defaults.record")
        services.db, services.recorder = db, recorder
        await data.start(services)
        await alerts.start(services, config.alerts)
        pipeline.cache = build_cache(config.cache, config.redis_url)
        pipeline.otel = build_exporter(config.tracing)
        for result in pm.hook.startup(app=app, config=config, services=services):
            await await_me_maybe(result)
        try:
            yield
        finally:
            for result in pm.hook.shutdown(app=app, services=services):
                await await_me_maybe(result)
            await alerts.stop(services)
            await data.stop(services)
            if pipeline.cache is not None:
                await pipeline.cache.aclose()
                pipeline.cache = None
            if pipeline.otel is not None:
                await asyncio.to_thread(pipeline.otel.shutdown)  # sends what is queued
                pipeline.otel = None
            await recorder.stop()
            pm.unregister(record_plugin)
            await providers.aclose()
            await db.close()
            services.db = services.recorder = None

    app = OmniApp(
        routes=routes(),
        middleware=[Middleware(RequestIdMiddleware), *security.middleware(config)],
        exception_handlers={
            HTTPException: _http_error,
            ProxyError: _proxy_error,
            # Database outages answered here, below ServerErrorMiddleware: it would log each
            # a second time, re-raise it to the server and close the client's connection.
            psycopg.OperationalError: _server_error,
            sqlite3.OperationalError: _server_error,
            # Bugs too: answered once, the connection kept (the catch-all below re-raises).
            **dict.fromkeys(_BUG_TYPES, _server_error),
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    for path in ("/v1/chat/completions", "/chat/completions"):
        app.fast_routes[("POST", path)] = chat.chat_completions
    services = Services(config, pm, pipeline, providers)
    app.state = AppState()
    app.state.services = services  # their one home on the app: ``services(request)``
    metrics_plugin = services.metrics = MetricsPlugin(services)
    if not pm.has_plugin("omni_proxy.defaults.metrics"):
        pm.register(metrics_plugin, name="omni_proxy.defaults.metrics")
    return app


def tune_gc() -> None:
    """Fewer, cheaper collections: a full collection of everything imported at start-up took
    36-50 ms every ~0.7 s under load (bench/README.md), stalling every request in flight."""
    gc.collect()
    gc.freeze()  # start-up objects (modules, registry, plugins) are never collected again
    gc.set_threshold(7_000, 10, 100)


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` (and ``serve --workers N``): config from the env."""
    config = load_config()
    configure(config.log_level)
    app = create_app(config)
    tune_gc()
    return app


__all__ = ["app_from_env", "create_app", "provider_classes"]  # provider_classes: old imports
