"""Re-measure issue 15's "Why" figures against a real ``omni-proxy serve`` (see README.md).

Every proxy, fake upstream and relay runs on 127.0.0.1 on free ports and is stopped by the
harness; a watchdog ends the run at ``--max-runtime``. Figures go to stdout and to a JSON file.

    python bench/faults/run.py                      # everything, about 10 minutes
    python bench/faults/run.py --only fuzz,sigkill  # some scenarios
"""

# ruff: noqa: B023  (closures are called within the loop iteration that defines them)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
from support import (  # noqa: E402
    AUTH,
    UPSTREAM_KEY,
    HostileUpstream,
    TcpRelay,
    metric,
    pg_count,
    tracebacks,
)

from tests.conftest import ProxyProcess  # noqa: E402
from tests.fakes.openai_upstream import FakeOpenAI  # noqa: E402
from tests.reliability_support import (  # noqa: E402
    ESTABLISHED,
    eventually,
    rss_kb,
    sqlite_rows,
    tcp_connections,
)
from tests.test_storage_support import postgres_database  # noqa: E402

PROXIES: list[ProxyProcess] = []
TMP = Path(tempfile.mkdtemp(prefix="omni-faults-"))
ARGS: argparse.Namespace
REDIS = ("127.0.0.1", 6379)
PG = ("127.0.0.1", 5432)


# -- plumbing ----------------------------------------------------------------------------------
def start(
    config: dict[str, Any] | None, env: dict[str, str] | None = None, **kw: Any
) -> ProxyProcess:
    tmp = Path(tempfile.mkdtemp(dir=TMP))
    proxy = ProxyProcess(tmp, config, env=env, **kw)
    PROXIES.append(proxy)
    return proxy.start(timeout=60)


def pid(proxy: ProxyProcess) -> int:
    assert proxy.proc is not None
    return proxy.proc.pid


def up(base_url: str, name: str = "up") -> dict[str, Any]:
    return {name: {"plugin": "openai", "base_url": base_url, "api_key": UPSTREAM_KEY}}


def model(name: str, upstream: str, provider: str = "up", **kw: Any) -> dict[str, Any]:
    return {"name": name, "provider": provider, "model": upstream, **kw}


def chat(text: str = "hi", model_name: str = "cheap", **kw: Any) -> dict[str, Any]:
    return {"model": model_name, "messages": [{"role": "user", "content": text}], **kw}


def org_key(proxy: ProxyProcess, name: str, perms: list[str] | None = None, **fields: Any) -> str:
    r = httpx.post(proxy.base_url + "/organizations", json={"name": name, **fields}, headers=AUTH)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = {"org": name}
    if perms:
        body["permissions"] = perms
    r = httpx.post(proxy.base_url + "/api-keys", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextlib.contextmanager
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def via(url: str, relay: TcpRelay) -> str:
    return url.replace(f":{PG[1]}/", f":{relay.port}/")


def wait_rows(count: Callable[[], int], want: int, timeout: float = 20) -> int:
    eventually(lambda: count() >= want, timeout, 0.2)
    return count()


def sqlite_count(proxy: ProxyProcess) -> int:
    return len(sqlite_rows(proxy))


def peak_rss_during(p: int, action: Callable[[], Any]) -> tuple[Any, int, int]:
    """Run ``action`` while sampling the proxy's RSS every 10 ms: (result, before, peak) kB."""
    before = rss_kb(p)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError, KeyError):
                peak[0] = max(peak[0], rss_kb(p))
            time.sleep(0.01)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        result = action()
    finally:
        done.set()
        t.join()
    return result, before, peak[0]


