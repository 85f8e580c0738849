"""The hourly rollups behind usage and the dashboard: exactly the raw rows' numbers, on both
dialects, for any range (whole hours, partial hours, inside one hour), however batches are
retried, and after the migration backfills rows that were there before it."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from omni_proxy.storage import open_database, postgres, sqlite
from omni_proxy.storage.base import SQL_DIR
from omni_proxy.storage.recorder import Recorder
from omni_proxy.storage.rollup import ceil_hour, floor_hour, locate, split
from omni_proxy.types import RequestRecord
from tests.test_storage_support import count, db, db_url, make_record

__all__ = ["db", "db_url"]

BASE = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
MODELS = ["m-small", "m-big", None]
TASKS = ["chat", "coding", None]


def random_record(rng: random.Random, org: str | None = None) -> RequestRecord:
    """Anything the recorder may write: failures, missing model or task, equal latencies,
    sub-millisecond and multi-minute latencies, money with 8 decimals, fallbacks."""
    status = rng.choice([200, 200, 200, 502, 429])
    cost = Decimal(rng.randint(0, 10**7)).scaleb(-8)
    premium = cost + Decimal(rng.randint(0, 10**7)).scaleb(-8)
    latency = rng.choice(
        [round(rng.uniform(0.05, 4000), 3), 250.0, 1000.0, 0.4, round(rng.uniform(1e4, 2e5), 3)]
    )
    micros = rng.randint(0, 3 * 86400 * 10**6)
    rec = make_record(
        org if org is not None else rng.choice(["org_a", "org_a", "org_b", None]),
        model=rng.choice(MODELS),
        task=rng.choice(TASKS),
        prompt=rng.randint(0, 5000),
        completion=rng.randint(0, 2000),
        cost=str(cost),
        premium=str(premium),
        status=status,
        latency=latency,
        created_at=(BASE + timedelta(microseconds=micros)).timestamp(),
    )
    rec.fallback_count = rng.choice([0, 0, 0, 1, 2])
    return rec


def stamp(r: RequestRecord) -> datetime:
    return datetime.fromtimestamp(r.created_at, UTC)


def _sums(rows: list[RequestRecord]) -> dict[str, Any]:
    n = len(rows)
    return {
        "requests": n,
        "tokens": sum(r.prompt_tokens + r.completion_tokens for r in rows),
        "cost": sum((r.cost for r in rows), Decimal(0)),
        "premium_cost": sum((r.premium_cost for r in rows), Decimal(0)),
        "savings": sum((r.savings for r in rows), Decimal(0)),
        "success_rate": sum(r.status < 400 for r in rows) / n if n else None,
    }


def _by(rows: list[RequestRecord], key: Any) -> dict[Any, dict[str, Any]]:
    groups: dict[Any, list[RequestRecord]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return {k: _sums(v) for k, v in groups.items()}


def reference(records: list[RequestRecord], org: str, start: datetime, end: datetime) -> dict:
    """What ``usage`` must say, computed in Python from the records themselves."""
    rows = [r for r in records if r.org_id == org and start <= stamp(r) < end]
    latencies = sorted(r.latency_ms for r in rows)
    n = len(rows)
    pct = [latencies[max(1, -(-n * q // 100)) - 1] if n else None for q in (50, 95)]
    pairs = {
        k: (
            len(v),
            sum(r.prompt_tokens for r in v),
            sum(r.cost for r in v),
            sum(round(r.latency_ms * 1000) for r in v),
        )
        for k, v in _group(rows, lambda r: (r.model_used, r.task_type)).items()
    }
    return {
        **_sums(rows),
        "latency_p50_ms": pct[0],
        "latency_p95_ms": pct[1],
        "by_day": _by(rows, lambda r: stamp(r).date().isoformat()),
        "by_model": _by(rows, lambda r: r.model_used),
        "by_task": _by(rows, lambda r: r.task_type),
        "fallbacks": {
            "fallbacks": sum(r.fallback_count for r in rows),
            "requests_with_fallback": sum(r.fallback_count > 0 for r in rows),
        },
        "pairs": pairs,
    }


def _group(rows: list[RequestRecord], key: Any) -> dict[Any, list[RequestRecord]]:
    out: dict[Any, list[RequestRecord]] = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out


def _strip(group: dict[str, Any]) -> dict[str, Any]:
    return {
        k: group[k]
        for k in ("requests", "tokens", "cost", "premium_cost", "savings", "success_rate")
    }


async def assert_matches(
    db: Any, records: list[RequestRecord], org: str, start: datetime, end: datetime
) -> None:
    want = reference(records, org, start, end)
    got = await db.usage(org, start, end)
    label = (org, start.isoformat(), end.isoformat())
    assert _strip(got) == _strip(want), label
    assert (got["latency_p50_ms"], got["latency_p95_ms"]) == (
        want["latency_p50_ms"],
        want["latency_p95_ms"],
    ), label
    assert {d["date"]: _strip(d) for d in got["by_day"]} == want["by_day"], label
    assert {m["model"]: _strip(m) for m in got["by_model"]} == want["by_model"], label
    assert {t["task_type"]: _strip(t) for t in got["by_task"]} == want["by_task"], label
    assert await db.fallback_totals(org, start, end) == want["fallbacks"], label
    pairs = await db.model_task_breakdown(org, start, end)
    assert {
        (p["model"], p["task_type"]): (
            p["requests"],
            p["prompt_tokens"],
            p["cost"],
            round(p["latency_sum_ms"] * 1000),
        )
        for p in pairs
    } == want["pairs"], label


async def rollup_equals_raw(db: Any) -> None:
    """The rollup tables hold exactly a GROUP BY of ``requests`` (no row counted twice)."""
    hour = (
        "substr(created_at, 1, 13) || ':00:00.000000Z'"
        if db.dialect == "sqlite"
        else "date_trunc('hour', created_at, 'UTC')"
    )
    raw = await db._fetch(
        f"SELECT org_id, {hour} AS hour, COALESCE(model_used, '') AS model_used,"
        " COALESCE(task_type, '') AS task_type, COUNT(*) AS requests,"
        f" {db._sum_money('cost')} AS cost, SUM({db._latency_us('latency_ms')}) AS latency_us"
        " FROM requests WHERE org_id IS NOT NULL GROUP BY 1, 2, 3, 4"
    )
    rolled = await db._fetch(
        "SELECT org_id, hour, model_used, task_type, requests, cost, latency_us"
        " FROM request_rollup WHERE requests <> 0"
    )

    def keyed(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {
            (r["org_id"], str(r["hour"]), r["model_used"], r["task_type"]): (
                int(r["requests"]),
                db._money_sum_out(r["cost"]),
                int(r["latency_us"]),
            )
            for r in rows
        }

    assert keyed(rolled) == keyed(raw)
    hist = await db._fetch("SELECT COALESCE(SUM(requests), 0) AS n FROM request_latency_rollup")
    assert int(hist[0]["n"]) == await count(db, "requests", "org_id IS NOT NULL")


def random_ranges(rng: random.Random, records: list[RequestRecord], n: int) -> list[tuple]:
    """Ranges of every shape: on hour boundaries, between them, inside one hour, ending or
    starting exactly on a request's timestamp, empty."""
    points = [BASE + timedelta(hours=h) for h in range(0, 75)]
    out = [
        (BASE, BASE + timedelta(days=3)),  # whole hours only
        (BASE + timedelta(minutes=7), BASE + timedelta(minutes=50)),  # inside one hour
        (BASE - timedelta(days=2), BASE - timedelta(days=1)),  # nothing there
    ]
    while len(out) < n:
        picks = []
        for _ in range(2):
            kind = rng.random()
            if kind < 0.3:
                picks.append(rng.choice(points))
            elif kind < 0.6:
                picks.append(stamp(rng.choice(records)))
            else:
                picks.append(BASE + timedelta(microseconds=rng.randint(0, 3 * 86400 * 10**6)))
        a, b = sorted(picks)
        if a < b:
            out.append((a, b))
    return out


