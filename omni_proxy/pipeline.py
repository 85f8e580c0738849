"""One request, one owner: authenticate → read → validate → admit → classify → select →
call (falling back) → record, for every endpoint (``Pipeline.handle``).

An ``Endpoint`` (omni_proxy/endpoints/) says how its wire format is parsed and rendered;
everything between is here, in one call loop for every operation, streamed or not. The
request's record is the ``Owner``'s (owner.py). Everything a step needs arrives as an
argument; the registry, keys and prices are in memory, so nothing here waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from . import quality as quality_models
from .calls import (
    CHAT,
    EMBEDDINGS,
    Handoff,
    Operation,
    attempt,
    check_model_allowed,
    final_error,
    next_untried,
    only_requested,
)
from .config import Config, ConfigError
from .errors import ProxyError, invalid_api_key, model_not_found, permission_denied
from .guardrails.steps import GuardSteps
from .owner import Owner, costs, omni_object
from .plugins import PluginManager, await_me_maybe, first_answer
from .registry import Providers, Registry
from .routing.deployments import Balancer
from .routing.health import Health
from .routing.plan import closed_answer, disagreement, inadequate, prompt_text
from .server import tracing
from .server.http import api_key_of, read_json, request_id
from .server.logs import upstream_failure
from .storage.cache import ResponseCache
from .types import (
    Attempt,
    CallContext,
    Classification,
    ModelInfo,
    Principal,
    Route,
    RoutePlan,
    Usage,
)
from .wire.relay import aclose, relay_chat

if TYPE_CHECKING:
    from .endpoints.base import Endpoint

__all__ = ["CHAT", "EMBEDDINGS", "Handoff", "Operation", "Pipeline", "final_error"]

log = logging.getLogger("omni_proxy")
T = TypeVar("T")


def load_quality(path: str | None) -> quality_models.QualityModel:
    """The quality model at ``path`` (the shipped one when None); a bad file stops start-up."""
    try:
        return quality_models.load(path)
    except (OSError, ValueError) as err:
        raise ConfigError(f"invalid config: routing.quality_model: {path!r}: {err}") from err


class Pipeline:
    """The hook chain with the state it needs, built once per app."""

    def __init__(
        self,
        pm: PluginManager,
        config: Config,
        registry: Registry,
        providers: Providers,
        health: Health,
    ) -> None:
        self.pm = pm
        self.config = config
        self.registry = registry
        self.providers = providers
        self.health = health
        self.hook = pm.hook
        self.background: set[asyncio.Task[Any]] = set()
        #: (name, function) of the classifiers ``routing.classifiers`` names, in order.
        self.classifiers: list[tuple[str, Any]] = []
        #: Expected answer quality per model, loaded once (``routing.quality_model``).
        self.quality = load_quality(config.routing.quality_model)
        #: Provider keys, blanked out of upstream error messages (which reach clients, logs
        #: and the database): some upstreams echo the key they were sent.
        secrets: set[str] = set()
        for name in providers.names():
            provider = providers.get(name)
            key = provider.settings.api_key if provider is not None else None
            if key and len(key) >= 8:
                secrets.add(key)
        self._secrets = sorted(secrets, key=len, reverse=True)
        #: guard_request / guard_response; they do nothing unless a guard can act.
        self.guards = GuardSteps(pm, config, self.hook)
        #: The response cache (``cache.mode``), set at start-up; None when off.
        self.cache: ResponseCache | None = None
        #: Shares each model's ``deployments`` (``routing.load_balancing``).
        self.balancer = Balancer(config.routing.load_balancing)
        #: The span exporter (``tracing.otlp_endpoint``), set at start-up; None when off.
        self.otel: Any = None
        #: Registry views for keys limited to some models, for ``_views_of``.
        self._views: dict[frozenset[str], Registry] = {}
        self._views_of: Registry | None = None

    # -- the request, start to end --------------------------------------------------------
    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        """The request as ``endpoint`` reads and answers it; recorded once by its owner."""
        ctx = CallContext(
            request_id=request_id(request),
            endpoint=endpoint.path,
            config=self.config,
            client_request_id=request.scope["state"].get("client_request_id"),
        )
        owner = Owner(self, ctx, endpoint.records)
        try:
            if endpoint.traced:
                headers = request.headers
                tracing.begin(ctx.request_id, headers.get("traceparent"), headers.get("tracestate"))
            ctx.principal = await self.authenticate(
                request, api_key_of(request), endpoint.permission
            )
            raw = await read_json(request, self.config.max_body_bytes)
            job = await endpoint.parse(self, ctx, raw, request)
            ctx.deadline = time.monotonic() + self.config.routing.deadline_s
            await endpoint.admit(self, ctx, job)
            await endpoint.plan(self, ctx, job)
            response = await endpoint.answer(self, ctx, job, owner)
        except ProxyError as err:
            owner.failed(err)
            return endpoint.render_error(err, ctx)
        except BaseException as exc:
            owner.broke(exc)
            raise
        if not owner.streams:
            owner.record()  # a stream's owner records when the stream closes
        return response

    # -- authenticate -------------------------------------------------------------------
    async def authenticate(self, request: Any, api_key: str | None, permission: str) -> Principal:
        if not api_key:
            raise invalid_api_key(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        results = self.hook.authenticate(request=request, api_key=api_key, config=self.config)
        principal = await first_answer(results)
        if principal is None:
            raise invalid_api_key("Incorrect API key provided.")
        if not principal.can(permission):
            raise permission_denied(f"This key lacks the '{permission}' permission.")
        return principal  # type: ignore[no-any-return]

    async def admit(self, ctx: CallContext) -> None:
        """The key's model allow-list, then rate limits and budgets, for a request that
        will reach a provider (or the response cache)."""
        if self.otel is not None:
            ctx.trace, ctx.spans = tracing.current(), []
        if ctx.principal is None:
            return
        allowed = ctx.principal.limits.get("models")
        if allowed and ctx.requested_model not in (None, "", "auto"):
            check_model_allowed(allowed, str(ctx.requested_model))
        for result in self.hook.admit(principal=ctx.principal, context=ctx):
            await await_me_maybe(result)

    def registry_for(self, principal: Principal | None) -> Registry:
        """The registry, or for a key limited to some models the part of it it may use
        (``auto`` routes among those only). Views are built once per allow-list."""
        allowed = principal.limits.get("models") if principal is not None else None
        if not allowed:
            return self.registry
        if self._views_of is not self.registry:
            self._views, self._views_of = {}, self.registry
        view = self._views.get(allowed)
        if view is None:
            view = self._views[allowed] = self.registry.subset(allowed)
        return view

    # -- classify and select ------------------------------------------------------------
    async def classify(self, body: dict[str, Any], principal: Principal | None) -> Classification:
        result = self.hook.classify(
            body=body, principal=principal, config=self.config, classifiers=self.classifiers
        )
        classification = await await_me_maybe(result)
        if classification is None:
            return Classification("chat", 0.0, ("no_classifier",))
        return classification  # type: ignore[no-any-return]

    def select(
        self,
        body: dict[str, Any],
        principal: Principal | None,
        classification: Classification,
    ) -> RoutePlan:
        model = body.get("model")
        if model != "auto" and model not in self.registry:
            raise model_not_found(str(model))
        registry = self.registry_for(principal)
        if registry is not self.registry and model != "auto":
            check_model_allowed(registry, str(model))
        plan = self.hook.select_route(
            body=body,
            principal=principal,
            classification=classification,
            registry=registry,
            config=self.config,
            health=self.health,
            quality=self.quality,
        )
        if plan is None or not plan.routes:
            raise ProxyError(503, "no model is available for this request", type="server_error")
        return plan  # type: ignore[no-any-return]

    async def route(
        self, body: dict[str, Any], routing: dict[str, Any], ctx: CallContext
    ) -> RoutePlan:
        """Guard (before any classifier sees the text), classify (unless the endpoint already
        did) and plan with the routing options."""
        if self.guards.wanted(ctx):
            await self.guards.request_once(body, ctx, "chat")
        if ctx.classification is None:
            ctx.classification = await self.classify(body, ctx.principal)
        plan = self.select({**body, **routing}, ctx.principal, ctx.classification)
        requested = body.get("model")
        strict = routing.get("strict_model", self.config.routing.strict_model)
        if strict and requested and requested != "auto":
            plan = only_requested(plan, str(requested))
        ctx.plan = plan
        if self.config.logging.bodies:  # kept with the routing log only with body logging on
            ctx.prompt_text = prompt_text(body) or None
        return plan

    async def _next_route(self, route: Route, error: ProxyError, ctx: CallContext) -> Route | None:
        assert ctx.plan is not None
        # The provider that failed: a deployment's when the model has several.
        provider = ctx.route.model.provider if ctx.route is not None else route.model.provider
        ctx.attempts.append(
            Attempt(route.model.name, provider, error.status, error.message, error.code)
        )
        upstream_failure(
            ctx.request_id,
            route.model.name,
            provider,
            error.status,
            error.code,
            error.message,
        )
        if error.retryable:
            self.health.failed(route.model.name)
        nxt = self.hook.fallback_route(
            plan=ctx.plan, route=route, error=error, attempts=ctx.attempts, context=ctx
        )
        if nxt is not None and any(a.model == nxt.model.name for a in ctx.attempts):
            await self._backoff(error, ctx)
        return nxt  # type: ignore[no-any-return]

    async def _backoff(self, error: ProxyError, ctx: CallContext) -> None:
        """Before retrying a model that failed: jittered, honouring ``retry-after``."""
        tries = sum(1 for a in ctx.attempts if a.model == ctx.attempts[-1].model)
        delay = error.retry_after or min(4.0, 0.25 * 2 ** (tries - 1)) * random.uniform(0.5, 1.0)
        if ctx.deadline is not None:
            delay = min(delay, max(0.0, ctx.deadline - time.monotonic()))
        await asyncio.sleep(delay)

    # -- call and fall back: the one loop -------------------------------------------------
    async def call(
        self, body: dict[str, Any], ctx: CallContext, op: Operation = CHAT, stream: bool = False
    ) -> Any:
        """The first route that answers: its answer, or streaming its iterator and first
        piece (escalating when cascading). Failing before the first piece falls back like a
        non-streamed call; afterwards the client already has bytes, so the relay ends the
        stream with an error event. Returns a ``Handoff`` where ``op`` cannot go on."""
        assert ctx.plan is not None
        if not op.guarded and self.guards.wanted(ctx):
            await self.guards.request_once(body, ctx, op.name)
        route: Route | None = ctx.plan.primary
        last: ProxyError | None = None
        cascade = not stream and op.name == "chat" and ctx.plan.strategy == "cascade"
        while route is not None:
            if op.handoff is not None and op.handoff(route):
                assert last is not None  # the primary is always sendable
                return Handoff(route, last)
            ctx.route = route
            t0 = time.perf_counter()
            try:
                result = await attempt(
                    self, route, ctx, lambda r: self._send(r, body, ctx, op, stream)
                )
            except ProxyError as err:
                last = self.scrub(err)
                route = await self._next_route(route, err, ctx)
                continue
            finally:
                ctx.upstream_ms = (time.perf_counter() - t0) * 1000
            self.health.succeeded(route.model.name)
            if stream:
                ctx.first_token_at = time.perf_counter()
                return result
            if cascade:
                escalate = await self._escalation(route, body, result, ctx)
                if escalate is not None:
                    route = escalate
                    continue
            if ctx.guard is not None and not op.guarded:
                await self.guards.response(result, ctx, op.name)
            return result
        assert last is not None
        raise final_error(last, ctx)

    async def _send(
        self, route: Route, body: dict[str, Any], ctx: CallContext, op: Operation, stream: bool
    ) -> Any:
        """One upstream call: the answer, or a stream and its first piece (a stream that
        fails before it is closed here)."""
        pending = self.hook.call_provider(
            route=route,
            body=body if op.payload is None else op.payload(route),
            stream=stream,
            providers=self.providers,
            context=ctx,
            operation=op.name,
        )
        if not stream:
            answer = await self.with_deadline(await_me_maybe(pending), ctx)
            if op.check is not None:
                op.check(answer, route)
            return answer
        iterator = None
        try:
            iterator = await await_me_maybe(pending)
            first = await self.with_deadline(op.first(iterator), ctx)
        except StopAsyncIteration:
            await aclose(iterator)
            raise ProxyError(
                502, "upstream closed the stream without data", type="server_error"
            ) from None
        except ProxyError:
            await aclose(iterator)
            raise
        return iterator, first

    async def _escalation(
        self, route: Route, body: dict[str, Any], response: Any, ctx: CallContext
    ) -> Route | None:
        """Cascade: the next model to try when this answer is inadequate, noting the verdict
        (an outcome ``router train --from-db`` learns from)."""
        assert ctx.plan is not None
        reason = inadequate(response, body)
        escalate = next_untried(ctx.plan, ctx, route)
        if reason is None and escalate is not None:
            reason = await self._self_consistency(route, body, response, ctx)
        escalate = escalate if reason else None
        verdict = "accepted"
        if reason:
            verdict = f"{'escalated' if escalate else 'inadequate, kept'}: {reason}"
        ctx.outcomes.append(
            {"model": route.model.name, "score": 0.0 if reason else 1.0, "comment": verdict}
        )
        if reason and escalate is not None:
            ctx.attempts.append(
                Attempt(route.model.name, route.model.provider, 200, reason, "escalated")
            )
            return escalate
        return None

    async def _self_consistency(
        self, route: Route, body: dict[str, Any], response: dict[str, Any], ctx: CallContext
    ) -> str | None:
        """Cascade: sample a short closed answer again (``routing.cascade_samples``) and say
        why to escalate if the samples disagree. A failed extra sample changes nothing."""
        if self.config.routing.cascade_samples < 2 or closed_answer(response) is None:
            return None
        for _ in range(self.config.routing.cascade_samples - 1):
            try:
                other = await self._send(route, body, ctx, CHAT, False)
            except ProxyError:
                return None
            reason = disagreement(response, other)
            if reason:
                return reason
        return None

    def scrub(self, err: ProxyError) -> ProxyError:
        """Blank any provider key out of an upstream error's message (in place)."""
        for secret in self._secrets:
            if secret in err.message:
                err.message = err.message.replace(secret, "***")
                err.args = (err.message,)
        return err

    def scrub_bytes(self, data: bytes) -> bytes:
        """Blank any provider key out of bytes relayed as they came (a stream's error
        event echoes what the upstream wrote, which may be the key it was sent)."""
        for secret in self._secrets:
            raw = secret.encode()
            if raw in data:
                data = data.replace(raw, b"***")
        return data

    async def with_deadline(self, awaitable: Any, ctx: CallContext) -> Any:
        if ctx.deadline is None:
            return await awaitable
        remaining = ctx.deadline - time.monotonic()
        try:
            # asyncio.timeout, not wait_for: no extra task per request.
            async with asyncio.timeout(max(0.001, remaining)):
                return await awaitable
        except TimeoutError:
            raise ProxyError(
                504,
                "the upstream did not answer before the deadline",
                type="server_error",
                code="timeout",
            ) from None

    # -- the answer's omni object -----------------------------------------------------------
    def omni(self, ctx: CallContext, usage: Usage) -> dict[str, Any]:
        return omni_object(self, ctx, usage)

    def costs(self, model: ModelInfo | None, usage: Usage) -> tuple[Decimal, Decimal]:
        return costs(self, model, usage)

    def relay(
        self, ctx: CallContext, iterator: Any, first: bytes, include_usage: bool
    ) -> AsyncGenerator[bytes, None]:
        """The client's SSE bytes of a chat stream (omni_proxy/wire/relay.py)."""
        return relay_chat(self, ctx, iterator, first, include_usage)

    def background_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a record hook failed: %r", task.exception())