# -- 1. fuzzed bodies on every POST route -----------------------------------------------------
def s_fuzz() -> dict[str, Any]:
    from tests.test_hostile_input import BODY_TIMEOUT_S, Upstreams

    with Upstreams() as ups:
        proxy = start(ups.config(), {"OMNI_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)})
        doc = httpx.get(proxy.root + "/openapi.json", timeout=10).json()
        routes = sorted(p for p, item in doc["paths"].items() if "post" in item and "{" not in p)
        routes = [r for r in routes if r.startswith("/v1/")]
        httpx.post(proxy.base_url + "/organizations", json={"name": "fuzz-org"}, headers=AUTH)
        statuses: Counter[int] = Counter()
        per_route: Counter[str] = Counter()
        fives: list[dict[str, Any]] = []
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        deadline = time.monotonic() + ARGS.fuzz_seconds
        sent = [0]

        def worker(n: int) -> None:
            rng = random.Random(ARGS.seed * 100 + n)
            with httpx.Client(base_url=proxy.root, timeout=30) as http:
                while time.monotonic() < deadline and sent[0] < ARGS.fuzz_max:
                    route = rng.choice(routes)
                    raw, kind = fuzz.body(rng, route)
                    try:
                        r = http.post(
                            route,
                            content=raw,
                            headers={**AUTH, "content-type": "application/json"},
                        )
                        code = r.status_code
                    except httpx.HTTPError as exc:
                        with lock:
                            errors[type(exc).__name__] += 1
                        continue
                    with lock:
                        sent[0] += 1
                        statuses[code] += 1
                        per_route[route] += 1
                        if code >= 500 and len(fives) < 20:
                            fives.append(
                                {
                                    "route": route,
                                    "kind": kind,
                                    "status": code,
                                    "body": raw[:300].decode("utf-8", "replace"),
                                    "answer": r.text[:300],
                                }
                            )

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(ARGS.fuzz_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        healthy = httpx.get(proxy.root + "/health", timeout=10).status_code
        log = proxy.read_log()
        proxy.stop()
    return {
        "bodies": sent[0],
        "routes": len(routes),
        "route_list": routes,
        "per_route": dict(per_route),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "5xx": sum(v for k, v in statuses.items() if k >= 500),
        "500": statuses.get(500, 0),
        "transport_errors": dict(errors),
        "tracebacks_in_log": tracebacks(log),
        "health_after": healthy,
        "examples_5xx": fives,
    }


# -- 2. poison records: NUL in model, 2^64 and negative usage ---------------------------------
def _poison(dialect: str) -> dict[str, Any]:
    hostile = HostileUpstream(bomb_mb=1)
    try:
        config = {
            "providers": up(hostile.base_url, "evil"),
            "models": [
                model("cheap", "ok", "evil", cost_input=1, cost_output=1),
                model("huge", "huge-usage", "evil", cost_input=1, cost_output=1),
                model("neg", "negative-usage", "evil", cost_input=1, cost_output=1),
            ],
            "routing": {"max_attempts": 1},
        }
        with contextlib.ExitStack() as stack:
            spill = Path(tempfile.mkdtemp(dir=TMP)) / "spill.jsonl"
            env = {"OMNI_SPILL_PATH": str(spill)}
            if dialect == "postgresql":
                url = stack.enter_context(pg_url())
                env["OMNI_DATABASE_URL"] = url
            proxy = start(config, env)
            if dialect == "postgresql":

                def count() -> int:
                    return pg_count(url, "SELECT COUNT(*) FROM requests")

                def costs() -> list[tuple[float, int]]:
                    import psycopg

                    with psycopg.connect(url) as conn:
                        rows = conn.execute(
                            "SELECT cost, prompt_tokens::bigint + completion_tokens FROM requests"
                        ).fetchall()
                    return [(float(c or 0), int(t or 0)) for c, t in rows]
            else:

                def count() -> int:
                    return sqlite_count(proxy)

                def costs() -> list[tuple[float, int]]:
                    rows = sqlite_rows(proxy).values()
                    return [
                        (
                            float(r["cost"] or 0),
                            int(r["prompt_tokens"] or 0) + int(r["completion_tokens"] or 0),
                        )
                        for r in rows
                    ]

            statuses: Counter[str] = Counter()
            sent = 0
            with httpx.Client(base_url=proxy.base_url, headers=AUTH, timeout=30) as http:
                for i in range(10):
                    for name in ("cheap\u0000x", "huge", "neg", "cheap", "cheap"):
                        r = http.post("/chat/completions", json=chat(f"p {i}", name))
                        statuses[f"{name.replace(chr(0), '<NUL>')}:{r.status_code}"] += 1
                        sent += 1
            stored = wait_rows(count, sent)
            ready = httpx.get(proxy.root + "/ready", timeout=10)
            quarantined = metric(proxy.root, "omni_recorder_quarantined_total")
            dead = spill.with_name(spill.name + ".dead")
            dead_lines = len(dead.read_text().splitlines()) if dead.exists() else 0
            # Recording still flows after the poison.
            with httpx.Client(base_url=proxy.base_url, headers=AUTH, timeout=30) as http:
                for i in range(5):
                    http.post("/chat/completions", json=chat(f"after {i}"))
            after = wait_rows(count, sent + 5)
            proxy.stop()
            stopped_with = count()
            # A restart replays the spill (if any) and stays green.
            proxy2 = start(config, env)
            ready2 = httpx.get(proxy2.root + "/ready", timeout=10).status_code
            proxy2.stop()
            return {
                "requests": sent + 5,
                "answers": dict(statuses),
                "rows_after_poison": stored,
                "rows_after_more": after,
                "rows_after_sigterm": stopped_with,
                "lost": sent + 5 - stopped_with,
                "quarantined_metric": quarantined,
                "dead_letter_lines": dead_lines,
                "ready": ready.status_code,
                "ready_after_restart": ready2,
                "min_cost_in_rows": min(c for c, _ in costs()),
                "max_cost_in_rows": max(c for c, _ in costs()),
                "max_tokens_in_a_row": max(t for _, t in costs()),
                "upstream_calls": sum(hostile.calls.values()),
                "tracebacks_in_log": tracebacks(proxy.read_log()),
            }
    finally:
        hostile.close()


def s_poison() -> dict[str, Any]:
    return {"sqlite": _poison("sqlite"), "postgresql": _poison("postgresql")}


# -- 3. provider key echoed by a failing native Responses stream -------------------------------
def s_key_echo() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with FakeOpenAI(model_suffix="-2024-07-18") as native:
        config = {
            "providers": up(native.base_url, "openai"),
            "models": [model("native-mini", "gpt-4o-mini", "openai")],
        }
        proxy = start(config)
        key = UPSTREAM_KEY
        for failure in ("error", "response.failed"):
            leaks = {"client": 0, "row": 0, "echoed_by_upstream": 0}
            ids = []
            for _ in range(5):
                native.reset()
                native.fail_next(
                    "stream_error",
                    after=3,
                    path="/responses",
                    message=f"Incorrect API key provided: {key}.",
                    type=failure,
                )
                r = httpx.post(
                    proxy.base_url + "/responses",
                    headers=AUTH,
                    timeout=30,
                    json={"model": "native-mini", "input": "one two", "stream": True},
                )
                sent = (
                    native.responses_api.sent_streams[-1][-1]
                    if native.responses_api.sent_streams
                    else b""
                )
                leaks["echoed_by_upstream"] += key.encode() in sent
                leaks["client"] += key.encode() in r.content
                ids.append(r.headers["x-request-id"])
            rows = sqlite_rows(proxy, ids)
            eventually(lambda: len(sqlite_rows(proxy, ids)) == len(ids), 10)
            rows = sqlite_rows(proxy, ids)
            leaks["row"] = sum(key in (row["error"] or "") for row in rows.values())
            leaks["rows"] = len(rows)
            out[failure] = leaks
        out["log"] = proxy.read_log().count(key)
        proxy.stop()
    return out


# -- 4/5/6. admission: prompt lists, reused request ids, budget race --------------------------
def _cost_proxy(fake: FakeOpenAI) -> ProxyProcess:
    return start(
        {
            "providers": up(fake.base_url),
            "models": [model("cheap", "gpt-4o-mini", cost_input=1000, cost_output=1000)],
            "routing": {"max_attempts": 1},
        }
    )


def s_admission() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with FakeOpenAI() as fake:
        proxy = _cost_proxy(fake)
        probe = httpx.post(
            proxy.base_url + "/completions",
            headers=AUTH,
            timeout=30,
            json={"model": "cheap", "prompt": "hi", "max_tokens": 8},
        )
        one = float(probe.json()["omni"]["cost"])
        # Lists of prompts on a budget worth 50 of them: a list over the cap, then lists of
        # 5 until refused.
        budget = round(one * 50, 8)
        key = org_key(proxy, "fan-budget", monthly_budget_usd=budget)
        fake.reset()
        answers = []
        for n in (2000, *[5] * 15):
            r = httpx.post(
                proxy.base_url + "/completions",
                headers=bearer(key),
                timeout=60,
                json={"model": "cheap", "prompt": ["hi"] * n, "max_tokens": 8},
            )
            answers.append(
                {
                    "prompts": n,
                    "status": r.status_code,
                    "code": r.json().get("error", {}).get("code") if r.status_code >= 400 else None,
                }
            )
        calls = len(fake.requests_to("/chat/completions"))
        usage = httpx.get(proxy.base_url + "/usage", headers=bearer(key), timeout=30)
        spent = 0.0
        for _ in range(50):  # until the records are written
            spent = _org_spend(proxy, "fan-budget")
            if spent > 0 or calls == 0:
                break
            time.sleep(0.2)
        out["prompt_lists"] = {
            "answers": answers,
            "upstream_calls": calls,
            "admitted_prompts": sum(a["prompts"] for a in answers if a["status"] == 200),
            "budget": budget,
            "spent": spent,
            "spend_over_budget": spent / budget,
            "usage_status": usage.status_code,
        }
        # rpm 3, five prompts in one request
        key = org_key(proxy, "fan-rpm", rpm_limit=3)
        fake.reset()
        r = httpx.post(
            proxy.base_url + "/completions",
            headers=bearer(key),
            timeout=30,
            json={"model": "cheap", "prompt": ["a", "b", "c", "d", "e"]},
        )
        out["rpm3_five_prompts"] = {
            "status": r.status_code,
            "upstream_calls": len(fake.requests_to("/chat/completions")),
        }

        # Reused client x-request-id: two orgs, 25 requests each, one id.
        keys = [org_key(proxy, "reuse-a"), org_key(proxy, "reuse-b")]
        fake.reset()
        before = sqlite_count(proxy)
        ids = []
        for i in range(50):
            r = httpx.post(
                proxy.base_url + "/chat/completions",
                json=chat(f"r{i}"),
                timeout=30,
                headers={**bearer(keys[i % 2]), "x-request-id": "same-id-1"},
            )
            ids.append(r.headers["x-request-id"])
        calls = len(fake.requests_to("/chat/completions"))
        stored = wait_rows(lambda: sqlite_count(proxy) - before, calls)
        out["reused_request_id"] = {
            "requests": 50,
            "provider_calls": calls,
            "records": stored,
            "distinct_ids": len(set(ids)),
        }

        # 40 concurrent requests on a budget worth 5.
        body = chat("hi", max_tokens=8)
        probe = httpx.post(
            proxy.base_url + "/chat/completions", json=body, headers=AUTH, timeout=30
        )
        one = float(probe.json()["omni"]["cost"])
        budget = round(one * 5, 8)
        key = org_key(proxy, "budget-race", monthly_budget_usd=budget)
        fake.set_behaviour("gpt-4o-mini", "timeout", delay_s=0.5)

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=proxy.base_url,
                headers=bearer(key),
                timeout=30,
                limits=httpx.Limits(max_connections=40),
            ) as client:
                return await asyncio.gather(
                    *(client.post("/chat/completions", json=body) for _ in range(40))
                )

        try:
            rs = asyncio.run(burst())
        finally:
            fake.clear_behaviour()
        served = [r for r in rs if r.status_code == 200]
        spent = sum(float(r.json()["omni"]["cost"]) for r in served)
        out["budget_race"] = {
            "concurrent": 40,
            "budget_worth": 5,
            "served": len(served),
            "statuses": dict(Counter(r.status_code for r in rs)),
            "spent_over_budget": round(spent / budget, 3),
        }
        # /metrics with an org admin key
        admin = org_key(proxy, "metrics-org", perms=["read", "write", "admin"])
        m_org = httpx.get(proxy.root + "/metrics", headers=bearer(admin), timeout=10)
        m_master = httpx.get(proxy.root + "/metrics", headers=AUTH, timeout=10)
        m_none = httpx.get(proxy.root + "/metrics", timeout=10)
        out["metrics"] = {
            "org_admin": m_org.status_code,
            "master": m_master.status_code,
            "no_key": m_none.status_code,
            "org_ids_in_master_view": sum(o in m_master.text for o in ("reuse-a", "budget-race")),
        }
        out["tracebacks_in_log"] = tracebacks(proxy.read_log())
        proxy.stop()
    return out


def _org_spend(proxy: ProxyProcess, org: str) -> float:
    import sqlite3

    with contextlib.closing(sqlite3.connect(str(proxy.env["OMNI_DATABASE_URL"])[10:])) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(cost), 0) FROM requests r JOIN orgs o "
            "ON o.id = r.org_id WHERE o.name = ?",
            (org,),
        ).fetchone()
    return float(row[0])


