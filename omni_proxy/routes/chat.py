"""Chat routes: ``/v1/chat/completions`` (OpenAI wire format), the simple ``/v1/chat``,
``/v1/agent-step`` and ``/v1/router/debug``. All share one preparation path."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import tracing
from ..errors import ProxyError
from ..http import JSON, api_key_of, error_response, read_json, request_id
from ..pipeline import Pipeline
from ..routing import estimate_prompt_tokens
from ..streaming import SSEResponse
from ..text import estimate_tokens
from ..types import CallContext, Classification, Usage
from ..validation import take_routing_options, validate_chat
from . import cached


def routed_headers(ctx: CallContext) -> dict[str, str]:
    if ctx.route is None:
        return {}
    return {
        "x-omni-model": ctx.route.model.name,
        "x-omni-provider": ctx.route.model.provider,
        "x-omni-task": ctx.classification.task_type if ctx.classification else "",
        **({"x-omni-cache": ctx.cache_state} if ctx.cache_state else {}),
    }


def new_context(request: Request, endpoint: str) -> CallContext:
    pipeline: Pipeline = request.app.state.pipeline
    return CallContext(
        request_id=request_id(request),
        endpoint=endpoint,
        config=pipeline.config,
        client_request_id=request.scope["state"].get("client_request_id"),
    )


async def _prepare(
    request: Request,
    ctx: CallContext,
    *,
    permission: str = "write",
    default_model: str | None = None,
    task: str | None = None,
    admit: bool = True,
    cache: bool = False,
) -> tuple[Pipeline, dict[str, Any]]:
    """Authenticate, parse, validate, admit and route: everything short of the call.
    With ``cache``, a response-cache hit stops short of routing (``ctx.cache_entry``)."""
    pipeline: Pipeline = request.app.state.pipeline
    config = pipeline.config
    tracing.begin(
        ctx.request_id, request.headers.get("traceparent"), request.headers.get("tracestate")
    )
    ctx.principal = await pipeline.authenticate(request, api_key_of(request), permission)
    body = await read_json(request, config.max_body_bytes)
    if default_model is not None and isinstance(body, dict):
        body.setdefault("model", default_model)
    validate_chat(body, config.max_messages)
    routing = take_routing_options(body, request.headers)
    ctx.requested_model = body["model"]
    ctx.stream = bool(body.get("stream"))
    ctx.deadline = time.monotonic() + config.routing.deadline_s
    ctx.prompt_estimate = max(1, estimate_prompt_tokens(body))
    ctx.output_estimate = output_estimate(body)
    if admit:
        await pipeline.admit(ctx)
    if task is not None:
        ctx.classification = Classification(task, 1.0, (f"endpoint:{ctx.endpoint}",), "endpoint")
    if cache and pipeline.cache is not None:
        await cached.lookup(pipeline, ctx, body, routing, request.headers.get("x-omni-cache"))
        if ctx.cache_entry is not None:
            return pipeline, body
    elif "cache" in body:
        del body["cache"]  # the proxy's field (``cache: false``), never the upstream's
    await pipeline.route(body, routing, ctx)
    return pipeline, body


def output_estimate(body: dict[str, Any]) -> int | None:
    """``max_tokens`` times ``n`` when the client bounded its answer (validated already)."""
    most = body.get("max_completion_tokens") or body.get("max_tokens")
    if not isinstance(most, int):
        return None
    n = body.get("n")
    return most * (n if isinstance(n, int) and n > 0 else 1)


async def chat_completions(request: Request) -> Response:
    ctx = new_context(request, "/v1/chat/completions")
    try:
        pipeline, body = await _prepare(request, ctx, cache=True)
        if ctx.cache_entry is not None:
            response, _ = cached.answer(pipeline, ctx)
            if ctx.stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return SSEResponse(cached.replay(response, include_usage), routed_headers(ctx))
            return JSON(response, headers=routed_headers(ctx))
        if ctx.stream:
            return await _stream(pipeline, body, ctx)
        response = await pipeline.call(body, ctx)
        finish_response(pipeline, body, response, ctx)
        cached.store(pipeline, ctx, response)
        return JSON(response, headers=routed_headers(ctx))
    except ProxyError as err:
        return fail(request, err, ctx)


async def simple_chat(request: Request) -> Response:
    """The simple contract: ``messages`` and routing options in; the answer and its price out."""
    ctx = new_context(request, "/v1/chat")
    try:
        pipeline, body = await _prepare(request, ctx, default_model="auto", cache=True)
        body.pop("stream", None)
        body.pop("stream_options", None)  # these routes answer in one piece
        ctx.stream = False
        if ctx.cache_entry is not None:
            response, omni = cached.answer(pipeline, ctx)
        else:
            response = await pipeline.call(body, ctx)
            omni = finish_response(pipeline, body, response, ctx)
            cached.store(pipeline, ctx, response)
        message = (response.get("choices") or [{}])[0].get("message") or {}
        return JSON(
            {
                "output": message.get("content"),
                "model_used": omni["model_used"],
                "cost": omni["cost"],
                "latency_ms": omni["latency_ms"],
                "savings_estimate": omni["savings_estimate"],
                "expected_quality": omni.get("expected_quality"),
                "request_id": ctx.request_id,
                "task_type": omni["task_type"],
                "provider": omni["provider"],
                "premium_cost": omni["premium_cost"],
                "fallbacks": omni["fallbacks"],
                "usage": response.get("usage"),
            },
            headers=routed_headers(ctx),
        )
    except ProxyError as err:
        return fail(request, err, ctx)


async def agent_step(request: Request) -> Response:
    """One step of an agent loop: routed as ``agent_step`` whatever the text says."""
    ctx = new_context(request, "/v1/agent-step")
    try:
        pipeline, body = await _prepare(request, ctx, default_model="auto", task="agent_step")
        body.pop("stream", None)
        body.pop("stream_options", None)  # these routes answer in one piece
        ctx.stream = False
        response = await pipeline.call(body, ctx)
        omni = finish_response(pipeline, body, response, ctx)
        choice = (response.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        return JSON(
            {
                "output": message.get("content"),
                "tool_calls": message.get("tool_calls") or [],
                "finish_reason": choice.get("finish_reason"),
                "message": message,
                "done": not message.get("tool_calls"),
                "model_used": omni["model_used"],
                "cost": omni["cost"],
                "latency_ms": omni["latency_ms"],
                "savings_estimate": omni["savings_estimate"],
                "request_id": ctx.request_id,
                "omni": omni,
                "usage": response.get("usage"),
            },
            headers=routed_headers(ctx),
        )
    except ProxyError as err:
        return fail(request, err, ctx)


async def router_debug(request: Request) -> Response:
    """The routing decision, explained, without calling a provider (or recording anything)."""
    ctx = new_context(request, "/v1/router/debug")
    try:
        # Rate limited like any route (it classifies and plans: real work), never charged.
        await _prepare(request, ctx, permission="read", default_model="auto")
        assert ctx.plan is not None and ctx.classification is not None
        plan, cls = ctx.plan, ctx.classification
        return JSON(
            {
                "task_type": cls.task_type,
                "classification": {
                    "confidence": cls.confidence,
                    "signals": list(cls.signals),
                    "classifier": cls.classifier,
                },
                "selected_model": plan.primary.model.name,
                "provider": plan.primary.model.provider,
                "strategy": plan.strategy,
                "plan": [r.model.name for r in plan.routes],
                "candidates": plan.candidates,
                "reason": plan.reason,
                "request_id": ctx.request_id,
            }
        )
    except ProxyError as err:
        return fail(request, err, None)  # nothing to record: no provider was called


def finish_response(
    pipeline: Pipeline, body: dict[str, Any], response: dict[str, Any], ctx: CallContext
) -> dict[str, Any]:
    """Public model name, usage (estimated if the upstream sent none), ``omni``, record."""
    assert ctx.route is not None
    usage = Usage.from_openai(response.get("usage"))
    if usage is None:
        text = sum(
            len(c.get("message", {}).get("content") or "") for c in response.get("choices") or ()
        )
        usage = Usage(ctx.prompt_estimate, estimate_tokens(text))
    ctx.usage = usage
    response["model"] = ctx.route.model.name
    omni = pipeline.omni(ctx, usage)
    response["omni"] = omni
    pipeline.record(ctx)
    return omni


async def _stream(pipeline: Pipeline, body: dict[str, Any], ctx: CallContext) -> Response:
    options = body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage"))
    iterator, first = await pipeline.open_stream(body, ctx)
    relay = pipeline.relay(iterator, first, ctx, include_usage, ctx.prompt_estimate)
    return SSEResponse(relay, routed_headers(ctx), pipeline.closer(ctx, relay, iterator))


def fail(request: Request, err: ProxyError, ctx: CallContext | None) -> Response:
    rid = request_id(request)
    response = error_response(err, rid)
    if ctx is not None:
        ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
        if ctx.principal is not None:
            request.app.state.pipeline.record(ctx)
        if ctx.attempts:
            response.headers.update(routed_headers(ctx))
    return response
