"""Text out of requests: a message's text, and tokens from characters.

Written once, so routing's estimates, the usage the proxy fills in when an upstream sends
none, and plugins agree on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: About four characters a token: OpenAI's rule of thumb for English text.
CHARS_PER_TOKEN = 4


def estimate_tokens(chars: int) -> int:
    """Tokens for ``chars`` characters of text: one per ``CHARS_PER_TOKEN``, and at least
    one for any text at all (an answer of "Hi" still cost a token)."""
    if chars <= 0:
        return 0
    return max(1, chars // CHARS_PER_TOKEN)


def content_text(content: Any, sep: str = "\n") -> str:
    """The text of a message's ``content``: the string itself, or, for a list of parts,
    each part's text (a string part, or a part's ``text`` or ``refusal``) joined by
    ``sep``. Images, audio and anything unexpected add nothing."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, str):
            text: Any = part
        elif isinstance(part, Mapping):
            text = part.get("text")
            if not isinstance(text, str):
                text = part.get("refusal")
        else:
            continue
        if isinstance(text, str) and text:
            texts.append(text)
    return sep.join(texts)


def last_user_text(body: Mapping[str, Any], sep: str = "\n") -> str:
    """The text of the last ``user`` message in a chat request ("" when there is none)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return content_text(message.get("content"), sep)
    return ""


#: Characters of a prompt the quality model reads and the recorder keeps (its start and end).
PROMPT_TEXT_CHARS = 2000
#: Of those, the characters taken from the start; the rest come from the end (the ask is
#: usually the first or the last sentence, pasted material sits in between).
PROMPT_HEAD_CHARS = 800


def _user_text(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role", "user") == "user":
            return content_text(message.get("content"))
    return None


def prompt_text(body: Mapping[str, Any], limit: int = PROMPT_TEXT_CHARS) -> str:
    """The request's last user message (``messages``, a Responses ``input``, or a legacy
    ``prompt``), cut to its start and end when longer than ``limit``. The one reading of
    "the prompt": routing's quality estimate, the recorder, and ``router train``/``eval``
    all use it, so a model is trained on exactly what it is later shown."""
    text = _user_text(body.get("messages"))
    if text is None:
        value = body.get("input", body.get("prompt"))
        text = value if isinstance(value, str) else _user_text(value)
    text = text or ""
    if len(text) <= limit:
        return text
    head = min(PROMPT_HEAD_CHARS, limit // 2)
    return text[:head] + "\n" + text[len(text) - (limit - head - 1) :]


__all__ = [
    "CHARS_PER_TOKEN",
    "PROMPT_HEAD_CHARS",
    "PROMPT_TEXT_CHARS",
    "content_text",
    "estimate_tokens",
    "last_user_text",
    "prompt_text",
]