# -- pure helpers ------------------------------------------------------------------------------
def test_split_into_whole_hours_and_raw_edges() -> None:
    t = BASE + timedelta(hours=5, minutes=10)
    assert floor_hour(t) == BASE + timedelta(hours=5)
    assert ceil_hour(t) == BASE + timedelta(hours=6) and ceil_hour(BASE) == BASE
    s = split(t, t + timedelta(hours=3))
    assert s.hours == (BASE + timedelta(hours=6), BASE + timedelta(hours=8))
    assert s.edges == (
        (t, BASE + timedelta(hours=6)),
        (BASE + timedelta(hours=8), t + timedelta(hours=3)),
    )
    assert split(BASE, BASE + timedelta(hours=2)).edges == ()
    inside = split(t, t + timedelta(minutes=20))
    assert inside.hours is None and inside.edges == ((t, t + timedelta(minutes=20)),)
    # Straddling one boundary with no whole hour between: all raw.
    assert split(t, t + timedelta(minutes=55)).hours is None


def test_locate_finds_the_bin_and_depth_of_a_rank() -> None:
    histogram = [(105, 2), (310, 3), (412, 1)]
    assert locate(histogram, 1) == (105, 0)
    assert locate(histogram, 2) == (105, 1)
    assert locate(histogram, 3) == (310, 0)
    assert locate(histogram, 6) == (412, 0)
    with pytest.raises(ValueError):
        locate(histogram, 7)


