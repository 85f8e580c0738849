"""``upstream_h1.H1Pool`` against raw HTTP/1.1 servers on 127.0.0.1 that write exact bytes.

Every test runs on asyncio's loop and on uvloop (the proxy's); each server counts the
connections it sees, which is how pooling is checked from the outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import inspect
import socket
import ssl
import struct
import subprocess
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvloop

from omni_proxy.config import ConfigError, ProviderSettings
from omni_proxy.registry import Providers
from omni_proxy.upstream import h1 as upstream_h1
from omni_proxy.upstream import pool as upstream_http
from omni_proxy.upstream.h1 import H1Pool

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def on_both_loops(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """The async test, run to completion on each event loop (its own, per test)."""

    def run(loop: str, *args: Any, **kwargs: Any) -> None:
        with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
            runner.run(asyncio.wait_for(test(*args, **kwargs), 20))

    signature = inspect.signature(test)
    loop_param = inspect.Parameter("loop", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[loop_param, *signature.parameters.values()]
    )
    run.__name__, run.__doc__ = test.__name__, test.__doc__
    return pytest.mark.parametrize("loop", list(LOOPS))(run)  # type: ignore[no-any-return]


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[Any]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


class Upstream:
    """Answers each request with ``handler(reader, writer, request)``; a handler returning
    False closes the connection after its answer. Counts connections, open ones too."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl = ssl_context
        self.connections = self.open = self.max_open = self.closed = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Upstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, path: str = "/v1/x") -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        self._writers.add(writer)
        try:
            while True:
                request = await read_request(reader)
                self.requests.append(request)
                if await self.handler(reader, writer, request) is False:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self.open -= 1
            self.closed += 1
            self._writers.discard(writer)
            writer.close()


def reply(body: bytes = b'{"ok":true}', *extra: bytes, status: bytes = b"200 OK") -> bytes:
    head = [b"HTTP/1.1 " + status, b"content-type: application/json", *extra]
    head.append(b"content-length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
    writer.write(reply())
    await writer.drain()


def make_pool(
    max_connections: int | None = 10,
    keepalive_expiry: float | None = 60,
    **timeouts: float | None,
) -> H1Pool:
    limits = httpx.Limits(max_connections=max_connections, keepalive_expiry=keepalive_expiry)
    return H1Pool(limits, httpx.Timeout(timeouts.pop("default", 5.0), **timeouts))


def idle_count(pool: H1Pool) -> int:
    return sum(len(idle) for idle in pool._idle.values())


async def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- bodies ---------------------------------------------------------------------------------
BODY = b'{"choices":[{"message":{"content":"hello"}}]}' * 50


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close-delimited"])
@on_both_loops
async def test_bodies_of_every_framing_are_read_whole(framing: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        if framing == "content-length":
            writer.write(reply(BODY, b"X-Request-Id: r1"))
        elif framing == "chunked":
            head = b"HTTP/1.1 200 OK\r\nX-Request-Id: r1\r\ntransfer-encoding: chunked\r\n\r\n"
            writer.write(head + chunk(BODY[:100]) + chunk(BODY[100:]) + b"0\r\n\r\n")
        else:  # no length: the body ends when the connection does
            writer.write(b"HTTP/1.1 200 OK\r\nX-Request-Id: r1\r\n\r\n" + BODY)
            await writer.drain()
            return False
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool()
        try:
            for _ in range(2):
                response = await pool.request("POST", upstream.url(), b"{}", {})
                assert response.status_code == 200
                assert response.reason_phrase == "OK"
                assert response.content == BODY
                assert response.headers.get("x-request-id") == "r1"  # any case
                assert response.headers["X-REQUEST-ID"] == "r1"
            # close-delimited bodies cost their connection; the others keep one
            assert upstream.connections == (2 if framing == "close-delimited" else 1)
        finally:
            await pool.aclose()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
@on_both_loops
async def test_compressed_bodies_are_decoded_whole_and_streamed(encoding: str) -> None:
    if encoding == "gzip":
        packed = gzip.compress(BODY)
    elif encoding == "deflate":
        packed = zlib.compress(BODY)
    else:
        c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed = c.compress(BODY) + c.flush()
    name = b"deflate" if "deflate" in encoding else b"gzip"

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes
    ) -> Any:
        if b"stream" in req:
            head = b"HTTP/1.1 200 OK\r\ncontent-encoding: %s\r\ntransfer-encoding: chunked\r\n\r\n"
            writer.write(head % name)
            third = len(packed) // 3
            for part in (packed[:third], packed[third : 2 * third], packed[2 * third :]):
                writer.write(chunk(part))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(reply(packed, b"content-encoding: " + name))
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {})
            assert response.content == BODY
            assert b"accept-encoding: gzip, deflate\r\n" in upstream.requests[0].lower()
            streamed = await pool.request("POST", upstream.url(), b"stream", {}, stream=True)
            parts = [part async for part in streamed.aiter_bytes()]
            await streamed.aclose()
            assert b"".join(parts) == BODY
            assert upstream.connections == 1
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_corrupt_compressed_body_is_a_decoding_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(reply(b"not gzip at all", b"content-encoding: gzip"))
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool()
        try:
            with pytest.raises(httpx.DecodingError):
                await pool.request("POST", upstream.url(), b"{}", {})
            assert pool._count == 0  # its connection was closed, not pooled
        finally:
            await pool.aclose()