# -- 7. idle and never-finished heads ----------------------------------------------------------
def _connections(fd_limit: int | None) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if fd_limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, hard))  # the proxy inherits it
    try:
        proxy = start({"demo": True})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    p = pid(proxy)

    def served() -> int:
        return sum(1 for st, lo, _ in tcp_connections(p) if lo == proxy.port and st == ESTABLISHED)

    socks = []
    refused = 0
    t0 = time.monotonic()
    for i in range(ARGS.sockets):
        try:
            s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        except OSError:
            refused += 1
            continue
        if i % 2:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
    time.sleep(0.5)
    held = served()
    fds_peak = len(os.listdir(f"/proc/{p}/fd"))
    # A real request every 0.25 s on a fresh connection until one is served.
    real: Counter[str] = Counter()
    first_ok = None
    while time.monotonic() - t0 < 30:
        try:
            r = httpx.post(
                proxy.base_url + "/chat/completions",
                headers=AUTH,
                timeout=30,
                json=chat("real request", "auto"),
            )
            code = r.json().get("error", {}).get("code") if r.status_code >= 400 else ""
            real[f"{r.status_code} {code}".strip()] += 1
            if r.status_code == 200:
                first_ok = round(time.monotonic() - t0, 2)
                break
        except httpx.HTTPError as exc:
            real[type(exc).__name__] += 1
        time.sleep(0.25)
    closed_all = eventually(lambda: served() == 0, 30, 0.25)
    closed_after = round(time.monotonic() - t0, 1)
    for s in socks:
        s.close()
    out = {
        "sockets_opened": len(socks),
        "connect_refused": refused,
        "held_by_proxy": held,
        "proxy_fd_limit": fd_limit or soft,
        "proxy_fds_peak": fds_peak,
        "real_requests_until_served": dict(real),
        "first_real_request_served_at_s": first_ok,
        "all_closed_by_proxy": closed_all,
        "closed_within_s": closed_after,
        "health_after": httpx.get(proxy.root + "/health", timeout=10).status_code,
        "tracebacks_in_log": tracebacks(proxy.read_log()),
    }
    proxy.stop()
    return out


