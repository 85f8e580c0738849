"""Every dashboard page, and ``/v1/usage``, over 1,000,000 request rows in PostgreSQL.

The rows are seeded in one SQL statement (the rollup triggers run as for the recorder's
inserts), 90% in the org viewed and all inside the default 30-day range, so each aggregate
covers ~900,000 rows. Each page must answer and agree with ``/v1/usage``; how long each took
is printed (``-s`` shows it) and never asserted: ``bench/dashboard_bench.py`` is the
benchmark.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.config import load_config
from tests.test_dashboard_support import seed_postgres_bulk, sign_in, two_orgs_and_a_read_key
from tests.test_storage_support import postgres_database

ROWS = 1_000_000
PAGES = [
    "/dashboard",
    "/dashboard?range=24h",
    "/dashboard/usage",
    "/dashboard/usage?range=90d",
    "/dashboard/models",
    "/dashboard/requests",
]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_every_page_answers_over_a_million_postgres_rows() -> None:
    with postgres_database() as url:
        org, other, key = asyncio.run(two_orgs_and_a_read_key(url, "scale"))
        seeded = seed_postgres_bulk(url, ROWS, (org, other))
        config = load_config(env={"OMNI_DATABASE_URL": url}, demo=True)
        timings: list[tuple[str, float]] = []
        with TestClient(create_app(config)) as client:
            assert sign_in(client, key).status_code == 303
            for path in PAGES:
                begin = time.perf_counter()
                r = client.get(path)
                timings.append((path, time.perf_counter() - begin))
                assert r.status_code == 200, (path, r.text[:300])
                assert "could not reach the database" not in r.text.lower()
            older = re.search(r'data-testid="page-older"[^>]*href="([^"]+)"', r.text) or re.search(
                r'href="([^"]+)"[^>]*data-testid="page-older"', r.text
            )
            assert older is not None, "the requests page offers no older page"
            begin = time.perf_counter()
            page = client.get("/dashboard/requests" + older.group(1).replace("&amp;", "&"))
            timings.append(("/dashboard/requests (older page)", time.perf_counter() - begin))
            assert page.status_code == 200 and "req_" in page.text
            begin = time.perf_counter()
            usage = client.get("/v1/usage", headers={"authorization": f"Bearer {key}"})
            timings.append(("GET /v1/usage", time.perf_counter() - begin))
            overview = client.get("/dashboard").text
    assert usage.status_code == 200, usage.text
    totals = usage.json()
    # 90% of the rows are this org's; the other org's never show.
    requests = totals.get("total_requests", totals.get("requests"))
    assert requests is not None, totals
    assert ROWS * 0.89 < requests <= ROWS * 0.9 + 1, totals
    # The overview shows the same request count as /v1/usage for the same default range.
    assert f"{requests:,}" in overview, (requests, overview[:2000])
    report = ", ".join(f"{path} {took * 1000:.0f} ms" for path, took in timings)
    print(f"\nseeded {ROWS:,} PostgreSQL rows in {seeded:.1f} s; {report}")
