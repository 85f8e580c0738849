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

from collections.abc import Iterator
from typing import Any

import orjson

from .errors import ProxyError, upstream_error
from .types import Usage

DONE = b"data: [DONE]\n\n"


def frame(data: bytes) -> bytes:
    """One unnamed SSE event (OpenAI's chat and completions streams)."""
    return b"data: " + data + b"\n\n"


def named_event(kind: str, data: Any) -> bytes:
    """One named SSE event carrying ``data`` as JSON (Anthropic's and Responses streams)."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def relay_events(block: bytes) -> Iterator[bytes]:
    """The ``data`` of each event in a block of the relay's own SSE bytes (``[DONE]``
    included), for the routes that re-emit the chat stream in another wire format."""
    for raw in block.split(b"\n\n"):
        if raw:
            yield raw[6:]  # the relay writes every event as b"data: " + data


def error_event(err: ProxyError) -> bytes:
    """What the openai SDK raises as ``APIError`` when it meets it mid-stream."""
    return frame(orjson.dumps({"error": err.body()["error"]}))


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
