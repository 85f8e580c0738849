"""Start-up waits a bounded time for the database, then gives up with the real error."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from omni_proxy.app import connect_database


async def test_unreachable_database_is_retried_then_reported() -> None:
    started = time.monotonic()
    with pytest.raises((OSError, psycopg.OperationalError)):
        await connect_database("postgresql://postgres@127.0.0.1:9/nowhere", wait_s=1.5)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 15  # it did wait, and it did stop


async def test_reachable_database_connects_and_migrates(tmp_path: Path) -> None:
    db = await connect_database(f"sqlite:///{tmp_path}/ok.db", wait_s=1)
    try:
        await db.ping()
        assert await db.migrate() == []  # already applied by connect_database
    finally:
        await db.close()