@on_both_loops
async def test_the_request_is_one_write_with_host_length_and_the_callers_headers() -> None:
    received: list[bytes] = []

    class Recorder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)  # uvloop's are no subclass

        def data_received(self, data: bytes) -> None:
            received.append(data)
            self.transport.write(reply(b"ok"))

    server = await asyncio.get_running_loop().create_server(Recorder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = make_pool()
    try:
        headers = {"Authorization": "Bearer sk-x", "content-type": "application/json"}
        await pool.request("POST", f"http://127.0.0.1:{port}/v1/chat?x=1", b'{"a":1}', headers)
        assert received == [
            b"POST /v1/chat?x=1 HTTP/1.1\r\n"
            b"Host: 127.0.0.1:%d\r\n"
            b"Authorization: Bearer sk-x\r\ncontent-type: application/json\r\n"
            b"Content-Length: 7\r\nAccept-Encoding: gzip, deflate\r\n\r\n"
            b'{"a":1}' % port
        ]
        # the caller's own Host and Accept-Encoding win; a stray Content-Length is replaced
        mine = {"host": "api.example", "accept-encoding": "identity", "content-length": "99"}
        await pool.request("GET", f"http://127.0.0.1:{port}", b"", mine)
        assert received[1] == (
            b"GET / HTTP/1.1\r\nhost: api.example\r\naccept-encoding: identity\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
    finally:
        await pool.aclose()
        server.close()


def test_the_host_header_names_the_port_only_when_it_is_not_the_default() -> None:
    target = upstream_h1._Target
    assert target("https://api.example/v1").host_line == b"Host: api.example\r\n"
    assert target("https://api.example:443/v1").host_line == b"Host: api.example\r\n"
    assert target("http://api.example:8443/v1").host_line == b"Host: api.example:8443\r\n"
    assert target("http://[::1]:81/").host_line == b"Host: [::1]:81\r\n"
    assert target("https://bücher.example/").host_line == b"Host: xn--bcher-kva.example\r\n"
    assert target("http://h/a b?q=é").path == b"/a%20b?q=%C3%A9"
    assert target("HTTPS://API.example/v1").key == ("https", "api.example", 443)


@pytest.mark.parametrize("url", ["ftp://h/x", "http:///x", "http://h:99999/x", "nonsense"])
@on_both_loops
async def test_a_bad_url_is_unsupported_protocol(url: str) -> None:
    pool = make_pool()
    with pytest.raises(httpx.UnsupportedProtocol):
        await pool.request("POST", url, b"{}", {})
    assert pool._count == 0


@on_both_loops
async def test_a_line_break_in_a_header_is_refused_before_anything_is_sent() -> None:
    async with Upstream(ok) as upstream:
        pool = make_pool()
        try:
            bad = {"x-a": "1\r\nx-injected: yes"}
            with pytest.raises(httpx.LocalProtocolError):
                await pool.request("POST", upstream.url(), b"{}", bad)
            assert upstream.connections == 0 and pool._count == 0
        finally:
            await pool.aclose()


# -- responses without a body, interim answers, closing ---------------------------------------
@on_both_loops
async def test_interim_answers_are_skipped_and_204_and_head_have_no_body() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes
    ) -> Any:
        if req.startswith(b"HEAD"):  # announces a length it does not send, as HEAD does
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        elif b"/204" in req:
            writer.write(b"HTTP/1.1 204 No Content\r\nx-n: 1\r\n\r\n")
        else:
            writer.write(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\n"
            )
            await writer.drain()
            writer.write(reply(b"final"))
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool(read=1.0)
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {})
            assert (response.status_code, response.content) == (200, b"final")
            assert "link" not in response.headers
            response = await pool.request("POST", upstream.url("/204"), b"{}", {})
            assert (response.status_code, response.content) == (204, b"")
            assert response.headers["x-n"] == "1"
            assert upstream.connections == 1  # both kept the connection
            started = time.monotonic()
            response = await pool.request("HEAD", upstream.url(), b"", {})
            assert (response.status_code, response.content) == (200, b"")
            assert time.monotonic() - started < 0.5  # not waiting for 5 bytes that never come
        finally:
            await pool.aclose()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
