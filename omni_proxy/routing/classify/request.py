"""Reading a request: the text of its messages, bounded, and the other API shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .params import HEAD_CHARS, MAX_MESSAGES, MAX_PARTS, TAIL_CHARS


def window(text: str) -> str:
    """The head and tail of a long text: the part worth reading, at a bounded cost."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n\n" + text[-TAIL_CHARS:]


def content_text(content: Any) -> tuple[str, bool]:
    """The text of a message's content (string or parts) and whether it holds an image."""
    if isinstance(content, str):
        return window(content), False
    if not isinstance(content, list):
        return "", False
    parts: Sequence[Any] = content
    if len(parts) > 2 * MAX_PARTS:
        parts = [*parts[:MAX_PARTS], *parts[-MAX_PARTS:]]
    texts: list[str] = []
    size = 0
    image = False
    for part in parts:
        if isinstance(part, str):
            text: Any = part
        elif isinstance(part, Mapping):
            if part.get("type") in ("image_url", "input_image", "image"):
                image = True
                continue
            text = part.get("text")
        else:
            continue
        if isinstance(text, str) and text and size < HEAD_CHARS + TAIL_CHARS:
            texts.append(window(text))
            size += len(texts[-1])
    return window("\n\n".join(texts)), image


def role_of(message: Any) -> str:
    role = message.get("role") if isinstance(message, Mapping) else None
    return role if isinstance(role, str) else ""


def message_text(message: Any) -> tuple[str, bool]:
    return content_text(message.get("content")) if isinstance(message, Mapping) else ("", False)


def non_empty_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def other_shapes(body: Mapping[str, Any]) -> list[Any]:
    """Messages from the legacy completions ``prompt`` or the Responses API ``input``."""
    prompt: Any = body.get("prompt")
    if isinstance(prompt, list):
        prompt = "\n".join(p for p in prompt[:MAX_PARTS] if isinstance(p, str))
    if isinstance(prompt, str) and prompt:
        return [{"role": "user", "content": prompt}]
    messages: list[Any] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str) and given:
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for item in given[-MAX_MESSAGES:]:
            if isinstance(item, Mapping) and item.get("type") == "function_call_output":
                messages.append({"role": "tool", "content": item.get("output")})
            elif isinstance(item, Mapping) and "role" in item:
                messages.append(item)
    return messages if any(role_of(m) != "system" for m in messages) else []
