"""Server-sent events, written and read in one place (chat, completions, Anthropic and
Responses streams all use these)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from ..errors import ProxyError

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


def event_parts(raw: bytes) -> tuple[str | None, bytes]:
    """(event name, data) of one raw server-sent event; an unnamed event is named by the
    ``type`` in its JSON data, if any."""
    name: str | None = None
    data: list[bytes] = []
    for line in raw.splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
    joined = b"\n".join(data)
    if name is None and joined.startswith(b"{"):
        name = _type_in(joined)
    return name, joined


def _type_in(data: bytes) -> str | None:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None
