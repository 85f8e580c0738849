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
from decimal import Decimal
from typing import Any

from .config import Config
from .errors import ProxyError, invalid_api_key, model_not_found, permission_denied
from .health import Health
from .logs import upstream_failure
from .plugins import DirectHooks, PluginManager, await_me_maybe, first_answer
from .registry import Providers, Registry
from .relay import ChunkRelay, error_event
from .routing import inadequate
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

_MONEY = Decimal("0.00000001")


def _estimate_tokens(chars: int) -> int:
    return max(1, chars // 4) if chars else 0


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
        self.hook = DirectHooks(pm)
        self.background: set[asyncio.Task[Any]] = set()
        #: (name, function) of the classifiers ``routing.classifiers`` names, in order.
        self.classifiers: list[tuple[str, Any]] = []
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
        """Rate limits and budgets for a request that will reach a provider."""
        if self.admission is not None and ctx.principal is not None:
            await self.admission(ctx.principal, ctx)

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
        plan = self.hook.select_route(
            body=body,
            principal=principal,
            classification=classification,
            registry=self.registry,
            config=self.config,
            health=self.health,
        )
        if plan is None or not plan.routes:
            raise ProxyError(503, "no model is available for this request", type="server_error")
        return plan  # type: ignore[no-any-return]

    async def route(
        self, body: dict[str, Any], routing: dict[str, Any], ctx: CallContext
    ) -> RoutePlan:
        """Classify (unless the endpoint already did) and plan with the routing options."""
        if ctx.classification is None:
            ctx.classification = await self.classify(body, ctx.principal)
        plan = self.select({**body, **routing}, ctx.principal, ctx.classification)
        ctx.plan = plan
        return plan

    # -- call and fall back -------------------------------------------------------------
    async def _next_route(self, route: Route, error: ProxyError, ctx: CallContext) -> Route | None:
        assert ctx.plan is not None
        ctx.attempts.append(
            Attempt(route.model.name, route.model.provider, error.status, error.message, error.code)
        )
        upstream_failure(
            ctx.request_id,
            route.model.name,
            route.model.provider,
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
        route: Route | None = ctx.plan.primary
        last: ProxyError | None = None
        cascade = ctx.plan.strategy == "cascade" and operation == "chat"
        while route is not None:
            ctx.route = route
            t0 = time.perf_counter()
            try:
                pending = self.hook.call_provider(
                    route=route,
                    body=body,
                    stream=False,
                    providers=self.providers,
                    context=ctx,
                    operation=operation,
                )
                response = await self._with_deadline(await_me_maybe(pending), ctx)
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
                escalate = _next_untried(ctx.plan, ctx, route) if reason else None
                if reason and escalate is not None:
                    ctx.attempts.append(
                        Attempt(route.model.name, route.model.provider, 200, reason, "escalated")
                    )
                    route = escalate
                    continue
            return response  # type: ignore[no-any-return]
        assert last is not None
        raise final_error(last, ctx)

    async def open_stream(self, body: dict[str, Any], ctx: CallContext) -> tuple[Any, bytes]:
        """Streaming: the first route whose stream yields a first chunk, and that chunk.

        Failing before the first chunk falls back like a non-streaming call; afterwards the
        client already has bytes, so errors end the stream with an error event.
        """
        assert ctx.plan is not None
        route: Route | None = ctx.plan.primary
        last: ProxyError | None = None
        while route is not None:
            ctx.route = route
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
                last = ProxyError(
                    502, "upstream closed the stream without data", type="server_error"
                )
                route = await self._next_route(route, last, ctx)
                continue
            except ProxyError as err:
                if iterator is not None:
                    await _aclose(iterator)
                last = self.scrub(err)
                route = await self._next_route(route, err, ctx)
                continue
            ctx.first_token_at = time.perf_counter()
            self.health.succeeded(route.model.name)
            return iterator, first
        assert last is not None
        raise final_error(last, ctx)

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
        return {
            "request_id": ctx.request_id,
            "task_type": ctx.classification.task_type if ctx.classification else None,
            "provider": model.provider if model else None,
            "model_used": model.name if model else None,
            "cost": float(cost),
            "premium_cost": float(premium),
            "savings_estimate": float(premium - cost),
            "latency_ms": round(ctx.elapsed_ms(), 2),
            "fallbacks": [a.as_dict() for a in ctx.attempts],
        }

    def costs(self, model: ModelInfo | None, usage: Usage) -> tuple[Decimal, Decimal]:
        if model is None:
            return Decimal(0), Decimal(0)
        cost = model.cost(usage.prompt_tokens, usage.completion_tokens).quantize(_MONEY)
        if model.kind != "chat":
            return cost, cost  # the premium baseline is a chat model: nothing to compare
        premium_model = self.registry.premium or model
        premium = premium_model.cost(usage.prompt_tokens, usage.completion_tokens).quantize(_MONEY)
        return cost, premium

    def record(self, ctx: CallContext) -> None:
        """Hand the finished request to every ``record`` implementation; never raises."""
        usage = ctx.usage or Usage()
        if (
            not 0 <= usage.prompt_tokens <= MAX_TOKENS
            or not 0 <= usage.completion_tokens <= MAX_TOKENS
        ):
            usage = ctx.usage = Usage(
                clamp_tokens(usage.prompt_tokens), clamp_tokens(usage.completion_tokens)
            )
        model = ctx.route.model if ctx.route else None
        if ctx.costs is not None:
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
            client_request_id=ctx.client_request_id,
        )
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
        ends = time.monotonic() + self.config.routing.stream_max_s
        try:
            try:
                out = relay.feed(first)
                if out:
                    yield out
                while True:
                    try:
                        data = await _next_chunk(iterator, idle_s, ends)
                    except StopAsyncIteration:
                        break
                    out = relay.feed(data)
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
                    prompt_estimate, _estimate_tokens(relay.completion_chars)
                )
                yield error_event(err)
                return
            if relay.usage is None:
                relay.usage = Usage(prompt_estimate, _estimate_tokens(relay.completion_chars))
            ctx.usage = relay.usage
            yield relay.finish(self.omni(ctx, relay.usage))
        except (asyncio.CancelledError, GeneratorExit):
            ctx.client_disconnected = True
            ctx.usage = (
                ctx.usage
                or relay.usage
                or Usage(prompt_estimate, _estimate_tokens(relay.completion_chars))
            )
            if ctx.status < 400:
                ctx.status, ctx.error = 499, "client disconnected"
            raise
        finally:
            self.record(ctx)
            await _aclose(iterator)


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
