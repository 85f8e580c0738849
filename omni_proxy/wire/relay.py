"""Relaying a provider's chunks to the client as SSE, without holding back content.

Chunks are forwarded as the upstream sent them (bytes untouched unless the public model name
differs from the upstream id). Two things are held for an instant, because the ``omni``
object must ride on the final chunk and the final chunk is only known when the next one
arrives: the usage chunk, and — when the client did not ask for usage — the chunk carrying
``finish_reason``. Neither carries content, and upstreams send them back to back.

Upstreams differ in where usage rides: OpenAI sends it on a chunk of its own with empty
``choices`` (only when asked); LiteLLM-style servers put it on the finishing chunk, some on
the last content chunk, and some send it unasked. Usage is taken from whichever chunk
carries it and removed there, so a client sees it exactly once: on the final chunk when it
asked (``stream_options.include_usage``), nowhere when it did not. Clients that add up
usage per chunk (LangChain, pydantic-ai) then count tokens once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any, Protocol

import orjson

from ..errors import ProxyError, upstream_error
from ..storage.cache import StreamAssembler, entry
from ..text import estimate_tokens
from ..types import Attempt, CallContext, Usage
from .sse import DONE, error_event, frame


class ChunkRelay:
    """Feeds on chunk JSON bytes, returns SSE bytes for the client; keeps usage and text size."""

    __slots__ = (
        "_held",
        "_last",
        "_model_from",
        "_model_to",
        "_upstream_model",
        "_usage_chunk",
        "_usage_raw",
        "chunks",
        "completion_chars",
        "include_usage",
        "public_model",
        "usage",
    )

    def __init__(self, public_model: str, include_usage: bool) -> None:
        self.public_model = public_model
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self.completion_chars = 0
        self.chunks = 0
        self._held: dict[str, Any] | None = None
        self._usage_chunk: dict[str, Any] | None = None
        self._usage_raw: dict[str, Any] | None = None
        self._upstream_model: str | None = None
        self._model_from = b""
        self._model_to = b""
        self._last: dict[str, Any] | None = None

    def _rename(self, data: bytes, obj: dict[str, Any]) -> bytes:
        model = obj.get("model")
        if model == self.public_model or not isinstance(model, str):
            return data
        if model != self._upstream_model:
            self._upstream_model = model
            self._model_from = b'"model":' + orjson.dumps(model)
            self._model_to = b'"model":' + orjson.dumps(self.public_model)
        if self._model_from in data:
            return data.replace(self._model_from, self._model_to, 1)
        obj["model"] = self.public_model
        return orjson.dumps(obj)

    def feed(self, data: bytes) -> bytes:
        """Take one upstream chunk; return what to send now (possibly nothing)."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise upstream_error(502, "upstream sent a malformed stream chunk") from None
        if not isinstance(obj, dict):
            raise upstream_error(502, "upstream sent a malformed stream chunk")
        if "error" in obj:
            err = obj["error"] if isinstance(obj["error"], dict) else {}
            code = err.get("code")
            raise upstream_error(
                502,
                str(err.get("message") or "upstream stream failed"),
                code=str(code) if code is not None else None,
            )
        self.chunks += 1
        self._last = obj
        usage = obj.get("usage")
        choices = obj.get("choices") or []
        if usage:
            self.usage = Usage.from_openai(usage) or self.usage
            if isinstance(usage, dict):
                self._usage_raw = usage
        finished = False
        carries = False  # anything for the client: text, tool calls, a finish_reason
        for choice in choices:
            delta = choice.get("delta") or {}
            if not carries:
                carries = bool(choice.get("finish_reason")) or any(delta.values())
            content = delta.get("content")
            if content:
                self.completion_chars += len(content)
            for call in delta.get("tool_calls") or ():
                args = (call.get("function") or {}).get("arguments")
                if args:
                    self.completion_chars += len(args)
            if choice.get("finish_reason"):
                finished = True
        if usage and not carries:
            # The usage chunk, even one with empty deltas in ``choices`` (LiteLLM's, after
            # the finishing chunk): it becomes the final chunk, ``choices`` empty as OpenAI's.
            if choices:
                obj["choices"] = []
            self._usage_chunk = obj
            return b""
        out = self._flush_held()
        if usage:
            # Usage on a chunk with content or finish_reason: it moves to the final chunk.
            if self.include_usage:
                obj["usage"] = None  # as OpenAI marks every chunk but the usage one
            else:
                del obj["usage"]
            obj["model"] = self.public_model
            data = orjson.dumps(obj)
        else:
            data = self._rename(data, obj)
        if finished and not self.include_usage:
            obj["model"] = self.public_model
            self._held = obj
            return out
        return out + frame(data)

    def _flush_held(self) -> bytes:
        if self._held is None:
            return b""
        held, self._held = self._held, None
        return frame(orjson.dumps(held))

    def finish(self, omni: dict[str, Any]) -> bytes:
        """The final chunk (with ``omni``) and the ``[DONE]`` terminator."""
        if self.include_usage:
            final = self._usage_chunk or self._synthetic_usage_chunk()
            final["model"] = self.public_model
            if self.usage is not None:
                final["usage"] = {
                    **(self._usage_raw or {}),
                    "prompt_tokens": self.usage.prompt_tokens,
                    "completion_tokens": self.usage.completion_tokens,
                    "total_tokens": self.usage.total_tokens,
                }
            final["omni"] = omni
            return self._flush_held() + frame(orjson.dumps(final)) + DONE
        if self._held is not None:
            self._held["omni"] = omni
        return self._flush_held() + DONE

    def _synthetic_usage_chunk(self) -> dict[str, Any]:
        last = self._last or {}
        return {
            "id": last.get("id", "chatcmpl-omni"),
            "object": "chat.completion.chunk",
            "created": last.get("created", 0),
            "model": self.public_model,
            "choices": [],
            "usage": None,
        }


