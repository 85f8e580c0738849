"""Usage, spend and the dashboard's aggregates, read from the hourly rollups: exact, and a few
thousand rows however many requests the range holds.

A range ``[start, end)`` is read as its whole UTC hours from ``request_rollup`` (kept by
triggers in the inserting transaction; see ``sql/*/0003_rollups.sql``) plus its partial hours
at either end from ``requests`` itself, through the ``(org_id, created_at)`` index. Both parts
are summed in one statement, with the same per-row expressions the triggers use, so every
figure equals a ``GROUP BY`` over the raw rows of the range exactly (latency sums are of each
latency rounded to the microsecond).

Latency percentiles are exact too (nearest rank, as before): the per-hour histogram
(``request_latency_rollup``) says which bin holds the wanted rank and how deep, then that
bin's rows in the range are read through the ``requests_org_latency_bin`` index. Bins are
1-10% wide, so that is a small share of the range's rows (all of them only if every latency
falls in one bin, e.g. identical latencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .dialect import Dialect

HOUR = timedelta(hours=1)
MEASURES = (
    "requests",
    "succeeded",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "premium_cost",
    "savings",
    "latency_us",
    "fallbacks",
    "with_fallback",
)
_MONEY = ("cost", "premium_cost", "savings")
# The grouping keys a caller may ask for: (rollup column, raw expression).
_DIMS = ("day", "model_used", "task_type")
_SUMS = ("requests", "tokens", "cost", "premium_cost", "savings", "succeeded")


def floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(value: datetime) -> datetime:
    floor = floor_hour(value)
    return floor if floor == value else floor + HOUR


@dataclass(frozen=True, slots=True)
class Split:
    """``[start, end)`` as whole hours (from the rollups) and partial edges (raw rows)."""

    hours: tuple[datetime, datetime] | None
    edges: tuple[tuple[datetime, datetime], ...]


def split(start: datetime, end: datetime) -> Split:
    first, last = ceil_hour(start), floor_hour(end)
    if first >= last:
        return Split(None, ((start, end),))
    edges = tuple((a, b) for a, b in ((start, first), (last, end)) if a < b)
    return Split((first, last), edges)


def locate(histogram: list[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The bin holding the ``rank``-th smallest value (1-based), and how many of that bin's
    values come before it."""
    seen = 0
    for bin_, count in histogram:
        if seen + count >= rank:
            return bin_, rank - seen - 1
        seen += count
    raise ValueError(f"rank {rank} is beyond the histogram's {seen} values")


def _empty_sums() -> dict[str, Any]:
    return dict.fromkeys(_SUMS, 0)


def _name(value: Any) -> str | None:
    """A rollup key back to what the raw row held ('' stands for NULL)."""
    return None if value in (None, "") else str(value)


def _mean(sums: dict[str, tuple[float, int]], model: str | None) -> float | None:
    """The average of one model's values (``model`` None: of every model's)."""
    picked = sums.values() if model is None else [sums[model]] if model in sums else []
    total = sum(s for s, _ in picked)
    count = sum(n for _, n in picked)
    return round(total / count, 4) if count else None


def _quality_out(
    expected: dict[str, tuple[float, int]],
    measured: dict[str, tuple[float, int]],
    model: str | None,
) -> dict[str, Any]:
    """``expected_quality`` (the quality model's, averaged over routed answers) and
    ``measured_quality`` (the average ``/v1/feedback`` score), None where there is none."""
    return {
        "expected_quality": _mean(expected, model),
        "measured_quality": _mean(measured, model),
    }


