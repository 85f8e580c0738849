"""Recorded outcomes (``/v1/feedback`` scores, cascade verdicts) as training rows.

The ``requests`` table keeps no prompt text, so outcomes are read from the ``feedback``
table the feedback endpoint and the cascade write: ``request_id, org_id, model,
task_type, prompt_text, score, source ('feedback' | 'cascade'), created_at``. Rows without
prompt text cannot teach difficulty and are skipped. Outcomes of one request are merged
into one row (``{"messages", "scores": {model: score}}``), the mean when a model was
scored more than once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["from_db_rows"]

_SQL = (
    "SELECT f.request_id, f.model, f.prompt_text, f.score FROM feedback f{join}"
    " WHERE f.prompt_text IS NOT NULL AND f.model IS NOT NULL AND f.score IS NOT NULL{where}"
    " ORDER BY f.created_at"
)


async def _read(config: Any, org: str | None) -> list[tuple[Any, ...]]:
    from ..storage import open_database

    db = await open_database(config.database_url)
    try:
        await db.migrate()
        fetch: Callable[..., Awaitable[list[tuple[Any, ...]]]] = db.fetch  # type: ignore[attr-defined]
        mark = "?" if config.database_url.startswith("sqlite:") else "%s"
        if org:
            sql = _SQL.format(join=" JOIN orgs o ON o.id = f.org_id", where=f" AND o.name = {mark}")
            return await fetch(sql, (org,))
        return await fetch(_SQL.format(join="", where=""))
    finally:
        await db.close()


def rows_to_examples(raw: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Merge outcome rows by request into training rows."""
    merged: dict[str, dict[str, Any]] = {}
    for request_id, model, prompt, score in raw:
        row = merged.setdefault(
            str(request_id),
            {"messages": [{"role": "user", "content": str(prompt)}], "sums": {}},
        )
        total, count = row["sums"].get(model, (0.0, 0))
        row["sums"][model] = (total + float(score), count + 1)
    return [
        {"messages": r["messages"], "scores": {m: t / c for m, (t, c) in r["sums"].items()}}
        for r in merged.values()
    ]


def from_db_rows(config: Any, org: str | None = None) -> list[dict[str, Any]]:
    """Training rows from the configured database (one org's when ``org`` names it)."""
    return rows_to_examples(asyncio.run(_read(config, org)))
