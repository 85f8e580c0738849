"""The ``Endpoint`` every wire format is, with the chat-shaped defaults most share."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ProxyError
from ..routing.plan import estimate_prompt_tokens
from ..server.http import JSON, error_response
from ..services import services
from ..text import estimate_tokens
from ..types import CallContext, Classification, Usage
from ..wire.streaming import SSEResponse
from ..wire.validation import take_routing_options, validate_chat
from . import cached

if TYPE_CHECKING:
    from ..owner import Owner
    from ..pipeline import Pipeline


@dataclass(slots=True)
class Job:
    """A parsed request: the chat-shaped body routed and sent, the routing options taken
    out of it, and whatever else the endpoint keeps for rendering."""

    body: dict[str, Any]
    routing: dict[str, Any]
    extra: Any = None
    #: The client's ``x-omni-cache`` header (cache endpoints).
    cache_header: str | None = None


def route(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``endpoint``: the app's pipeline handles it."""

    async def handle(request: Request) -> Response:
        return await services(request).pipeline.handle(request, endpoint)

    handle.__name__ = handle.__qualname__ = type(endpoint).__name__
    handle.__doc__ = type(endpoint).__doc__
    return handle


def routed_headers(ctx: CallContext) -> dict[str, str]:
    if ctx.route is None:
        return {}
    return {
        "x-omni-model": ctx.route.model.name,
        "x-omni-provider": ctx.route.model.provider,
        "x-omni-task": ctx.classification.task_type if ctx.classification else "",
        **({"x-omni-cache": ctx.cache_state} if ctx.cache_state else {}),
    }


def output_estimate(body: dict[str, Any]) -> int | None:
    """``max_tokens`` times ``n`` when the client bounded its answer (validated already)."""
    most = body.get("max_completion_tokens") or body.get("max_tokens")
    if not isinstance(most, int):
        return None
    n = body.get("n")
    return most * (n if isinstance(n, int) and n > 0 else 1)


def take_chat(
    pipeline: Pipeline, ctx: CallContext, body: Any, request: Request, bounded: bool = True
) -> Job:
    """Validate a chat-shaped body and note on ``ctx`` what admission and routing need."""
    validate_chat(body, pipeline.config.max_messages)
    routing = take_routing_options(body, request.headers)
    ctx.requested_model = body["model"]
    ctx.stream = bool(body.get("stream"))
    ctx.prompt_estimate = max(1, estimate_prompt_tokens(body))
    if bounded:
        ctx.output_estimate = output_estimate(body)
    return Job(body, routing)


def finish_chat(pipeline: Pipeline, response: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    """A chat completion's public model name, usage (estimated if the upstream sent
    none) and ``omni`` (returned)."""
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
    return omni


class Endpoint:
    """One wire format. The defaults are chat completions'; subclasses override a step."""

    #: The path the request is recorded under.
    path = "/v1/chat/completions"
    #: The key permission the endpoint needs.
    permission = "write"
    #: False for endpoints that never reach a provider (nothing to record).
    records = True
    #: Whether the request starts a trace (W3C ``traceparent`` / ``tracestate``).
    traced = True
    #: Answer from (and fill) the response cache.
    cache = False
    #: Route as this task whatever the text says.
    task: str | None = None
    #: The model when the body names none.
    default_model: str | None = None

    async def parse(self, pipeline: Pipeline, ctx: CallContext, raw: Any, request: Request) -> Job:
        """The request body, validated (400 otherwise)."""
        if self.default_model is not None and isinstance(raw, dict):
            raw.setdefault("model", self.default_model)
        job = take_chat(pipeline, ctx, raw, request)
        if self.cache:
            job.cache_header = request.headers.get("x-omni-cache")
        return job

    async def admit(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        """Allow-list, rate limits and budgets (429 to refuse)."""
        await pipeline.admit(ctx)

    async def plan(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        """Classify and plan the routes (``ctx.plan``); a cache hit stops short of it."""
        if self.task is not None:
            ctx.classification = Classification(
                self.task, 1.0, (f"endpoint:{self.path}",), "endpoint"
            )
        if self.cache and pipeline.cache is not None:
            await cached.lookup(pipeline, ctx, job.body, job.routing, job.cache_header)
            if ctx.cache_entry is not None:
                return
        elif "cache" in job.body:
            del job.body["cache"]  # the proxy's field (``cache: false``), never the upstream's
        await pipeline.route(job.body, job.routing, ctx)

    async def answer(
        self, pipeline: Pipeline, ctx: CallContext, job: Job, owner: Owner
    ) -> Response:
        """Call (falling back) and render the answer or the stream."""
        if ctx.cache_entry is not None:
            response, omni = cached.answer(pipeline, ctx)
            if ctx.stream:
                replay = cached.replay(response, self.include_usage(job))
                return SSEResponse(replay, routed_headers(ctx))
            return self.render(ctx, job, response, omni)
        if ctx.stream:
            iterator, first = await pipeline.call(job.body, ctx, stream=True)
            relay = pipeline.relay(ctx, iterator, first, self.include_usage(job))
            return self.render_stream(ctx, job, relay, owner.hand_over(relay, iterator))
        response = await pipeline.call(job.body, ctx)
        omni = finish_chat(pipeline, response, ctx)
        if self.cache:
            cached.store(pipeline, ctx, response)
        return self.render(ctx, job, response, omni)

    def include_usage(self, job: Job) -> bool:
        """Whether the client asked for usage on its stream."""
        return bool((job.body.get("stream_options") or {}).get("include_usage"))

    def render(
        self, ctx: CallContext, job: Job, response: dict[str, Any], omni: dict[str, Any]
    ) -> Response:
        """A non-streamed chat completion (with ``omni``) in this wire format."""
        return JSON(response, headers=routed_headers(ctx))

    def render_stream(
        self,
        ctx: CallContext,
        job: Job,
        relay: AsyncGenerator[bytes, None],
        close: Callable[[], Awaitable[None]],
    ) -> Response:
        """The relay's chat SSE in this wire format; ``close`` is the owner's."""
        return SSEResponse(relay, routed_headers(ctx), close)

    def render_error(self, err: ProxyError, ctx: CallContext) -> Response:
        """CONTRACT.md's error body (with the routing headers once a provider was tried)."""
        response = error_response(err, ctx.request_id)
        if ctx.attempts:
            response.headers.update(routed_headers(ctx))
        return response