class UsageQueries(Dialect):
    """The aggregate queries; every one is bounded by org (except spend) and time range."""

    def _raw_measures(self) -> list[str]:
        return [
            "1",
            "CASE WHEN status < 400 THEN 1 ELSE 0 END",
            "prompt_tokens",
            "completion_tokens",
            self._money_units("cost"),
            self._money_units("premium_cost"),
            self._money_units("savings"),
            self._latency_us("latency_ms"),
            "fallback_count",
            "CASE WHEN fallback_count > 0 THEN 1 ELSE 0 END",
        ]

    async def _rolled_up(
        self, org_id: str, start: datetime, end: datetime, by: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """Every measure, grouped by ``by`` (some of day, model_used, task_type), over the
        range; groups left empty by deletions are dropped."""
        rollup_dims = {
            "day": self._day("hour"),
            "hour": self._hour("hour"),
            "model_used": "model_used",
            "task_type": "task_type",
        }
        raw_dims = {
            "day": self._day("created_at"),
            "hour": self._hour("created_at"),
            "minute": self._minute("created_at"),
            "model_used": "COALESCE(model_used, '')",
            "task_type": "COALESCE(task_type, '')",
        }
        parts: list[str] = []
        params: list[Any] = []
        where = "org_id = %s AND {col} >= %s AND {col} < %s"
        span = split(start, end)
        if "minute" in by:  # finer than the rollups: the raw rows (short ranges only)
            span = Split(None, ((start, end),))
        if span.hours is not None:
            cols = [f"{rollup_dims[d]} AS {d}" for d in by] + list(MEASURES)
            parts.append(
                f"SELECT {', '.join(cols)} FROM request_rollup WHERE {where.format(col='hour')}"
            )
            params += [org_id, self._ts(span.hours[0]), self._ts(span.hours[1])]
        raw = [f"{raw_dims[d]} AS {d}" for d in by]
        raw += [f"{e} AS {m}" for m, e in zip(MEASURES, self._raw_measures(), strict=True)]
        for a, b in span.edges:
            parts.append(
                f"SELECT {', '.join(raw)} FROM requests WHERE {where.format(col='created_at')}"
            )
            params += [org_id, self._ts(a), self._ts(b)]
        sums = [f"COALESCE(SUM({m}), 0) AS {m}" for m in MEASURES]
        group = f" GROUP BY {', '.join(by)}" if by else ""
        rows = await self._fetch(
            f"SELECT {', '.join([*by, *sums])} FROM ({' UNION ALL '.join(parts)}) AS parts{group}",
            tuple(params),
        )
        out = []
        for row in rows:
            if by and not int(row["requests"]):
                continue
            group_row: dict[str, Any] = {d: row[d] for d in by}
            for m in MEASURES:
                group_row[m] = self._money_sum_out(row[m]) if m in _MONEY else int(row[m])
            for d in ("model_used", "task_type"):
                if d in group_row:
                    group_row[d] = _name(group_row[d])
            out.append(group_row)
        return out

    async def spend_since(self, start: datetime) -> dict[str, Decimal]:
        """Cost per org since ``start`` (the month's spend, for budgets)."""
        first = ceil_hour(start)
        rows = await self._fetch(
            "SELECT org_id, COALESCE(SUM(cost), 0) AS cost FROM ("
            "SELECT org_id, cost FROM request_rollup WHERE hour >= %s UNION ALL"
            f" SELECT org_id, {self._money_units('cost')} AS cost FROM requests"
            " WHERE created_at >= %s AND created_at < %s AND org_id IS NOT NULL"
            ") AS parts GROUP BY org_id",
            (self._ts(first), self._ts(start), self._ts(first)),
        )
        return {r["org_id"]: self._money_sum_out(r["cost"]) for r in rows}

    def _group_out(self, row: dict[str, Any]) -> dict[str, Any]:
        requests = int(row["requests"])
        return {
            "requests": requests,
            "tokens": int(row["tokens"]),
            "cost": Decimal(row["cost"]),
            "premium_cost": Decimal(row["premium_cost"]),
            "savings": Decimal(row["savings"]),
            "success_rate": (int(row["succeeded"]) / requests) if requests else None,
        }

    async def usage(self, org_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Totals, percentiles and breakdowns of one org's requests in ``[start, end)``:
        one rollup query grouped by (day, model, task), summed here into the totals and the
        three breakdowns."""
        groups = await self._rolled_up(org_id, start, end, _DIMS)
        total: dict[str, Any] = _empty_sums()
        by_day: dict[Any, dict[str, Any]] = {}
        by_model: dict[Any, dict[str, Any]] = {}
        by_task: dict[Any, dict[str, Any]] = {}
        for row in groups:
            row["tokens"] = row["prompt_tokens"] + row["completion_tokens"]
            for bucket in (
                total,
                by_day.setdefault(row["day"], _empty_sums()),
                by_model.setdefault(row["model_used"], _empty_sums()),
                by_task.setdefault(row["task_type"], _empty_sums()),
            ):
                for key in _SUMS:
                    bucket[key] += row[key]
        totals = self._group_out(total)
        expected, measured = await self._quality(org_id, start, end)
        totals.update(_quality_out(expected, measured, None))
        p50 = p95 = None
        if totals["requests"]:
            p50, p95 = await self._latency_percentiles(org_id, start, end)

        def ranked(groups: dict[Any, dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
            return sorted(
                groups.items(), key=lambda kv: (-kv[1]["requests"], kv[0] is None, kv[0] or "")
            )

        return {
            "org_id": org_id,
            **totals,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "by_day": [{"date": d, **self._group_out(sums)} for d, sums in sorted(by_day.items())],
            "by_model": [
                {"model": m, **self._group_out(sums), **_quality_out(expected, measured, m or "")}
                for m, sums in ranked(by_model)
            ],
            "by_task": [{"task_type": t, **self._group_out(sums)} for t, sums in ranked(by_task)],
        }

    # -- quality -------------------------------------------------------------------------------
    async def _quality(
        self, org_id: str, start: datetime, end: datetime
    ) -> tuple[dict[str, tuple[float, int]], dict[str, tuple[float, int]]]:
        """(sum, count) per model ('' for none) of the expected quality of routed answers
        (``request_quality_rollup`` for whole hours, raw rows at the edges) and of the
        ``/v1/feedback`` scores given in the range."""
        parts: list[str] = []
        params: list[Any] = []
        span = split(start, end)
        if span.hours is not None:
            parts.append(
                "SELECT model_used, expected_sum AS s, expected_n AS n FROM request_quality_rollup"
                " WHERE org_id = %s AND hour >= %s AND hour < %s"
            )
            params += [org_id, self._ts(span.hours[0]), self._ts(span.hours[1])]
        for a, b in span.edges:
            parts.append(
                "SELECT COALESCE(model_used, '') AS model_used, expected_quality AS s, 1 AS n"
                " FROM requests WHERE org_id = %s AND created_at >= %s AND created_at < %s"
                " AND expected_quality IS NOT NULL"
            )
            params += [org_id, self._ts(a), self._ts(b)]
        rows = await self._fetch(
            "SELECT model_used, SUM(s) AS s, SUM(n) AS n"
            f" FROM ({' UNION ALL '.join(parts)}) AS parts GROUP BY model_used",
            tuple(params),
        )
        expected = {str(r["model_used"]): (float(r["s"]), int(r["n"])) for r in rows if r["n"]}
        rows = await self._fetch(
            "SELECT COALESCE(model, '') AS model, SUM(score) AS s, COUNT(*) AS n FROM feedback"
            " WHERE org_id = %s AND created_at >= %s AND created_at < %s AND source = %s"
            " GROUP BY COALESCE(model, '')",
            (org_id, self._ts(start), self._ts(end), "feedback"),
        )
        measured = {str(r["model"]): (float(r["s"]), int(r["n"])) for r in rows if r["n"]}
        return expected, measured

    async def usage_series(
        self, org_id: str, start: datetime, end: datetime, unit: str = "day"
    ) -> list[dict[str, Any]]:
        """One org's requests over time, per ``unit`` ("day": ``YYYY-MM-DD``, "hour":
        ``YYYY-MM-DDTHH``, "minute": ``YYYY-MM-DDTHH:MM``, read from raw rows: short ranges
        only), oldest first, only buckets with requests: the sums of ``usage`` plus
        ``failed`` and ``avg_latency_ms`` (for the dashboard's time charts)."""
        if unit not in ("day", "hour", "minute"):
            raise ValueError(f"unit must be day, hour or minute, not {unit!r}")
        out = []
        for row in sorted(
            await self._rolled_up(org_id, start, end, (unit,)), key=lambda r: r[unit]
        ):
            requests = int(row["requests"])
            row["tokens"] = row["prompt_tokens"] + row["completion_tokens"]
            out.append(
                {
                    "bucket": str(row[unit]),
                    **self._group_out(row),
                    "failed": requests - int(row["succeeded"]),
                    "avg_latency_ms": row["latency_us"] / requests / 1000 if requests else None,
                }
            )
        return out

    # -- exact percentiles ---------------------------------------------------------------------
    async def _latency_histogram(
        self, org_id: str, start: datetime, end: datetime
    ) -> list[tuple[int, int]]:
        """(bin, requests) over the range, in latency order."""
        parts: list[str] = []
        params: list[Any] = []
        span = split(start, end)
        if span.hours is not None:
            parts.append(
                "SELECT bin, requests FROM request_latency_rollup"
                " WHERE org_id = %s AND hour >= %s AND hour < %s"
            )
            params += [org_id, self._ts(span.hours[0]), self._ts(span.hours[1])]
        for a, b in span.edges:
            parts.append(
                f"SELECT {self._latency_bin('latency_ms')} AS bin, 1 AS requests FROM requests"
                " WHERE org_id = %s AND created_at >= %s AND created_at < %s"
            )
            params += [org_id, self._ts(a), self._ts(b)]
        rows = await self._fetch(
            f"SELECT bin, SUM(requests) AS n FROM ({' UNION ALL '.join(parts)}) AS parts"
            " GROUP BY bin HAVING SUM(requests) > 0 ORDER BY bin",
            tuple(params),
        )
        return [(int(r["bin"]), int(r["n"])) for r in rows]

    async def _latency_percentiles(
        self, org_id: str, start: datetime, end: datetime
    ) -> tuple[float, float]:
        """Nearest-rank p50 and p95 of ``latency_ms``: the histogram finds each rank's bin,
        one indexed read of that bin's rows finds the value."""
        histogram = await self._latency_histogram(org_id, start, end)
        n = sum(count for _bin, count in histogram)
        found: list[float] = []
        for q in (50, 95):
            bin_, offset = locate(histogram, max(1, -(-n * q // 100)))
            rows = await self._fetch(
                "SELECT latency_ms FROM requests WHERE org_id = %s"
                f" AND {self._latency_bin('latency_ms')} = %s"
                " AND created_at >= %s AND created_at < %s"
                " ORDER BY latency_ms LIMIT 1 OFFSET %s",
                (org_id, bin_, self._ts(start), self._ts(end), offset),
            )
            if not rows:  # rows deleted between the two reads: count them the slow way
                return await self._percentiles(org_id, start, end)
            found.append(float(rows[0]["latency_ms"]))
        return found[0], found[1]

    async def _percentiles(
        self, org_id: str, start: datetime, end: datetime
    ) -> tuple[float, float]:
        """Nearest-rank p50 and p95 from one sort of the range's raw rows (the fallback)."""
        where = " FROM requests WHERE org_id = %s AND created_at >= %s AND created_at < %s"
        params = (org_id, self._ts(start), self._ts(end))
        n = int((await self._fetch(f"SELECT COUNT(*) AS n{where}", params))[0]["n"])
        ranks = [max(1, -(-n * q // 100)) for q in (50, 95)]
        rows = await self._fetch(
            "SELECT rn, latency_ms FROM (SELECT latency_ms,"
            f" ROW_NUMBER() OVER (ORDER BY latency_ms) AS rn{where}) AS ranked"
            " WHERE rn IN (%s, %s)",
            (*params, ranks[0], ranks[1]),
        )
        by_rank = {int(r["rn"]): float(r["latency_ms"]) for r in rows}
        return by_rank.get(ranks[0], 0.0), by_rank.get(ranks[1], 0.0)

    # -- the dashboard's extras ----------------------------------------------------------------
    async def fallback_totals(self, org_id: str, start: datetime, end: datetime) -> dict[str, int]:
        """Failed attempts that were retried on another model, in ``[start, end)``:
        ``fallbacks`` (attempts) and ``requests_with_fallback``."""
        row = (await self._rolled_up(org_id, start, end, ()))[0]
        return {"fallbacks": row["fallbacks"], "requests_with_fallback": row["with_fallback"]}

    async def model_task_breakdown(
        self, org_id: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Requests, tokens, cost and latency per (model, task type) pair, busiest first."""
        rows = await self._rolled_up(org_id, start, end, ("model_used", "task_type"))
        rows.sort(key=lambda r: (-r["requests"], r["model_used"] or "", r["task_type"] or ""))
        return [
            {
                "model": r["model_used"],
                "task_type": r["task_type"],
                "requests": r["requests"],
                "prompt_tokens": r["prompt_tokens"],
                "completion_tokens": r["completion_tokens"],
                "cost": r["cost"],
                "latency_sum_ms": r["latency_us"] / 1000,
            }
            for r in rows[:limit]
        ]
