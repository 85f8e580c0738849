"""Failing upstreams: every fault ends in a fallback answer or a clear CONTRACT.md error.

A real ``omni-proxy serve`` process talks to the fake OpenAI upstream, which fails on demand:
HTTP 500/503, 429 storms with ``retry-after``, time-outs, connection resets, half-written
JSON, 200 with an error body, streams that stop, break or stall mid-way. For each we check
what the client got, that the attempt was recorded (``requests.fallback_count`` and
``status`` in the proxy's SQLite file), that nothing ran past ``routing.deadline_s``, and —
over bursts of mixed faults — that the proxy leaks no sockets, file descriptors or upstream
requests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ProxyProcess, free_port
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import (
    AUTH,
    UPSTREAM_KEY,
    assert_contract_error,
    chat_body,
    close_wait,
    eventually,
    snapshot,
    sqlite_rows,
    sse_events,
    wait_for_rows,
)

DEADLINE_S = 3.0
TIMEOUT_S = 1.0  # the "up" provider's read timeout: a hung upstream costs one second

# name -> (fake mode, Behaviour fields, stream?, (attempt status, attempt codes))
FALLBACK_CASES: dict[str, tuple[str, dict[str, Any], bool, tuple[int, set[str | None]]]] = {
    "http500": ("status", {"status": 500}, False, (502, {"upstream_error"})),
    "http503": ("status", {"status": 503}, False, (503, {"upstream_overloaded"})),
    "http429": ("status", {"status": 429, "retry_after": 1}, False, (429, {"rate_limit_exceeded"})),
    "timeout": ("timeout", {"delay_s": 10}, False, (504, {"upstream_timeout"})),
    "reset": ("reset", {}, False, (502, {"upstream_disconnected"})),
    "halfjson": ("half_json", {}, False, (502, {"upstream_bad_response"})),
    "error200": ("error_200", {}, False, (502, {"upstream_error", None})),
    "stream500": ("status", {"status": 500}, True, (502, {"upstream_error"})),
    "streamreset": ("reset", {}, True, (502, {"upstream_disconnected"})),
    "streamhalfjson": ("half_json", {}, True, (502, {"upstream_bad_response", "upstream_error"})),
    "streamerror200": ("error_200", {}, True, (502, {"upstream_error", None})),
    "streamempty": ("stream_cut", {"after": 0}, True, (502, {"upstream_stream_cut"})),
    "streamerrorfirst": ("stream_error", {"after": 0}, True, (502, {"upstream_error", None})),
    "streamstallfirst": ("stall", {"after": 0, "delay_s": 10}, True, (504, {"upstream_timeout"})),
}

# name -> (fake mode, Behaviour fields, expected error event code)
MIDSTREAM_CASES: dict[str, tuple[str, dict[str, Any], set[str | None]]] = {
    "cut": ("stream_cut", {"after": 3}, {"upstream_stream_cut"}),
    "abort": ("stream_cut", {"after": 3, "abort": True}, {"upstream_disconnected"}),
    "error": ("stream_error", {"after": 3}, {"upstream_error", None}),
    "stall": ("stall", {"after": 3, "delay_s": 10}, {"upstream_timeout"}),
}


def _model(name: str, upstream: str, provider: str = "up", cost: float = 5.0) -> dict[str, Any]:
    return {
        "name": name,
        "provider": provider,
        "model": upstream,
        "cost_input": cost,
        "cost_output": cost,
        "avg_latency_ms": 800,
        "strengths": [],
    }


def faults_config(fake: FakeOpenAI) -> dict[str, Any]:
    def provider(timeout: float) -> dict[str, Any]:
        return {
            "plugin": "openai",
            "base_url": fake.base_url,
            "api_key": UPSTREAM_KEY,
            "timeout_s": timeout,
            "connect_timeout_s": 1,
        }

    models = [
        # The cheapest, fastest chat model, on a provider of its own: first in line after
        # whatever was asked for (backups prefer another provider than the one that failed).
        {
            **_model("backup", "gpt-4o-mini", provider="spare", cost=0.1),
            "avg_latency_ms": 100,
            "strengths": ["chat"],
        },
        *(_model(f"p-{name}", f"m-{name}") for name in FALLBACK_CASES),
        *(_model(f"mid-{name}", f"mid-{name}") for name in MIDSTREAM_CASES),
        # Behind a provider with a long read timeout: only the deadline can end a stall.
        _model("slow", "m-slow", provider="slowup"),
        _model("slow2", "m-slow2", provider="slowup"),
        # Nothing listens there: every connection is refused.
        _model("unreachable", "m-unreachable", provider="down"),
    ]
    closed_port = free_port()
    return {
        "providers": {
            "up": provider(TIMEOUT_S),
            "spare": provider(TIMEOUT_S),
            "slowup": provider(30),
            "down": {**provider(TIMEOUT_S), "base_url": f"http://127.0.0.1:{closed_port}/v1"},
        },
        "models": models,
        "routing": {
            "fallback_model": "backup",
            "max_attempts": 3,
            "deadline_s": DEADLINE_S,
            "stream_idle_s": DEADLINE_S,
        },
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("faults"), faults_config(fake)) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_fake(fake: FakeOpenAI) -> None:
    fake.clear_behaviour()
    fake.requests.clear()


def post(proxy: ProxyProcess, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/chat/completions", headers=AUTH, json=body, timeout=timeout
    )


def rows_for(proxy: ProxyProcess, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = wait_for_rows(lambda wanted: sqlite_rows(proxy, wanted), ids)
    missing = [i for i in ids if i not in rows]
    assert not missing, f"not recorded: {missing}"
    return rows


# -- one fault, one request ------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FALLBACK_CASES))
def test_fault_before_the_first_byte_falls_back(
    proxy: ProxyProcess, fake: FakeOpenAI, name: str
) -> None:
    mode, kw, stream, (status, codes) = FALLBACK_CASES[name]
    fake.set_behaviour(f"m-{name}", mode, **kw)  # type: ignore[arg-type]
    started = time.monotonic()
    r = post(proxy, chat_body(f"p-{name}", "are you there", stream=stream))
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert elapsed < DEADLINE_S, f"{name} took {elapsed:.2f}s"
    rid = r.headers["x-request-id"]
    if stream:
        events = sse_events(r.text)
        assert events[-1] == "[DONE]", events[-3:]
        text = "".join(
            (c["choices"][0]["delta"].get("content") or "") for c in events[:-1] if c.get("choices")
        )
        omni = next(e["omni"] for e in events[:-1] if "omni" in e)
    else:
        text = r.json()["choices"][0]["message"]["content"]
        omni = r.json()["omni"]
    assert text == "Echo: are you there"
    assert omni["model_used"] == "backup" == r.headers["x-omni-model"]
    (attempt,) = omni["fallbacks"]
    assert attempt["model"] == f"p-{name}"
    assert attempt["status"] == status and attempt["code"] in codes, attempt
    # The faulty model was really asked, then the backup.
    asked = [q["json"]["model"] for q in fake.requests_to("chat/completions")]
    assert asked == [f"m-{name}", "gpt-4o-mini"], asked
    row = rows_for(proxy, [rid])[rid]
    assert row["status"] == 200 and row["fallback_count"] == 1
    assert row["model_used"] == "backup" and bool(row["stream"]) == stream


def test_an_unreachable_upstream_falls_back(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    for stream in (False, True):
        r = post(proxy, chat_body("unreachable", "anyone?", stream=stream))
        assert r.status_code == 200, r.text
        omni = r.json()["omni"] if not stream else sse_events(r.text)[-2]["omni"]
        assert omni["model_used"] == "backup"
        (attempt,) = omni["fallbacks"]
        assert (attempt["status"], attempt["code"]) == (502, "upstream_unreachable"), attempt
        row = rows_for(proxy, [r.headers["x-request-id"]])[r.headers["x-request-id"]]
        assert row["status"] == 200 and row["fallback_count"] == 1


@pytest.mark.parametrize("name", list(MIDSTREAM_CASES))
def test_stream_failing_midway_ends_with_an_error_event(
    proxy: ProxyProcess, fake: FakeOpenAI, name: str
) -> None:
    """After the first byte there is no falling back: the client gets what came, then an
    error event (never a silent truncation, never a hang), and the failure is recorded."""
    mode, kw, codes = MIDSTREAM_CASES[name]
    fake.set_behaviour(f"mid-{name}", mode, **kw)  # type: ignore[arg-type]
    started = time.monotonic()
    r = post(proxy, chat_body(f"mid-{name}", "one two three four five six", stream=True))
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    assert elapsed < DEADLINE_S + 0.5, f"{name} took {elapsed:.2f}s"
    events = sse_events(r.text)
    assert len(events) >= 2 and "[DONE]" not in events
    assert all("choices" in e for e in events[:-1])  # the chunks that came, relayed
    error = events[-1]["error"]
    assert error["code"] in codes and error["message"], error
    rid = r.headers["x-request-id"]
    row = rows_for(proxy, [rid])[rid]
    expected = 504 if name == "stall" else 502
    assert row["status"] == expected and row["fallback_count"] == 1 and row["stream"]
    assert row["model_used"] is None


def test_stall_past_the_deadline_is_cut_at_the_deadline(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    """Behind a provider whose own read timeout (30 s) is far away, only the proxy can end a
    stall: mid-stream ``stream_idle_s`` (error event), before any answer ``deadline_s`` (504,
    no second attempt)."""
    fake.set_behaviour("m-slow", "stall", after=2, delay_s=20)
    started = time.monotonic()
    r = post(proxy, chat_body("slow", "a b c d e f", stream=True))
    elapsed = time.monotonic() - started
    assert DEADLINE_S - 0.2 < elapsed < DEADLINE_S + 1.0, elapsed
    events = sse_events(r.text)
    assert events[-1]["error"]["code"] == "timeout"

    fake.set_behaviour("m-slow2", "timeout", delay_s=20)
    fake.set_behaviour("gpt-4o-mini", "timeout", delay_s=20)
    started = time.monotonic()
    r = post(proxy, chat_body("slow2", "hello"))
    elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text
    assert elapsed < DEADLINE_S + 1.0, elapsed
    assert_contract_error(r.status_code, r.json(), r.headers["x-request-id"])
    assert r.json()["error"]["code"] == "timeout"
    row = rows_for(proxy, [r.headers["x-request-id"]])[r.headers["x-request-id"]]
    assert row["status"] == 504 and row["fallback_count"] >= 1


# -- storms and bursts, on a proxy of their own (they trip the circuit breakers) -------------
@pytest.fixture
def storm_proxy(fake: FakeOpenAI, tmp_path: Path) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path, faults_config(fake)) as running:
        yield running


async def _send(
    client: httpx.AsyncClient, body: dict[str, Any], *, leave_after: int | None = None
) -> dict[str, Any]:
    """One request; ``leave_after`` chunks in, a streaming client hangs up."""
    started = time.monotonic()
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        rid = r.headers["x-request-id"]
        raw = b""
        if leave_after is not None:
            seen = 0
            async for _ in r.aiter_lines():
                seen += 1
                if seen >= leave_after:
                    break
        else:
            raw = await r.aread()
    return {
        "id": rid,
        "status": r.status_code,
        "body": raw,
        "left": leave_after is not None,
        "elapsed": time.monotonic() - started,
        "retry_after": r.headers.get("retry-after"),
    }


async def _burst(
    proxy: ProxyProcess, bodies: list[tuple[dict[str, Any], int | None]], concurrency: int
) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=proxy.root, headers=AUTH, timeout=30, limits=limits
    ) as client:

        async def one(body: dict[str, Any], leave: int | None) -> dict[str, Any]:
            async with gate:
                return await _send(client, body, leave_after=leave)

        return await asyncio.gather(*(one(b, leave) for b, leave in bodies))


def test_a_429_storm_falls_back_then_ends_in_a_clear_429(
    storm_proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    # The model asked for is rate limited: everyone is answered by the backup.
    fake.set_behaviour("m-http429", "status", status=429, retry_after=1)
    bodies = [(chat_body("p-http429", f"storm {i}", stream=i % 2 == 0), None) for i in range(24)]
    results = asyncio.run(_burst(storm_proxy, bodies, concurrency=12))
    assert [r["status"] for r in results] == [200] * 24
    assert all(r["elapsed"] < DEADLINE_S for r in results)
    # Everything is rate limited: a 429 with retry-after, within the deadline, every time.
    fake.set_behaviour("*", "status", status=429, retry_after=1)
    bodies = [(chat_body("backup", f"storm {i}"), None) for i in range(16)]
    results = asyncio.run(_burst(storm_proxy, bodies, concurrency=8))
    for r in results:
        assert r["status"] == 429, r
        assert r["retry_after"] is not None and float(r["retry_after"]) >= 1
        assert r["elapsed"] < DEADLINE_S + 0.5, r["elapsed"]
        body = orjson.loads(r["body"])
        assert_contract_error(429, body, r["id"])
        assert body["error"]["code"] == "rate_limit_exceeded"
    rows = rows_for(storm_proxy, [r["id"] for r in results])
    assert all(row["status"] == 429 and row["fallback_count"] >= 1 for row in rows.values())


def test_every_upstream_failing_is_a_502_with_every_attempt_recorded(
    storm_proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    fake.set_behaviour("*", "status", status=500)
    r = post(storm_proxy, chat_body("p-http500", "x"))
    assert r.status_code == 502
    assert_contract_error(502, r.json(), r.headers["x-request-id"])
    assert "attempts failed" in r.json()["error"]["message"]
    assert len(fake.requests) == 3  # routing.max_attempts
    row = rows_for(storm_proxy, [r.headers["x-request-id"]])[r.headers["x-request-id"]]
    assert row["status"] == 502 and row["fallback_count"] == 3


MIXED_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 500}),
    ("status", {"status": 503}),
    ("status", {"status": 429, "retry_after": 1}),
    ("timeout", {"delay_s": 5}),
    ("reset", {}),
    ("half_json", {}),
    ("error_200", {}),
    ("stream_cut", {"after": 2}),
    ("stream_cut", {"after": 2, "abort": True}),
    ("stream_error", {"after": 2}),
    ("stall", {"after": 2, "delay_s": 5}),
]


BURST_PRIMARIES = [f"p-{name}" for name in FALLBACK_CASES]


def _mixed_burst(
    proxy: ProxyProcess, fake: FakeOpenAI, n: int, concurrency: int, rng: random.Random
) -> tuple[list[dict[str, Any]], int]:
    """``n`` requests spread over many primaries, half streaming, one in 8 leaving mid-stream, and
    faults queued for ~40% of them; returns the results and the faults actually served."""
    bodies: list[tuple[dict[str, Any], int | None]] = []
    for i in range(n):
        stream = i % 2 == 1
        leave = 3 if stream and i % 8 == 1 else None
        model = BURST_PRIMARIES[i % len(BURST_PRIMARIES)]
        bodies.append((chat_body(model, f"burst {i} a b c d e f", stream=stream), leave))
    queued = int(n * 0.4)
    for _ in range(queued):
        mode, kw = rng.choice(MIXED_FAULTS)
        target = "m-" + rng.choice(BURST_PRIMARIES).removeprefix("p-")
        fake.fail_next(mode, model=target, **kw)  # type: ignore[arg-type]
    results = asyncio.run(_burst(proxy, bodies, concurrency))
    # Faults queued for a model the breaker then skipped were never served.
    unused = sum(entry.remaining for entry in fake._queue)
    fake.clear_behaviour()
    return results, queued - unused


def test_bursts_of_mixed_faults_leak_nothing(storm_proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    """Open fds, upstream connections, CLOSE_WAIT sockets, threads and the upstream's
    in-flight requests return to their level after each burst of mixed faults; every
    request is answered (200, or a CONTRACT error for a stream that broke mid-way) and
    recorded once."""
    assert storm_proxy.proc is not None
    pid = storm_proxy.proc.pid
    concurrency = 12
    rng = random.Random(9)
    # Warm up: fill the upstream pool to its working size.
    warm = [(chat_body("backup", f"warm {i}", stream=i % 2 == 0), None) for i in range(24)]
    assert {r["status"] for r in asyncio.run(_burst(storm_proxy, warm, concurrency))} == {200}
    base = snapshot(pid, fake.port)
    seen: list[dict[str, Any]] = []
    snaps = []
    injected = 0
    for _ in range(3):
        results, faults = _mixed_burst(storm_proxy, fake, 48, concurrency, rng)
        injected += faults
        seen += results
        assert eventually(lambda: not fake._transports, timeout=8), "upstream requests left open"
        assert eventually(lambda: close_wait(pid, local_port=storm_proxy.port) == 0, timeout=5)
        snaps.append(snapshot(pid, fake.port))
    print(f"\nfault bursts: {len(seen)} requests, {injected} faults injected; {base=} {snaps=}")
    for snap in snaps:
        # Keep-alive connections to the upstream stay pooled, bounded by the concurrency in
        # each of the two pools in use (the primaries' provider and the backup's).
        assert snap["upstream_conns"] <= 2 * concurrency + 2, snap
        assert snap["fds"] <= base["fds"] + concurrency + 4, (base, snap)
        assert snap["threads"] <= base["threads"] + 2, (base, snap)
        assert snap["close_wait"] <= 2, snap  # at most a pooled one the upstream timed out
    # No growth from one burst to the next: nothing accumulates.
    assert snaps[-1]["fds"] <= snaps[0]["fds"] + 4, snaps
    # Every request: answered in time, with a success or a clear error, and recorded once.
    for r in seen:
        assert r["elapsed"] < DEADLINE_S + 1.0, r
        assert r["status"] == 200, r
    rows = rows_for(storm_proxy, [r["id"] for r in seen])
    assert len(rows) == len({r["id"] for r in seen}) == len(seen)
    for r in seen:
        row = rows[r["id"]]
        if r["left"]:
            assert row["status"] in (200, 499, 502, 504), row
            continue
        events = sse_events(r["body"].decode()) if row["stream"] else None
        if events and "error" in events[-1]:
            assert row["status"] in (502, 504) and row["fallback_count"] >= 1, row
        else:
            assert row["status"] == 200, row


def test_a_steady_stream_may_outlive_the_deadline(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    """``deadline_s`` bounds the wait for an answer, not a healthy stream's length."""
    fake.set_behaviour("gpt-4o-mini", "ok", chunk_delay_s=0.4)
    started = time.monotonic()
    r = post(proxy, chat_body("backup", " ".join(f"w{i}" for i in range(12)), stream=True))
    assert time.monotonic() - started > DEADLINE_S  # it ran past the deadline …
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"  # … and finished normally
    assert not any("error" in e for e in events if isinstance(e, dict))
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
