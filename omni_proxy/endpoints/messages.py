"""Anthropic's Messages format in and out, routed like any request.

Replies carry Anthropic's ``request-id`` header too (the anthropic SDK's ``_request_id``).
``count_tokens`` answers ``{"input_tokens": N}``: the upstream's own count when the named
model's provider offers one, else the estimate the router uses.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ProxyError, model_not_found
from ..routing.plan import estimate_prompt_tokens
from ..server.http import JSON
from ..types import CallContext
from ..wire import anthropic
from ..wire.streaming import SSEResponse
from ..wire.validation import take_routing_options, validate_chat
from .base import Endpoint, Job, routed_headers, take_chat

if TYPE_CHECKING:
    from ..owner import Owner
    from ..pipeline import Pipeline


def _headers(ctx: CallContext) -> dict[str, str]:
    return {**routed_headers(ctx), "request-id": ctx.request_id}


class Messages(Endpoint):
    """``POST /v1/messages``: translated to chat and back, streams included."""

    path = "/v1/messages"

    async def parse(self, pipeline: Pipeline, ctx: CallContext, raw: Any, request: Request) -> Job:
        return take_chat(pipeline, ctx, anthropic.to_openai(raw), request, bounded=False)

    def include_usage(self, job: Job) -> bool:
        return True  # the translation needs the usage for ``message_delta``

    def render(
        self, ctx: CallContext, job: Job, response: dict[str, Any], omni: dict[str, Any]
    ) -> Response:
        message = anthropic.from_openai(response)
        message["omni"] = omni
        return JSON(message, headers=_headers(ctx))

    def render_stream(
        self,
        ctx: CallContext,
        job: Job,
        relay: AsyncGenerator[bytes, None],
        close: Callable[[], Awaitable[None]],
    ) -> Response:
        return SSEResponse(
            anthropic.translate_stream(relay, ctx.prompt_estimate), _headers(ctx), close
        )

    def render_error(self, err: ProxyError, ctx: CallContext) -> Response:
        headers = {**(err.headers or {}), "request-id": ctx.request_id}
        return JSON(
            anthropic.error_body(err, ctx.request_id), status_code=err.status, headers=headers
        )


class CountTokens(Messages):
    """``POST /v1/messages/count_tokens``: no call, no record, no limits."""

    path = "/v1/messages/count_tokens"
    records = False
    traced = False

    async def parse(self, pipeline: Pipeline, ctx: CallContext, raw: Any, request: Request) -> Job:
        if isinstance(raw, dict) and "max_tokens" not in raw:
            raw = {**raw, "max_tokens": 1}  # not part of a count request; to_openai wants it
        body = anthropic.to_openai(raw)
        validate_chat(body)
        take_routing_options(body, request.headers)
        return Job(body, {}, raw)

    async def admit(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        return None

    async def plan(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        return None

    async def answer(
        self, pipeline: Pipeline, ctx: CallContext, job: Job, owner: Owner
    ) -> Response:
        name = job.body["model"]
        model = pipeline.registry.get(name)
        if model is None and name != "auto":
            raise model_not_found(str(name))
        counted = None
        provider = pipeline.providers.get(model.provider) if model is not None else None
        if provider is not None and model is not None:
            counted = await provider.count_tokens(job.extra, model)
        tokens = counted if counted is not None else max(1, estimate_prompt_tokens(job.body))
        return JSON({"input_tokens": tokens}, headers={"request-id": ctx.request_id})
