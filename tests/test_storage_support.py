"""Shared helpers for the data-layer tests: databases of both dialects and sample records.

Not a test module of its own; the fixtures are imported by the ``test_storage*``,
``test_keys*``, ``test_limits*``, ``test_usage*`` and ``test_admin*`` modules.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from omni_proxy.storage import Database, open_database
from omni_proxy.types import RequestRecord
from tests.conftest import need_service

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
DIALECTS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database (dropped afterwards); yields its URL."""
    need_service(PG_HOST, PG_PORT, "PostgreSQL")
    name = "omni_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@contextlib.contextmanager
def database_url(dialect: str, tmp_path: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'omni.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await open_database(db_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


def make_record(
    org_id: str | None = "org_a",
    *,
    request_id: str | None = None,
    model: str | None = "m-small",
    task: str | None = "chat",
    prompt: int = 10,
    completion: int = 5,
    cost: str = "0.00000150",
    premium: str = "0.00002000",
    status: int = 200,
    latency: float = 100.0,
    created_at: float | None = None,
    key_id: str | None = "key_x",
) -> RequestRecord:
    c, p = Decimal(cost), Decimal(premium)
    return RequestRecord(
        request_id=request_id or "req_" + uuid.uuid4().hex,
        endpoint="/v1/chat/completions",
        org_id=org_id,
        key_id=key_id,
        task_type=task,
        model_requested="auto",
        model_used=model if status < 400 else None,
        provider="demo",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=c,
        premium_cost=p,
        savings=p - c,
        latency_ms=latency,
        ttft_ms=None,
        stream=False,
        status=status,
        error=None if status < 400 else "boom",
        fallback_count=0,
        created_at=time.time() if created_at is None else created_at,
        routing={"strategy": "hybrid", "reason": "test", "plan": [model], "candidates": []},
        attempts=[],
    )


async def count(db: Any, table: str, where: str = "", params: tuple[Any, ...] = ()) -> int:
    sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
    if db.dialect == "sqlite":
        sql = sql.replace("%s", "?")
    rows = await db.fetch(sql, params)
    return int(rows[0][0])
