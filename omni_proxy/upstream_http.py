"""What ``Provider.post`` / ``post_stream`` talk to: the pool interface and aiohttp's pool.

Providers call ``Provider.post`` / ``Provider.post_stream``. Those use the provider's
connection pool (``UpstreamPool``) when it has one: ``upstream_h1.H1Pool`` by default, or
``UpstreamHTTP`` here, aiohttp's pool used directly (``transport: aiohttp``); and the
provider's ``httpx.AsyncClient`` otherwise (``transport: httpx``, or a test's
``MockTransport``). httpx's client object cost about four times aiohttp's CPU per call, and
aiohttp about 2.5 times H1Pool's (``bench/clients.py``). All answer with the same small
interface (``UpstreamResponse``, which ``httpx.Response`` already is) and fail with httpx's
exceptions, so provider code has one path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import aiohttp
import httpx
from yarl import URL


class UpstreamResponse(Protocol):
    """What providers read of an upstream answer: a subset of ``httpx.Response``."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def content(self) -> bytes: ...

    async def aread(self) -> bytes: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class UpstreamPool(Protocol):
    """A provider's connection pool: ``UpstreamHTTP`` (aiohttp) or ``upstream_h1.H1Pool``."""

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        content: bytes,
        headers: Mapping[str, str],
        *,
        stream: bool = False,
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


class CompletableResponse:
    """A response whose connection may outlive an early close: ``stream_complete`` sets
    ``complete`` when only the transfer's end is still due."""

    __slots__ = ("complete",)

    complete: bool


def as_httpx_error(exc: BaseException) -> httpx.HTTPError:
    """The httpx exception a provider already handles for an aiohttp (or timeout) one."""
    text = str(exc) or type(exc).__name__
    error: httpx.HTTPError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout(text)
    elif isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        error = httpx.ReadTimeout(text)
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError(text)
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        error = httpx.RemoteProtocolError(text)
    elif isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        error = httpx.ReadError(text)
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol(text)
    else:
        error = httpx.TransportError(text)
    error.__cause__ = exc
    return error


_FAILURES = (aiohttp.ClientError, TimeoutError)


class AiohttpResponse(CompletableResponse):
    """An aiohttp response behind ``UpstreamResponse``; errors surface as httpx's."""

    __slots__ = ("_raw", "content", "headers", "reason_phrase", "status_code")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status_code = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self.reason_phrase = raw.reason or ""
        self.content = b""
        #: Set by ``stream_complete``: the last event came, only the transfer's end is due.
        self.complete = False

    async def aread(self) -> bytes:
        try:
            self.content = await self._raw.read()
        except _FAILURES as exc:
            raise as_httpx_error(exc) from exc
        return self.content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._raw.content.iter_any():
                yield chunk
        except _FAILURES as exc:
            raise as_httpx_error(exc) from exc

    async def aclose(self) -> None:
        # Back to the pool when the body was read to the end; closed otherwise, unless the
        # stream is complete and only the transfer's end (the chunked terminator, usually a
        # packet behind the last event) is missing: then that is awaited in the background,
        # so the connection, and its TLS session, serve the next request.
        raw = self._raw
        if self.complete and not raw.content.is_eof():
            track_finishing(asyncio.get_running_loop().create_task(_finish(raw)))
            return
        raw.release()


_FINISHING: set[asyncio.Task[Any]] = set()
#: How long a complete stream's transfer may take to end before its connection is closed.
FINISH_S = 2.0
#: At most this much is read past the last event (a well-behaved upstream sends 5 bytes).
FINISH_MAX_BYTES = 64 * 1024


def track_finishing(task: asyncio.Task[Any]) -> None:
    """Keep a background stream ending alive, and known to ``finish_pending``."""
    _FINISHING.add(task)
    task.add_done_callback(_FINISHING.discard)


async def _finish(raw: aiohttp.ClientResponse) -> None:
    try:
        async with asyncio.timeout(FINISH_S):
            extra = 0
            while not raw.content.is_eof() and extra <= FINISH_MAX_BYTES:
                extra += len(await raw.content.readany())
    except Exception:  # the upstream stalled or broke: its connection is not reused
        raw.close()
        return
    if raw.content.is_eof():
        raw.release()
    else:
        raw.close()


def stream_complete(response: UpstreamResponse) -> None:
    """Say a stream's last event has been read, before closing it early (an SSE ``[DONE]``
    or ``message_stop``): its connection can then go back to the pool."""
    if isinstance(response, CompletableResponse):
        response.complete = True


async def finish_pending() -> None:
    """Wait for the background stream endings (at shutdown, before the pools close)."""
    if _FINISHING:
        with contextlib.suppress(Exception):
            await asyncio.gather(*_FINISHING, return_exceptions=True)


class UpstreamHTTP:
    """One provider's aiohttp session, made on first use (it needs the running loop)."""

    def __init__(self, limits: httpx.Limits, timeout: httpx.Timeout) -> None:
        self.limits = limits
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.pool,
            sock_connect=timeout.connect,
            sock_read=timeout.read,
        )
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # ssl left at aiohttp's default: the verified context it built at import
            # (system CAs, SSL_CERT_FILE), not another 50 ms of loading certificates.
            connector = aiohttp.TCPConnector(
                limit=self.limits.max_connections or 0,
                keepalive_timeout=self.limits.keepalive_expiry or 60.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, raise_for_status=False
            )
        return self._session

    def _url(self, url: str | httpx.URL) -> URL:
        text = str(url)
        parsed = self._urls.get(text)
        if parsed is None:
            if len(self._urls) > 256:  # provider URLs are few; never let this grow
                self._urls.clear()
            parsed = self._urls[text] = URL(text)
        return parsed

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        content: bytes,
        headers: Mapping[str, str],
        *,
        stream: bool = False,
    ) -> AiohttpResponse:
        """Send; read the whole body unless ``stream`` (then the caller must ``aclose``)."""
        try:
            raw = await self.session().request(
                method, self._url(url), data=content, headers=headers, allow_redirects=False
            )
        except _FAILURES as exc:
            raise as_httpx_error(exc) from exc
        response = AiohttpResponse(raw)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def aclose(self) -> None:
        await finish_pending()
        if self._session is not None:
            await self._session.close()
            self._session = None