def s_connections() -> dict[str, Any]:
    return {"fd_limit_1024": _connections(1024), "fd_limit_default": _connections(None)}


# -- 8. a 250k-message body and other tenants' latency ----------------------------------------
def s_heavy_body() -> dict[str, Any]:
    with FakeOpenAI() as fake:
        proxy = start({"providers": up(fake.base_url), "models": [model("cheap", "gpt-4o-mini")]})
        key = org_key(proxy, "other-tenant")
        small = chat("latency probe")

        def probe(seconds: float) -> list[float]:
            lat = []
            end = time.monotonic() + seconds
            with httpx.Client(base_url=proxy.base_url, headers=bearer(key), timeout=60) as c:
                while time.monotonic() < end:
                    t = time.monotonic()
                    c.post("/chat/completions", json=small)
                    lat.append(time.monotonic() - t)
                    time.sleep(0.01)
            return lat

        base = probe(5)
        results: dict[str, Any] = {"baseline_median_ms": round(statistics.median(base) * 1000, 1)}
        for n in (250_000, 10_000):
            raw = orjson.dumps(chat("x") | {"messages": [{"role": "user", "content": "x"}] * n})
            stop = threading.Event()
            heavy: Counter[int] = Counter()
            took: list[float] = []

            def hammer() -> None:
                with httpx.Client(base_url=proxy.base_url, headers=AUTH, timeout=60) as c:
                    while not stop.is_set():
                        t = time.monotonic()
                        r = c.post(
                            "/chat/completions",
                            content=raw,
                            headers={"content-type": "application/json"},
                        )
                        heavy[r.status_code] += 1
                        took.append(time.monotonic() - t)

            t = threading.Thread(target=hammer)
            t.start()
            lat = probe(10)
            stop.set()
            t.join()
            results[f"{n}_messages"] = {
                "body_mb": round(len(raw) / 1e6, 1),
                "heavy_answers": dict(heavy),
                "heavy_request_median_s": round(statistics.median(took), 2) if took else None,
                "other_tenant_median_ms": round(statistics.median(lat) * 1000, 1),
                "other_tenant_p95_ms": round(sorted(lat)[int(len(lat) * 0.95)] * 1000, 1),
                "probes": len(lat),
            }
        results["tracebacks_in_log"] = tracebacks(proxy.read_log())
        proxy.stop()
    return results


