"""Usage aggregation (SQL GROUP BY) with identical numbers on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omni_proxy.routes.usage import date_range
from tests.test_storage_support import db, db_url, make_record

__all__ = ["db", "db_url"]

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC).timestamp()
DAY2 = datetime(2025, 3, 2, 23, 59, 59, tzinfo=UTC).timestamp()
OUTSIDE = datetime(2025, 3, 5, 0, 0, tzinfo=UTC).timestamp()
START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 3, tzinfo=UTC)


async def seed(db) -> None:
    await db.write_records(
        [
            make_record(
                "org_a",
                model="small",
                task="chat",
                prompt=100,
                completion=50,
                cost="0.001",
                premium="0.01",
                latency=100,
                created_at=DAY1,
            ),
            make_record(
                "org_a",
                model="small",
                task="coding",
                prompt=10,
                completion=10,
                cost="0.002",
                premium="0.02",
                latency=200,
                created_at=DAY1,
            ),
            make_record(
                "org_a",
                model="big",
                task="coding",
                prompt=1000,
                completion=0,
                cost="0.5",
                premium="0.5",
                latency=300,
                created_at=DAY2,
            ),
            make_record(
                "org_a",
                task="chat",
                prompt=0,
                completion=0,
                cost="0",
                premium="0",
                status=502,
                latency=400,
                created_at=DAY2,
            ),
            # Outside the range, and another org's traffic: neither may be counted.
            make_record("org_a", cost="9", created_at=OUTSIDE),
            make_record("org_b", cost="7", prompt=999, created_at=DAY1),
        ]
    )


async def test_usage_totals_and_breakdowns(db) -> None:
    await seed(db)
    u = await db.usage("org_a", START, END)
    assert u["requests"] == 4
    assert u["tokens"] == 150 + 20 + 1000
    assert u["cost"] == Decimal("0.503")
    assert u["premium_cost"] == Decimal("0.53")
    assert u["savings"] == Decimal("0.027")
    assert u["success_rate"] == 0.75
    assert u["latency_p50_ms"] == 200.0  # nearest rank: 2nd of 4
    assert u["latency_p95_ms"] == 400.0
    assert [(d["date"], d["requests"], d["tokens"]) for d in u["by_day"]] == [
        ("2025-03-01", 2, 170),
        ("2025-03-02", 2, 1000),
    ]
    assert u["by_day"][0]["cost"] == Decimal("0.003")
    models = {m["model"]: (m["requests"], m["cost"], m["success_rate"]) for m in u["by_model"]}
    assert models == {
        "small": (2, Decimal("0.003"), 1.0),
        "big": (1, Decimal("0.5"), 1.0),
        None: (1, Decimal("0"), 0.0),
    }
    tasks = {t["task_type"]: (t["requests"], t["tokens"]) for t in u["by_task"]}
    assert tasks == {"chat": (2, 150), "coding": (2, 1020)}


async def test_usage_never_mixes_orgs(db) -> None:
    await seed(db)
    b = await db.usage("org_b", START, END)
    assert b["requests"] == 1 and b["cost"] == Decimal("7")
    assert (await db.usage("org_nobody", START, END))["requests"] == 0


async def test_empty_usage(db) -> None:
    u = await db.usage("org_a", START, END)
    assert u["requests"] == 0 and u["cost"] == Decimal(0) and u["success_rate"] is None
    assert u["by_day"] == [] and u["latency_p50_ms"] is None


def test_date_range_defaults_and_inclusive_end() -> None:
    now = datetime(2025, 3, 31, 12, tzinfo=UTC)
    start, end = date_range({}, now)
    assert end == now and start == datetime(2025, 3, 2, tzinfo=UTC)
    start, end = date_range({"from": "2025-03-01", "to": "2025-03-01"}, now)
    assert end - start == timedelta(days=1)
