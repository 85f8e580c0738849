"""The dashboard at scale: every query its pages run reads the hourly rollups by org and hour,
and ``requests`` only through an org-first index (``requests_org_created`` for the partial
hours at the range's edges and the requests page, ``requests_org_latency_bin`` for the
percentile lookup), checked with ``EXPLAIN QUERY PLAN`` on a SQLite database of 1,000,000
rows (seeded in one ``INSERT … SELECT``; the triggers fill the rollups).

Timings are not asserted here (they depend on the machine): ``bench/dashboard_bench.py``
measures every page with 1,000,000 rows on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.config import load_config
from tests.test_dashboard_support import history, seed_sqlite_bulk, sign_in

#: Long-running (outage, soak, many processes, 1M rows): `-m "not slow"` skips them.
pytestmark = pytest.mark.slow

ROWS = 1_000_000
MASTER = "sk-omni-test-master-scale-0123"


def _plan(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[str]:
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params).fetchall()
    return [str(r[3]) for r in rows]


def test_every_page_query_uses_the_org_created_index(tmp_path: Path) -> None:
    path = tmp_path / "scale.db"
    config = load_config(
        env={"OMNI_DATABASE_URL": f"sqlite:///{path}", "OMNI_MASTER_KEY": MASTER}, demo=True
    )
    recorded: list[tuple[str, tuple[Any, ...]]] = []
    with TestClient(create_app(config)) as client:
        db = client.app.state.services.db  # type: ignore[attr-defined]
        client.portal.call(db.write_records, history("default", 3, 60))  # type: ignore[union-attr]
        assert sign_in(client, MASTER).status_code == 303
        fetch = db._fetch

        async def recording(sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
            recorded.append((sql, params))
            return await fetch(sql, params)  # type: ignore[no-any-return]

        db._fetch = recording
        first = client.get("/dashboard/requests").text
        older = re.search(r'href="(\?[^"]+)" data-testid="page-older"', first)
        assert older is not None
        for page in (
            "/dashboard",
            "/dashboard/usage",
            "/dashboard/models",
            "/dashboard/requests" + older.group(1).replace("&amp;", "&"),
            "/dashboard?range=24h",
            "/dashboard?from=2020-01-01&to=2020-01-02",
            "/dashboard/usage?range=24h",
            "/dashboard/keys",
            "/dashboard/requests?status=error&model=demo-mini",
            "/dashboard/requests.csv?range=7d",
        ):
            assert client.get(page).status_code == 200, page

    on_requests = [(sql, params) for sql, params in recorded if "FROM requests" in sql]
    kinds = {
        "usage from the rollup": "FROM request_rollup WHERE org_id",
        "latency histogram": "FROM request_latency_rollup WHERE org_id",
        "percentile lookup": "ORDER BY latency_ms LIMIT 1 OFFSET",
        "partial hours": "AS with_fallback FROM requests WHERE org_id",
        "fallbacks": "SELECT COALESCE(SUM(requests), 0) AS requests",
        "model x task": "GROUP BY model_used, task_type",
        "requests page": "LEFT JOIN routing_logs",
        "empty state": "SELECT 1 AS one FROM requests",
    }
    for kind, marker in kinds.items():
        assert any(marker in sql for sql, _ in recorded), f"no {kind} query was run"

    seeded = seed_sqlite_bulk(path, ROWS, ("default", "org_other"))
    conn = sqlite3.connect(str(path))
    try:
        counts = dict(conn.execute("SELECT org_id, COUNT(*) FROM requests GROUP BY org_id"))
        assert counts["org_other"] == ROWS // 10 and counts["default"] > ROWS * 9 // 10
        # As the proxy runs it: no ANALYZE statistics, the planner goes by the schema.
        stats = "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"
        assert conn.execute(stats).fetchone() is None
        for sql, params in [(s, p) for s, p in recorded if "FROM request" in s]:
            plan = _plan(conn, sql, params)
            rollups = [line for line in plan if re.search(r"\b(SCAN|SEARCH) request_", line)]
            for line in rollups:
                assert "PRIMARY KEY (org_id=? AND hour>? AND hour<?)" in line, (sql, plan)
            reads = [line for line in plan if re.search(r"\b(SCAN|SEARCH) (requests|r)\b", line)]
            assert reads or rollups, (sql, plan)
            indexes = ["requests_org_created "]
            if "ORDER BY latency_ms LIMIT 1 OFFSET" in sql:
                indexes = ["requests_org_latency_bin "]
            elif "LIMIT 1" in sql:  # the empty-state probe: any org-first index will do
                indexes.append("requests_org_latency_bin ")
            for line in reads:
                if line.startswith(("SCAN r", "SEARCH r ")) or "SUBQUERY" in line:
                    continue  # the page of ≤ 51 rows picked by the inner query
                assert any(f"INDEX {index}" in line for index in indexes), (sql, plan)
                assert "org_id=?" in line, (sql, plan)
        # The requests page stays an index walk however deep the page: time one for the log.
        requests_sql, params = next(
            (s, p) for s, p in on_requests if "LEFT JOIN routing_logs" in s and len(p) > 4
        )
        begin = time.perf_counter()
        rows = conn.execute(requests_sql.replace("%s", "?"), params).fetchall()
        took = time.perf_counter() - begin
    finally:
        conn.close()
    assert rows
    print(f"\nseeded {ROWS:,} rows in {seeded:.1f} s; an older requests page: {took * 1000:.1f} ms")
