"""A small HTTP/1.1 client for the upstream call: an asyncio ``Protocol`` and httptools.

aiohttp's client was about a sixth of the proxy's CPU, most of it machinery an upstream
call does not need (cookies, redirects, tracing, multipart, a streams layer per response).
This does only what ``Provider.post`` / ``post_stream`` need: one request write, llhttp's
parser (the one uvicorn uses) feeding a response object, and a keep-alive pool. It answers
with ``UpstreamResponse`` (``upstream_http``) and fails with httpx's exceptions, as the
httpx client does, so ``Provider.post`` maps both the same way. It connects directly: with
a proxy variable set, the registry picks httpx instead.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from functools import cache
from typing import cast
from urllib.parse import quote, urlsplit

import httptools
import httpx
from multidict import CIMultiDict

from . import pool as upstream_http
from .pool import CompletableResponse

#: Reading pauses while a stream has this much unread (resumes when it is read).
HIGH_WATER = 1 << 20
#: Decoded bytes one upstream response may carry (``OMNI_MAX_UPSTREAM_BODY_BYTES``): a
#: 0.6 MB gzip bomb once grew the process to 2.17 GB.
MAX_BODY_BYTES = int(os.environ.get("OMNI_MAX_UPSTREAM_BODY_BYTES") or 64 << 20)
#: Decompressed in steps of this much, so one compressed chunk cannot expand unchecked.
_INFLATE_STEP = 1 << 20
_PORTS = {"http": 80, "https": 443}
#: Caller headers the client writes itself (the body is framed here) or looks at.
_OWN = frozenset({"host", "content-length", "transfer-encoding", "accept-encoding", "connection"})
_ACCEPT = b"Accept-Encoding: gzip, deflate\r\n"
_SAFE_PATH = "!#$%&'()*+,/:;=?@[]~"  # quote() leaves these and [A-Za-z0-9_.-~] alone

Key = tuple[str, str, int]


@cache
def default_ssl_context() -> ssl.SSLContext:
    """Verifying, with the system's CAs or ``SSL_CERT_FILE``/``SSL_CERT_DIR``; built on the
    first https connection (loading certificates costs tens of ms), then shared."""
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class _Target:
    """A URL, parsed once: where to connect and the bytes that name it in a request."""

    __slots__ = ("host", "host_line", "key", "lines", "path", "tls")

    def __init__(self, text: str) -> None:
        try:
            parts = urlsplit(text)
            scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        except ValueError as exc:
            raise httpx.UnsupportedProtocol(f"invalid URL {text!r}: {exc}") from None
        if scheme not in _PORTS or not host:
            raise httpx.UnsupportedProtocol(f"unsupported URL {text!r}: need http(s)://host/")
        default = _PORTS[scheme]
        self.tls = scheme == "https"
        self.host = host
        self.key: Key = (scheme, host, port or default)
        name = f"[{host}]" if ":" in host else host if host.isascii() else _idna(host)
        if port is not None and port != default:
            name = f"{name}:{port}"
        self.host_line = f"Host: {name}\r\n".encode("ascii")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.path = quote(target, safe=_SAFE_PATH).encode("ascii")
        self.lines: dict[str, bytes] = {}

    def request_line(self, method: str) -> bytes:
        line = self.lines.get(method)
        if line is None:
            line = self.lines[method] = b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), self.path)
        return line


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise httpx.UnsupportedProtocol(f"invalid host name {host!r}: {exc}") from None


class _Decoder:
    """gzip or deflate, streaming; deflate bodies come zlib-wrapped or raw, both are seen."""

    __slots__ = ("_obj", "_out", "_raw_tried")

    def __init__(self, encoding: str) -> None:
        gzip = encoding in ("gzip", "x-gzip")
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._raw_tried = gzip
        self._out = 0

    def decode(self, data: bytes) -> bytes:
        try:
            parts = []
            while data:
                part = self._obj.decompress(data, _INFLATE_STEP)
                self._out += len(part)
                if self._out > MAX_BODY_BYTES:
                    raise too_big()
                parts.append(part)
                data = self._obj.unconsumed_tail
            return b"".join(parts)
        except zlib.error as exc:
            if self._raw_tried:
                raise httpx.DecodingError(f"undecodable response body: {exc}") from None
            self._raw_tried = True
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.decode(data)

    def flush(self) -> bytes:
        try:
            return self._obj.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"undecodable response body: {exc}") from None


def too_big() -> httpx.DecodingError:
    return httpx.DecodingError(
        f"the upstream's response body is larger than {MAX_BODY_BYTES} bytes decoded"
    )


def _read_timeout(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(httpx.ReadTimeout("timed out waiting for the upstream's response"))


def _pool_timeout(fut: asyncio.Future[_Conn | None]) -> None:
    if not fut.done():
        fut.set_exception(httpx.PoolTimeout("timed out waiting for a free upstream connection"))


class H1Response(CompletableResponse):
    """One answer; its body arrives through the connection's parser callbacks."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_closed",
        "_conn",
        "_decoder",
        "_discard",
        "_done",
        "_eof_ends",
        "_error",
        "_extra",
        "_head",
        "_keep_alive",
        "_read_all",
        "_read_timeout",
        "_started",
        "_total",
        "_waiter",
        "content",
        "headers",
        "reason_phrase",
        "status_code",
    )

    def __init__(self, conn: _Conn, read_timeout: float | None, head: bool) -> None:
        self._conn: _Conn | None = conn
        self._read_timeout = read_timeout
        self._head = head
        self.status_code = 0
        self.headers: Mapping[str, str] = {}
        self.reason_phrase = ""
        self.content = b""
        self.complete = False
        self._started = self._done = self._closed = self._read_all = self._discard = False
        self._keep_alive = self._eof_ends = False
        self._chunks: list[bytes] = []
        self._buffered = self._extra = self._total = 0
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: _Decoder | None = None

    # -- fed by the connection ------------------------------------------------------------
    def _start(self, status: int, reason: bytes, raw: list[tuple[bytes, bytes]], ka: bool) -> None:
        headers: CIMultiDict[str] = CIMultiDict(
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
        )
        self.status_code = status
        self.reason_phrase = reason.decode("latin-1")
        self.headers = headers
        encoding = headers.get("content-encoding")
        if encoding is not None:
            encoding = encoding.strip().lower()
            if encoding in ("gzip", "x-gzip", "deflate"):
                self._decoder = _Decoder(encoding)
        has_body = not self._head and status not in (204, 304)
        self._eof_ends = (
            has_body and "content-length" not in headers and "transfer-encoding" not in headers
        )
        self._keep_alive = ka and not self._eof_ends and not self._head
        self._started = True
        self._wake()

    def _feed(self, data: bytes) -> None:
        if self._decoder is not None:
            data = self._decoder.decode(data)  # DecodingError: the parser stops, see _Conn
        if self._discard:
            self._extra += len(data)
            if self._extra > upstream_http.FINISH_MAX_BYTES:
                self._wake()
            return
        if data:
            self._total += len(data)
            if self._total > MAX_BODY_BYTES:
                raise too_big()
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered > HIGH_WATER and not self._read_all and self._conn is not None:
                self._conn.pause()
            self._wake()

    def _end(self) -> None:
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail and not self._discard:
                self._chunks.append(tail)
        self._done = True
        self._wake()

    def _lost(self, exc: Exception | None) -> None:
        """The connection ended while this response owned it."""
        self._conn = None
        if self._done or self._error is not None:
            return
        if exc is None and self._started and self._eof_ends:
            try:
                self._end()  # a close-delimited body ends here
            except httpx.DecodingError as error:
                self._fail(error)
            return
        if exc is None:
            self._fail(httpx.RemoteProtocolError("the upstream closed the connection mid-response"))
        else:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))

    def _fail(self, error: Exception) -> None:
        if self._error is None and not self._done:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- read by the caller ---------------------------------------------------------------
    async def _wait(self, timeout: float | None) -> None:
        """Until the connection has news for this response (or ``timeout`` passes)."""
        loop = asyncio.get_running_loop()
        fut = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _read_timeout, fut)
        try:
            await fut
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def _read_until(self, ready: Callable[[], bool]) -> None:
        """Wait for news until ``ready()``; a failure (or cancellation) closes the connection."""
        try:
            while not ready():
                if self._error is not None:
                    raise self._error
                await self._wait(self._read_timeout)
        except BaseException:
            self._abort()
            raise

    async def _read_head(self) -> None:
        await self._read_until(lambda: self._started)

    def _abort(self) -> None:
        """Close the connection if this response still owns it (it is mid-response)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _resume(self) -> None:
        self._buffered = 0
        if self._conn is not None:
            self._conn.resume()

    async def aread(self) -> bytes:
        if self._read_all:
            return self.content
        if self._closed:
            raise httpx.StreamClosed()
        self._read_all = True
        self._resume()
        await self._read_until(lambda: self._done)
        chunks, self._chunks = self._chunks, []
        self.content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self.content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        if self._read_all:
            if self.content:
                yield self.content
            return
        while True:
            if self._closed:
                raise httpx.StreamClosed()
            chunks = self._chunks
            if chunks:
                self._chunks = []
                self._resume()
                yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
                continue
            if self._error is not None:
                self._abort()
                raise self._error
            if self._done:
                return
            try:
                await self._wait(self._read_timeout)
            except BaseException:
                self._abort()
                raise

    async def aclose(self) -> None:
        # The connection went back to the pool when the body ended; a stream closed before
        # that is closed with its connection, unless only the transfer's end is missing
        # after the last event (``stream_complete``): that is awaited in the background.
        if self._closed:
            return
        self._closed = True
        self._chunks = []
        if self._conn is None:
            return
        if self.complete and self._error is None and not self._done:
            self._discard = True
            self._resume()
            task = asyncio.get_running_loop().create_task(self._finish())
            upstream_http.track_finishing(task)
            return
        self._abort()

    async def _finish(self) -> None:
        try:
            async with asyncio.timeout(upstream_http.FINISH_S):
                while not self._done and self._error is None:
                    if self._extra > upstream_http.FINISH_MAX_BYTES:
                        break
                    await self._wait(None)
        except Exception:  # the upstream stalled: the connection is not reused
            pass
        finally:
            if not self._done:
                self._abort()


class _Conn(asyncio.Protocol):
    """One keep-alive connection; the parser's callbacks go to its current response."""

    __slots__ = (
        "_finished",
        "_headers",
        "_interim",
        "_reason",
        "_stray",
        "closed",
        "idle_since",
        "key",
        "parser",
        "paused",
        "pool",
        "response",
        "reusable",
        "transport",
    )

    def __init__(self, pool: H1Pool, key: Key) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: H1Response | None = None
        self.closed = self.paused = self._finished = self._interim = self._stray = False
        self.reusable = True
        self.idle_since = 0.0
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        r = self.response
        if r is None:  # bytes nobody asked for: the connection's state is unknown
            self.close()
            return
        error: httpx.HTTPError | None = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__  # what a callback raised (a DecodingError)
            error = cause if isinstance(cause, httpx.HTTPError) else _protocol_error(exc)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            error = _protocol_error(exc)
        if self._finished:  # the answer is whole; anything after it spoils the connection
            self._finished = False
            self.response = r._conn = None
            if error is not None or self._stray or not r._keep_alive or not self.reusable:
                self.close()
            else:
                if self.paused:
                    self.resume()
                self.pool._release(self)
        elif error is not None or self._stray:
            r._fail(error or httpx.RemoteProtocolError("the upstream sent a malformed response"))
            r._abort()

    def eof_received(self) -> bool | None:
        return None  # close; connection_lost ends a close-delimited body

    def connection_lost(self, exc: Exception | None) -> None:
        r, self.response = self.response, None
        if r is not None:
            r._lost(exc)
        if not self.closed:
            self.closed = True
            self.pool._gone(self)

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        r = self.response
        if r is None or r._done:  # a second answer to one request
            self._stray = True
        self._headers = []
        self._reason = b""

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        r = self.response
        status = self.parser.get_status_code()
        if status < 200:  # 1xx: an interim answer, the real one follows
            self._interim = True
            return
        if r is None or r._started:
            self._stray = True
            return
        r._start(status, self._reason, self._headers, self.parser.should_keep_alive())
        if r._head:  # llhttp cannot be told a HEAD answer has no body: end it here
            self.reusable = False
            self._finished = True
            r._end()

    def on_body(self, body: bytes) -> None:
        r = self.response
        if r is None or r._done:
            self._stray = True
            return
        r._feed(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        r = self.response
        if r is None or r._done:
            self._stray = self._stray or not (r is not None and r._head)
            return
        r._end()
        self._finished = True

    # -- used by the pool and the response ------------------------------------------------
    def send(self, response: H1Response, data: bytes) -> None:
        assert self.transport is not None
        self.response = response
        self.transport.write(data)

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if not self.closed and self.transport is not None:
                self.transport.resume_reading()

    def usable(self, now: float, expiry: float | None) -> bool:
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and (expiry is None or now - self.idle_since < expiry)
        )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        r, self.response = self.response, None
        if r is not None:  # closed under a reader (the pool closing): it must not hang
            r._lost(ConnectionAbortedError("the connection was closed"))
        if self.transport is not None:
            self.transport.close()
        self.pool._gone(self)


