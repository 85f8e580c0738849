"""Sustained load: a bounded soak at high concurrency, with faults and impatient clients.

``OMNI_SOAK_SECONDS`` (default 45, to keep CI within minutes; the issue's "few minutes" is
``OMNI_SOAK_SECONDS=180``) of 32 concurrent clients against a real proxy process: half the
requests stream, 1% of upstream calls fail (HTTP 500/503/429, resets, half-written JSON,
a 200 with an error body, time-outs), and 5% of streaming clients hang up mid-stream. The
config always has a fallback model, so the proxy must answer every request itself: zero
5xx. Memory (VmRSS) and open file descriptors must stay flat, and every request id a client
saw — hung-up streams included — must be in the ``requests`` table exactly once.

The figures are printed (``-s``) and written to ``/tmp/omni-soak.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import (
    AUTH,
    UPSTREAM_KEY,
    chat_body,
    close_wait,
    eventually,
    snapshot,
    sqlite_rows,
    sse_events,
)

#: Long-running (outage, soak, many processes, 1M rows): `-m "not slow"` skips them.
pytestmark = pytest.mark.slow

SOAK_S = float(os.environ.get("OMNI_SOAK_SECONDS") or 45)
CLIENTS = int(os.environ.get("OMNI_SOAK_CLIENTS") or 32)
FAULT_RATE = 0.01
LEAVE_RATE = 0.05
WARMUP_S = min(8.0, SOAK_S / 4)
REPORT = Path("/tmp/omni-soak.json")

FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 500}),
    ("status", {"status": 503}),
    ("status", {"status": 429, "retry_after": 1}),
    ("reset", {}),
    ("half_json", {}),
    ("error_200", {}),
    ("timeout", {"delay_s": 5}),
]


def soak_config(fake: FakeOpenAI) -> dict[str, Any]:
    return {
        "providers": {
            "up": {
                "plugin": "openai",
                "base_url": fake.base_url,
                "api_key": UPSTREAM_KEY,
                "timeout_s": 1.0,
            }
        },
        "models": [
            {
                "name": "primary",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.6,
                "strengths": ["chat"],
            },
            # Never faulted: every failure of the primary has somewhere to go.
            {
                "name": "backup",
                "provider": "up",
                "model": "gpt-4o",
                "cost_input": 2.5,
                "cost_output": 10,
                "strengths": ["chat"],
            },
        ],
        "routing": {"fallback_model": "backup", "deadline_s": 10},
    }


class Soak:
    def __init__(self, proxy: ProxyProcess, fake: FakeOpenAI) -> None:
        self.proxy = proxy
        self.fake = fake
        self.rng = random.Random(20261123)
        self.results: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.queued_faults = 0
        self.samples: list[tuple[float, dict[str, int]]] = []

    async def one(self, client: httpx.AsyncClient, n: int, i: int) -> None:
        stream = self.rng.random() < 0.5
        leave = stream and self.rng.random() < LEAVE_RATE
        if self.rng.random() < FAULT_RATE:
            mode, kw = self.rng.choice(FAULTS)
            self.fake.fail_next(mode, model="gpt-4o-mini", **kw)  # type: ignore[arg-type]
            self.queued_faults += 1
        text = f"soak {n} {i} lorem ipsum dolor sit amet"
        body = chat_body("primary", text, stream=stream)
        started = time.monotonic()
        result: dict[str, Any] = {"stream": stream, "left": leave}
        try:
            async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                result["id"] = r.headers.get("x-request-id")
                result["status"] = r.status_code
                if leave:
                    lines = 0
                    async for _ in r.aiter_lines():
                        lines += 1
                        if lines >= 2:
                            break
                else:
                    raw = await r.aread()
        except httpx.HTTPError as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        result["elapsed"] = time.monotonic() - started
        if not leave and r.status_code == 200:
            if stream:
                events = sse_events(raw.decode())
                done = events[-1] == "[DONE]"
                got = "".join(
                    c["choices"][0]["delta"].get("content") or ""
                    for c in events[:-1]
                    if c.get("choices")
                )
            else:
                done, got = True, orjson.loads(raw)["choices"][0]["message"]["content"]
            result["complete"] = done and got == f"Echo: {text}"
        self.results.append(result)

    async def client(self, client: httpx.AsyncClient, n: int, stop_at: float) -> None:
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            await self.one(client, n, i)

    async def sampler(self, pid: int, stop_at: float) -> None:
        start = time.monotonic()
        while time.monotonic() < stop_at:
            self.samples.append((round(time.monotonic() - start, 1), snapshot(pid)))
            await asyncio.sleep(2)

    async def run(self, seconds: float) -> None:
        assert self.proxy.proc is not None
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(
            base_url=self.proxy.root, headers=AUTH, timeout=30, limits=limits
        ) as client:
            stop_at = time.monotonic() + seconds
            await asyncio.gather(
                self.sampler(self.proxy.proc.pid, stop_at),
                *(self.client(client, n, stop_at) for n in range(CLIENTS)),
            )


def test_soak(tmp_path: Path) -> None:
    fake_chunks = FakeOpenAI(chunk_delay_s=0.005)  # streams take a moment: room to hang up
    with fake_chunks, ProxyProcess(tmp_path, soak_config(fake_chunks)) as proxy:
        assert proxy.proc is not None
        pid = proxy.proc.pid
        soak = Soak(proxy, fake_chunks)
        asyncio.run(soak.run(WARMUP_S))  # pools, caches and allocator reach working size
        warm_results = len(soak.results)
        assert eventually(lambda: not fake_chunks._transports, timeout=10)
        start = snapshot(pid, fake_chunks.port)
        asyncio.run(soak.run(SOAK_S))
        assert eventually(lambda: not fake_chunks._transports, timeout=10)
        # Every client connection the proxy was handed is closed again.
        assert eventually(lambda: close_wait(pid, local_port=proxy.port) == 0, timeout=10)
        time.sleep(0.5)
        end = snapshot(pid, fake_chunks.port, proxy.port)
        unused = sum(entry.remaining for entry in fake_chunks._queue)
        faults = soak.queued_faults - unused

        results = soak.results
        ids = [r["id"] for r in results]

        def all_recorded() -> bool:
            return len(sqlite_rows(proxy, ids)) == len(set(ids))

        eventually(all_recorded, timeout=20, step=0.5)
        rows = sqlite_rows(proxy, ids)
        every_row = sqlite_rows(proxy)
        statuses = Counter(r["status"] for r in results)
        row_statuses = Counter(row["status"] for row in rows.values())
        five_xx = sum(n for s, n in statuses.items() if s >= 500)
        row_5xx = sum(n for s, n in row_statuses.items() if s >= 500)
        incomplete = [r for r in results if not r["left"] and not r.get("complete")]
        left = sum(1 for r in results if r["left"])
        figures = {
            "seconds": SOAK_S,
            "warmup_seconds": WARMUP_S,
            "clients": CLIENTS,
            "requests_sent": len(results),
            "requests_in_soak": len(results) - warm_results,
            "streaming": sum(1 for r in results if r["stream"]),
            "clients_left_mid_stream": left,
            "faults_injected": faults,
            "requests_recorded": len(rows),
            "rows_in_table": len(every_row),
            "client_errors": len(soak.errors),
            "http_5xx": five_xx,
            "recorded_5xx": row_5xx,
            "incomplete_answers": len(incomplete),
            "statuses": dict(statuses),
            "recorded_statuses": dict(row_statuses),
            "rss_kb_start": start["rss_kb"],
            "rss_kb_end": end["rss_kb"],
            "fds_start": start["fds"],
            "fds_end": end["fds"],
            "upstream_conns_end": end["upstream_conns"],
            "close_wait_end": end["close_wait"],
            "threads_start": start["threads"],
            "threads_end": end["threads"],
            "p99_latency_s": sorted(r["elapsed"] for r in results)[int(len(results) * 0.99)],
            "samples": [(t, s["rss_kb"], s["fds"]) for t, s in soak.samples],
        }
        REPORT.write_text(json.dumps(figures, indent=2))
        print("\nsoak figures: " + json.dumps({k: v for k, v in figures.items() if k != "samples"}))

        assert not soak.errors, soak.errors[:5]
        assert five_xx == 0 and row_5xx == 0, (statuses, row_statuses)
        assert set(statuses) == {200}, statuses
        assert not incomplete, incomplete[:3]
        assert faults >= 1 and left >= 1  # the soak really did inject both
        # Exactly once: every id the clients saw has a row (the id is the primary key), and
        # nothing else was recorded.
        assert len(set(ids)) == len(ids)
        assert set(rows) == set(ids) and len(every_row) == len(ids)
        for r in results:
            row = rows[r["id"]]
            if r["left"]:
                assert row["status"] in (200, 499) and row["stream"]
            else:
                assert row["status"] == 200, row
        # Flat: memory and descriptors end where the warmed-up process started.
        growth_mb = (end["rss_kb"] - start["rss_kb"]) / 1024
        assert growth_mb < max(24.0, start["rss_kb"] / 1024 * 0.25), figures
        assert end["fds"] <= start["fds"] + 12, figures
        assert end["threads"] <= start["threads"] + 2, figures
        # Idle pooled upstream connections the upstream timed out wait in CLOSE_WAIT until
        # the pool next looks at them: bounded by the pool, never by the request count.
        assert end["close_wait"] <= CLIENTS and end["upstream_conns"] <= CLIENTS, figures