class RelayHost(Protocol):
    """What a relay needs of the proxy (the pipeline is one; wire/ never imports it)."""

    config: Any
    guards: Any
    cache: Any

    def scrub(self, err: ProxyError) -> ProxyError: ...

    def omni(self, ctx: CallContext, usage: Usage) -> dict[str, Any]: ...


async def relay_chat(
    host: RelayHost, ctx: CallContext, iterator: Any, first: bytes, include_usage: bool
) -> AsyncGenerator[bytes, None]:
    """Client-facing SSE bytes of a chat stream. Notes on ``ctx`` how it ended (usage, an
    error, a vanished client); recording is the request owner's, when the stream closes."""
    assert ctx.route is not None
    relay = ChunkRelay(ctx.route.model.name, include_usage)
    idle_s = host.config.routing.stream_idle_s
    checks: Any = None
    # A streamed miss is stored as the completion its chunks add up to.
    keep = StreamAssembler() if ctx.cache_key is not None and host.cache else None
    ends = time.monotonic() + host.config.routing.stream_max_s
    estimate = ctx.prompt_estimate
    try:
        try:
            if ctx.guard is not None:
                checks = await host.guards.stream(ctx)
            out = relay.feed(checks.chunk(first) if checks else first)
            if keep is not None:
                keep.add(first)
            if out:
                yield out
            while True:
                try:
                    data = await next_chunk(iterator, idle_s, ends)
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
            host.scrub(err)
            ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
            model = ctx.route.model
            ctx.attempts.append(
                Attempt(model.name, model.provider, err.status, err.message, err.code)
            )
            ctx.usage = relay.usage or Usage(estimate, estimate_tokens(relay.completion_chars))
            yield error_event(err)
            return
        if relay.usage is None:
            relay.usage = Usage(estimate, estimate_tokens(relay.completion_chars))
        ctx.usage = relay.usage
        omni = host.omni(ctx, relay.usage)
        whole = keep.response() if keep is not None else None
        if whole is not None and host.cache is not None and ctx.cache_key is not None:
            whole["model"] = ctx.route.model.name
            host.cache.put(ctx.cache_key, entry(whole, ctx.route.model.name, omni))
        yield relay.finish(omni)
    except (asyncio.CancelledError, GeneratorExit):
        ctx.usage = (
            ctx.usage or relay.usage or Usage(estimate, estimate_tokens(relay.completion_chars))
        )
        gone(ctx)
        raise
    finally:
        await aclose(iterator)


def gone(ctx: CallContext) -> None:
    """Note on ``ctx`` that the client left before the answer was whole."""
    ctx.client_disconnected = True
    if ctx.status < 400:
        ctx.status, ctx.error = 499, "client disconnected"


async def next_chunk(iterator: Any, idle_s: float | None, ends: float | None = None) -> Any:
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


async def aclose(iterator: Any) -> None:
    """Close a stream (upstream or relay) if it can be; never raises."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        # Closing a broken upstream must not mask the error that broke it.
        with contextlib.suppress(Exception):
            await asyncio.shield(close())