@on_both_loops
async def test_an_answer_that_does_not_keep_the_connection_closes_it(head: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(head)  # and the server keeps its end open: the client must close
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool()
        try:
            for _ in range(2):
                assert (await pool.request("POST", upstream.url(), b"{}", {})).content == b"ok"
            assert upstream.connections == 2
            assert await wait_until(lambda: upstream.closed == 2)
            assert pool._count == 0
        finally:
            await pool.aclose()


@pytest.mark.parametrize("extra", [b"HTTP/1.1 200 OK\r\n", b"garbage"])
@on_both_loops
async def test_bytes_after_a_whole_answer_cost_the_connection_not_the_answer(extra: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(reply(b"ok") + extra)  # one packet: the answer, then bytes nobody asked for
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool()
        try:
            for _ in range(2):
                assert (await pool.request("POST", upstream.url(), b"{}", {})).content == b"ok"
            assert upstream.connections == 2
            assert pool._count == 0
        finally:
            await pool.aclose()


# -- the pool ---------------------------------------------------------------------------------
@on_both_loops
async def test_sequential_requests_share_one_connection() -> None:
    async with Upstream(ok) as upstream:
        pool = make_pool()
        try:
            for _ in range(30):
                response = await pool.request("POST", upstream.url(), b"{}", {})
                assert response.content == b'{"ok":true}'
            assert upstream.connections == 1
            assert pool._count == 1 and idle_count(pool) == 1
        finally:
            await pool.aclose()


@on_both_loops
async def test_the_pool_never_opens_more_than_max_connections() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        await asyncio.sleep(0.02)
        writer.write(reply())
        await writer.drain()

    async with Upstream(slow) as upstream:
        pool = make_pool(max_connections=4)
        try:
            responses = await asyncio.gather(
                *(pool.request("POST", upstream.url(), b"{}", {}) for _ in range(50))
            )
            assert all(r.status_code == 200 and r.content == b'{"ok":true}' for r in responses)
            assert upstream.max_open == 4  # used them all, never more
            assert upstream.connections == 4  # and reused them, no churn
            assert pool._count == 4 and idle_count(pool) == 4
        finally:
            await pool.aclose()


@on_both_loops
async def test_waiting_for_a_connection_is_bounded_by_the_pool_timeout() -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
        await writer.drain()
        await reader.read()  # until the client hangs up
        return False

    async with Upstream(hold) as upstream:
        pool = make_pool(max_connections=1, pool=0.1)
        try:
            held = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            started = time.monotonic()
            with pytest.raises(httpx.PoolTimeout):
                await pool.request("POST", upstream.url(), b"{}", {})
            assert 0.09 < time.monotonic() - started < 1.0
            await held.aclose()  # closed early: the connection goes, its slot is free
            held = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            assert held.status_code == 200
            await held.aclose()
            assert upstream.connections == 2
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(reply())  # says nothing about closing, then closes
        await writer.drain()
        return False

    async with Upstream(once) as upstream:
        pool = make_pool()
        try:
            await pool.request("POST", upstream.url(), b"{}", {})
            assert await wait_until(lambda: pool._count == 0)  # dropped when the FIN came
            assert idle_count(pool) == 0
            response = await pool.request("POST", upstream.url(), b"{}", {})
            assert response.status_code == 200
            assert upstream.connections == 2
        finally:
            await pool.aclose()


@on_both_loops
async def test_idle_connections_expire_after_keepalive_expiry() -> None:
    async with Upstream(ok) as upstream:
        pool = make_pool(keepalive_expiry=0.1)
        try:
            await pool.request("POST", upstream.url(), b"{}", {})
            assert idle_count(pool) == 1
            assert await wait_until(lambda: upstream.closed == 1, 2.0)  # the client closed it
            assert pool._count == 0 and idle_count(pool) == 0
            await pool.request("POST", upstream.url(), b"{}", {})
            assert upstream.connections == 2
        finally:
            await pool.aclose()


@on_both_loops
async def test_origins_share_the_limit_and_idle_ones_make_room() -> None:
    async with Upstream(ok) as first, Upstream(ok) as second:
        pool = make_pool(max_connections=1, pool=0.5)
        try:
            await pool.request("POST", first.url(), b"{}", {})
            await pool.request("POST", second.url(), b"{}", {})  # first's idle one is closed
            assert await wait_until(lambda: first.closed == 1)
            assert pool._count == 1 and second.connections == 1
        finally:
            await pool.aclose()


# -- failures -----------------------------------------------------------------------------------
@on_both_loops
async def test_a_refused_connection_is_a_connect_error() -> None:
    pool = make_pool()
    with pytest.raises(httpx.ConnectError):
        await pool.request("POST", f"http://127.0.0.1:{closed_port()}/v1/x", b"{}", {})
    assert pool._count == 0


@pytest.mark.parametrize("loop", ["asyncio"])  # uvloop's loop takes no patched methods
def test_a_slow_connect_is_a_connect_timeout(loop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async def never(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(10)

        monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", never)
        pool = make_pool(connect=0.1)
        with pytest.raises(httpx.ConnectTimeout):
            await pool.request("POST", "http://127.0.0.1:9/v1/x", b"{}", {})
        assert pool._count == 0

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(main())


@pytest.mark.parametrize("stream", [False, True])
@on_both_loops
async def test_a_silent_upstream_is_a_read_timeout(stream: bool) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        if stream:  # the head, one event, then nothing
            writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
            await writer.drain()
        await reader.read()
        return False

    async with Upstream(stall) as upstream:
        pool = make_pool(read=0.2)
        try:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                response = await pool.request("POST", upstream.url(), b"{}", {}, stream=stream)
                async for _ in response.aiter_bytes():
                    pass
            assert 0.19 < time.monotonic() - started < 2.0
            assert pool._count == 0  # the connection was closed, not pooled
            assert await wait_until(lambda: upstream.closed == 1)
        finally:
            await pool.aclose()


@pytest.mark.parametrize("cut", ["content-length", "chunked", "before-head", "garbage"])
@on_both_loops
async def test_a_broken_answer_is_a_remote_protocol_error(cut: str) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        if cut == "content-length":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        elif cut == "chunked":
            writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n") + b"20\r\npartial")
        elif cut == "before-head":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-le")
        else:
            writer.write(b"HTTP/1.1 abc what\r\n\r\n")
        await writer.drain()
        return False

    async with Upstream(broken) as upstream:
        pool = make_pool()
        try:
            with pytest.raises(httpx.RemoteProtocolError):
                await pool.request("POST", upstream.url(), b"{}", {})
            assert pool._count == 0
            if cut == "chunked":  # streamed: what came is delivered, then the error
                response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
                got = []
                with pytest.raises(httpx.RemoteProtocolError):
                    async for part in response.aiter_bytes():
                        got.append(part)
                assert b"".join(got).startswith(b"data: 1\n\n")
                await response.aclose()
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_reset_mid_body_is_a_read_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN
        return False

    async with Upstream(reset) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as caught:
                async for _ in response.aiter_bytes():
                    pass
            assert isinstance(caught.value, httpx.ReadError)
            await response.aclose()
            assert pool._count == 0
        finally:
            await pool.aclose()


# -- streaming ----------------------------------------------------------------------------------
@on_both_loops
async def test_a_stream_yields_each_chunk_as_it_arrives() -> None:
    sent_second: list[float] = []

    async def paced(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: first\n\n"))
        await writer.drain()
        await asyncio.sleep(0.2)
        sent_second.append(time.monotonic())
        writer.write(chunk(b"data: second\n\n") + b"0\r\n\r\n")
        await writer.drain()

    async with Upstream(paced) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            parts = response.aiter_bytes()
            assert await anext(parts) == b"data: first\n\n"
            assert not sent_second  # the first chunk came before the second was even sent
            assert await anext(parts) == b"data: second\n\n"
            with pytest.raises(StopAsyncIteration):
                await anext(parts)
            await response.aclose()
            assert pool._count == 1 and idle_count(pool) == 1  # read to the end: pooled
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_stream_read_slowly_pauses_the_socket_and_loses_nothing() -> None:
    block = bytes(range(256)) * 256  # 64 KiB
    blocks = 64  # 4 MiB in all

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD)
        for _ in range(blocks):
            writer.write(chunk(block))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with Upstream(flood) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            conn = response._conn
            assert conn is not None
            assert await wait_until(lambda: conn.paused, 2.0)  # nobody reads: reading stops
            await asyncio.sleep(0.1)
            assert response._buffered <= upstream_h1.HIGH_WATER + 256 * 1024
            parts = [part async for part in response.aiter_bytes()]
            intact = b"".join(parts) == block * blocks  # a bool: no 4 MiB diff on failure
            assert intact
            await response.aclose()
            assert pool._count == 1 and idle_count(pool) == 1
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_stream_closed_early_closes_its_connection() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
        await writer.drain()
        await reader.read()  # returns when the client hangs up
        return False

    async with Upstream(endless) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            assert await anext(response.aiter_bytes()) == b"data: 1\n\n"
            await response.aclose()
            assert pool._count == 0 and idle_count(pool) == 0
            assert await wait_until(lambda: upstream.closed == 1)
            with pytest.raises(httpx.StreamClosed):
                await anext(response.aiter_bytes())
        finally:
            await pool.aclose()


@pytest.mark.parametrize("marked", [True, False])
@on_both_loops
async def test_a_complete_stream_waits_for_its_late_end_in_the_background(marked: bool) -> None:
    async def late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: [DONE]\n\n"))
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with Upstream(late) as upstream:
        pool = make_pool()
        try:
            for _ in range(2):
                response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
                assert await anext(response.aiter_bytes()) == b"data: [DONE]\n\n"
                if marked:
                    upstream_http.stream_complete(response)
                started = time.monotonic()
                await response.aclose()
                assert time.monotonic() - started < 0.05  # the caller is not held
                await upstream_http.finish_pending()
            assert upstream.connections == (1 if marked else 2)
            assert idle_count(pool) == (1 if marked else 0)
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_complete_stream_whose_end_never_comes_loses_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_http, "FINISH_S", 0.2)

    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: [DONE]\n\n"))
        await writer.drain()
        await reader.read()
        return False

    async with Upstream(never) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            await anext(response.aiter_bytes())
            upstream_http.stream_complete(response)
            await response.aclose()
            assert pool._count == 1  # still finishing
            await upstream_http.finish_pending()
            assert pool._count == 0
            assert await wait_until(lambda: upstream.closed == 1)
        finally:
            await pool.aclose()


# -- cancellation -------------------------------------------------------------------------------
@on_both_loops
async def test_a_request_cancelled_mid_flight_leaves_the_pool_healthy() -> None:
    slow_first = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        if not slow_first.is_set():
            slow_first.set()
            await asyncio.sleep(1)  # the client gives up before this answer comes
        writer.write(reply())
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool(max_connections=1)
        try:
            task = asyncio.create_task(pool.request("POST", upstream.url(), b"{}", {}))
            await slow_first.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pool._count == 0 and idle_count(pool) == 0  # closed, not pooled
            response = await pool.request("POST", upstream.url(), b"{}", {})
            assert response.content == b'{"ok":true}'  # not the late answer to the first
            assert upstream.connections == 2
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_waiter_cancelled_as_a_connection_is_handed_to_it_gives_it_back() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        answer = reply()
        writer.write(answer[:-3])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(answer[-3:])  # the body's end comes later
        await writer.drain()

    async with Upstream(handler) as upstream:
        pool = make_pool(max_connections=1)
        try:
            first = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)
            waiting = asyncio.create_task(pool.request("POST", upstream.url(), b"{}", {}))
            await asyncio.sleep(0.01)
            assert len(pool._waiters) == 1
            await first.aread()  # the body's end hands the connection to the waiter...
            waiting.cancel()  # ...which is cancelled before it runs
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert pool._count == 1 and idle_count(pool) == 1  # given back, not lost
            await pool.request("POST", upstream.url(), b"{}", {})
            assert upstream.connections == 1
        finally:
            await pool.aclose()


@on_both_loops
async def test_a_stream_cancelled_while_reading_closes_its_connection() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: bytes) -> Any:
        writer.write(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
        await writer.drain()
        await reader.read()
        return False

    async with Upstream(endless) as upstream:
        pool = make_pool()
        try:
            response = await pool.request("POST", upstream.url(), b"{}", {}, stream=True)

            async def consume() -> None:
                async for _ in response.aiter_bytes():
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pool._count == 0
            assert await wait_until(lambda: upstream.closed == 1)
        finally:
            await pool.aclose()


# -- TLS ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl CLI."""
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    try:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
                *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"openssl could not make a test certificate: {exc}")
    return cert, key


@pytest.fixture
def fresh_default_context() -> Any:
    """``default_ssl_context`` is built once per process: rebuild it around the test."""
    upstream_h1.default_ssl_context.cache_clear()
    yield
    upstream_h1.default_ssl_context.cache_clear()


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    return ctx


@on_both_loops
async def test_https_verifies_with_ssl_cert_file_and_keeps_the_connection(
    certificate: tuple[Path, Path], fresh_default_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    async with Upstream(ok, server_context(certificate)) as upstream:
        pool = make_pool()
        try:
            for _ in range(3):
                response = await pool.request("POST", upstream.url(), b"{}", {})
                assert response.content == b'{"ok":true}'
            assert upstream.connections == 1
            assert b"Host: 127.0.0.1:%d\r\n" % upstream.port in upstream.requests[0]
        finally:
            await pool.aclose()


@on_both_loops
async def test_https_to_an_untrusted_certificate_is_a_connect_error(
    certificate: tuple[Path, Path], fresh_default_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(certificate[0].parent / "nothing-here"))
    async with Upstream(ok, server_context(certificate)) as upstream:
        pool = make_pool()
        try:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await pool.request("POST", upstream.url(), b"{}", {})
            assert pool._count == 0 and upstream.requests == []
            # a context passed in is used instead of the default one
            ctx = ssl.create_default_context(cafile=str(certificate[0]))
            trusting = H1Pool(httpx.Limits(), httpx.Timeout(5), ssl_context=ctx)
            response = await trusting.request("POST", upstream.url(), b"{}", {})
            assert response.status_code == 200
            await trusting.aclose()
        finally:
            await pool.aclose()


# -- the registry -------------------------------------------------------------------------------
async def test_h1_is_the_default_pool_and_httpx_stays_selectable() -> None:
    base = {"name": "up", "plugin": "openai", "base_url": "http://127.0.0.1:9/v1"}
    client, pool = Providers._client_for(ProviderSettings(**base), env={})
    assert isinstance(pool, H1Pool)
    assert isinstance(client._transport, httpx.AsyncHTTPTransport)  # httpx's own, for .client
    await pool.aclose()
    await client.aclose()
    client, pool = Providers._client_for(ProviderSettings(**base, transport="httpx"), env={})
    assert pool is None
    await client.aclose()
    # The removed aiohttp pool: an old config still starts, on the h1 pool.
    client, pool = Providers._client_for(ProviderSettings(**base, transport="aiohttp"), env={})
    assert isinstance(pool, H1Pool)
    await pool.aclose()
    await client.aclose()
    with pytest.raises(ConfigError, match="transport"):
        Providers._client_for(ProviderSettings(**base, transport="h2"), env={})


@pytest.mark.parametrize("var", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
async def test_a_proxy_in_the_environment_chooses_httpx_unless_told_otherwise(var: str) -> None:
    """H1Pool connects directly; httpx honours the proxy variables, so with one set it is
    the default. An explicit ``transport: h1`` still wins (with a warning)."""
    base = {"name": "up", "plugin": "openai", "base_url": "http://127.0.0.1:9/v1"}
    env = {var: "http://proxy.example:3128"}
    client, pool = Providers._client_for(ProviderSettings(**base), env=env)
    assert pool is None
    await client.aclose()
    client, pool = Providers._client_for(ProviderSettings(**base, transport="h1"), env=env)
    assert isinstance(pool, H1Pool)
    await pool.aclose()
    await client.aclose()