def test_sqlite_migrations_keep_triggers_whole() -> None:
    script = (
        "-- a comment; with a semicolon\nCREATE TABLE t (a INT);\n"
        "CREATE TRIGGER x AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 1;\n"
        "  UPDATE t SET a = 2;\nEND;\n-- trailing comment\n"
    )
    parts = sqlite.statements(script)
    assert len(parts) == 2 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")


def test_sqlite_bin_expression_is_the_migrations() -> None:
    """The planner only uses requests_org_latency_bin for the very same expression."""
    migration = (SQL_DIR / "sqlite" / "0003_rollups.sql").read_text()
    flat = " ".join(migration.split())
    expr = sqlite.latency_bin_sql("latency_ms")
    assert expr[1:-1].replace(" ", "") in flat.replace(" ", "")


async def test_sqlite_batches_roll_up_themselves_and_other_writers_use_the_trigger(
    tmp_path: Path,
) -> None:
    """The recorder's batches add their new rows to the rollups grouped, with the trigger
    standing aside; the flag is down again after a batch (and after a failed one), so a
    write from anywhere else still rolls up row by row."""
    path = tmp_path / "batch.db"
    database = await open_database(f"sqlite:///{path}")
    try:
        assert "0004_rollup_batches.sql" in await database.migrate()
        rng = random.Random(11)
        batch = [random_record(rng, "org_a") for _ in range(40)]
        await database.write_records(batch)
        await database.write_records([*batch[:5], random_record(rng, "org_a")])
        broken = dataclasses.replace(random_record(rng, "org_a"), endpoint=None)
        with pytest.raises(sqlite3.IntegrityError):  # NOT NULL endpoint: the batch rolls back
            await database.write_records([random_record(rng, "org_a"), broken])
        active = await database._fetch("SELECT active FROM rollup_batch")
        assert [r["active"] for r in active] == [0]
        await rollup_equals_raw(database)
    finally:
        await database.close()
    conn = sqlite3.connect(str(path))  # another writer: a manual INSERT, a bulk load
    try:
        conn.execute(
            "INSERT INTO requests (id, org_id, endpoint, model_used, task_type, prompt_tokens,"
            " completion_tokens, cost, premium_cost, savings, latency_ms, status,"
            " fallback_count, created_at) VALUES ('manual1', 'org_a', '/v1/chat/completions',"
            " 'm', 'chat', 10, 5, '0.001', '0.01', '0.009', 12.5, 200, 0,"
            " '2025-03-01T05:10:00.000000Z')"
        )
        conn.commit()
    finally:
        conn.close()
    database = await open_database(f"sqlite:///{path}")
    try:
        await database.migrate()
        assert await count(database, "requests") == 42
        rolled = await database._fetch("SELECT SUM(requests) AS n FROM request_rollup")
        assert int(rolled[0]["n"]) == 42
        await rollup_equals_raw(database)
    finally:
        await database.close()


