"""A fast fake OpenAI upstream for benchmarks: raw asyncio Protocol, HTTP/1.1 keep-alive, uvloop.

It must never be the bottleneck, so it does almost nothing per request: find the end of the
head, read ``content-length`` bytes, look at ``stream`` and ``model`` in the body, write a
response built once per model. ``POST /v1/chat/completions`` answers

* a fixed ``chat.completion`` JSON body (with ``usage``), after ``--delay-ms`` (default 0);
* with ``"stream": true``: paced SSE (``--chunks`` content chunks ``--gap-ms`` apart, then a
  ``finish_reason`` chunk, a usage chunk when ``stream_options.include_usage`` is set, and
  ``data: [DONE]``), in HTTP/1.1 chunked encoding, each event written (and so sent) on its own.
  Every content chunk's text is ``tok<i>@<monotonic ns when written>``, so a client can see how
  long each chunk took to reach it (CLOCK_MONOTONIC is the same clock in every process).

``GET /v1/models`` and ``GET /health`` answer too. Usage::

    python bench/upstream.py --port 9001 [--cpu 1] [--delay-ms 0] [--chunks 20] [--gap-ms 10]

Prints ``ready <port>`` on stdout once listening. Only binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

import orjson

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency of omni-proxy
    uvloop = None

PROMPT_TOKENS = 12
COMPLETION_TOKENS = 9
CREATED = 1_763_900_000
CONTENT = "Hello! This is a fixed answer from the benchmark upstream."


def _head(status: str, ctype: bytes, length: int | None, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}".encode(), b"content-type: " + ctype, b"server: bench-upstream"]
    if length is None:
        lines.append(b"transfer-encoding: chunked")
    else:
        lines.append(b"content-length: " + str(length).encode())
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _json_response(payload: object, status: str = "200 OK", close: bool = False) -> bytes:
    body = orjson.dumps(payload)
    return _head(status, b"application/json", len(body), close) + body


def completion_body(model: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": CONTENT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
    )


def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-benchstream000000000000000",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _event(payload: bytes) -> bytes:
    """One SSE event as one HTTP chunk."""
    data = b"data: " + payload + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


class Settings:
    def __init__(self, delay_ms: float, chunks: int, gap_ms: float) -> None:
        self.delay = delay_ms / 1000
        self.chunks = max(1, chunks)
        self.gap = gap_ms / 1000
        self._cache: dict[str, bytes] = {}
        self.models = _json_response(
            {
                "object": "list",
                "data": [{"id": "m1", "object": "model", "created": CREATED, "owned_by": "bench"}],
            }
        )
        self.health = _json_response({"status": "ok"})
        self.not_found = _json_response(
            {"error": {"message": "not found", "type": "invalid_request_error", "code": None}},
            "404 Not Found",
        )
        self.bad = _json_response(
            {"error": {"message": "bad request", "type": "invalid_request_error", "code": None}},
            "400 Bad Request",
            close=True,
        )
        self.served = 0

    def completion(self, model: str) -> bytes:
        cached = self._cache.get(model)
        if cached is None:
            body = completion_body(model)
            cached = _head("200 OK", b"application/json", len(body), False) + body
            if len(self._cache) < 1000:
                self._cache[model] = cached
        return cached


class Upstream(asyncio.Protocol):
    __slots__ = ("buf", "busy", "closing", "loop", "s", "t", "timer")

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.t: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy = False
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.t = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        buf = self.buf
        while not self.busy and self.t is not None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                try:
                    length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                except ValueError:
                    self._send(self.s.bad, close=True)
                    return
            elif b"\r\ntransfer-encoding:" in head:
                self._send(self.s.bad, close=True)  # chunked request bodies: not needed here
                return
            total = end + 4 + length
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            self.closing = b"\r\nconnection: close" in head
            self._handle(head, body)

    def _send(self, data: bytes, close: bool = False) -> None:
        if self.t is None:
            return
        self.t.write(data)
        if close or self.closing:
            self.t.close()
            self.t = None

    def _handle(self, head: bytes, body: bytes) -> None:
        self.s.served += 1
        line_end = head.find(b"\r\n")
        method, _, rest = head[: line_end if line_end >= 0 else len(head)].partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if method == b"post" and path.endswith(b"/chat/completions"):
            try:
                req = orjson.loads(body)
            except orjson.JSONDecodeError:
                self._send(self.s.bad, close=True)
                return
            model = req.get("model") or "m1"
            if req.get("stream"):
                opts = req.get("stream_options") or {}
                self._start_stream(str(model), bool(opts.get("include_usage")))
                return
            response = self.s.completion(str(model))
            if self.s.delay > 0:
                self.busy = True
                self.timer = self.loop.call_later(self.s.delay, self._finish_delayed, response)
                return
            self._send(response)
            return
        if method == b"get" and path.endswith(b"/models"):
            self._send(self.s.models)
        elif method == b"get" and path in (b"/health", b"/v1/health"):
            self._send(self.s.health)
        else:
            self._send(self.s.not_found)

    def _finish_delayed(self, response: bytes) -> None:
        self.timer = None
        self.busy = False
        self._send(response)
        self._process()

    # -- paced SSE ---------------------------------------------------------------------
    def _start_stream(self, model: str, include_usage: bool) -> None:
        self.busy = True
        if self.t is not None:
            self.t.write(_head("200 OK", b"text/event-stream", None, False))
        first = 0.0 if self.s.delay <= 0 else self.s.delay
        self.timer = self.loop.call_later(first, self._stream_step, model, include_usage, 0)

    def _stream_step(self, model: str, include_usage: bool, i: int) -> None:
        self.timer = None
        if self.t is None:
            return
        delta: dict = {"content": f"tok{i}@{time.monotonic_ns()} "}
        if i == 0:
            delta = {"role": "assistant", **delta}
        out = _event(orjson.dumps(_chunk(model, delta)))
        if i + 1 < self.s.chunks:
            self.t.write(out)
            self.timer = self.loop.call_later(
                self.s.gap, self._stream_step, model, include_usage, i + 1
            )
            return
        out += _event(orjson.dumps(_chunk(model, {}, "stop")))
        if include_usage:
            usage = {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": self.s.chunks,
                "total_tokens": PROMPT_TOKENS + self.s.chunks,
            }
            final = {**_chunk(model, {}), "choices": [], "usage": usage}
            out += _event(orjson.dumps(final))
        out += _event(b"[DONE]") + b"0\r\n\r\n"
        self.busy = False
        self._send(out)
        self._process()


def pin(cpu: str | None) -> None:
    if cpu and hasattr(os, "sched_setaffinity"):
        cpus = {int(c) for c in cpu.split(",") if c.strip()}
        os.sched_setaffinity(0, cpus & os.sched_getaffinity(0) or os.sched_getaffinity(0))


async def serve(port: int, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Upstream(settings), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"ready {bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--cpu", default=None, help="pin to these CPUs, e.g. '1' or '0,1'")
    p.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        help="wait before a JSON answer / before the first SSE chunk",
    )
    p.add_argument("--chunks", type=int, default=20, help="content chunks per stream")
    p.add_argument("--gap-ms", type=float, default=10.0, help="gap between content chunks")
    args = p.parse_args(argv)
    pin(args.cpu)
    settings = Settings(args.delay_ms, args.chunks, args.gap_ms)
    factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args.port, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
