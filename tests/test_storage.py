"""Storage on both dialects: migrations, idempotent batched writes, exact money, orgs."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omni_proxy.storage import open_database
from omni_proxy.storage.base import migrations
from tests.test_storage_support import count, db, db_url, make_record, postgres_database

__all__ = ["db", "db_url"]


async def test_migrate_is_idempotent_and_recorded(db) -> None:
    assert await db.migrate() == []
    rows = await db.fetch("SELECT name FROM schema_migrations ORDER BY name")
    assert [r[0] for r in rows] == [name for name, _ in migrations(db.dialect)]


@pytest.mark.postgres
async def test_postgres_concurrent_migrations_take_turns() -> None:
    with postgres_database() as url:
        dbs = [await open_database(url) for _ in range(3)]
        try:
            results = await asyncio.gather(*(d.migrate() for d in dbs))
            applied = [name for result in results for name in result]
            assert sorted(applied) == sorted(name for name, _ in migrations("postgres"))
            assert await count(dbs[0], "schema_migrations") == len(applied)
        finally:
            for d in dbs:
                await d.close()


async def test_write_records_is_idempotent_by_request_id(db) -> None:
    batch = [make_record() for _ in range(50)]
    await db.write_records(batch)
    await db.write_records(batch)  # a retried batch
    await db.write_records([*batch[:10], make_record(request_id="req_new")])
    assert await count(db, "requests") == 51
    assert await count(db, "routing_logs") == 51


async def test_money_is_exact(db) -> None:
    # 0.1 + 0.2 style drift would show up in a float sum of many tiny costs.
    await db.write_records(
        [make_record(cost="0.00000001", premium="0.10000003") for _ in range(1000)]
    )
    usage = await db.usage(
        "org_a", datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)
    )
    assert usage["cost"] == Decimal("0.00001")
    assert usage["premium_cost"] == Decimal("100.00003")
    assert usage["savings"] == Decimal("100.00002")
    rows = await db.fetch("SELECT cost FROM requests LIMIT 1")
    assert Decimal(str(rows[0][0])) == Decimal("0.00000001")


async def test_failed_and_rejected_requests_are_recorded(db) -> None:
    await db.write_records([make_record(status=502), make_record(status=429, key_id=None)])
    assert await count(db, "requests", "status >= %s", (400,)) == 2


async def test_org_lifecycle(db) -> None:
    org = await db.create_org("acme", monthly_budget_usd=Decimal("12.5"), rpm_limit=60)
    assert org["name"] == "acme" and org["monthly_budget_usd"] == Decimal("12.5")
    assert (await db.get_org_by_name("acme"))["id"] == org["id"]
    updated = await db.update_org(org["id"], {"tpm_limit": 1000, "monthly_budget_usd": None})
    assert updated is not None
    assert updated["tpm_limit"] == 1000 and updated["monthly_budget_usd"] is None
    assert updated["rpm_limit"] == 60
    await db.insert_key(
        key_id="key_1", org_id=org["id"], prefix="abcdefgh", secret_hash="h", permissions=["read"]
    )
    assert await db.count_active_keys() == 1
    assert await db.delete_org(org["id"]) is True
    assert await db.delete_org(org["id"]) is False
    assert await db.list_orgs() == []
    assert len(await db.list_orgs(include_deleted=True)) == 1
    assert await db.update_org(org["id"], {"rpm_limit": 5}) is None
    # Deleting an org revokes its keys.
    assert await db.count_active_keys() == 0
    assert (await db.get_key("key_1"))["revoked_at"] is not None


async def test_org_names_are_unique(db) -> None:
    await db.create_org("dup")
    with pytest.raises(Exception):  # noqa: B017 - each driver raises its own IntegrityError
        await db.create_org("dup")


async def test_spend_since_sums_this_period_per_org(db) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    await db.write_records(
        [
            make_record("org_a", cost="1.25"),
            make_record("org_a", cost="0.75"),
            make_record("org_a", cost="100", created_at=old),
            make_record("org_b", cost="0.5"),
        ]
    )
    spend = await db.spend_since(datetime.now(UTC) - timedelta(days=1))
    assert spend == {"org_a": Decimal("2"), "org_b": Decimal("0.5")}


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread niceness is POSIX-only")
async def test_sqlite_batches_run_at_a_lower_priority_unless_late(tmp_path) -> None:
    """The recorder's batches must not hold the CPU against the event loop: they run on a
    thread at a lower priority; reads on a normal one. A batch that is late (recording
    fell behind: no idle CPU for that thread) is written at normal priority."""
    import threading

    from omni_proxy.storage import sqlite as sqlite_module

    database = await open_database(f"sqlite:///{tmp_path / 'n.db'}")
    await database.migrate()
    ran_on: list[int] = []
    original = database._run

    async def spy(fn, *, background=False):  # type: ignore[no-untyped-def]
        def wrapped(conn):  # type: ignore[no-untyped-def]
            ran_on.append(threading.get_native_id())
            return fn(conn)

        return await original(wrapped, background=background)

    database._run = spy  # type: ignore[method-assign]
    try:
        loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        if loop_nice >= 19:
            pytest.skip("the tests already run at the lowest priority")
        await database.write_records([make_record()])
        await database.fetch("SELECT 1")
        batch_thread, read_thread = ran_on
        assert batch_thread != read_thread
        assert os.getpriority(os.PRIO_PROCESS, batch_thread) == min(
            19, loop_nice + sqlite_module.BACKGROUND_NICENESS
        )
        assert os.getpriority(os.PRIO_PROCESS, read_thread) == loop_nice

        ran_on.clear()
        late = make_record(created_at=time.time() - sqlite_module.BEHIND_S - 1)  # fell behind
        await database.write_records([make_record(), late])
        await database.write_records([make_record()])
        assert ran_on == [read_thread, batch_thread]
        assert await count(database, "requests") == 4
    finally:
        await database.close()