# -- on both dialects --------------------------------------------------------------------------
LATENCIES = [
    -1.0,
    0.0,
    0.0004,
    0.001,
    0.0099,
    0.5,
    0.999,
    1.0,
    9.99,
    10.0,
    99.5,
    100.0,
    250.0,
    999.999,
    1000.0,
    1099.0,
    1100.0,
    60_000.0,
    1e9,
    1e13,
]


async def test_latency_bins_sort_like_latencies(db: Any) -> None:
    bins = []
    for ms in LATENCIES:
        rows = await db._fetch(
            f"SELECT {db._latency_bin('x')} AS b FROM (SELECT CAST(%s AS DOUBLE PRECISION) AS x) t",
            (ms,),
        )
        bins.append(int(rows[0]["b"]))
    assert bins == sorted(bins)
    assert len(set(bins)) >= len(LATENCIES) - 6  # distinct enough to be useful
    assert bins[LATENCIES.index(1000.0)] != bins[LATENCIES.index(1100.0)]


async def test_usage_equals_raw_aggregation_for_random_ranges(db: Any) -> None:
    rng = random.Random(20261123)
    records = [random_record(rng) for _ in range(600)]
    # Some requests on exact hour boundaries, and a burst with one latency.
    for h in (1, 2, 30):
        records.append(random_record(rng, "org_a"))
        records[-1].created_at = (BASE + timedelta(hours=h)).timestamp()
    for _ in range(40):
        records.append(random_record(rng, "org_a"))
        records[-1].latency_ms = 777.0
    for i in range(0, len(records), 97):
        await db.write_records(records[i : i + 97])
    await rollup_equals_raw(db)
    for start, end in random_ranges(rng, records, 40):
        await assert_matches(db, records, "org_a", start, end)
    await assert_matches(
        db, records, "org_b", BASE + timedelta(minutes=90), BASE + timedelta(days=2, minutes=3)
    )


async def test_retried_batches_count_each_request_once(db: Any) -> None:
    rng = random.Random(7)
    batch = [random_record(rng, "org_a") for _ in range(50)]
    await db.write_records(batch)
    await db.write_records(batch)  # the recorder's retry after a blip: all already there
    more = [random_record(rng, "org_a") for _ in range(20)]
    await db.write_records(batch[10:30] + more)  # half old, half new
    dup = random_record(rng, "org_a")
    await db.write_records([dup, dup])  # the same id twice in one batch
    unique = batch + more + [dup]
    assert await count(db, "requests") == 71
    rolled = await db._fetch("SELECT SUM(requests) AS n FROM request_rollup")
    assert int(rolled[0]["n"]) == 71
    await rollup_equals_raw(db)
    await assert_matches(db, unique, "org_a", BASE, BASE + timedelta(days=3))
    await assert_matches(
        db,
        unique,
        "org_a",
        BASE + timedelta(minutes=1),
        BASE + timedelta(days=2, hours=5, seconds=1),
    )


