"""Savings with quality: ``usage()`` averages the expected quality of routed answers from the
hourly quality rollup (plus the raw rows of partial hours) exactly as over the raw rows, and
the dashboard overview says "saved X at an expected Y% of premium quality"."""

from __future__ import annotations

import dataclasses
import random
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.config import load_config
from omni_proxy.storage import open_database
from omni_proxy.types import RequestRecord
from tests.test_dashboard_support import history, sign_in
from tests.test_storage_support import DIALECTS, database_url

MASTER = "sk-omni-test-master-quality-0123"


def with_quality(records: list[RequestRecord], seed: int = 3) -> list[RequestRecord]:
    """Every other successful record gets an expected quality; failed ones none."""
    rng = random.Random(seed)
    return [
        dataclasses.replace(r, expected_quality=round(rng.uniform(0.7, 1.0), 4))
        if r.status < 400 and i % 2 == 0
        else r
        for i, r in enumerate(records)
    ]


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_expected_quality_from_the_rollup_equals_the_raw_average(
    dialect: str, tmp_path: Path
) -> None:
    records = with_quality(history("org_q", 4, 40))
    with database_url(dialect, tmp_path) as url:
        db = await open_database(url)
        try:
            await db.migrate()
            await db.write_records(records[: len(records) // 2])
            await db.write_records(records[len(records) // 2 :])
            now = datetime.now(UTC)
            # A range with whole hours and ragged edges.
            start, end = now - timedelta(days=2, minutes=17), now - timedelta(minutes=3)
            usage = await db.usage("org_q", start, end)
        finally:
            await db.close()
    inside = [
        r
        for r in records
        if start.timestamp() <= r.created_at < end.timestamp() and r.expected_quality is not None
    ]
    assert inside
    assert usage["expected_quality"] == pytest.approx(
        mean([r.expected_quality for r in inside if r.expected_quality is not None]), abs=1e-4
    )
    for row in usage["by_model"]:
        values = [
            r.expected_quality
            for r in inside
            if r.model_used == row["model"] and r.expected_quality is not None
        ]
        assert row["expected_quality"] == pytest.approx(mean(values), abs=1e-4), row["model"]
        assert row["measured_quality"] is None  # no feedback given


def test_the_overview_says_what_was_saved_at_what_quality(tmp_path: Path) -> None:
    config = load_config(
        env={"OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}", "OMNI_MASTER_KEY": MASTER},
        demo=True,
    )
    records = with_quality(history("default", 3, 30))
    with TestClient(create_app(config)) as client:
        db = client.app.state.services.db  # type: ignore[attr-defined]
        before = sign_in(client, MASTER)
        assert before.status_code == 303
        assert "kpi-quality" not in client.get("/dashboard").text  # nothing estimated yet
        client.portal.call(db.write_records, records)  # type: ignore[union-attr]
        page = client.get("/dashboard").text
    found = re.search(r'data-testid="kpi-quality" data-value="([0-9.]+)">([^<]+)<', page)
    assert found, page
    values = [
        r.expected_quality
        for r in records
        if r.expected_quality is not None and r.created_at > time.time() - 30 * 86400
    ]
    expected = sum(values) / len(values)
    assert float(found.group(1)) == pytest.approx(expected, abs=1e-4)
    assert found.group(2).startswith("saved $")
    assert f"at an expected {expected * 100:.1f}% of premium quality" in found.group(2)


async def test_rows_inserted_by_hand_reach_the_quality_rollup(tmp_path: Path) -> None:
    """Outside the recorder's batches (a bulk load, a manual fix-up) the SQLite triggers
    keep the quality rollup: an insert adds, a delete takes away."""
    path = tmp_path / "t.db"
    db = await open_database(f"sqlite:///{path}")
    try:
        await db.migrate()
    finally:
        await db.close()
    conn = sqlite3.connect(path)
    try:
        for rid, quality in (("req_a", 0.9), ("req_b", 0.7), ("req_c", None)):
            conn.execute(
                "INSERT INTO requests (id, org_id, endpoint, model_used, latency_ms, status,"
                " created_at, expected_quality) VALUES (?, 'org_t', '/v1/chat/completions',"
                " 'm', 10, 200, '2026-01-02T03:04:05.000000Z', ?)",
                (rid, quality),
            )
        conn.commit()
        rollup = "SELECT hour, model_used, expected_sum, expected_n FROM request_quality_rollup"
        assert conn.execute(rollup).fetchall() == [
            ("2026-01-02T03:00:00.000000Z", "m", pytest.approx(1.6), 2)
        ]
        conn.execute("DELETE FROM requests WHERE id = 'req_b'")
        conn.commit()
        assert conn.execute(rollup).fetchall() == [
            ("2026-01-02T03:00:00.000000Z", "m", pytest.approx(0.9), 1)
        ]
    finally:
        conn.close()
