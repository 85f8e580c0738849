"""One request through the hook chain: authenticate → classify → select → call → fallback → record.

Everything a step needs arrives as an argument; the registry, keys and prices are in memory,
so nothing here waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from . import quality as quality_models
from . import tracing
from .cache import ResponseCache, StreamAssembler, entry
from .config import Config, ConfigError
from .deployments import Balancer, none_left
from .errors import ProxyError, bad_request, invalid_api_key, model_not_found, permission_denied
from .guardrails.steps import GuardSteps
from .guardrails.stream import StreamGuards
from .health import Health
from .logs import upstream_failure
from .plugins import PluginManager, await_me_maybe, first_answer
from .registry import Providers, Registry
from .relay import ChunkRelay, error_event
from .routing import closed_answer, disagreement, inadequate, prompt_text
from .text import estimate_tokens
from .types import (
    MAX_TOKENS,
    Attempt,
    CallContext,
    Classification,
    ModelInfo,
    Principal,
    RequestRecord,
    Route,
    RoutePlan,
    Usage,
    clamp_tokens,
)

log = logging.getLogger("omni_proxy")
T = TypeVar("T")

_MONEY = Decimal("0.00000001")


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
        #: Set by the data layer: rate limits and budgets, checked after authentication
        #: (raise ``ProxyError`` 429 to refuse), and told of each finished request.
        self.admission: Callable[[Principal, CallContext], Awaitable[None]] | None = None
        self.settle: Callable[[RequestRecord], None] | None = None
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
        if self.admission is not None:
            await self.admission(ctx.principal, ctx)

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
        ctx.prompt_text = prompt_text(body) or None
        return plan

    # -- call and fall back -------------------------------------------------------------
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

    async def call(
        self, body: dict[str, Any], ctx: CallContext, operation: str = "chat"
    ) -> dict[str, Any]:
        """Non-streaming: the first route that answers (escalating when cascading)."""
        assert ctx.plan is not None
        if self.guards.wanted(ctx):
            await self.guards.request_once(body, ctx, operation)
        route: Route | None = ctx.plan.primary
        last: ProxyError | None = None
        cascade = ctx.plan.strategy == "cascade" and operation == "chat"
        while route is not None:
            ctx.route = route
            t0 = time.perf_counter()
            try:
                response = await self._attempt(
                    route, ctx, lambda r: self._call_once(r, body, ctx, operation)
                )
                if operation == "chat":
                    check_chat_answer(response, route)
            except ProxyError as err:
                last = self.scrub(err)
                route = await self._next_route(route, err, ctx)
                continue
            finally:
                ctx.upstream_ms = (time.perf_counter() - t0) * 1000
            self.health.succeeded(route.model.name)
            if cascade:
                reason = inadequate(response, body)
                escalate = _next_untried(ctx.plan, ctx, route)
                if reason is None and escalate is not None:
                    reason = await self._self_consistency(route, body, response, ctx)
                escalate = escalate if reason else None
                # Each verdict is an outcome ``router train --from-db`` learns from.
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
                    route = escalate
                    continue
            if ctx.guard is not None:
                await self.guards.response(response, ctx, operation)
            return response  # type: ignore[no-any-return]
        assert last is not None
        raise final_error(last, ctx)

    async def _self_consistency(
        self, route: Route, body: dict[str, Any], response: dict[str, Any], ctx: CallContext
    ) -> str | None:
        """Cascade: sample a short closed answer again (``routing.cascade_samples``) and say
        why to escalate if the samples disagree. A failed extra sample changes nothing."""
        if self.config.routing.cascade_samples < 2 or closed_answer(response) is None:
            return None
        for _ in range(self.config.routing.cascade_samples - 1):
            try:
                other = await self._call_once(route, body, ctx, "chat")
            except ProxyError:
                return None
            reason = disagreement(response, other)
            if reason:
                return reason
        return None

    async def open_stream(self, body: dict[str, Any], ctx: CallContext) -> tuple[Any, bytes]:
        """Streaming: the first route whose stream yields a first chunk, and that chunk.

        Failing before the first chunk falls back like a non-streaming call; afterwards the
        client already has bytes, so errors end the stream with an error event.
        """
        assert ctx.plan is not None
        if self.guards.wanted(ctx):
            await self.guards.request_once(body, ctx, "chat")
        route: Route | None = ctx.plan.primary
        last: ProxyError | None = None
        while route is not None:
            ctx.route = route
            try:
                iterator, first = await self._attempt(
                    route, ctx, lambda r: self._open_once(r, body, ctx)
                )
            except ProxyError as err:
                last = self.scrub(err)
                route = await self._next_route(route, err, ctx)
                continue
            ctx.first_token_at = time.perf_counter()
            self.health.succeeded(route.model.name)
            return iterator, first
        assert last is not None
        raise final_error(last, ctx)

    async def _call_once(
        self, route: Route, body: dict[str, Any], ctx: CallContext, operation: str
    ) -> Any:
        pending = self.hook.call_provider(
            route=route,
            body=body,
            stream=False,
            providers=self.providers,
            context=ctx,
            operation=operation,
        )
        return await self._with_deadline(await_me_maybe(pending), ctx)

    async def _open_once(
        self, route: Route, body: dict[str, Any], ctx: CallContext
    ) -> tuple[Any, bytes]:
        """A stream and its first chunk; a stream that fails before it is closed here."""
        iterator = None
        try:
            pending = self.hook.call_provider(
                route=route,
                body=body,
                stream=True,
                providers=self.providers,
                context=ctx,
                operation="chat",
            )
            iterator = await await_me_maybe(pending)
            first = await self._with_deadline(anext(iterator), ctx)
        except StopAsyncIteration:
            raise ProxyError(
                502, "upstream closed the stream without data", type="server_error"
            ) from None
        except ProxyError:
            if iterator is not None:
                await _aclose(iterator)
            raise
        return iterator, first

    async def _attempt(
        self, route: Route, ctx: CallContext, once: Callable[[Route], Awaitable[T]]
    ) -> T:
        """One attempt at a planned model: its one upstream, or its deployments in the
        balancer's order until one answers (a failed sibling is reported in
        ``omni.fallbacks``; the last failure is raised for the plan's next model)."""
        model = route.model
        if not model.deployments:
            ctx.deployment = None  # an earlier model's deployment did not answer
            t0 = time.perf_counter()
            try:
                result = await once(route)
            except ProxyError as err:
                self._span(ctx, model, t0, err)
                raise
            self._span(ctx, model, t0, None)
            return result
        tried: set[str] = set()
        dep = self.balancer.pick(model, tried)
        if dep is None:
            raise none_left(model)
        while True:
            tried.add(dep.id)
            served = self.balancer.served(model, dep)
            ctx.route, ctx.deployment = Route(served, route.reason, route.score), dep.id
            self.balancer.begin(dep)
            t0 = time.perf_counter()
            try:
                if dep.timeout_s is None:
                    result = await once(ctx.route)
                else:
                    result = await self._within(dep.timeout_s, once(ctx.route))
            except ProxyError as err:
                self.balancer.end(dep, (time.perf_counter() - t0) * 1000, err)
                self._span(ctx, served, t0, err)
                nxt = self.balancer.pick(model, tried) if err.retryable else None
                if nxt is None:
                    raise
                self.scrub(err)
                ctx.attempts.append(
                    Attempt(model.name, dep.provider, err.status, err.message, err.code)
                )
                upstream_failure(
                    ctx.request_id, model.name, dep.provider, err.status, err.code, err.message
                )
                dep = nxt
                continue
            self.balancer.end(dep, (time.perf_counter() - t0) * 1000, None)
            self._span(ctx, served, t0, None)
            return result

    @staticmethod
    async def _within(timeout_s: float, awaitable: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(timeout_s):
                return await awaitable
        except TimeoutError:
            raise ProxyError(
                504,
                f"the deployment did not answer within {timeout_s:g} s",
                type="server_error",
                code="timeout",
            ) from None

    @staticmethod
    def _span(ctx: CallContext, model: ModelInfo, t0: float, err: ProxyError | None) -> None:
        if ctx.spans is not None:
            ctx.spans.append((model, t0, time.perf_counter(), None if err is None else err.message))

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

    async def _with_deadline(self, awaitable: Any, ctx: CallContext) -> Any:
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

    # -- the response's omni object and the record ---------------------------------------
    def omni(self, ctx: CallContext, usage: Usage) -> dict[str, Any]:
        model = ctx.route.model if ctx.route else None
        cost, premium = ctx.costs or self.costs(model, usage)
        omni: dict[str, Any] = {
            "request_id": ctx.request_id,
            "task_type": ctx.classification.task_type if ctx.classification else None,
            "provider": model.provider if model else None,
            "model_used": model.name if model else None,
            "cost": float(cost),
            "premium_cost": float(premium),
            "savings_estimate": float(premium - cost),
            "latency_ms": round(ctx.elapsed_ms(), 2),
            "fallbacks": [a.as_dict() for a in ctx.attempts],
            "cache_hit": False,
            **({"deployment": ctx.deployment} if ctx.deployment is not None else {}),
        }
        expected = ctx.route.expected_quality if ctx.route else None
        if expected is not None:
            omni["expected_quality"] = round(expected, 4)
        return omni

    def costs(self, model: ModelInfo | None, usage: Usage) -> tuple[Decimal, Decimal]:
        if model is None:
            return Decimal(0), Decimal(0)
        p, c = usage.prompt_tokens, usage.completion_tokens
        cost = model.cost(p, c, usage.cached_tokens, usage.reasoning_tokens).quantize(_MONEY)
        if model.kind != "chat" or model.price_source == "unknown":
            # The premium baseline is a chat model; and a model without a price must not
            # show the whole premium price as savings.
            return cost, cost
        premium_model = self.registry.premium or model
        premium = premium_model.cost(p, c, usage.cached_tokens, usage.reasoning_tokens)
        return cost, premium.quantize(_MONEY)

    def record(self, ctx: CallContext) -> None:
        """Hand the finished request to every ``record`` implementation, once; never raises."""
        if ctx.recorded:
            return
        ctx.recorded = True
        usage = ctx.usage or Usage()
        if (
            not 0 <= usage.prompt_tokens <= MAX_TOKENS
            or not 0 <= usage.completion_tokens <= MAX_TOKENS
        ):
            usage = ctx.usage = Usage(
                clamp_tokens(usage.prompt_tokens), clamp_tokens(usage.completion_tokens)
            )
        model = ctx.route.model if ctx.route else None
        if ctx.cache_state == "hit":
            cost, premium = Decimal(0), ctx.cache_premium or Decimal(0)
        elif ctx.costs is not None:
            cost, premium = ctx.costs  # calls that were answered cost money however it ended
        elif ctx.status < 400:
            cost, premium = self.costs(model, usage)
        else:
            cost, premium = Decimal(0), Decimal(0)
        plan = ctx.plan
        event = RequestRecord(
            request_id=ctx.request_id,
            endpoint=ctx.endpoint,
            org_id=ctx.principal.org_id if ctx.principal else None,
            key_id=ctx.principal.key_id if ctx.principal else None,
            task_type=ctx.classification.task_type if ctx.classification else None,
            model_requested=ctx.requested_model,
            model_used=model.name if model and ctx.status < 400 else None,
            provider=model.provider if model else None,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            premium_cost=premium,
            savings=premium - cost,
            latency_ms=round(ctx.elapsed_ms(), 3),
            ttft_ms=ctx.ttft_ms(),
            stream=ctx.stream,
            status=ctx.status,
            error=ctx.error,
            fallback_count=len(ctx.attempts),
            created_at=ctx.started_at,
            routing={
                "strategy": plan.strategy,
                "reason": plan.reason,
                "plan": [r.model.name for r in plan.routes],
                "candidates": plan.candidates,
            }
            if plan
            else None,
            attempts=[a.as_dict() for a in ctx.attempts],
            client_disconnected=ctx.client_disconnected,
            error_code=ctx.error_code,
            upstream_ms=ctx.upstream_ms,
            guardrails=ctx.findings or None,
            expected_quality=ctx.route.expected_quality if ctx.route and ctx.status < 400 else None,
            prompt_text=ctx.prompt_text,
            outcomes=ctx.outcomes,
            client_request_id=ctx.client_request_id,
        )
        if ctx.deployment is not None:
            self.balancer.settle(ctx.deployment, usage.total_tokens)
        if self.otel is not None:
            try:
                self.otel.export(ctx, event)
            except Exception:
                log.exception("exporting the spans of request %s failed", ctx.request_id)
        if self.settle is not None:
            try:
                self.settle(event)
            except Exception:
                log.exception("settling usage failed for request %s", ctx.request_id)
        try:
            results = self.hook.record(event=event)
        except Exception:
            log.exception("a record hook failed for request %s", ctx.request_id)
            return
        for result in results:
            if asyncio.iscoroutine(result) or asyncio.isfuture(result):
                task = asyncio.ensure_future(result)
                self.background.add(task)
                task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a record hook failed: %r", task.exception())

    # -- streaming relay ------------------------------------------------------------------
    def closer(self, ctx: CallContext, *streams: Any) -> Callable[[], Awaitable[None]]:
        """What an SSE response runs when it ends, however it ends: ``streams`` (the relay,
        then the upstream iterator) are closed in order, and a request that is still
        unrecorded is recorded as a client disconnect. A relay that never started (the
        client left during the first send) runs no ``finally`` of its own, so this is what
        records it and returns the upstream connection."""

        async def close() -> None:
            for stream in streams:
                await _aclose(stream)
            if not ctx.recorded:
                ctx.client_disconnected = True
                if ctx.status < 400:
                    ctx.status, ctx.error = 499, "client disconnected"
                ctx.usage = ctx.usage or Usage(ctx.prompt_estimate, 0)
                self.record(ctx)

        return close

    async def relay(
        self,
        iterator: Any,
        first: bytes,
        ctx: CallContext,
        include_usage: bool,
        prompt_estimate: int,
    ) -> AsyncGenerator[bytes, None]:
        """Client-facing SSE bytes; records the request however the stream ends."""
        assert ctx.route is not None
        relay = ChunkRelay(ctx.route.model.name, include_usage)
        idle_s = self.config.routing.stream_idle_s
        checks: StreamGuards | None = None
        # A streamed miss is stored as the completion its chunks add up to.
        keep = StreamAssembler() if ctx.cache_key is not None and self.cache else None
        ends = time.monotonic() + self.config.routing.stream_max_s
        try:
            try:
                if ctx.guard is not None:
                    checks = await self.guards.stream(ctx)
                out = relay.feed(checks.chunk(first) if checks else first)
                if keep is not None:
                    keep.add(first)
                if out:
                    yield out
                while True:
                    try:
                        data = await _next_chunk(iterator, idle_s, ends)
                    except StopAsyncIteration:
                        break
                    out = relay.feed(checks.chunk(data) if checks else data)
                    if keep is not None:
                        keep.add(data)
                    if out:
                        yield out
                held = checks.leftover() if checks else None
                out = relay.feed(held) if held is not None else b""
                if out:
                    yield out
            except ProxyError as err:
                self.scrub(err)
                ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
                ctx.attempts.append(
                    Attempt(
                        ctx.route.model.name,
                        ctx.route.model.provider,
                        err.status,
                        err.message,
                        err.code,
                    )
                )
                ctx.usage = relay.usage or Usage(
                    prompt_estimate, estimate_tokens(relay.completion_chars)
                )
                yield error_event(err)
                return
            if relay.usage is None:
                relay.usage = Usage(prompt_estimate, estimate_tokens(relay.completion_chars))
            ctx.usage = relay.usage
            omni = self.omni(ctx, relay.usage)
            whole = keep.response() if keep is not None else None
            if whole is not None and self.cache is not None and ctx.cache_key is not None:
                whole["model"] = ctx.route.model.name
                self.cache.put(ctx.cache_key, entry(whole, ctx.route.model.name, omni))
            yield relay.finish(omni)
        except (asyncio.CancelledError, GeneratorExit):
            ctx.client_disconnected = True
            ctx.usage = (
                ctx.usage
                or relay.usage
                or Usage(prompt_estimate, estimate_tokens(relay.completion_chars))
            )
            if ctx.status < 400:
                ctx.status, ctx.error = 499, "client disconnected"
            raise
        finally:
            self.record(ctx)
            await _aclose(iterator)


def only_requested(plan: RoutePlan, name: str) -> RoutePlan:
    """The plan cut to the model the client named (strict_model): that model or an error,
    never another one; a model cooling down is tried anyway."""
    routes = [r for r in plan.routes if r.model.name == name]
    if not routes:
        row = next((c for c in plan.candidates if c.get("model") == name), {})
        why = row.get("detail") or "it was filtered out"
        raise bad_request(
            f"The model {name!r} cannot serve this request ({why}), and fallbacks to other "
            "models are off (strict_model).",
            param="model",
            code="model_unavailable",
        )
    return replace(plan, routes=routes, reason=f"{plan.reason}; strict: no other model")


async def _next_chunk(iterator: Any, idle_s: float | None, ends: float | None = None) -> Any:
    """The stream's next chunk, or a 504 after ``idle_s`` of silence: a stream that stalls
    mid-way must not hold the client, however healthy its start (a steady stream may run
    until ``ends``, ``routing.stream_max_s`` after it began, as long as it keeps sending)."""
    if ends is not None and time.monotonic() > ends:
        raise ProxyError(
            504,
            "the upstream stream ran longer than the proxy allows",
            type="server_error",
            code="timeout",
        )
    if idle_s is None:
        return await anext(iterator)
    try:
        async with asyncio.timeout(idle_s):
            return await anext(iterator)
    except TimeoutError:
        raise ProxyError(
            504,
            f"the upstream stream stalled for more than {idle_s:g} s",
            type="server_error",
            code="timeout",
        ) from None


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        # Closing a broken upstream must not mask the error that broke it.
        with contextlib.suppress(Exception):
            await asyncio.shield(close())


def check_chat_answer(response: Any, route: Route) -> None:
    """A 200 that is not a chat completion (no list of choices each with a message object)
    is an upstream failure like any other: fallen back from and recorded, never a 500."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if (
        isinstance(choices, list)
        and choices
        and all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices)
        and isinstance(response.get("usage"), dict | None)
    ):
        return
    raise ProxyError(
        502,
        f"{route.model.provider}: the upstream answered 200 with a malformed chat completion",
        type="server_error",
        code="upstream_malformed",
        retryable=True,
    )


def _next_untried(plan: RoutePlan, ctx: CallContext, current: Route) -> Route | None:
    tried = {a.model for a in ctx.attempts} | {current.model.name}
    return next((r for r in plan.routes if r.model.name not in tried), None)


def check_model_allowed(allowed: Any, model: str) -> None:
    """403 for a model the key may not use: OpenAI's answer when a project lacks access to
    a model (status 403, code ``model_not_found``)."""
    if model not in allowed:
        raise ProxyError(
            403,
            f"This API key does not have access to model '{model}'.",
            type="permission_error",
            code="model_not_found",
            param="model",
        )


def final_error(last: ProxyError, ctx: CallContext) -> ProxyError:
    """The error for the client once every attempt failed (502/503/504 per CONTRACT.md)."""
    if len(ctx.attempts) <= 1:
        return last
    tried = ", ".join(a.model for a in ctx.attempts)
    if not last.retryable:
        return last
    status = last.status if last.status in (429, 502, 503, 504) else 502
    return ProxyError(
        status,
        f"all {len(ctx.attempts)} upstream attempts failed ({tried}); last error: {last.message}",
        type=last.type if status == 429 else "server_error",
        code=last.code or "upstream_failed",
        headers=last.headers,
        retryable=True,
        retry_after=last.retry_after,
    )