# -- 9. the bare-500 list ----------------------------------------------------------------------
def s_bare_500s() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with FakeOpenAI() as fake:
        config = {
            "providers": up(fake.base_url, "openai"),
            "models": [model("cheap", "gpt-4o-mini", "openai")],
        }
        with pg_url() as url:
            relay = TcpRelay(*PG)
            try:
                for label, env in (
                    ("sqlite", {}),
                    ("postgresql", {"OMNI_DATABASE_URL": via(url, relay)}),
                ):
                    proxy = start(config, env)
                    got: dict[str, Any] = {}

                    def req(name: str, method: str, path: str, **kw: Any) -> None:
                        r = httpx.request(method, proxy.root + path, timeout=30, **kw)
                        got.setdefault(name, []).append(r.status_code)

                    for tools in ({"a": 1}, "x", 5, [1]):
                        req(
                            "messages_tools",
                            "POST",
                            "/v1/messages",
                            headers=AUTH,
                            json={
                                "model": "cheap",
                                "max_tokens": 5,
                                "tools": tools,
                                "messages": [{"role": "user", "content": "hi"}],
                            },
                        )
                        for stream in (False, True):
                            req(
                                "responses_tools",
                                "POST",
                                "/v1/responses",
                                headers=AUTH,
                                json={
                                    "model": "cheap",
                                    "input": "hi",
                                    "tools": tools,
                                    "stream": stream,
                                },
                            )
                    req("usage_9999", "GET", "/v1/usage", headers=AUTH, params={"to": "9999-12-31"})
                    req(
                        "login_200_fields",
                        "POST",
                        "/dashboard/login",
                        content="&".join(f"f{i}=x" for i in range(200)),
                        headers={"content-type": "application/x-www-form-urlencoded"},
                    )
                    name = f"race-{label}-{random.randrange(10**6)}"
                    barrier = threading.Barrier(8)

                    def create() -> None:
                        barrier.wait()
                        req(
                            "org_race",
                            "POST",
                            "/v1/organizations",
                            headers=AUTH,
                            json={"name": name},
                        )

                    ts = [threading.Thread(target=create) for _ in range(8)]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                    for method in ("GET", "DELETE"):
                        req("nul_response_id", method, "/v1/responses/resp_%00x", headers=AUTH)
                    req(
                        "nul_response_id",
                        "POST",
                        "/v1/responses",
                        headers=AUTH,
                        json={
                            "model": "cheap",
                            "input": "hi",
                            "previous_response_id": "resp_\u0000x",
                        },
                    )
                    req("nul_key_id", "DELETE", "/v1/api-keys/key_%00x", headers=AUTH)
                    if label == "postgresql":
                        relay.cut()
                        for path in ("/v1/usage", "/v1/api-keys", "/v1/organizations"):
                            t = time.monotonic()
                            r = httpx.get(proxy.root + path, headers=AUTH, timeout=60)
                            got.setdefault("db_down", []).append(
                                {
                                    "path": path,
                                    "status": r.status_code,
                                    "seconds": round(time.monotonic() - t, 2),
                                    "code": r.json().get("error", {}).get("code")
                                    if r.status_code >= 400
                                    else None,
                                }
                            )
                        relay.restore()
                        got["db_back"] = eventually(
                            lambda: (
                                httpx.get(
                                    proxy.base_url + "/usage", headers=AUTH, timeout=30
                                ).status_code
                                == 200
                            ),
                            60,
                            0.5,
                        )
                    for k, v in got.items():
                        if isinstance(v, list) and v and isinstance(v[0], int):
                            got[k] = dict(Counter(v))
                    got["tracebacks_in_log"] = tracebacks(proxy.read_log())
                    out[label] = got
                    proxy.stop()
            finally:
                relay.close()
    return out


