"""Connections that idle or never finish their head are closed (issue 15: 1,100 such sockets
exhausted the fd limit), and a connection beyond the cap gets a clear 503."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.reliability_support import ESTABLISHED, eventually, tcp_connections

SOCKETS = 60


def served(pid: int, port: int) -> int:
    """Established client connections the server holds on its port."""
    return sum(1 for st, local, _ in tcp_connections(pid) if local == port and st == ESTABLISHED)


def closed_by_server(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``timeout`` (and what it sent first)."""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, got
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        return True, got
    except TimeoutError:
        return False, got


def test_idle_and_slow_heads_are_closed_and_real_requests_still_served(tmp_path: Path) -> None:
    env = {"OMNI_HEADER_TIMEOUT_S": "1.5", "OMNI_KEEP_ALIVE_S": "1"}
    with ProxyProcess(tmp_path, {"demo": True}, env=env) as proxy:
        assert proxy.proc is not None
        silent, partial = [], []
        for i in range(SOCKETS):
            sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            if i % 2:
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                partial.append(sock)
            else:
                silent.append(sock)
        assert eventually(lambda: served(proxy.proc.pid, proxy.port) >= SOCKETS, 5)
        # A real request is served meanwhile.
        r = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {MASTER_KEY}"})
        assert r.status_code == 200
        for sock in silent:
            closed, _ = closed_by_server(sock, 8)
            assert closed
            sock.close()
        for sock in partial:
            closed, got = closed_by_server(sock, 8)
            assert closed and got.startswith(b"HTTP/1.1 408"), got[:80]
            sock.close()
        # A keep-alive connection left idle after its response is closed too.
        keep = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        keep.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        closed, got = closed_by_server(keep, 8)
        assert closed and got.startswith(b"HTTP/1.1 200")
        keep.close()
        assert eventually(lambda: served(proxy.proc.pid, proxy.port) == 0, 5)
        assert httpx.get(proxy.root + "/health").status_code == 200


def test_connections_beyond_the_cap_get_a_503(tmp_path: Path) -> None:
    env = {"OMNI_MAX_CONNECTIONS": "5", "OMNI_HEADER_TIMEOUT_S": "30"}
    with ProxyProcess(tmp_path, {"demo": True}, env=env) as proxy:
        held = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(5)]
        try:
            extra = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            closed, got = closed_by_server(extra, 5)
            extra.close()
            assert closed and got.startswith(b"HTTP/1.1 503"), got[:80]
            assert b"server_busy" in got
        finally:
            for sock in held:
                sock.close()
        assert eventually(lambda: httpx.get(proxy.root + "/health").status_code == 200, timeout=5)


def test_protocol_level_errors_are_contract_json_with_a_request_id(tmp_path: Path) -> None:
    import orjson

    from tests.reliability_support import assert_contract_error

    with ProxyProcess(tmp_path, {"demo": True}) as proxy:
        for raw, status in (
            (b"GARBAGE\x01 / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431),
        ):
            sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
            # Closed while the head arrived: the answer is already sent.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(raw)
            closed, got = closed_by_server(sock, 5)
            sock.close()
            assert closed and got.startswith(b"HTTP/1.1 %d" % status), got[:80]
            head, _, body = got.partition(b"\r\n\r\n")
            assert b"content-type: application/json" in head
            rid = next(
                line.split(b": ", 1)[1].decode()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"x-request-id: ")
            )
            assert_contract_error(status, orjson.loads(body), rid)
