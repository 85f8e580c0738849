"""How fast are the dashboard's pages with 1,000,000 rows in ``requests``?

Seeds a fresh database (SQLite file and/or a PostgreSQL database made for the run and
dropped after it) with N requests and their routing logs in one SQL statement each, 90% of
them in the org being looked at and by default all inside the default 30-day range (the
worst case: every aggregate covers ~900,000 rows; ``--span-days 365`` spreads them over a
year), then signs in and times every page, in process (Starlette's TestClient: the app and
the queries, no network), best and median of a few runs.

    . .venv/bin/activate
    python bench/dashboard_bench.py                      # both dialects, 1,000,000 rows
    python bench/dashboard_bench.py --dialect sqlite --rows 200000
    python bench/dashboard_bench.py --pg-url postgresql://postgres@127.0.0.1:5432/postgres

Prints a markdown table; ``--out FILE`` also writes it there. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from starlette.testclient import TestClient  # noqa: E402

from omni_proxy.app import create_app  # noqa: E402
from omni_proxy.config import load_config  # noqa: E402
from tests.test_dashboard_support import (  # noqa: E402
    seed_postgres_bulk,
    seed_sqlite_bulk,
    sign_in,
    two_orgs_and_a_read_key,
)

PAGES = [
    ("overview, 30 days", "/dashboard"),
    ("overview, 24 hours", "/dashboard?range=24h"),
    ("usage, 30 days", "/dashboard/usage"),
    ("usage, 90 days", "/dashboard/usage?range=90d"),
    ("models, 30 days", "/dashboard/models"),
    ("requests, first page", "/dashboard/requests"),
    ("requests, older page", "{older}"),
    ("GET /v1/usage, 30 days", "/v1/usage"),
]


@contextlib.contextmanager
def database(dialect: str, tmp: Path, pg_url: str) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import psycopg

    name = f"omni_bench_dash_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def time_pages(url: str, key: str, repeat: int) -> list[tuple[str, float, float, int]]:
    config = load_config(env={"OMNI_DATABASE_URL": url}, demo=True)
    out = []
    with TestClient(create_app(config)) as client:
        assert sign_in(client, key).status_code == 303
        first = client.get("/dashboard/requests")
        older = next(
            (
                line.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
                for line in first.text.splitlines()
                if 'data-testid="page-older"' in line
            ),
            "",
        )
        for label, path in PAGES:
            path = path.format(older="/dashboard/requests" + older) if "{older}" in path else path
            headers = {"authorization": f"Bearer {key}"} if path.startswith("/v1") else {}
            times = []
            status = 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = client.get(path, headers=headers)
                times.append(time.perf_counter() - t0)
                status = r.status_code
            out.append((label, min(times), statistics.median(times), status))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dialect", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--span-days",
        type=float,
        default=29,
        help="spread the rows over this many days up to now (default 29: all of them inside"
        " the default 30-day range, the worst case)",
    )
    ap.add_argument("--out", help="also write the markdown table to this file")
    args = ap.parse_args()
    dialects = ["sqlite", "postgres"] if args.dialect == "both" else [args.dialect]
    span = args.span_days * 86400
    lines = [
        f"# Dashboard pages with {args.rows:,} rows in `requests`",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC · {os.cpu_count()} CPUs · best and median of"
        f" {args.repeat} runs, in process · 90% of the rows in the org viewed, spread over the"
        f" last {args.span_days:g} days",
        "",
        "| database | page | best (ms) | median (ms) | status |",
        "|---|---|---:|---:|---:|",
    ]
    for dialect in dialects:
        with tempfile.TemporaryDirectory() as tmp, database(dialect, Path(tmp), args.pg_url) as url:
            org_a, org_b, key = asyncio.run(two_orgs_and_a_read_key(url, "bench"))
            if dialect == "sqlite":
                path = url.split("sqlite:///", 1)[1]
                seeded = seed_sqlite_bulk(path, args.rows, (org_a, org_b), span_s=span)
            else:
                seeded = seed_postgres_bulk(url, args.rows, (org_a, org_b), span_s=span)
            print(f"{dialect}: seeded {args.rows:,} rows in {seeded:.1f} s", file=sys.stderr)
            for label, best, median, status in time_pages(url, key, args.repeat):
                ms = f"{best * 1000:,.0f} | {median * 1000:,.0f}"
                lines.append(f"| {dialect} | {label} | {ms} | {status} |")
                print(lines[-1], file=sys.stderr)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