# -- 10. hostile upstreams ---------------------------------------------------------------------
def s_hostile_upstream() -> dict[str, Any]:
    hostile = HostileUpstream(bomb_mb=ARGS.bomb_mb)
    out: dict[str, Any] = {
        "bomb_compressed_mb": round(hostile.bomb_bytes / 1e6, 2),
        "bomb_decoded_mb": ARGS.bomb_mb,
    }
    try:
        with FakeOpenAI() as fake:
            config = {
                "providers": {**up(hostile.base_url, "evil"), **up(fake.base_url)},
                "models": [
                    model("bad", "malformed", "evil", cost_input=1),
                    model("cheap", "gpt-4o-mini", cost_input=1),
                    model("bomb", "bomb", "evil"),
                    model("huge", "huge-body", "evil"),
                    model("endless", "endless-line", "evil"),
                ],
                "routing": {"fallback_model": "cheap", "max_attempts": 2},
            }
            proxy = start(config)
            p = pid(proxy)
            r = httpx.post(
                proxy.base_url + "/chat/completions",
                json=chat("hi", "bad"),
                headers=AUTH,
                timeout=30,
            )
            rid = r.headers["x-request-id"]
            eventually(lambda: rid in sqlite_rows(proxy, [rid]), 10)
            row = sqlite_rows(proxy, [rid]).get(rid, {})
            out["malformed_200"] = {
                "status": r.status_code,
                "model_used": r.json().get("omni", {}).get("model_used"),
                "recorded": bool(row),
                "fallback_count": row.get("fallback_count"),
            }
            for name, stream in (("bomb", False), ("huge", False), ("endless", True)):

                def call(name: str = name, stream: bool = stream) -> httpx.Response:
                    return httpx.post(
                        proxy.base_url + "/chat/completions",
                        headers=AUTH,
                        timeout=60,
                        json=chat("hi", name, stream=stream),
                    )

                t = time.monotonic()
                r, before, peak = peak_rss_during(p, call)
                out[name] = {
                    "status": r.status_code,
                    "seconds": round(time.monotonic() - t, 2),
                    "rss_before_mb": round(before / 1024),
                    "rss_peak_mb": round(peak / 1024),
                    "code": r.json().get("error", {}).get("code") if r.status_code >= 400 else None,
                    "client_bytes": len(r.content),
                    "answered_by": _answered_by(r),
                }
            out["health_after"] = httpx.get(proxy.root + "/health", timeout=10).status_code
            out["tracebacks_in_log"] = tracebacks(proxy.read_log())
            proxy.stop()
    finally:
        hostile.close()
    return out


def _answered_by(r: httpx.Response) -> Any:
    """The model that answered and why the first one was dropped (JSON or the SSE text)."""
    if r.headers.get("content-type", "").startswith("application/json"):
        omni = r.json().get("omni") or {}
        return {
            "model_used": omni.get("model_used"),
            "fallbacks": [f.get("code") for f in omni.get("fallbacks") or []],
        }
    return {"sse_mentions_upstream_malformed": "upstream_malformed" in r.text, "head": r.text[:200]}


# -- 11. a key made elsewhere ------------------------------------------------------------------
def s_new_key() -> dict[str, Any]:
    out: dict[str, Any] = {}
    secret = "faults-" + os.urandom(4).hex()
    with pg_url() as url:
        env = {"OMNI_DATABASE_URL": url, "OMNI_KEY_SECRET": secret}
        a = start({"demo": True}, env)
        b = start({"demo": True}, env)
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
        cli_env.update(OMNI_DATABASE_URL=url, OMNI_KEY_SECRET=secret)
        waits_cli, waits_other = [], []
        for i in range(5):
            made = subprocess.run(
                [sys.executable, "-m", "omni_proxy.cli", "keys", "create", "--org", f"cli{i}"],
                env=cli_env,
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
                check=True,
            )
            key = made.stdout.strip().splitlines()[-1]
            waits_cli.append(_refused_for(b, key))
            r = httpx.post(a.base_url + "/api-keys", json={"org": f"cli{i}"}, headers=AUTH)
            waits_other.append(_refused_for(b, r.json()["key"]))
        out = {
            "cli_key_refused_s": waits_cli,
            "other_instance_key_refused_s": waits_other,
            "wrong_key": httpx.get(
                b.base_url + "/models", headers=bearer("sk-omni-nope" + "x" * 30)
            ).status_code,
        }
        a.stop()
        b.stop()
    return out


def _refused_for(proxy: ProxyProcess, key: str) -> dict[str, Any]:
    """401s before the first 200 on ``proxy``, and the seconds until that 200."""
    t = time.monotonic()
    refusals = 0
    while time.monotonic() - t < 10:
        r = httpx.get(proxy.base_url + "/models", headers=bearer(key), timeout=10)
        if r.status_code == 200:
            break
        refusals += 1
        time.sleep(0.01)
    return {"401s": refusals, "first_200_s": round(time.monotonic() - t, 3)}


