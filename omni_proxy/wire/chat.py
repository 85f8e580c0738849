"""Reading an OpenAI chat request the way every translator to another upstream must.

The Anthropic and Gemini plugins (and any other provider whose upstream speaks its own
format) take the same pieces out of a chat request and refuse the same things with the same
words; written once here, exported from ``omni_proxy``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import bad_request


def stop_sequences(body: dict[str, Any]) -> list[str]:
    """``stop`` as a list of its non-empty strings (OpenAI accepts a string or a list)."""
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list):
        return []
    return [s for s in stop if isinstance(s, str) and s]


def function_tools(body: dict[str, Any], upstream: str) -> list[dict[str, Any]]:
    """The ``function`` object of each entry of ``tools``; a 400 naming ``upstream`` (e.g.
    "Anthropic") for any tool that is not a named function."""
    raw = body.get("tools")
    if not isinstance(raw, list):
        return []
    functions = []
    for j, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(function, dict)
            or tool.get("type", "function") != "function"
            or not function.get("name")
        ):
            raise bad_request(
                f"Invalid 'tools[{j}]': only function tools are supported for {upstream} models.",
                f"tools[{j}]",
            )
        functions.append(function)
    return functions


def assistant_texts(content: Any) -> list[tuple[str, dict[str, Any] | None]]:
    """(text, part) of each non-empty text of an assistant message's ``content``: the string
    itself (part None), or the ``text`` of text parts and the ``refusal`` of the others."""
    if isinstance(content, str):
        return [(content, None)] if content else []
    texts: list[tuple[str, dict[str, Any] | None]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        text = part.get("text") if part.get("type") == "text" else part.get("refusal")
        if isinstance(text, str) and text:
            texts.append((text, part))
    return texts


def function_calls(message: dict[str, Any], where: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """(function, call) for each of an assistant message's ``tool_calls``, in order; a 400
    at ``where.tool_calls[j]`` for one that is not a named function call."""
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise bad_request(
                f"Invalid '{where}.tool_calls[{j}]': expected a function call.",
                f"{where}.tool_calls[{j}]",
            )
        yield function, call


__all__ = ["assistant_texts", "function_calls", "function_tools", "stop_sequences"]
