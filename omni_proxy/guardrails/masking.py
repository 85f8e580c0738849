"""Typed placeholders in, originals back out: one ``Masker`` per request, in memory only.

The same value gets the same placeholder everywhere in a request (``<EMAIL_1>`` twice for an
address written twice), so the model can still tell who is who. Originals are kept only for
the kinds whose category asks to restore them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from .detect import Finding

_PLACEHOLDER = re.compile(r"<([A-Z_]+_\d+)>")
# A tail that may be the start of a placeholder cut by a stream chunk boundary.
_PARTIAL = re.compile(r"<[A-Z_]*\d*\Z")
#: Longest placeholder the stream guard waits for (``<PRIVATE_KEY_12345>``).
MAX_PLACEHOLDER = 24

# Request parts that hold no user text (ids, roles, media by reference or inline).
_SKIP = frozenset(
    {
        "role",
        "type",
        "name",
        "id",
        "tool_call_id",
        "call_id",
        "model",
        "image_url",
        "url",
        "detail",
        "format",
        "file_id",
        "file_data",
        "data",
        "input_audio",
        "cache_control",
    }
)
#: Top-level request fields that carry prompt text, across the APIs the proxy serves.
TEXT_FIELDS = ("messages", "input", "prompt", "instructions", "system")


#: Deeper request JSON than this is refused rather than passed unchecked.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """A request nested deeper than ``MAX_DEPTH``: it cannot be checked, so it may not pass."""


def rewrite_strings(node: Any, fn: Callable[[str], str], depth: int = 0) -> Any:
    """``node`` with ``fn`` applied to every string in it (lists and dicts changed in place,
    skipping keys that hold no user text); returns the new value for a bare string."""
    if isinstance(node, str):
        return fn(node)
    if depth > MAX_DEPTH:
        raise TooDeep(f"the request is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, str | list | dict):
                node[i] = rewrite_strings(item, fn, depth + 1)
    elif isinstance(node, dict):
        for key, item in node.items():
            if key not in _SKIP and isinstance(item, str | list | dict):
                node[key] = rewrite_strings(item, fn, depth + 1)
    return node


class Masker:
    """Placeholder numbering per kind and, for restorable kinds, the originals."""

    __slots__ = ("_by_value", "_counts", "originals", "restorable")

    def __init__(self, restorable: Iterable[str] = ()) -> None:
        self.restorable = frozenset(restorable)
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        #: placeholder body (``EMAIL_1``) -> original value, restorable kinds only.
        self.originals: dict[str, str] = {}

    def placeholder(self, kind: str, value: str) -> str:
        tag = self._by_value.get((kind, value))
        if tag is None:
            n = self._counts[kind] = self._counts.get(kind, 0) + 1
            tag = self._by_value[(kind, value)] = f"{kind}_{n}"
            if kind in self.restorable:
                self.originals[tag] = value
        return f"<{tag}>"

    def mask(self, text: str, findings: list[Finding]) -> str:
        parts, at = [], 0
        for f in findings:
            parts.append(text[at : f.start])
            parts.append(self.placeholder(f.kind, text[f.start : f.end]))
            at = f.end
        parts.append(text[at:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        if "<" not in text:
            return text
        originals = self.originals
        return _PLACEHOLDER.sub(lambda m: originals.get(m.group(1), m.group()), text)


class RestoringStream:
    """A ``StreamGuard`` putting originals back as the answer streams; it holds back only a
    tail that could be the start of a placeholder."""

    __slots__ = ("masker",)

    def __init__(self, masker: Masker) -> None:
        self.masker = masker

    def scan(self, text: str, final: bool) -> tuple[str, str]:
        if not final:
            cut = text.rfind("<")
            if cut != -1 and len(text) - cut <= MAX_PLACEHOLDER and _PARTIAL.match(text, cut):
                return self.masker.restore(text[:cut]), text[cut:]
        return self.masker.restore(text), ""
