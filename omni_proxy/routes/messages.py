"""``POST /v1/messages``: Anthropic's Messages format in and out, routed like any request."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from .. import tracing
from ..errors import ProxyError
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
                anthropic.translate_stream(relay, ctx.prompt_estimate), routed_headers(ctx)
            )
        response = await pipeline.call(body, ctx)
        omni = finish_response(pipeline, body, response, ctx)
        message = anthropic.from_openai(response)
        message["omni"] = omni
        return JSON(message, headers=routed_headers(ctx))
    except ProxyError as err:
        ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
        if ctx.principal is not None:
            pipeline.record(ctx)
        return JSON(
            anthropic.error_body(err, ctx.request_id), status_code=err.status, headers=err.headers
        )
