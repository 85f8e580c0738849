"""A small asyncio load driver, used by ``bench/run.py`` only when ``wrk`` is not installed.

Raw ``asyncio.Protocol`` connections on uvloop, HTTP/1.1 keep-alive, one request in flight per
connection, latency per request in microseconds. Prints one line ``BENCHJSON {...}`` with the
same fields ``run.py`` reads from ``wrk``'s Lua ``done()`` hook. ``run.py`` measures it against
the direct upstream first, so the report shows whether it could keep up.

    python bench/loadgen.py --url http://127.0.0.1:9001/v1/chat/completions \
        --body '{"model":"m1","messages":[...]}' -c 16 -d 5 [--header 'authorization: Bearer x']
        [--max-requests N] [--cpu 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import orjson

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


class Driver:
    def __init__(self, host: str, port: int, request: bytes, limit: int | None) -> None:
        self.host, self.port, self.request, self.limit = host, port, request, limit
        self.running = True
        self.sent = 0
        self.done = 0
        self.status_errors = 0
        self.socket_errors = 0
        self.hist: Counter[int] = Counter()
        self.idle = asyncio.Event()
        self.open = 0

    def may_send(self) -> bool:
        return self.running and (self.limit is None or self.sent < self.limit)


class Conn(asyncio.Protocol):
    def __init__(self, d: Driver) -> None:
        self.d = d
        self.buf = bytearray()
        self.t: asyncio.Transport | None = None
        self.t0 = 0
        self.waiting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]
        self.d.open += 1
        self.send()

    def send(self) -> None:
        if self.t is None or not self.d.may_send():
            if self.t is not None:
                self.t.close()
            return
        self.d.sent += 1
        self.waiting = True
        self.t0 = time.perf_counter_ns()
        self.t.write(self.d.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting:
            self.d.socket_errors += 1
        self.t = None
        self.d.open -= 1
        if self.d.open == 0:
            self.d.idle.set()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.waiting:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                total = end + 4 + length
                if len(self.buf) < total:
                    return
            else:  # chunked: the terminating zero-size chunk ends the body
                term = self.buf.find(b"\r\n0\r\n\r\n", end)
                if term < 0:
                    return
                total = term + 7
            latency_us = (time.perf_counter_ns() - self.t0) // 1000
            del self.buf[:total]
            self.waiting = False
            d = self.d
            d.done += 1
            d.hist[int(latency_us)] += 1
            if not head.startswith((b"http/1.1 2", b"http/1.0 2")):
                d.status_errors += 1
            self.send()


async def run(
    url: str, body: bytes, headers: list[str], conns: int, duration: float, limit: int | None
) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    d = Driver(host, port, request, limit)
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    for _ in range(conns):
        try:
            await loop.create_connection(lambda: Conn(d), host, port)
        except OSError:
            d.socket_errors += 1
    loop.call_later(duration, lambda: setattr(d, "running", False))
    if d.open:
        await d.idle.wait()
    elapsed = time.perf_counter() - t0
    values = sorted(d.hist.items())

    def pct(p: float) -> int:
        want, seen = p / 100 * d.done, 0
        for v, c in values:
            seen += c
            if seen >= want:
                return v
        return values[-1][0] if values else 0

    mean = sum(v * c for v, c in values) / d.done if d.done else 0
    return {
        "requests": d.done,
        "duration_us": int(elapsed * 1e6),
        "bytes": 0,
        "errors": {
            "connect": 0,
            "read": d.socket_errors,
            "write": 0,
            "status": d.status_errors,
            "timeout": 0,
        },
        "latency": {
            "min": values[0][0] if values else 0,
            "max": values[-1][0] if values else 0,
            "mean": mean,
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "p999": pct(99.9),
        },
        "histogram": [[v, c] for v, c in values],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--header", action="append", default=[])
    p.add_argument("-c", "--connections", type=int, default=16)
    p.add_argument("-d", "--duration", type=float, default=5.0)
    p.add_argument("--max-requests", type=int, default=None)
    p.add_argument("--cpu", default=None)
    args = p.parse_args(argv)
    if args.cpu and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(
            run(
                args.url,
                args.body.encode(),
                args.header,
                args.connections,
                args.duration,
                args.max_requests,
            )
        )
    sys.stdout.write("BENCHJSON " + orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
