"""Tokenizing and the lexicon built from :mod:`.cues`: one dict lookup per token."""

from __future__ import annotations

import re
import string

from .cues import (
    CJK_CUES,
    FLAG_PHRASES,
    FLAG_WORDS,
    PHRASE_CUES,
    STEM_CUES,
    STEM_FLAGS,
    WORD_CUES,
    Cue,
)

CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Latin and Cyrillic runs apart from CJK runs: "如何在JavaScript中" holds a "javascript".
_WORD_RE = re.compile(
    r"[a-z0-9\u00c0-\u024f\u0400-\u04ff]+|[^\W_a-z0-9\u00c0-\u024f\u0400-\u04ff]+"
)
_ASCII_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def tokenize(low: str) -> list[str]:
    """Lower-case words and numbers. ``translate`` is fast only on ASCII text."""
    if low.isascii():
        return low.translate(_ASCII_PUNCT).split()
    return _WORD_RE.findall(low)


class Entry:
    """What the lexicon knows about one token: its cues, flags and the phrases it starts."""

    __slots__ = ("cues", "flags", "phrases")

    def __init__(self) -> None:
        self.cues: tuple[Cue, ...] = ()
        self.flags = 0
        self.phrases: tuple[tuple[tuple[str, ...], tuple[Cue, ...], int], ...] = ()


Stem = tuple[str, tuple[Cue, ...], int]


def _build_lexicon() -> tuple[dict[str, Entry], dict[str, tuple[Stem, ...]]]:
    """Expand the tables into token and stem dictionaries, typo variants included."""
    lex: dict[str, Entry] = {}

    def entry(word: str) -> Entry:
        e = lex.get(word)
        if e is None:
            e = lex[word] = Entry()
        return e

    def add_phrase(words: tuple[str, ...], cues: tuple[Cue, ...], flags: int) -> None:
        e = entry(words[0])
        e.phrases = (*e.phrases, (words[1:], cues, flags))

    for task, weight, words in WORD_CUES:
        for w in words.split():
            e = entry(w)
            e.cues = (*e.cues, (task, weight, f"kw:{w}"))
    for task, weight, phrases in PHRASE_CUES:
        for p in phrases.split("|"):
            toks = tuple(tokenize(p))
            cue = (task, weight, ("not:" if weight < 0 else "kw:") + "_".join(toks))
            if len(toks) == 1:
                e = entry(toks[0])
                e.cues = (*e.cues, cue)
            else:
                add_phrase(toks, (cue,), 0)
    for flag, words in FLAG_WORDS:
        for w in words.split():
            entry(w).flags |= flag
    for flag, phrases in FLAG_PHRASES:
        for p in phrases.split("|"):
            add_phrase(tuple(tokenize(p)), (), flag)

    # Fast typists swap two letters: "sumamrize", "Japaense". Longer cue words also answer
    # to their adjacent transpositions, unless that spelling is a lexicon word itself.
    for word, e in list(lex.items()):
        if len(word) < 6 or not word.isalpha() or not (e.cues or e.flags):
            continue
        for k in range(1, len(word) - 2):
            typo = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
            if typo not in lex:
                variant = lex[typo] = Entry()
                variant.cues, variant.flags = e.cues, e.flags

    stems: dict[str, list[Stem]] = {}
    flag_of: dict[str, int] = {}
    for flag, words in STEM_FLAGS:
        for s in words.split():
            flag_of[s] = flag_of.get(s, 0) | flag
    for task, weight, words in STEM_CUES:
        for s in words.split():
            stems.setdefault(s[:5], []).append(
                (s, ((task, weight, f"kw:{s}*"),), flag_of.pop(s, 0))
            )
    for s, flag in flag_of.items():
        stems.setdefault(s[:5], []).append((s, (), flag))
    return lex, {k: tuple(v) for k, v in stems.items()}


LEX, STEMS = _build_lexicon()
CJK_TABLE: tuple[tuple[str, float, str, tuple[str, ...]], ...] = tuple(
    (task, weight, f"kw:{name}", tuple(words.split())) for task, weight, name, words in CJK_CUES
)
TASKS = ("chat", "coding", "reasoning", "summarization", "translation", "image")
