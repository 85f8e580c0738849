"""Pieces the fault harness builds its scenarios from: a TCP relay it can cut (to take
PostgreSQL or Redis away from one proxy without touching the shared servers), a hostile
upstream (usage, schema and size faults), and small readers of rows, logs and metrics."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import socket
import threading
import time
import zlib
from typing import Any

import httpx

from tests.conftest import MASTER_KEY

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
UPSTREAM_KEY = "sk-upstream-test"


# -- a cuttable TCP relay ----------------------------------------------------------------------
class TcpRelay:
    """127.0.0.1:<port> -> target. ``cut()`` closes every relayed connection and refuses new
    ones (accept, then close at once); ``restore()`` relays again. Threads, no asyncio, so it
    keeps working while the harness blocks."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.stopped = False
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
            with self._lock:
                self._socks.discard(s)

    def cut(self) -> None:
        self.down = True
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.stopped = True
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()


# -- a hostile OpenAI-compatible upstream ------------------------------------------------------
def _bomb(mb: int) -> bytes:
    """``mb`` MiB of zeros, gzipped (about 1 KB per MiB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    return b"".join(comp.compress(zeros) for _ in range(mb)) + comp.flush()


class HostileHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``POST .../chat/completions`` by the upstream model name it was asked for:
    ``ok``, ``huge-usage`` (2^64 tokens), ``negative-usage``, ``malformed`` (choices and
    usage of the wrong type), ``bomb`` (a gzip bomb), ``huge-body`` (a 100 MB 200),
    ``endless-line`` (an SSE event line that never ends). Counts calls per model."""

    protocol_version = "HTTP/1.1"
    calls: dict[str, int] = {}
    lock = threading.Lock()
    bomb = b""

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, obj: Any, status: int = 200) -> None:
        raw = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        model = str(body.get("model", ""))
        with self.lock:
            self.calls[model] = self.calls.get(model, 0) + 1
        usage: Any = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        choices: Any = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "fine"},
                "finish_reason": "stop",
            }
        ]
        try:
            if model == "huge-usage":
                usage = {"prompt_tokens": 2**64, "completion_tokens": 2**64, "total_tokens": 2**65}
            elif model == "negative-usage":
                usage = {
                    "prompt_tokens": -(10**9),
                    "completion_tokens": -(10**9),
                    "total_tokens": -2,
                }
            elif model == "malformed":
                choices, usage = "not-a-list", {"prompt_tokens": "many"}
            elif model == "bomb":
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-encoding", "gzip")
                self.send_header("content-length", str(len(self.bomb)))
                self.end_headers()
                self.wfile.write(self.bomb)
                return
            elif model == "huge-body":
                size = 100 << 20
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(size))
                self.end_headers()
                self.wfile.write(b'{"id": "' + b"a" * (size - 10) + b'"}')
                return
            elif model == "endless-line":
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(b"data: ")
                for _ in range(400):
                    self.wfile.write(b"a" * (1 << 20))
                return
            self._json(
                {
                    "id": "chatcmpl-hostile",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": choices,
                    "usage": usage,
                }
            )
        except OSError:
            self.close_connection = True


class HostileUpstream:
    def __init__(self, bomb_mb: int = 1024) -> None:
        HostileHandler.bomb = _bomb(bomb_mb)
        HostileHandler.calls = {}
        self.bomb_bytes = len(HostileHandler.bomb)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileHandler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def calls(self) -> dict[str, int]:
        return dict(HostileHandler.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- readers -----------------------------------------------------------------------------------
def pg_count(url: str, sql: str, params: Any = ()) -> int:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def metric(root: str, name: str, headers: dict[str, str] | None = None) -> float:
    """Sum of every series of ``name`` on ``/metrics`` (0 if absent)."""
    text = httpx.get(root + "/metrics", headers=headers or AUTH, timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head = line.split(" ")[0]
            if head == name or head.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


def tracebacks(log: str) -> int:
    return log.count("Traceback")


def gzip_ok(data: bytes) -> bool:
    with contextlib.suppress(Exception):
        gzip.decompress(data[:10])
        return True
    return False
