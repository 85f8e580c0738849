"""Finding the ask: the short first or last paragraph outweighs pasted material, and
short follow-ups lean on the previous turn."""

from __future__ import annotations

from .cues import FOLLOW
from .lexicon import LEX, tokenize
from .params import (
    ASK_CHARS,
    BODY_CHARS,
    BODY_WEIGHT,
    EDGE_CHARS,
    FOLLOW_UP_CHARS,
    LONG_TEXT,
    MATERIAL_WEIGHT,
    MEDIUM_TEXT,
)


def ask_regions(text: str) -> list[tuple[str, float]]:
    """A long message as (ask, weight 1) and (sample of the pasted body, ``BODY_WEIGHT``).

    The ask is the first or last paragraph when it is short; a paste without paragraphs
    has its first and last couple of hundred characters read as the ask.
    """
    n = len(text)
    if n <= LONG_TEXT:
        return _medium_regions(text) if n > MEDIUM_TEXT and "\n\n" in text else [(text, 1.0)]
    head = text.find("\n\n", 0, EDGE_CHARS)
    if head < 0:
        head = text.find(":\n", 0, ASK_CHARS)
        head = head + 1 if head >= 0 else -1
    if head > ASK_CHARS:
        head = -1
    tail = text.rfind("\n\n", n - EDGE_CHARS)
    if tail < 0 or n - tail > ASK_CHARS or tail <= head:
        tail = -1
    if head < 0 and tail < 0:
        head, tail = 200, n - 200
    regions: list[tuple[str, float]] = []
    start, end = 0, n
    if head > 0:
        regions.append((text[:head], 1.0))
        start = head
    if tail > 0:
        regions.append((text[tail:], 1.0))
        end = tail
    body = text[start:end]
    if len(body) > BODY_CHARS:
        third = BODY_CHARS // 3
        body = body[: 2 * third] + "\n" + body[-third:]
    regions.append((body, BODY_WEIGHT))
    return regions


def _medium_regions(text: str) -> list[tuple[str, float]]:
    """A short ask before or after a pasted paragraph: the ask at 1, the paste lighter.

    The ask is the last paragraph when it is short (a question or an instruction after the
    material), else the first one when it is short and the rest is longer. Fenced code is
    never the ask.
    """
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return [(text, 1.0)]
    first, last = paragraphs[0], paragraphs[-1]
    asks: list[str] = []
    if len(last) <= ASK_CHARS and "```" not in last:
        asks.append(last)
    if (
        len(first) <= ASK_CHARS
        and "```" not in first
        and (not asks or len(paragraphs) > 2 or _asks(first))
    ):
        asks.insert(0, first)
    if not asks:
        return [(text, 1.0)]
    if len(asks) == 2 and len(paragraphs) == 2 and _asks(first) and len(first) < len(last):
        asks = [first]  # "What are the essentials of this?" above a short pasted paragraph
    material = [p for p in paragraphs if p not in asks]
    if not material or sum(map(len, material)) < sum(map(len, asks)):
        return [(text, 1.0)]
    return [*((a, 1.0) for a in asks), ("\n\n".join(material), MATERIAL_WEIGHT)]


def _asks(paragraph: str) -> bool:
    """A paragraph that asks: it ends with a question or introduces what follows."""
    return paragraph.rstrip().endswith((":", "?")) or "? " in paragraph


def is_follow_up(text: str) -> bool:
    """A short turn that leans on the previous one: "ok, now do the same for this one"."""
    if len(text) > FOLLOW_UP_CHARS:
        return False
    tokens = tokenize(text.lower())
    if not tokens:
        return True
    first = LEX.get(tokens[0])
    if first is not None and first.flags & FOLLOW:
        return True
    for i, tok in enumerate(tokens):
        e = LEX.get(tok)
        if e is None:
            continue
        for rest, _cues, flags in e.phrases:
            if flags & FOLLOW and tokens[i + 1 : i + 1 + len(rest)] == list(rest):
                return True
    return "again" in tokens or "instead" in tokens
