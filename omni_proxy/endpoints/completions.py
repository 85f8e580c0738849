"""``POST /v1/completions`` (legacy): served by chat models, translated both ways.

Few upstreams still offer the legacy endpoint, so each prompt becomes a one-message chat
request and each answer (or stream chunk) is turned back into a ``text_completion``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import ProxyError, bad_request
from ..server.http import JSON
from ..text import estimate_tokens
from ..types import CallContext, Usage
from ..wire.sse import DONE, frame, relay_events
from ..wire.streaming import SSEResponse
from .base import Endpoint, Job, routed_headers, take_chat

if TYPE_CHECKING:
    from ..owner import Owner
    from ..pipeline import Pipeline

#: Prompts in one request: each becomes its own upstream call, admitted and charged on its
#: own, so a list must stay small enough to answer within the deadline.
MAX_PROMPTS = 32

# Legacy fields with the same meaning in chat completions.
_SHARED = (
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "seed",
    "user",
    "stream",
    "stream_options",
    "metadata",
)


def chat_body(body: Any) -> tuple[dict[str, Any], list[str]]:
    """The chat request for a legacy body, and its prompts."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_type")
    prompt = body.get("prompt")
    if prompt is None:
        raise bad_request("Missing required parameter: 'prompt'.", param="prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise bad_request(
            "Invalid 'prompt': expected a string or a non-empty array of strings (token "
            "arrays are not supported: chat models take text).",
            param="prompt",
        )
    for key, unsupported in (("echo", True), ("suffix", None), ("logprobs", None)):
        value = body.get(key)
        if value is not None and value is not False and (unsupported is None or value):
            raise bad_request(
                f"'{key}' is not supported: omni-proxy serves /v1/completions with chat models.",
                param=key,
            )
    if (body.get("best_of") or 1) != 1:
        raise bad_request("'best_of' other than 1 is not supported.", param="best_of")
    chat: dict[str, Any] = {k: body[k] for k in _SHARED if k in body}
    chat["model"] = body.get("model", "auto")
    chat["max_tokens"] = body.get("max_tokens", 16)  # the legacy endpoint's default
    for key in ("priority", "latency_pref", "max_cost", "strategy", "quality_floor"):
        if key in body:
            chat[key] = body[key]
    chat["messages"] = [{"role": "user", "content": prompts[0]}]
    if len(prompts) > 1 and chat.get("stream"):
        raise bad_request("Streaming supports a single prompt.", param="prompt")
    if len(prompts) > MAX_PROMPTS:
        raise bad_request(
            f"Invalid 'prompt': at most {MAX_PROMPTS} prompts per request (each is an upstream "
            f"call); got {len(prompts)}.",
            param="prompt",
        )
    return chat, prompts


def _text_completion(chat: dict[str, Any], index_base: int) -> list[dict[str, Any]]:
    return [
        {
            "text": (c.get("message") or {}).get("content") or "",
            "index": index_base + int(c.get("index", 0)),
            "logprobs": None,
            "finish_reason": _finish(c.get("finish_reason")),
        }
        for c in chat.get("choices") or ()
    ]


def _finish(reason: Any) -> Any:
    return "stop" if reason in ("tool_calls", "function_call") else reason


def completion_chunk(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(obj.get("id", "")).replace("chatcmpl", "cmpl", 1),
        "object": "text_completion",
        "created": obj.get("created", 0),
        "model": obj.get("model"),
        "choices": [
            {
                "text": (c.get("delta") or {}).get("content") or "",
                "index": c.get("index", 0),
                "logprobs": None,
                "finish_reason": _finish(c.get("finish_reason")),
            }
            for c in obj.get("choices") or ()
        ],
    }
    for key in ("usage", "omni", "system_fingerprint"):
        if key in obj:
            out[key] = obj[key]
    return out


async def _translate_stream(chat_sse: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    try:
        async for block in chat_sse:
            out = b""
            for data in relay_events(block):
                if data == b"[DONE]":
                    out += DONE
                    continue
                obj = orjson.loads(data)
                out += frame(data if "error" in obj else orjson.dumps(completion_chunk(obj)))
            yield out
    finally:
        await chat_sse.aclose()


class Completions(Endpoint):
    """``POST /v1/completions``: each prompt a one-message chat call, admitted on its own."""

    path = "/v1/completions"

    async def parse(self, pipeline: Pipeline, ctx: CallContext, raw: Any, request: Request) -> Job:
        body, prompts = chat_body(raw)
        job = take_chat(pipeline, ctx, body, request)
        job.extra = prompts
        return job

    async def admit(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        # Each prompt is an upstream call: each is admitted (rate limits, budget) on its own.
        prompts: list[str] = job.extra
        for prompt in prompts:
            ctx.prompt_estimate = max(1, estimate_tokens(len(prompt)))
            await pipeline.admit(ctx)
        ctx.prompt_estimate = max(1, estimate_tokens(sum(len(p) for p in prompts)))

    async def answer(
        self, pipeline: Pipeline, ctx: CallContext, job: Job, owner: Owner
    ) -> Response:
        if ctx.stream:
            return await super().answer(pipeline, ctx, job, owner)
        body, prompts = job.body, job.extra
        choices: list[dict[str, Any]] = []
        usage = Usage()
        n = int(body.get("n") or 1)
        first_answer: dict[str, Any] = {}
        for i, prompt in enumerate(prompts):
            if i and ctx.deadline is not None and time.monotonic() >= ctx.deadline:
                raise ProxyError(
                    504,
                    f"the deadline passed after {i} of {len(prompts)} prompts",
                    type="server_error",
                    code="timeout",
                )
            body["messages"] = [{"role": "user", "content": prompt}]
            answer = await pipeline.call(body, ctx)
            first_answer = first_answer or answer
            choices += _text_completion(answer, i * n)
            got = Usage.from_openai(answer.get("usage")) or Usage(estimate_tokens(len(prompt)), 0)
            usage = Usage(
                usage.prompt_tokens + got.prompt_tokens,
                usage.completion_tokens + got.completion_tokens,
            )
            ctx.usage = usage
            if len(prompts) > 1:
                # Priced per call (each may have been served by another model), and kept
                # on the context so a later failure still records what was spent.
                assert ctx.route is not None
                cost, premium = pipeline.costs(ctx.route.model, got)
                before = ctx.costs or (Decimal(0), Decimal(0))
                ctx.costs = (before[0] + cost, before[1] + premium)
        assert ctx.route is not None
        response = {
            "id": str(first_answer.get("id", "")).replace("chatcmpl", "cmpl", 1),
            "object": "text_completion",
            "created": first_answer.get("created", int(time.time())),
            "model": ctx.route.model.name,
            "choices": choices,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
            "omni": pipeline.omni(ctx, usage),
        }
        return JSON(response, headers=routed_headers(ctx))

    def render_stream(
        self,
        ctx: CallContext,
        job: Job,
        relay: AsyncGenerator[bytes, None],
        close: Callable[[], Awaitable[None]],
    ) -> Response:
        return SSEResponse(_translate_stream(relay), routed_headers(ctx), close)