# -- 12. Responses chain storage ---------------------------------------------------------------
def s_chain() -> dict[str, Any]:
    import sqlite3

    out: dict[str, Any] = {}
    with FakeOpenAI(model_suffix="-2024-07-18") as native, FakeOpenAI() as compat:
        config = {
            "providers": {**up(native.base_url, "openai"), **up(compat.base_url, "compat")},
            "models": [
                model("native-mini", "gpt-4o-mini", "openai"),
                model("translated", "gpt-4o-mini", "compat"),
            ],
        }
        proxy = start(config)
        for name in ("native-mini", "translated"):
            previous, sent, ids = None, 0, []
            for turn in range(ARGS.chain_turns):
                body = {"model": name, "input": f"turn {turn} " + "x" * 250_000}
                if previous:
                    body["previous_response_id"] = previous
                raw = orjson.dumps(body)
                sent += len(raw)
                r = httpx.post(
                    proxy.base_url + "/responses",
                    content=raw,
                    timeout=60,
                    headers={**AUTH, "content-type": "application/json"},
                )
                assert r.status_code == 200, r.text[:300]
                previous = r.json()["id"]
                ids.append(previous)
            path = str(proxy.env["OMNI_DATABASE_URL"])[10:]
            with contextlib.closing(sqlite3.connect(path)) as conn:
                marks = ",".join("?" * len(ids))
                row = conn.execute(
                    "SELECT SUM(LENGTH(input)), SUM(LENGTH(input) + LENGTH(output) + LENGTH(body))"
                    " FROM responses"
                    f" WHERE id IN ({marks})",
                    ids,
                ).fetchone()
            stored_input, stored = row
            out[name] = {
                "stored_input_mb": round(stored_input / 1e6, 2),
                "input_ratio": round(stored_input / sent, 2),
                "turns": len(ids),
                "sent_mb": round(sent / 1e6, 2),
                "stored_mb": round(stored / 1e6, 2),
                "ratio": round(stored / sent, 2),
            }
        proxy.stop()
    return out


# -- 13. SIGKILL and SIGTERM under load --------------------------------------------------------
def _kill_under_load(sig: int, dialect: str) -> dict[str, Any]:
    with FakeOpenAI() as fake, contextlib.ExitStack() as stack:
        env = {}
        if dialect == "postgresql":
            url = stack.enter_context(pg_url())
            env["OMNI_DATABASE_URL"] = url
        proxy = start(
            {"providers": up(fake.base_url), "models": [model("cheap", "gpt-4o-mini")]}, env
        )
        done: list[float] = []
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(base_url=proxy.base_url, headers=AUTH, timeout=10) as http:
                while not stop.is_set():
                    try:
                        r = http.post("/chat/completions", json=chat("x"))
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        done.append(time.monotonic())

        threads = [threading.Thread(target=client) for _ in range(ARGS.kill_clients)]
        for t in threads:
            t.start()
        time.sleep(ARGS.kill_after)
        killed = time.monotonic()
        proxy.stop(sig)
        stop.set()
        for t in threads:
            t.join(15)
        calls = len(fake.requests_to("/chat/completions"))
        if dialect == "postgresql":
            stored = pg_count(url, "SELECT COUNT(*) FROM requests")
        else:
            stored = sqlite_count(proxy)
        recent = sum(1 for t in done if killed - 0.2 <= t <= killed)
        log = proxy.read_log()
        warnings = [line for line in log.splitlines() if "recorder" in line][:10]
        return {
            "provider_calls": calls,
            "records": stored,
            "lost": calls - stored,
            "answered_last_0.2s": recent,
            "clients_in_flight_max": ARGS.kill_clients,
            "exit": proxy.proc.returncode if proxy.proc else None,
            "answered": len(done),
            "answered_last_1s": sum(1 for t in done if killed - 1.0 <= t <= killed),
            "recorder_log": warnings,
        }


def s_kill() -> dict[str, Any]:
    return {
        "sigkill_sqlite": _kill_under_load(signal.SIGKILL, "sqlite"),
        "sigkill_postgresql": _kill_under_load(signal.SIGKILL, "postgresql"),
        "sigterm_sqlite": _kill_under_load(signal.SIGTERM, "sqlite"),
        "sigterm_postgresql": _kill_under_load(signal.SIGTERM, "postgresql"),
    }


# -- 14. PostgreSQL and Redis outages through a relay ------------------------------------------
def _load(
    proxy: ProxyProcess,
    stop: threading.Event,
    results: list[tuple[int, str]],
    phase: list[str],
    clients: int = 3,
) -> list[threading.Thread]:
    def run(n: int) -> None:
        with httpx.Client(base_url=proxy.base_url, headers=AUTH, timeout=30) as http:
            i = 0
            while not stop.is_set():
                i += 1
                ph = phase[0]
                try:
                    r = http.post("/chat/completions", json=chat(f"l{n} {i}", stream=i % 2 == 0))
                    results.append((r.status_code, ph))
                except httpx.HTTPError as exc:
                    results.append((0, ph + ":" + type(exc).__name__))
                time.sleep(0.01)

    ts = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for t in ts:
        t.start()
    return ts


