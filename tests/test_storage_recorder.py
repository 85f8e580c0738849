"""The recorder: batches, retries while the database is down, spills, replays, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
import pytest

from omni_proxy.storage import open_database
from omni_proxy.storage.recorder import Recorder, SpillFile, dump_record, load_record
from tests.test_storage_support import count, db, db_url, make_record, postgres_database

__all__ = ["db", "db_url"]


class Flaky:
    """A database whose writes fail while ``down`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False
        self.calls = 0
        self.dialect = inner.dialect
        self.path = getattr(inner, "path", None)

    async def write_records(self, records: list[Any]) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("database is down")
        await self.inner.write_records(records)


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_spill_lines_round_trip() -> None:
    r = make_record(cost="0.12345678")
    back = load_record(dump_record(r))
    assert back == r


async def test_records_are_batched_and_flushed_on_stop(db, tmp_path: Path) -> None:
    rec = Recorder(db, flush_interval_s=10, batch_size=1000, spill_path=tmp_path / "s.jsonl")
    await rec.start()
    for _ in range(25):
        rec.put(make_record())
    assert rec.depth == 25  # nothing written on the request path
    await rec.stop()
    assert await count(db, "requests") == 25
    assert rec.depth == 0 and not (tmp_path / "s.jsonl").exists()


async def test_database_down_then_back_loses_nothing_and_duplicates_nothing(
    db, tmp_path: Path
) -> None:
    flaky = Flaky(db)
    spill = tmp_path / "spill.jsonl"
    rec = Recorder(
        flaky,
        flush_interval_s=0.02,
        batch_size=7,
        max_queue=20,
        spill_path=spill,
        max_retry_interval_s=0.1,
    )
    await rec.start()
    flaky.down = True
    records = [make_record() for _ in range(100)]
    for r in records[:60]:
        rec.put(r)
    await asyncio.sleep(0.3)
    assert flaky.calls > 1  # retried
    assert rec.depth == 20  # bounded: the rest went to the spill file
    assert spill.exists() and len(spill.read_bytes().splitlines()) == 40
    flaky.down = False
    for r in records[60:]:
        rec.put(r)

    async def all_written() -> bool:
        return await count(db, "requests") == 100 and not SpillFile(spill).pending()

    await wait_for(all_written)
    await rec.stop()
    assert await count(db, "requests") == 100
    assert await count(db, "routing_logs") == 100
    assert rec.spilled >= 40 and rec.replayed == rec.spilled


async def test_stop_while_down_spills_and_next_start_replays(db, tmp_path: Path) -> None:
    flaky = Flaky(db)
    flaky.down = True
    spill = tmp_path / "spill.jsonl"
    rec = Recorder(flaky, flush_interval_s=0.02, spill_path=spill)
    await rec.start()
    records = [make_record() for _ in range(15)]
    for r in records:
        rec.put(r)
    await rec.stop(timeout_s=0.3)
    assert len(spill.read_bytes().splitlines()) == 15
    assert await count(db, "requests") == 0
    # A record already written before the crash must not be duplicated by the replay.
    await db.write_records(records[:3])
    rec2 = Recorder(db, flush_interval_s=0.02, spill_path=spill)
    await rec2.start()

    async def replayed() -> bool:
        return await count(db, "requests") == 15

    await wait_for(replayed)
    await rec2.stop()
    assert not spill.exists()
    assert await count(db, "requests") == 15


@pytest.mark.postgres
async def test_postgres_connections_killed_mid_run(tmp_path: Path) -> None:
    with postgres_database() as url:
        pg = await open_database(url)
        await pg.migrate()
        rec = Recorder(
            pg,
            flush_interval_s=0.02,
            batch_size=10,
            spill_path=tmp_path / "s",
            max_retry_interval_s=0.2,
        )
        await rec.start()
        name = url.rsplit("/", 1)[1]
        try:
            for i in range(200):
                rec.put(make_record())
                if i % 50 == 25:
                    # Drop every server connection of this database, as a restart would.
                    with psycopg.connect(
                        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
                    ) as admin:
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = %s AND pid <> pg_backend_pid()",
                            (name,),
                        )
                await asyncio.sleep(0.005)

            async def done() -> bool:
                try:
                    return await count(pg, "requests") == 200
                except psycopg.Error:
                    return False

            await wait_for(done, 15)
        finally:
            await rec.stop()
            await pg.close()
