"""The one owner of a request's record: whatever way the request ends (an answer, an
error, a client gone at any point, even during the first send, or the server shutting
down) it is recorded exactly once, here.

``Pipeline.handle`` makes one per request. A non-streamed answer is recorded when the
endpoint has rendered it; a stream hands the owner ``close`` to its response, which runs
it however the stream ends and records what the relay noted on the context.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import ProxyError
from .types import MAX_TOKENS, CallContext, ModelInfo, RequestRecord, Usage, clamp_tokens
from .wire.relay import aclose, gone

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger("omni_proxy")

_MONEY = Decimal("0.00000001")


class Owner:
    """Records ``ctx`` once; ``records`` is False for endpoints that never reach a provider."""

    __slots__ = ("ctx", "pipeline", "records", "streams")

    def __init__(self, pipeline: Pipeline, ctx: CallContext, records: bool = True) -> None:
        self.pipeline = pipeline
        self.ctx = ctx
        self.records = records
        self.streams: tuple[Any, ...] = ()

    def record(self) -> None:
        """Record the request, unless it already was (or nothing is to be recorded: a
        request that was never authenticated reached nobody)."""
        ctx = self.ctx
        if ctx.recorded or not self.records or ctx.principal is None:
            return
        ctx.recorded = True
        emit(self.pipeline, ctx)

    def failed(self, err: ProxyError) -> None:
        ctx = self.ctx
        ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
        self.record()

    def broke(self, exc: BaseException) -> None:
        """Neither an answer nor a ``ProxyError``: the task was cancelled (the client left,
        or the server is shutting down) or the proxy hit a bug."""
        ctx = self.ctx
        if isinstance(exc, asyncio.CancelledError):
            ctx.usage = ctx.usage or Usage(ctx.prompt_estimate, 0)
            gone(ctx)
        elif ctx.status < 400:
            ctx.status, ctx.error = 500, "The proxy hit an internal error."
        self.record()

    def hand_over(self, *streams: Any) -> Callable[[], Any]:
        """``close`` for a streamed response: ``streams`` (the relay, then the upstream
        iterator) are closed in order, then the request is recorded; a stream that never
        started (the first send failed) is a client that left."""
        self.streams = streams
        return self.close

    async def close(self) -> None:
        for stream in self.streams:
            await aclose(stream)
        ctx = self.ctx
        if not ctx.recorded:
            if ctx.usage is None:
                ctx.usage = Usage(ctx.prompt_estimate, 0)
                gone(ctx)  # nothing the relay noted: it never ran to its end
            self.record()


def costs(pipeline: Pipeline, model: ModelInfo | None, usage: Usage) -> tuple[Decimal, Decimal]:
    """(cost, premium cost) of ``usage`` on ``model``."""
    if model is None:
        return Decimal(0), Decimal(0)
    p, c = usage.prompt_tokens, usage.completion_tokens
    cost = model.cost(p, c, usage.cached_tokens, usage.reasoning_tokens).quantize(_MONEY)
    if model.kind != "chat" or model.price_source == "unknown":
        # The premium baseline is a chat model; and a model without a price must not
        # show the whole premium price as savings.
        return cost, cost
    premium_model = pipeline.registry.premium or model
    premium = premium_model.cost(p, c, usage.cached_tokens, usage.reasoning_tokens)
    return cost, premium.quantize(_MONEY)


def omni_object(pipeline: Pipeline, ctx: CallContext, usage: Usage) -> dict[str, Any]:
    """The ``omni`` object an answer carries: what was routed where, at what price."""
    model = ctx.route.model if ctx.route else None
    cost, premium = ctx.costs or costs(pipeline, model, usage)
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


def request_record(pipeline: Pipeline, ctx: CallContext) -> RequestRecord:
    usage = ctx.usage or Usage()
    if not 0 <= usage.prompt_tokens <= MAX_TOKENS or not 0 <= usage.completion_tokens <= MAX_TOKENS:
        usage = ctx.usage = Usage(
            clamp_tokens(usage.prompt_tokens), clamp_tokens(usage.completion_tokens)
        )
    model = ctx.route.model if ctx.route else None
    if ctx.cache_state == "hit":
        cost, premium = Decimal(0), ctx.cache_premium or Decimal(0)
    elif ctx.costs is not None:
        cost, premium = ctx.costs  # calls that were answered cost money however it ended
    elif ctx.status < 400:
        cost, premium = costs(pipeline, model, usage)
    else:
        cost, premium = Decimal(0), Decimal(0)
    plan = ctx.plan
    return RequestRecord(
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


def emit(pipeline: Pipeline, ctx: CallContext) -> None:
    """Hand the finished request to the balancer, the span exporter and every ``record``
    implementation (usage settling is one: ``defaults.limits``); never raises."""
    event = request_record(pipeline, ctx)
    if ctx.deployment is not None:
        pipeline.balancer.settle(ctx.deployment, (ctx.usage or Usage()).total_tokens)
    if pipeline.otel is not None:
        try:
            pipeline.otel.export(ctx, event)
        except Exception:
            log.exception("exporting the spans of request %s failed", ctx.request_id)
    try:
        results = pipeline.hook.record(event=event)
    except Exception:
        log.exception("a record hook failed for request %s", ctx.request_id)
        return
    for result in results:
        if asyncio.iscoroutine(result) or asyncio.isfuture(result):
            task = asyncio.ensure_future(result)
            pipeline.background.add(task)
            task.add_done_callback(pipeline.background_done)