def s_outages() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with FakeOpenAI() as fake, pg_url() as url:
        config = {"providers": up(fake.base_url), "models": [model("cheap", "gpt-4o-mini")]}
        # PostgreSQL outage
        relay = TcpRelay(*PG)
        try:
            spill = Path(tempfile.mkdtemp(dir=TMP)) / "spill.jsonl"
            proxy = start(
                config, {"OMNI_DATABASE_URL": via(url, relay), "OMNI_SPILL_PATH": str(spill)}
            )
            stop, results, phase = threading.Event(), [], ["before"]
            ts = _load(proxy, stop, results, phase)
            time.sleep(3)
            phase[0] = "outage"
            relay.cut()
            t = time.monotonic()
            ready_during = []
            while time.monotonic() - t < ARGS.outage_s:
                with contextlib.suppress(httpx.HTTPError):
                    ready_during.append(httpx.get(proxy.root + "/ready", timeout=5).status_code)
                time.sleep(1)
            relay.restore()
            phase[0] = "after"
            time.sleep(5)
            stop.set()
            for th in ts:
                th.join(30)
            calls = len(fake.requests_to("/chat/completions"))
            stored = wait_rows(lambda: pg_count(url, "SELECT COUNT(*) FROM requests"), calls, 60)
            proxy.stop()
            stored_final = pg_count(url, "SELECT COUNT(*) FROM requests")
            out["postgresql"] = {
                "outage_s": ARGS.outage_s,
                "provider_calls": calls,
                "records": stored_final,
                "lost": calls - stored_final,
                "answers": dict(Counter(f"{ph}:{s}" for s, ph in results)),
                "ready_during": dict(Counter(ready_during)),
            }
        finally:
            relay.close()
        # Redis outage
        fake.reset()
        rrelay = TcpRelay(*REDIS)
        try:
            env = {
                "OMNI_DATABASE_URL": url,
                "OMNI_REDIS_URL": f"redis://127.0.0.1:{rrelay.port}/13",
            }
            before_rows = pg_count(url, "SELECT COUNT(*) FROM requests")
            proxy = start(config, env)
            stop, results, phase = threading.Event(), [], ["before"]
            ts = _load(proxy, stop, results, phase)
            time.sleep(3)
            phase[0] = "outage"
            rrelay.cut()
            time.sleep(ARGS.outage_s / 2)
            rrelay.restore()
            phase[0] = "after"
            time.sleep(5)
            stop.set()
            for th in ts:
                th.join(30)
            calls = len(fake.requests_to("/chat/completions"))
            proxy.stop()
            stored = pg_count(url, "SELECT COUNT(*) FROM requests") - before_rows
            out["redis"] = {
                "outage_s": ARGS.outage_s / 2,
                "provider_calls": calls,
                "records": stored,
                "lost": calls - stored,
                "answers": dict(Counter(f"{ph}:{s}" for s, ph in results)),
                "tracebacks_in_log": tracebacks(proxy.read_log()),
            }
        finally:
            rrelay.close()
    return out


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "fuzz": s_fuzz,
    "poison": s_poison,
    "key_echo": s_key_echo,
    "admission": s_admission,
    "connections": s_connections,
    "heavy_body": s_heavy_body,
    "bare_500s": s_bare_500s,
    "hostile_upstream": s_hostile_upstream,
    "new_key": s_new_key,
    "chain": s_chain,
    "kill": s_kill,
    "outages": s_outages,
}


def main() -> int:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--fuzz-seconds", type=float, default=150)
    ap.add_argument("--fuzz-max", type=int, default=20_000)
    ap.add_argument("--fuzz-threads", type=int, default=4)
    ap.add_argument("--sockets", type=int, default=1100)
    ap.add_argument("--bomb-mb", type=int, default=1024)
    ap.add_argument("--chain-turns", type=int, default=20)
    ap.add_argument("--kill-clients", type=int, default=8)
    ap.add_argument("--kill-after", type=float, default=5)
    ap.add_argument("--outage-s", type=float, default=20)
    ap.add_argument("--max-runtime", type=float, default=1500)
    ap.add_argument("--out", default="")
    ARGS = ap.parse_args()
    chosen = [s for s in ARGS.only.split(",") if s] or list(SCENARIOS)
    out_path = Path(ARGS.out or ROOT / "bench" / "results" / f"{datetime.date.today()}-faults.json")
    results: dict[str, Any] = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    }
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        results["commit"] = commit
    except OSError:
        pass

    def save() -> None:
        old = orjson.loads(out_path.read_bytes()) if out_path.exists() else {}
        old.update(results)
        out_path.write_bytes(
            orjson.dumps(old, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        )

    def watchdog() -> None:
        print(f"faults: --max-runtime {ARGS.max_runtime} s reached, stopping", flush=True)
        results["watchdog"] = "stopped at --max-runtime"
        cleanup()
        save()
        os._exit(3)

    timer = threading.Timer(ARGS.max_runtime, watchdog)
    timer.daemon = True
    timer.start()
    try:
        for name in chosen:
            t = time.monotonic()
            print(f"== {name}", flush=True)
            try:
                results[name] = SCENARIOS[name]()
            except Exception:
                results[name] = {"harness_error": traceback.format_exc()[-2000:]}
            results[name]["_seconds"] = round(time.monotonic() - t, 1)
            results[name]["_loadavg_1m"] = os.getloadavg()[0]
            print(
                orjson.dumps(
                    results[name], option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
                ).decode(),
                flush=True,
            )
            save()
            cleanup()
    finally:
        timer.cancel()
        cleanup()
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"faults: figures in {out_path}")
    return 0


def cleanup() -> None:
    for proxy in PROXIES:
        with contextlib.suppress(Exception):
            if proxy.proc is not None and proxy.proc.poll() is None:
                proxy.stop(signal.SIGKILL)
    PROXIES.clear()


if __name__ == "__main__":
    raise SystemExit(main())
