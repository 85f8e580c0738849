"""Shared helpers for the dashboard tests and ``bench/dashboard_bench.py``: realistic request
records, bulk seeding (1,000,000 rows in seconds, in SQL), sign-in, and Debian's chromium.

Not a test module of its own.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from omni_proxy.types import RequestRecord
from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("OMNI_DASHBOARD_SCREENSHOTS") or "/tmp/omni-dashboard-screenshots"
)

MODELS = [
    # name, input $/1M, output $/1M, typical latency
    ("demo-mini", Decimal("0.15"), Decimal("0.60"), 400),
    ("demo-coder", Decimal("0.30"), Decimal("0.90"), 500),
    ("demo-reasoner", Decimal("0.55"), Decimal("2.19"), 2000),
    ("demo-fast", Decimal("0.05"), Decimal("0.08"), 150),
    ("demo-premium", Decimal("2.50"), Decimal("10.00"), 900),
]
TASKS = ["chat", "coding", "reasoning", "summarization", "translation", "agent_step"]
PREMIUM = MODELS[4]


def chromium_or_skip() -> str:
    """The chromium binary and the playwright package, or skip (fail loudly in CI)."""
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install playwright)"
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests need Debian's chromium and playwright: {problem}")
        pytest.skip(problem)
    return CHROMIUM


def _price(model: tuple[str, Decimal, Decimal, int], prompt: int, completion: int) -> Decimal:
    cost = (model[1] * prompt + model[2] * completion) / Decimal(1_000_000)
    return cost.quantize(Decimal("0.00000001"))


def record(
    org_id: str,
    created_at: float,
    rng: random.Random,
    *,
    status: int | None = None,
    fallbacks: int | None = None,
) -> RequestRecord:
    """One plausible routed request with its routing log (candidates, plan, reason)."""
    task = rng.choice(TASKS)
    model = MODELS[{"coding": 1, "reasoning": 2}.get(task, rng.choice([0, 0, 3, 4]))]
    prompt, completion = rng.randint(20, 3000), rng.randint(10, 800)
    status = status if status is not None else (502 if rng.random() < 0.03 else 200)
    fallbacks = fallbacks if fallbacks is not None else (1 if rng.random() < 0.05 else 0)
    ok = status < 400
    cost = _price(model, prompt, completion) if ok else Decimal(0)
    premium = _price(PREMIUM, prompt, completion) if ok else Decimal(0)
    candidates = [
        {
            "model": m[0],
            "provider": "demo",
            "eligible": True,
            "filtered_by": None,
            "detail": None,
            "score": round(0.9 - i * 0.11, 4),
            "score_parts": {"cost": 0.3, "latency": 0.3, "task": 0.3},
            "task_match": task in ("coding",) and m[0] == "demo-coder",
            "estimated_cost": float(_price(m, prompt, completion)),
            "rank": i + 1,
        }
        for i, m in enumerate([model, *[x for x in MODELS if x is not model][:3]])
    ]
    return RequestRecord(
        request_id="req_" + uuid.UUID(int=rng.getrandbits(128)).hex,
        endpoint="/v1/chat/completions",
        org_id=org_id,
        key_id=None,
        task_type=task,
        model_requested="auto",
        model_used=model[0] if ok else None,
        provider="demo",
        prompt_tokens=prompt if ok else 0,
        completion_tokens=completion if ok else 0,
        cost=cost,
        premium_cost=premium,
        savings=premium - cost,
        latency_ms=round(model[3] * rng.uniform(0.5, 1.8), 3),
        ttft_ms=None,
        stream=rng.random() < 0.3,
        status=status,
        error=None if ok else "every upstream attempt failed",
        fallback_count=fallbacks,
        created_at=created_at,
        routing={
            "strategy": "hybrid",
            "reason": f"auto: {task} task; {model[0]} scores best on cost and latency; "
            "4 of 5 models eligible",
            "plan": [c["model"] for c in candidates],
            "candidates": candidates,
        },
        attempts=[{"model": "demo-fast", "error": "upstream 503"}] * fallbacks,
    )


def history(org_id: str, days: int, per_day: int, *, seed: int = 1) -> list[RequestRecord]:
    """``per_day`` requests on each of the last ``days`` days (today's before now)."""
    rng = random.Random(seed)
    now = time.time()
    out = []
    for d in range(days):
        for _ in range(rng.randint(max(1, per_day // 2), per_day)):
            out.append(record(org_id, now - d * 86400 - rng.uniform(60, 86000), rng))
    return out


# -- a million rows, in SQL ------------------------------------------------------------------
# Row i: org by i % 10 (nine of ten in the first org), task by i % 6, model by i % 5, a status
# 502 every 40th row, a fallback every 25th, spread evenly over ``span_s`` seconds up to now.
_MODEL_SQL = (
    "CASE {i} % 5 WHEN 0 THEN 'demo-mini' WHEN 1 THEN 'demo-coder' WHEN 2 THEN "
    "'demo-reasoner' WHEN 3 THEN 'demo-fast' ELSE 'demo-premium' END"
)
_TASK_SQL = (
    "CASE {i} % 6 WHEN 0 THEN 'chat' WHEN 1 THEN 'coding' WHEN 2 THEN 'reasoning' "
    "WHEN 3 THEN 'summarization' WHEN 4 THEN 'translation' ELSE 'agent_step' END"
)


def seed_sqlite_bulk(
    path: Path | str, rows: int, orgs: tuple[str, str], *, span_s: float = 29 * 86400
) -> float:
    """Insert ``rows`` requests (and their routing logs) into a migrated SQLite database
    with one ``INSERT … SELECT`` over a recursive CTE; returns the seconds it took."""
    begin = time.perf_counter()
    start = time.time() - span_s
    step = span_s / rows
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    ts = f"({start} + i * {step})"
    created = (
        f"strftime('%Y-%m-%dT%H:%M:%S', {ts}, 'unixepoch') || '.' ||"
        f" printf('%06d', CAST(({ts} - CAST({ts} AS INTEGER)) * 1000000 AS INTEGER)) || 'Z'"
    )
    conn.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 1})"
        " INSERT INTO requests (id, org_id, key_id, endpoint, task_type, model_requested,"
        " model_used, provider, prompt_tokens, completion_tokens, cost, premium_cost, savings,"
        " latency_ms, ttft_ms, stream, status, error, fallback_count, client_disconnected,"
        " created_at)"
        f" SELECT printf('req_%010d', i), CASE WHEN i % 10 = 9 THEN '{orgs[1]}'"
        f" ELSE '{orgs[0]}' END, 'key_bench', '/v1/chat/completions', {_TASK_SQL.format(i='i')},"
        f" 'auto', {_MODEL_SQL.format(i='i')}, 'demo', 100 + i % 900, 20 + i % 300,"
        " printf('%.8f', (i % 1000) / 1000000.0), printf('%.8f', (i % 1000) / 100000.0),"
        " printf('%.8f', (i % 1000) * 9 / 1000000.0), 50 + (i * 37) % 2000, NULL, i % 3 = 0,"
        " CASE WHEN i % 40 = 0 THEN 502 ELSE 200 END, NULL, CASE WHEN i % 25 = 0 THEN 1 ELSE 0"
        f" END, 0, {created} FROM n"
    )
    conn.execute(
        "INSERT INTO routing_logs (request_id, org_id, strategy, task_type, candidates, plan,"
        " attempts, final_model, reason, created_at)"
        " SELECT id, org_id, 'hybrid', task_type,"
        ' \'[{"model": "\' || model_used || \'", "provider": "demo", "eligible": true,'
        " \"score\": 0.82, \"rank\": 1}]', '[\"' || model_used || '\"]', '[]', model_used,"
        " 'auto: ' || task_type || ' task; ' || model_used || ' scores best', created_at"
        " FROM requests WHERE key_id = 'key_bench'"
    )
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - begin


def seed_postgres_bulk(
    url: str, rows: int, orgs: tuple[str, str], *, span_s: float = 29 * 86400
) -> float:
    """The same rows as ``seed_sqlite_bulk``, in PostgreSQL with ``generate_series``."""
    import psycopg

    begin = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO requests (id, org_id, key_id, endpoint, task_type, model_requested,"
            " model_used, provider, prompt_tokens, completion_tokens, cost, premium_cost,"
            " savings, latency_ms, ttft_ms, stream, status, error, fallback_count,"
            " client_disconnected, created_at)"
            " SELECT 'req_' || lpad(i::text, 10, '0'), CASE WHEN i % 10 = 9 THEN %(b)s ELSE"
            f" %(a)s END, 'key_bench', '/v1/chat/completions', {_TASK_SQL.format(i='i')},"
            f" 'auto', {_MODEL_SQL.format(i='i')}, 'demo', 100 + i % 900, 20 + i % 300,"
            " (i % 1000) / 1000000.0, (i % 1000) / 100000.0, (i % 1000) * 9 / 1000000.0,"
            " 50 + (i::bigint * 37) % 2000, NULL, i % 3 = 0,"
            " CASE WHEN i % 40 = 0 THEN 502 ELSE 200 END, NULL,"
            " CASE WHEN i % 25 = 0 THEN 1 ELSE 0 END, false,"
            " now() - make_interval(secs => %(span)s) + make_interval(secs => i * %(step)s)"
            " FROM generate_series(0, %(n)s - 1) AS i".replace(" % ", " %% "),
            {"a": orgs[0], "b": orgs[1], "n": rows, "span": span_s, "step": span_s / rows},
        )
        conn.execute(
            "INSERT INTO routing_logs (request_id, org_id, strategy, task_type, candidates,"
            " plan, attempts, final_model, reason, created_at)"
            " SELECT id, org_id, 'hybrid', task_type, jsonb_build_array(jsonb_build_object("
            "'model', model_used, 'provider', 'demo', 'eligible', true, 'score', 0.82,"
            " 'rank', 1)), jsonb_build_array(model_used), '[]'::jsonb, model_used,"
            " 'auto: ' || task_type || ' task; ' || model_used || ' scores best', created_at"
            " FROM requests WHERE key_id = 'key_bench'"
        )
        # What autovacuum does on its own soon after a bulk load (PostgreSQL 13+ vacuums
        # insert-only tables too): statistics, and the visibility map that lets the
        # percentile lookup read its index alone.
        conn.execute("VACUUM ANALYZE requests")
        conn.execute("VACUUM ANALYZE routing_logs")
        conn.execute("VACUUM ANALYZE request_rollup")
        conn.execute("VACUUM ANALYZE request_latency_rollup")
    return time.perf_counter() - begin


async def two_orgs_and_a_read_key(url: str, name: str) -> tuple[str, str, str]:
    """Migrate ``url``, make orgs ``name`` and ``name-other`` and a read key for the first:
    (org id, other org id, key). For seeding bulk rows and signing in to look at them."""
    from omni_proxy.accounts.keys import create_key, ensure_org
    from omni_proxy.storage import open_database

    db = await open_database(url)
    try:
        await db.migrate()
        org = await ensure_org(db, name)
        other = await ensure_org(db, f"{name}-other")
        key, _row = await create_key(db, org["id"], permissions="read")
        return org["id"], other["id"], key
    finally:
        await db.close()


# -- signing in without a browser ------------------------------------------------------------
def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no csrf field in the page"
    return found.group(1)


def sign_in(client: Any, key: str, next_path: str = "/dashboard") -> Any:
    """Sign a Starlette TestClient (or httpx client) in; returns the POST's response."""
    page = client.get("/dashboard/login")
    return client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(page.text), "api_key": key, "next": next_path},
        follow_redirects=False,
    )
