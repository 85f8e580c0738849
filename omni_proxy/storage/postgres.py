"""PostgreSQL (psycopg 3, async, a small connection pool): for several instances and big tables."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from ..types import RequestRecord
from .base import migrations
from .common import SQLStore, body_rows, outcome_rows, rows_of

log = logging.getLogger("omni_proxy.storage")

# pg_advisory_xact_lock key: two instances migrating at once take turns.
MIGRATION_LOCK = 0x6F6D6E69  # "omni"

# One statement per batch (arrays, unnested): the rollup trigger then runs once per batch.
# ON CONFLICT DO NOTHING makes a retried batch a no-op for rows already there, and those rows
# never reach the trigger's transition table, so the rollups count each request once.
INSERT_REQUEST = (
    "INSERT INTO requests (id, org_id, key_id, endpoint, task_type, model_requested, model_used,"
    " provider, prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_ms,"
    " ttft_ms, stream, status, error, fallback_count, client_disconnected, created_at,"
    " client_request_id, expected_quality)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
    " %s::text[], %s::text[], %s::text[], %s::integer[], %s::integer[], %s::numeric[],"
    " %s::numeric[], %s::numeric[], %s::float8[], %s::float8[], %s::boolean[], %s::integer[],"
    " %s::text[], %s::integer[], %s::boolean[], %s::timestamptz[], %s::text[], %s::float8[])"
    " ON CONFLICT (id) DO NOTHING"
)
# With the guardrail findings (0008_governance.sql): used only by a batch that has some.
INSERT_REQUEST_FINDINGS = INSERT_REQUEST.replace(
    " expected_quality)", " expected_quality, guardrails)", 1
).replace("%s::float8[])", "%s::float8[], %s::text[])", 1)
INSERT_ROUTING = (
    "INSERT INTO routing_logs (request_id, org_id, strategy, task_type, candidates, plan,"
    " attempts, final_model, reason, created_at, prompt_text)"
    " VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, %s, %s)"
    " ON CONFLICT (request_id) DO NOTHING"
)
# The same before 0006_quality.sql (a database migrated only so far, as in the upgrade tests).
INSERT_REQUEST_0005 = INSERT_REQUEST.replace(", expected_quality)", ")").replace(
    ", %s::float8[])", ")"
)
INSERT_ROUTING_0005 = INSERT_ROUTING.replace(", prompt_text)", ")").replace(", %s, %s)", ", %s)")
INSERT_OUTCOME = (
    "INSERT INTO feedback (request_id, org_id, model, task_type, prompt_text, score, comment,"
    " source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
# Prompt and answer (logging.bodies; 0009_bodies.sql): only batches that carry some.
INSERT_BODY = (
    "INSERT INTO request_bodies (request_id, org_id, prompt, answer, created_at)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (request_id) DO NOTHING"
)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _findings(counts: dict[str, int] | None) -> str | None:
    return orjson.dumps(counts).decode() if counts else None


def record_rows(r: RequestRecord) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    created = datetime.fromtimestamp(r.created_at, UTC)
    request = (
        r.request_id,
        r.org_id,
        r.key_id,
        r.endpoint,
        r.task_type,
        r.model_requested,
        r.model_used,
        r.provider,
        # Typed alike column by column: each column travels as one array.
        int(r.prompt_tokens),
        int(r.completion_tokens),
        Decimal(r.cost),
        Decimal(r.premium_cost),
        Decimal(r.savings),
        float(r.latency_ms),
        None if r.ttft_ms is None else float(r.ttft_ms),
        bool(r.stream),
        int(r.status),
        r.error,
        int(r.fallback_count),
        bool(r.client_disconnected),
        created,
        r.client_request_id,
        None if r.expected_quality is None else float(r.expected_quality),
        _findings(r.guardrails),
    )
    routing = None
    if r.routing is not None:
        routing = (
            r.request_id,
            r.org_id,
            r.routing.get("strategy"),
            r.task_type,
            _json(r.routing.get("candidates") or []),
            _json(r.routing.get("plan") or []),
            _json(r.attempts),
            r.model_used,
            r.routing.get("reason"),
            created,
            r.prompt_text,
        )
    return request, routing


def _has_nul(params: tuple[Any, ...]) -> bool:
    return any(isinstance(p, str) and "\x00" in p for p in params)


class PostgresDatabase(SQLStore):
    dialect = "postgres"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        self.url = url
        #: Whether 0006_quality.sql is applied (learnt by migrate): the quality columns.
        self._quality_schema = True
        #: Whether 0009_bodies.sql is applied (learnt by migrate): request_bodies.
        self._bodies_schema = True
        self._pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            # How long a query waits for a connection: while the database is down, admin
            # and usage calls get their 503 after this, not after a long hang.
            timeout=5.0,
            kwargs={"autocommit": True, "connect_timeout": 5},
            check=AsyncConnectionPool.check_connection,
            name="omni-proxy",
        )

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=10.0)

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for name, sql in migrations("postgres"):
                if name in done:
                    continue
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
            cur = await conn.execute("SELECT to_regclass('feedback') IS NOT NULL")
            row = await cur.fetchone()
            self._quality_schema = bool(row and row[0])
            cur = await conn.execute("SELECT to_regclass('request_bodies') IS NOT NULL")
            row = await cur.fetchone()
            self._bodies_schema = bool(row and row[0])
        return applied

    async def ping(self) -> None:
        async with self._pool.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")

    async def write_records(self, records: list[RequestRecord]) -> None:
        if not records:
            return
        rows = await rows_of(records, record_rows)
        routing = [r[1] for r in rows if r[1] is not None]
        outcomes = outcome_rows(records, lambda ts: datetime.fromtimestamp(ts, UTC))
        bodies = (
            body_rows(records, lambda ts: datetime.fromtimestamp(ts, UTC))
            if self._bodies_schema
            else []
        )
        async with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            # Sorted by id: concurrent batches take the index locks in the same order.
            columns = list(zip(*sorted((r[0] for r in rows), key=lambda t: t[0]), strict=True))
            if self._quality_schema:
                if any(r.guardrails for r in records):
                    await cur.execute(INSERT_REQUEST_FINDINGS, [list(c) for c in columns])
                else:
                    await cur.execute(INSERT_REQUEST, [list(c) for c in columns[:23]])
                if routing:
                    await cur.executemany(INSERT_ROUTING, routing)
            else:
                await cur.execute(INSERT_REQUEST_0005, [list(c) for c in columns[:22]])
                if routing:
                    await cur.executemany(INSERT_ROUTING_0005, [r[:10] for r in routing])
            if outcomes and self._quality_schema:
                await cur.executemany(INSERT_OUTCOME, outcomes)
            if bodies:
                await cur.executemany(INSERT_BODY, bodies)

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    async def close(self) -> None:
        await self._pool.close()

    # -- SQLStore primitives ----------------------------------------------------------------
    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        if _has_nul(params):
            return []  # PostgreSQL text holds no NUL, so nothing matches (and it would raise)
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    async def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        if _has_nul(params) and sql.lstrip().upper().startswith(("UPDATE", "DELETE")):
            return 0  # a NUL in a key matches no row (ids come from clients' URLs)
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    def _ts(self, value: datetime) -> Any:
        return value

    def _money(self, value: Decimal | None) -> Any:
        return value

    def _day(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def _minute(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI')"

    def _hour(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"

    def _money_units(self, column: str) -> str:
        return column  # NUMERIC sums exactly

    def _money_sum_out(self, value: Any) -> Decimal:
        return Decimal(value or 0).quantize(Decimal("0.00000001"))

    def _latency_us(self, column: str) -> str:
        return f"omni_latency_us({column})"  # defined by sql/postgres/0003_rollups.sql

    def _latency_bin(self, column: str) -> str:
        return f"omni_latency_bin({column})"

    async def _percentiles(
        self, org_id: str, start: datetime, end: datetime
    ) -> tuple[float, float]:
        # percentile_disc is the nearest-rank percentile: the same numbers as SQLite's path.
        row = (
            await self._fetch(
                "SELECT percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY latency_ms)"
                " AS p FROM requests WHERE org_id = %s AND created_at >= %s AND created_at < %s",
                (org_id, start, end),
            )
        )[0]
        if row["p"] is None:
            return 0.0, 0.0
        return float(row["p"][0]), float(row["p"][1])


__all__ = ["PostgresDatabase"]
