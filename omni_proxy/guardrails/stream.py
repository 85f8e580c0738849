"""The guard steps: ``guard_request`` before the call, ``guard_response`` on the answer.

Streams are checked as they pass: each ``StreamGuard`` sees the content text chunk by chunk
and may hold back a tail (a placeholder cut in two, a word it must see whole), but never
more than ``guardrails.stream_window_chars``: past that the text is released as it is.
"""

from __future__ import annotations

from typing import Protocol

import orjson

from ..errors import ProxyError


class StreamGuard(Protocol):
    """What a ``guard_response`` implementation returns for a stream."""

    def scan(self, text: str, final: bool) -> tuple[str, str]:
        """Split the pending ``text`` into what to send now (possibly rewritten) and a tail
        to hold until more arrives. ``final``: the stream ends (or the window is full), so
        hold nothing. Raise ``ProxyError`` to end the stream with an error event."""
        ...


def guard_blocked(message: str, code: str, param: str | None = "messages") -> ProxyError:
    """The 400 a guard answers when it refuses a request (OpenAI's error shape)."""
    return ProxyError(400, message, type="invalid_request_error", code=code, param=param)


class _Chain:
    """One choice's text through every stream guard, each with its own held tail."""

    __slots__ = ("guards", "held", "window")

    def __init__(self, guards: list[StreamGuard], window: int) -> None:
        self.guards = guards
        self.window = window
        self.held = [""] * len(guards)

    def feed(self, text: str, final: bool) -> str:
        for i, guard in enumerate(self.guards):
            pending = self.held[i] + text
            release, hold = guard.scan(pending, final)
            if len(hold) > self.window:
                release, hold = guard.scan(pending, True)
            self.held[i] = hold
            text = release
        return text


class StreamGuards:
    """The stream guards of one response, applied to chunk JSON before it is relayed."""

    __slots__ = ("_chains", "guards", "window")

    def __init__(self, guards: list[StreamGuard], window: int) -> None:
        self.guards = guards
        self.window = window
        self._chains: dict[int, _Chain] = {}

    def _chain(self, index: int) -> _Chain:
        chain = self._chains.get(index)
        if chain is None:
            chain = self._chains[index] = _Chain(self.guards, self.window)
        return chain

    def chunk(self, data: bytes) -> bytes:
        """The chunk with its content deltas passed through the guards (a chunk that is not
        a chat chunk goes by untouched: the relay reports it)."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        if not isinstance(obj, dict) or "error" in obj:
            return data
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices:
            return data
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = choice["delta"] = {}
            content = delta.get("content")
            final = bool(choice.get("finish_reason"))
            if not isinstance(content, str) and not final:
                continue
            out = self._chain(int(choice.get("index") or 0)).feed(content or "", final)
            if isinstance(content, str) or out:
                delta["content"] = out
        return orjson.dumps(obj)

    def leftover(self) -> bytes | None:
        """Text still held when a stream ends without a finish chunk, as one last chunk's
        JSON (None when nothing is held)."""
        parts = []
        for index, chain in sorted(self._chains.items()):
            text = chain.feed("", True)
            if text:
                parts.append({"index": index, "delta": {"content": text}, "finish_reason": None})
        if not parts:
            return None
        return orjson.dumps({"object": "chat.completion.chunk", "choices": parts})
