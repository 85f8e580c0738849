"""``POST /v1/messages``: Anthropic's Messages format in and out, routed like any request.

Replies carry Anthropic's ``request-id`` header too (the anthropic SDK's ``_request_id``).
``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}``: the upstream's own count
when the named model's provider offers one, else the estimate the router uses.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from .. import tracing
from ..errors import ProxyError, model_not_found
from ..formats import anthropic
from ..http import JSON, api_key_of, read_json
from ..pipeline import Pipeline
from ..routing import estimate_prompt_tokens
from ..streaming import SSEResponse
from ..types import CallContext
from ..validation import take_routing_options, validate_chat
from .chat import finish_response, new_context, routed_headers


async def messages(request: Request) -> Response:
    ctx: CallContext = new_context(request, "/v1/messages")
    pipeline: Pipeline = request.app.state.pipeline
    try:
        tracing.begin(ctx.request_id, request.headers.get("traceparent"))
        ctx.principal = await pipeline.authenticate(request, api_key_of(request), "write")
        body = anthropic.to_openai(await read_json(request, pipeline.config.max_body_bytes))
        validate_chat(body, pipeline.config.max_messages)
        routing = take_routing_options(body, request.headers)
        ctx.requested_model = body["model"]
        ctx.stream = bool(body.get("stream"))
        ctx.deadline = time.monotonic() + pipeline.config.routing.deadline_s
        ctx.prompt_estimate = max(1, estimate_prompt_tokens(body))
        await pipeline.admit(ctx)
        await pipeline.route(body, routing, ctx)
        if ctx.stream:
            iterator, first = await pipeline.open_stream(body, ctx)
            relay = pipeline.relay(iterator, first, ctx, True, ctx.prompt_estimate)
            return SSEResponse(
                anthropic.translate_stream(relay, ctx.prompt_estimate),
                _headers(ctx),
                pipeline.closer(ctx, relay, iterator),
            )
        response = await pipeline.call(body, ctx)
        omni = finish_response(pipeline, body, response, ctx)
        message = anthropic.from_openai(response)
        message["omni"] = omni
        return JSON(message, headers=_headers(ctx))
    except ProxyError as err:
        ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
        if ctx.principal is not None:
            pipeline.record(ctx)
        return _error(err, ctx)


def _headers(ctx: CallContext) -> dict[str, str]:
    return {**routed_headers(ctx), "request-id": ctx.request_id}


def _error(err: ProxyError, ctx: CallContext) -> Response:
    headers = {**(err.headers or {}), "request-id": ctx.request_id}
    return JSON(anthropic.error_body(err, ctx.request_id), status_code=err.status, headers=headers)


async def count_tokens(request: Request) -> Response:
    ctx: CallContext = new_context(request, "/v1/messages/count_tokens")
    pipeline: Pipeline = request.app.state.pipeline
    try:
        ctx.principal = await pipeline.authenticate(request, api_key_of(request), "write")
        raw = await read_json(request, pipeline.config.max_body_bytes)
        if isinstance(raw, dict) and "max_tokens" not in raw:
            raw = {**raw, "max_tokens": 1}  # not part of a count request; to_openai wants it
        body = anthropic.to_openai(raw)
        validate_chat(body)
        take_routing_options(body, request.headers)
        name = body["model"]
        model = pipeline.registry.get(name)
        if model is None and name != "auto":
            raise model_not_found(str(name))
        counted = None
        provider = pipeline.providers.get(model.provider) if model is not None else None
        if provider is not None and model is not None:
            counted = await provider.count_tokens(raw, model)
        tokens = counted if counted is not None else max(1, estimate_prompt_tokens(body))
        return JSON({"input_tokens": tokens}, headers={"request-id": ctx.request_id})
    except ProxyError as err:
        return _error(err, ctx)
