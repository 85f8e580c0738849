"""Helpers for the reliability tests (faults, infrastructure, soak, security).

Not a test module: resource counters read from ``/proc`` (open fds, TCP connections by
state and peer, RSS, threads), the proxy's ``requests`` rows, SSE parsing and the CONTRACT.md
error-shape check.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import MASTER_KEY, ProxyProcess

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
UPSTREAM_KEY = "sk-upstream-test"

# /proc/net/tcp states
ESTABLISHED, CLOSE_WAIT = "01", "08"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def chat_body(model: str, text: str = "hello there", *, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": user(text)}
    if stream:
        body["stream"] = True
    return body


# -- process resources -----------------------------------------------------------------------
def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def tcp_connections(pid: int) -> list[tuple[str, int, int]]:
    """(state, local port, remote port) of every TCP socket the process holds."""
    inodes = _socket_inodes(pid)
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) < 10 or parts[9] not in inodes:
                    continue
                local_port = int(parts[1].rsplit(":", 1)[1], 16)
                remote_port = int(parts[2].rsplit(":", 1)[1], 16)
                out.append((parts[3], local_port, remote_port))
    return out


def connections_to(pid: int, port: int, state: str = ESTABLISHED) -> int:
    return sum(1 for st, _, remote in tcp_connections(pid) if remote == port and st == state)


def close_wait(pid: int, *, local_port: int | None = None, remote_port: int | None = None) -> int:
    """Sockets the peer has closed but the process has not (a leak if they pile up; an idle
    pooled upstream connection the upstream timed out sits here until it is next checked)."""
    return sum(
        1
        for st, local, remote in tcp_connections(pid)
        if st == CLOSE_WAIT
        and (local_port is None or local == local_port)
        and (remote_port is None or remote == remote_port)
    )


def status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def rss_kb(pid: int) -> int:
    return status_field(pid, "VmRSS")


def threads(pid: int) -> int:
    return status_field(pid, "Threads")


def snapshot(
    pid: int, upstream_port: int | None = None, server_port: int | None = None
) -> dict[str, int]:
    """Open fds, RSS, threads and CLOSE_WAIT sockets; with ``upstream_port`` the established
    connections to it, with ``server_port`` the CLOSE_WAIT sockets of the proxy's clients."""
    snap = {
        "fds": fd_count(pid),
        "rss_kb": rss_kb(pid),
        "threads": threads(pid),
        "close_wait": close_wait(pid),
    }
    if upstream_port is not None:
        snap["upstream_conns"] = connections_to(pid, upstream_port)
    if server_port is not None:
        snap["client_close_wait"] = close_wait(pid, local_port=server_port)
    return snap


def eventually(check: Callable[[], bool], timeout: float = 10.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# -- records ---------------------------------------------------------------------------------
def sqlite_path(proxy: ProxyProcess) -> Path:
    return Path(str(proxy.env["OMNI_DATABASE_URL"]).removeprefix("sqlite:///"))


def sqlite_rows(proxy: ProxyProcess, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """``requests`` rows by id (all, or just ``ids``), read straight from the SQLite file."""
    with contextlib.closing(sqlite3.connect(sqlite_path(proxy), timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        if ids is None:
            rows = conn.execute("SELECT * FROM requests").fetchall()
        else:
            wanted = list(ids)
            rows = []
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ",".join("?" * len(part))
                rows += conn.execute(f"SELECT * FROM requests WHERE id IN ({marks})", part)
    return {r["id"]: dict(r) for r in rows}


def id_counts(ids: Iterable[str]) -> Counter[str]:
    return Counter(ids)


def wait_for_rows(
    fetch: Callable[[list[str]], dict[str, dict[str, Any]]], ids: list[str], timeout: float = 15
) -> dict[str, dict[str, Any]]:
    """Poll until every id has a row (the recorder flushes every 0.2 s); return the rows."""
    rows: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = fetch(ids)
        if all(i in rows for i in ids):
            return rows
        time.sleep(0.2)
    return rows


# -- wire shapes ------------------------------------------------------------------------------
def assert_contract_error(status: int, body: Any, request_id: str | None = None) -> None:
    """CONTRACT.md: ``{"error": {message, type, param, code}, "request_id"}``, no traceback."""
    assert isinstance(body, dict), body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert "Traceback" not in orjson.dumps(body).decode()
    if request_id is not None:
        assert body["request_id"] == request_id, body


def sse_events(text: str) -> list[Any]:
    """The JSON payload of each ``data:`` line (``[DONE]`` as the string)."""
    out: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out
