"""Labelled-prompt files for ``router train`` / ``router eval``: read, check, refuse clearly.

One JSON object a line: ``{"messages": [...], "scores": {"<registry model name>": 0..1}}``.
Any bad line stops the run with its number and the reason; nothing is half-learned.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..text import prompt_text

__all__ = ["DataError", "Example", "check_row", "read_examples"]


class DataError(ValueError):
    """A training or evaluation file that cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled prompt."""

    messages: list[Any]
    text: str
    scores: dict[str, float]


def check_row(value: Any, where: str, known: Container[str] | None) -> Example:
    """``value`` as an Example, or DataError saying what is wrong at ``where``."""
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(value).__name__}")
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list of chat messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise DataError(f"{where}: every message needs a 'role' (and 'content')")
    scores = value.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise DataError(f"{where}: 'scores' must be an object of model name -> score 0..1")
    clean: dict[str, float] = {}
    for name, score in scores.items():
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise DataError(f"{where}: score for {name!r} is not a number: {score!r}")
        if not (0.0 <= float(score) <= 1.0) or math.isnan(float(score)):
            raise DataError(f"{where}: score for {name!r} must be between 0 and 1, got {score}")
        if known is not None and name not in known:
            raise DataError(
                f"{where}: model {name!r} is not in the registry "
                "(score the registry's public model names; see `omni-proxy models`)"
            )
        clean[name] = float(score)
    text = prompt_text({"messages": messages})
    if not text.strip():
        raise DataError(f"{where}: the messages hold no text to learn from")
    return Example(messages, text, clean)


def read_examples(path: str | Path, known: Container[str] | None = None) -> list[Example]:
    """Every line of ``path`` checked; DataError at the first bad one (1-based line)."""
    target = Path(path)
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {target}: {exc.strerror or exc}") from exc
    out: list[Example] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{target.name}:{number}"
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataError(f"{where}: not JSON ({exc})") from exc
        out.append(check_row(value, where, known))
    if not out:
        raise DataError(f"{target}: no labelled prompts in the file")
    return out


def examples_from_rows(
    rows: Iterable[dict[str, Any]], known: Container[str] | None
) -> list[Example]:
    """Rows from the database (``from_db_rows``) as Examples; unusable rows are skipped."""
    out: list[Example] = []
    for i, row in enumerate(rows, start=1):
        try:
            out.append(check_row(row, f"row {i}", known))
        except DataError:
            continue
    return out