class CommitsThenFails:
    """A database whose first write commits but reports an error (the connection dropped
    after COMMIT): the recorder must retry, and the retry must change nothing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dialect = inner.dialect
        self.path = getattr(inner, "path", None)
        self.calls = 0

    async def write_records(self, records: list[Any]) -> None:
        self.calls += 1
        await self.inner.write_records(records)
        if self.calls == 1:
            raise ConnectionError("connection lost after commit")


async def test_recorder_retry_after_a_lost_commit_counts_once(db: Any, tmp_path: Path) -> None:
    rng = random.Random(11)
    flaky = CommitsThenFails(db)
    rec = Recorder(
        flaky, flush_interval_s=0.05, batch_size=100, spill_path=tmp_path / "spill.jsonl"
    )
    await rec.start()
    records = [random_record(rng, "org_a") for _ in range(30)]
    for r in records:
        rec.put(r)
    await rec.stop()
    assert flaky.calls >= 2
    assert await count(db, "requests") == 30
    await rollup_equals_raw(db)
    await assert_matches(db, records, "org_a", BASE, BASE + timedelta(days=3))


async def test_deletes_and_updates_are_rolled_back_out(db: Any) -> None:
    rng = random.Random(3)
    records = [random_record(rng, "org_a") for _ in range(80)]
    await db.write_records(records)
    gone, changed = records[:15], records[15]
    marks = ", ".join(["%s"] * len(gone))
    ids = tuple(r.request_id for r in gone)
    await db._execute(f"DELETE FROM routing_logs WHERE request_id IN ({marks})", ids)
    await db._execute(f"DELETE FROM requests WHERE id IN ({marks})", ids)
    changed.latency_ms, changed.cost = 4242.0, Decimal("1.5")
    await db._execute(
        "UPDATE requests SET latency_ms = %s, cost = %s WHERE id = %s",
        (4242.0, db._money(Decimal("1.5")), changed.request_id),
    )
    await rollup_equals_raw(db)
    await assert_matches(db, records[15:], "org_a", BASE, BASE + timedelta(days=3))
    await assert_matches(
        db, records[15:], "org_a", BASE + timedelta(minutes=33), BASE + timedelta(days=1, minutes=1)
    )


async def test_spend_since_matches_raw_rows(db: Any) -> None:
    rng = random.Random(5)
    records = [random_record(rng) for _ in range(300)]
    await db.write_records(records)
    for since in (BASE, BASE + timedelta(hours=20, minutes=17), stamp(records[7])):
        want: dict[str, Decimal] = {}
        for r in records:
            if r.org_id is not None and stamp(r) >= since:
                want[r.org_id] = want.get(r.org_id, Decimal(0)) + r.cost
        assert await db.spend_since(since) == want


async def test_migration_backfills_existing_rows(db_url: str, monkeypatch: Any) -> None:
    rng = random.Random(9)
    records = [random_record(rng) for _ in range(200)]
    module = sqlite if db_url.startswith("sqlite") else postgres
    every = module.migrations
    monkeypatch.setattr(
        # The requests columns of 0005 are there (today's code writes them); the migrations
        # after it build on the rollups' tables, so they come with the upgrade.
        module,
        "migrations",
        lambda dialect: [m for m in every(dialect) if m[0] < "0003" or m[0].startswith("0005")],
    )
    database = await open_database(db_url)
    try:
        assert "0003_rollups.sql" not in await database.migrate()
        # Written before the rollups exist (the PostgreSQL insert needs no trigger either).
        await database.write_records(records)
        monkeypatch.setattr(module, "migrations", every)
        assert (await database.migrate())[0] == "0003_rollups.sql"  # SQLite: then 0004
        await rollup_equals_raw(database)
        await assert_matches(
            database, records, "org_a", BASE + timedelta(minutes=5), BASE + timedelta(days=3)
        )
        await database.write_records(records[:50])  # a retry after the upgrade
        await rollup_equals_raw(database)
    finally:
        await database.close()


def test_percentile_lookup_reads_one_bin_through_its_index(tmp_path: Path) -> None:
    """SQLite without ANALYZE statistics (as the proxy runs it) picks the bin index."""
    import asyncio

    async def build() -> None:
        database = await open_database(f"sqlite:///{tmp_path / 'p.db'}")
        await database.migrate()
        await database.close()

    asyncio.run(build())
    conn = sqlite3.connect(str(tmp_path / "p.db"))
    try:
        sql = (
            "SELECT latency_ms FROM requests WHERE org_id = ?"
            f" AND {sqlite.latency_bin_sql('latency_ms')} = ?"
            " AND created_at >= ? AND created_at < ? ORDER BY latency_ms LIMIT 1 OFFSET ?"
        )
        plan = " ".join(
            str(r[3])
            for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("org_a", 610, "2025", "2026", 3))
        )
    finally:
        conn.close()
    assert "requests_org_latency_bin" in plan, plan
