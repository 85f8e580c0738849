"""SQLite: the zero-set-up default. One connection, used from a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..types import RequestRecord
from .base import migrations
from .common import SQLStore, body_rows, outcome_rows, rows_of

T = TypeVar("T")


#: (whole second, its "YYYY-MM-DDTHH:MM:SS"): strftime was most of a record's row-building
#: cost, and a busy proxy's records fall mostly within the same second.
_second: tuple[int, str] = (-1, "")


def iso(ts: float) -> str:
    """``datetime.fromtimestamp(ts, UTC)`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, microseconds
    rounded as datetime rounds them (half to even), the part to the second formatted once."""
    global _second
    frac, whole = math.modf(ts)
    us = round(frac * 1e6)
    sec = int(whole)
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    elif us < 0:
        sec, us = sec - 1, us + 1_000_000
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{cached[1]}.{us:06d}Z"


def _findings(counts: dict[str, int] | None) -> str | None:
    return orjson.dumps(counts).decode() if counts else None


def record_rows(r: RequestRecord) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    created = iso(r.created_at)
    request = (
        r.request_id,
        r.org_id,
        r.key_id,
        r.endpoint,
        r.task_type,
        r.model_requested,
        r.model_used,
        r.provider,
        r.prompt_tokens,
        r.completion_tokens,
        str(r.cost),
        str(r.premium_cost),
        str(r.savings),
        r.latency_ms,
        r.ttft_ms,
        int(r.stream),
        r.status,
        r.error,
        r.fallback_count,
        int(r.client_disconnected),
        created,
        r.client_request_id,
        r.expected_quality,
        _findings(r.guardrails),
    )
    routing = None
    if r.routing is not None:
        routing = (
            r.request_id,
            r.org_id,
            r.routing.get("strategy"),
            r.task_type,
            orjson.dumps(r.routing.get("candidates") or [], default=str).decode(),
            orjson.dumps(r.routing.get("plan") or []).decode(),
            orjson.dumps(r.attempts).decode(),
            r.model_used,
            r.routing.get("reason"),
            created,
            r.prompt_text,
        )
    return request, routing


INSERT_REQUEST = (
    "INSERT INTO requests (id, org_id, key_id, endpoint, task_type, model_requested, model_used,"
    " provider, prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_ms,"
    " ttft_ms, stream, status, error, fallback_count, client_disconnected, created_at,"
    " client_request_id, expected_quality) VALUES ({}) ON CONFLICT (id) DO NOTHING"
)
# With the guardrail findings (0008_governance.sql): used only by a batch that has some, so
# writing needs nothing of that migration otherwise.
INSERT_REQUEST_FINDINGS = INSERT_REQUEST.replace(
    " expected_quality)", " expected_quality, guardrails)", 1
)
INSERT_ROUTING = (
    "INSERT INTO routing_logs (request_id, org_id, strategy, task_type, candidates, plan,"
    " attempts, final_model, reason, created_at, prompt_text) VALUES ({})"
    " ON CONFLICT (request_id) DO NOTHING"
)
# The same before 0006_quality.sql (a database migrated only so far, as in the upgrade tests).
INSERT_REQUEST_0005 = INSERT_REQUEST.replace(", expected_quality)", ")")
INSERT_ROUTING_0005 = INSERT_ROUTING.replace(", prompt_text)", ")")
INSERT_OUTCOME = (
    "INSERT INTO feedback (request_id, org_id, model, task_type, prompt_text, score, comment,"
    " source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Prompt and answer (logging.bodies; 0009_bodies.sql): only batches that carry some.
INSERT_BODY = (
    "INSERT INTO request_bodies (request_id, org_id, prompt, answer, created_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING"
)

# A batch's newly inserted rows (their ids in temp.batch_ids) added to the rollups, grouped,
# with the insert trigger's expressions (sql/sqlite/0004_rollup_batches.sql), which stands
# aside meanwhile: one upsert per hour and model instead of two per row.
_NEW_ROWS = "FROM requests WHERE id IN (SELECT id FROM temp.batch_ids) AND org_id IS NOT NULL"
ROLLUP_BATCH = (
    "INSERT INTO request_rollup (org_id, hour, model_used, task_type, requests, succeeded,"
    " prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_us, fallbacks,"
    " with_fallback)"
    " SELECT org_id, substr(created_at, 1, 13) || ':00:00.000000Z', COALESCE(model_used, ''),"
    " COALESCE(task_type, ''), COUNT(*), SUM(status < 400), SUM(prompt_tokens),"
    " SUM(completion_tokens), SUM(CAST(ROUND(CAST(cost AS REAL) * 100000000) AS INTEGER)),"
    " SUM(CAST(ROUND(CAST(premium_cost AS REAL) * 100000000) AS INTEGER)),"
    " SUM(CAST(ROUND(CAST(savings AS REAL) * 100000000) AS INTEGER)),"
    " SUM(CAST(ROUND(latency_ms * 1000) AS INTEGER)), SUM(fallback_count),"
    f" SUM(fallback_count > 0) {_NEW_ROWS} GROUP BY 1, 2, 3, 4"
    " ON CONFLICT (org_id, hour, model_used, task_type) DO UPDATE SET"
    " requests = requests + excluded.requests, succeeded = succeeded + excluded.succeeded,"
    " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
    " completion_tokens = completion_tokens + excluded.completion_tokens,"
    " cost = cost + excluded.cost, premium_cost = premium_cost + excluded.premium_cost,"
    " savings = savings + excluded.savings, latency_us = latency_us + excluded.latency_us,"
    " fallbacks = fallbacks + excluded.fallbacks,"
    " with_fallback = with_fallback + excluded.with_fallback"
)
LATENCY_BATCH = (
    "INSERT INTO request_latency_rollup (org_id, hour, bin, requests)"
    " SELECT org_id, substr(created_at, 1, 13) || ':00:00.000000Z',"
    " length(CAST(MAX(MIN(latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100"
    " + CAST(substr(CAST(MAX(MIN(latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2) AS INTEGER),"
    f" COUNT(*) {_NEW_ROWS} GROUP BY 1, 2, 3"
    " ON CONFLICT (org_id, hour, bin) DO UPDATE SET requests = requests + excluded.requests"
)
QUALITY_BATCH = (
    "INSERT INTO request_quality_rollup (org_id, hour, model_used, expected_sum, expected_n)"
    " SELECT org_id, substr(created_at, 1, 13) || ':00:00.000000Z', COALESCE(model_used, ''),"
    f" SUM(expected_quality), COUNT(*) {_NEW_ROWS} AND expected_quality IS NOT NULL"
    " GROUP BY 1, 2, 3"
    " ON CONFLICT (org_id, hour, model_used) DO UPDATE SET"
    " expected_sum = expected_sum + excluded.expected_sum,"
    " expected_n = expected_n + excluded.expected_n"
)


def latency_bin_sql(column: str) -> str:
    """Two significant digits of the latency in whole microseconds, with the number of digits
    in front (so bins sort like latencies), in integer and text functions only: SQLite builds
    without the math functions have no ln(). Must match sql/sqlite/0003_rollups.sql."""
    us = f"CAST(MAX(MIN({column}, 1e12), 0) * 1000 AS INTEGER)"
    return f"(length({us}) * 100 + CAST(substr({us}, 1, 2) AS INTEGER))"


def statements(script: str) -> list[str]:
    """A migration split into statements (``CREATE TRIGGER … END;`` stays whole)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in pending.splitlines()
    ):
        out.append(pending.strip())
    return out


def _mark_new(conn: sqlite3.Connection, ids: list[str]) -> None:
    """Keep in temp.batch_ids the ids not yet in ``requests`` (a retried batch's are) and
    stand the insert trigger aside: the caller rolls those rows up once inserted."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS batch_ids (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.batch_ids")
    conn.executemany("INSERT OR IGNORE INTO temp.batch_ids (id) VALUES (?)", [(i,) for i in ids])
    conn.execute(
        "DELETE FROM temp.batch_ids WHERE id IN"
        " (SELECT id FROM requests WHERE id IN (SELECT id FROM temp.batch_ids))"
    )
    conn.execute("UPDATE rollup_batch SET active = 1 WHERE id = 1")


#: The recorder's batches run this much nicer than the request path (Linux: per thread).
#: At 0 or 5, a request arriving mid-batch waited out the writer's time slice on a shared
#: CPU (p99 at one client ~3 ms); at 19 the writer starved under load and the backlog (and
#: the memory holding it) grew. At 10 it gets ~10% of a saturated CPU, about what it needs.
BACKGROUND_NICENESS = 10
#: A batch whose oldest request began longer ago than this is late: recording has fallen
#: behind (no idle CPU left for the background thread), so it is written at normal
#: priority. This also bounds the backlog held in memory to about this long.
BEHIND_S = 0.5


def _run_in_background() -> None:
    """A lower priority for the thread that writes the recorder's batches."""
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, nice + BACKGROUND_NICENESS))


class SQLiteDatabase(SQLStore):
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else url[7:]
        self.path = path or ":memory:"
        self._conn: sqlite3.Connection | None = None
        #: Whether write_records rolls a batch up itself (0004 applied; learnt by migrate).
        self._batch_rollups = False
        #: Whether 0006_quality.sql is applied (learnt by migrate): the quality columns.
        self._quality_schema = True
        #: Whether 0009_bodies.sql is applied (learnt by migrate): request_bodies.
        self._bodies_schema = True
        self._lock = threading.Lock()
        #: One thread for reads and late batches, one at a lower priority for the recorder's
        #: batches (the connection is shared under the lock). Made on first use.
        self._threads: dict[bool, ThreadPoolExecutor] = {}

    def _thread(self, background: bool) -> ThreadPoolExecutor:
        pool = self._threads.get(background)
        if pool is None:
            pool = self._threads[background] = ThreadPoolExecutor(
                1,
                thread_name_prefix="omni-sqlite-batches" if background else "omni-sqlite",
                initializer=_run_in_background if background else None,
            )
        return pool

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, background: bool = False) -> T:
        def work() -> T:
            with self._lock:
                assert self._conn is not None, "database is closed"
                return fn(self._conn)

        pool = self._thread(background)
        return await asyncio.get_running_loop().run_in_executor(pool, work)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        self._conn = conn

    async def migrate(self) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
                " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            applied = []
            for name, sql in migrations("sqlite"):
                if name in done:
                    continue
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Another process (serve --workers N) may have applied it meanwhile.
                    if conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE name = ?", (name,)
                    ).fetchone():
                        conn.execute("COMMIT")
                        continue
                    for statement in statements(sql):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                applied.append(name)
            self._batch_rollups = bool(
                conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'rollup_batch'").fetchone()
            )
            self._quality_schema = bool(
                conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback'").fetchone()
            )
            self._bodies_schema = bool(
                conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'request_bodies'").fetchone()
            )
            return applied

        return await self._run(work)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def write_records(self, records: list[RequestRecord]) -> None:
        if not records:
            return
        rows = await rows_of(records, record_rows)
        outcomes = outcome_rows(records, iso)
        bodies = body_rows(records, iso) if self._bodies_schema else []
        request_rows = [r[0] for r in rows]
        routing_rows = [r[1] for r in rows if r[1]]

        batch = self._batch_rollups
        findings = any(r.guardrails for r in records)
        quality = self._quality_schema

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if batch:
                    _mark_new(conn, [r[0][0] for r in rows])
                if quality and findings:
                    sql = INSERT_REQUEST_FINDINGS.format(", ".join("?" * 24))
                    conn.executemany(sql, request_rows)
                elif quality:
                    conn.executemany(
                        INSERT_REQUEST.format(", ".join("?" * 23)), [r[:23] for r in request_rows]
                    )
                else:
                    conn.executemany(
                        INSERT_REQUEST_0005.format(", ".join("?" * 22)),
                        [r[:22] for r in request_rows],
                    )
                if batch:
                    conn.execute(ROLLUP_BATCH)
                    conn.execute(LATENCY_BATCH)
                    if quality:
                        conn.execute(QUALITY_BATCH)
                    conn.execute("UPDATE rollup_batch SET active = 0 WHERE id = 1")
                if quality:
                    conn.executemany(INSERT_ROUTING.format(", ".join("?" * 11)), routing_rows)
                else:
                    conn.executemany(
                        INSERT_ROUTING_0005.format(", ".join("?" * 10)),
                        [r[:10] for r in routing_rows],
                    )
                if outcomes and quality:
                    conn.executemany(INSERT_OUTCOME, outcomes)
                if bodies:
                    conn.executemany(INSERT_BODY, bodies)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        late = time.time() - min(r.created_at for r in records) > BEHIND_S
        await self._run(work, background=not late)

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self._run(lambda conn: conn.execute(sql, params).fetchall())

    # -- SQLStore primitives ----------------------------------------------------------------
    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        query = sql.replace("%s", "?")

        def work(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            cur = conn.execute(query, params)
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return await self._run(work)

    async def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        query = sql.replace("%s", "?")
        return await self._run(lambda conn: conn.execute(query, params).rowcount)

    def _ts(self, value: datetime) -> Any:
        return iso(value.timestamp())

    def _money(self, value: Decimal | None) -> Any:
        return None if value is None else str(value)

    def _day(self, column: str) -> str:
        return f"substr({column}, 1, 10)"

    def _minute(self, column: str) -> str:
        return f"substr({column}, 1, 16)"

    def _hour(self, column: str) -> str:
        return f"substr({column}, 1, 13)"  # stored as 'YYYY-MM-DDTHH:MM:SS.ffffffZ'

    def _money_units(self, column: str) -> str:
        # Money is decimal text with at most 8 places: summed as integer units of 1e-8 USD,
        # which is exact (a REAL sum would drift).
        return f"CAST(ROUND(CAST({column} AS REAL) * 100000000) AS INTEGER)"

    def _money_sum_out(self, value: Any) -> Decimal:
        return Decimal(int(value or 0)).scaleb(-8)

    def _latency_us(self, column: str) -> str:
        return f"CAST(ROUND({column} * 1000) AS INTEGER)"

    def _latency_bin(self, column: str) -> str:
        return latency_bin_sql(column)

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(lambda conn: conn.close())  # after any work still queued
            self._conn = None
        for pool in self._threads.values():
            pool.shutdown(wait=False)
        self._threads.clear()