def _protocol_error(exc: BaseException) -> httpx.RemoteProtocolError:
    error = httpx.RemoteProtocolError(f"malformed response from the upstream: {exc}")
    error.__cause__ = exc
    return error


class H1Pool:
    """Keep-alive connections per (scheme, host, port), at most ``max_connections`` in all.

    Idle connections are reused last-in first-out and closed after ``keepalive_expiry``;
    one the peer closes leaves the pool when it does. A request is never retried, so a
    POST is never sent twice.
    """

    def __init__(
        self,
        limits: httpx.Limits,
        timeout: httpx.Timeout,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max = limits.max_connections or 0
        self._expiry = limits.keepalive_expiry
        self._connect_timeout = timeout.connect
        self._read_timeout = timeout.read
        self._pool_timeout = timeout.pool
        self._ssl = ssl_context
        self._count = 0  # connections open or opening
        self._conns: set[_Conn] = set()
        #: Per origin, idle connections oldest first (a dict is an ordered set).
        self._idle: dict[Key, dict[_Conn, None]] = {}
        self._waiters: deque[tuple[Key, asyncio.Future[_Conn | None]]] = deque()
        self._targets: dict[str, _Target] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def _target(self, url: str | httpx.URL) -> _Target:
        text = url if isinstance(url, str) else str(url)
        target = self._targets.get(text)
        if target is None:
            if len(self._targets) > 256:  # provider URLs are few; never let this grow
                self._targets.clear()
            target = self._targets[text] = _Target(text)
        return target

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        content: bytes,
        headers: Mapping[str, str],
        *,
        stream: bool = False,
    ) -> H1Response:
        """Send; read the whole body unless ``stream`` (then the caller must ``aclose``)."""
        target = self._target(url)
        data = _request_bytes(method, target, content, headers)
        conn = await self._acquire(target)
        response = H1Response(conn, self._read_timeout, method == "HEAD")
        if not data[1]:
            conn.reusable = False
        conn.send(response, data[0])
        await response._read_head()
        if not stream:
            await response.aread()
        return response

    # -- the pool ---------------------------------------------------------------------------
    async def _acquire(self, target: _Target) -> _Conn:
        key = target.key
        idle = self._idle.get(key)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                conn = idle.popitem()[0]
                if conn.usable(now, self._expiry):
                    return conn
                conn.close()
        if self._max and self._count >= self._max:
            self._evict_other(key)
        if not self._max or self._count < self._max:
            self._count += 1
            return await self._connect(target)
        granted = await self._wait_for_slot(key)
        if granted is not None:
            return granted
        return await self._connect(target)  # the slot came with the grant

    def _evict_other(self, key: Key) -> None:
        """At the limit with no waiters: an idle connection to another origin makes room."""
        if self._waiters:
            return
        for other, idle in self._idle.items():
            if other != key and idle:
                next(iter(idle)).close()
                return

    async def _wait_for_slot(self, key: Key) -> _Conn | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_Conn | None] = loop.create_future()
        self._waiters.append((key, fut))
        timeout = self._pool_timeout
        timer = None if timeout is None else loop.call_later(timeout, _pool_timeout, fut)
        try:
            return await fut
        except BaseException:
            # Cancelled or timed out just as a connection (or a slot) was handed over.
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                handed = fut.result()
                if handed is None:
                    self._free_slot()
                else:
                    self._release(handed)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    async def _connect(self, target: _Target) -> _Conn:
        """Open a connection in a slot already counted; the slot is freed on failure."""
        loop = asyncio.get_running_loop()
        conn = _Conn(self, target.key)
        ctx = None
        if target.tls:
            ctx = self._ssl or default_ssl_context()
        port = target.key[2]
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_connection(
                    lambda: conn,
                    target.host,
                    port,
                    ssl=ctx,
                    server_hostname=target.host if ctx is not None else None,
                )
        except BaseException as exc:
            conn.closed = True  # a transport made before the failure closes with it
            self._free_slot()
            if isinstance(exc, TimeoutError):
                raise httpx.ConnectTimeout(f"connecting to {target.host}:{port} timed out") from exc
            if isinstance(exc, OSError | ssl.SSLError):
                raise httpx.ConnectError(f"connecting to {target.host}:{port}: {exc}") from exc
            raise
        if conn.closed:  # lost already (a TLS peer that hung up at once)
            raise httpx.ConnectError(f"{target.host}:{port} closed the connection at once")
        self._conns.add(conn)
        return conn

    def _release(self, conn: _Conn) -> None:
        """A connection whose answer was read to the end: to a waiter, or idle."""
        waiters = self._waiters
        while waiters:
            key, fut = waiters[0]
            if fut.done():
                waiters.popleft()
                continue
            if key == conn.key:
                waiters.popleft()
                fut.set_result(conn)
            else:  # the next waiter wants another origin: it gets this one's slot
                conn.close()
            return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        idle = self._idle.get(conn.key)
        if idle is None:
            idle = self._idle[conn.key] = {}
        idle[conn] = None
        if self._sweep is None and self._expiry is not None:
            self._sweep = loop.call_later(self._expiry, self._sweep_idle)

    def _gone(self, conn: _Conn) -> None:
        """A connection closed (by either side): it leaves the pool, its slot is free."""
        self._conns.discard(conn)
        idle = self._idle.get(conn.key)
        if idle:
            idle.pop(conn, None)
        self._free_slot()

    def _free_slot(self) -> None:
        waiters = self._waiters
        while waiters:
            _, fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes to the waiter, still counted
                return
        self._count -= 1

    def _sweep_idle(self) -> None:
        self._sweep = None
        expiry = self._expiry
        if expiry is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        oldest: float | None = None
        for idle in list(self._idle.values()):
            for conn in list(idle):  # oldest first
                if now - conn.idle_since >= expiry:
                    conn.close()
                else:
                    oldest = conn.idle_since if oldest is None else min(oldest, conn.idle_since)
                    break
        if oldest is not None:
            self._sweep = loop.call_later(oldest + expiry - now, self._sweep_idle)

    async def aclose(self) -> None:
        await upstream_http.finish_pending()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conn in list(self._conns):
            conn.close()
        self._idle.clear()


def _request_bytes(
    method: str, target: _Target, content: bytes, headers: Mapping[str, str]
) -> tuple[bytes, bool]:
    """The request, head and body, for one ``transport.write``; and whether the connection
    may be kept (False when the caller asked for ``Connection: close``)."""
    host = accept = keep = True
    lines = []
    for name, value in headers.items():
        lower = name.lower()
        if lower in _OWN:
            if lower == "host":
                host = False
            elif lower == "accept-encoding":
                accept = False
            elif lower == "connection":
                keep = "close" not in value.lower()
            else:
                continue  # content-length, transfer-encoding: the body is framed here
        lines.append(f"{name}: {value}\r\n")
    block = "".join(lines)
    if block.count("\n") != len(lines) or block.count("\r") != len(lines):
        raise httpx.LocalProtocolError("a request header name or value holds a line break")
    return (
        b"".join(
            (
                target.request_line(method),
                target.host_line if host else b"",
                block.encode("utf-8"),
                b"Content-Length: %d\r\n" % len(content),
                _ACCEPT if accept else b"",
                b"\r\n",
                content,
            )
        ),
        keep,
    )


__all__ = ["H1Pool", "H1Response", "default_ssl_context"]
