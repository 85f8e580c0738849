"""HTTP hardening that is not a route's business: header size limits and (opt-in) CORS.

* ``LimitedHttpToolsProtocol`` is the HTTP protocol ``omni-proxy serve`` runs: uvicorn's
  httptools protocol, but a request line plus headers larger than ``MAX_HEADER_BYTES`` is
  answered ``431`` and the connection closed *while it arrives*, so a client cannot make
  the server buffer megabytes of headers (httptools itself sets no limit).
* The same protocol closes a connection whose request head is not complete
  ``HEAD_TIMEOUT_S`` after it opened (or after its previous response), so sockets that
  never finish their head (slowloris) cannot pile up until the process runs out of file
  descriptors; idle keep-alive connections close after ``KEEP_ALIVE_S`` (uvicorn's
  ``timeout_keep_alive``). Beyond ``MAX_CONNECTIONS`` open connections a new one is
  answered ``503`` and closed at once.
* ``HeaderLimitMiddleware`` applies the same limit at the ASGI level, for servers other than
  ``omni-proxy serve`` (e.g. ``uvicorn --factory omni_proxy.app:app_from_env``).
* CORS is closed by default: no ``access-control-allow-origin`` on any response and no
  preflight handling (``OPTIONS`` is 405). ``cors_origins`` in the config opens it for the
  listed origins only (never credentials).

See ``docs/security.md`` for every promise and the test that proves it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import ProxyError
from .coalesce import CoalescingTransport
from .http import error_response, new_request_id

#: Request line + headers, in bytes (``OMNI_MAX_HEADER_BYTES``); nginx allows 32 KB by default.
MAX_HEADER_BYTES = int(os.environ.get("OMNI_MAX_HEADER_BYTES") or 64 * 1024)

#: Seconds a client has to send a whole request head (``OMNI_HEADER_TIMEOUT_S``).
HEAD_TIMEOUT_S = float(os.environ.get("OMNI_HEADER_TIMEOUT_S") or 10)
#: Seconds an idle keep-alive connection stays open (``OMNI_KEEP_ALIVE_S``). Longer than
#: clients keep theirs (httpx and the openai SDK: 5 s): with equal timeouts a client can send
#: on a connection the proxy is just closing, and that request fails with a read error.
KEEP_ALIVE_S = float(os.environ.get("OMNI_KEEP_ALIVE_S") or 20)


def _default_max_connections() -> int:
    """Most of the file descriptors the process may open, leaving room for the database,
    upstream connections and files."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 1000
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 10_000
    return max(16, int(soft * 0.7))


#: Open client connections at most (``OMNI_MAX_CONNECTIONS``); more get a 503 and are closed.
MAX_CONNECTIONS = int(os.environ.get("OMNI_MAX_CONNECTIONS") or _default_max_connections())
_BUSY = ProxyError(
    503,
    "The proxy has too many open connections; retry shortly.",
    type="server_error",
    code="server_busy",
)

CORS_EXPOSED = [
    "x-request-id",
    "x-client-request-id",
    "x-omni-model",
    "x-omni-provider",
    "x-omni-task",
    "retry-after",
]


def headers_too_large(limit: int = MAX_HEADER_BYTES) -> ProxyError:
    return ProxyError(
        431,
        f"The request headers are larger than the proxy's limit of {limit} bytes.",
        code="request_header_fields_too_large",
        headers={"connection": "close"},
    )


class _HeadersTooLarge(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head (see the module doc)."""

    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # bytes received while a request head was incomplete
        self._counted = 0  # request line and headers parsed so far
        self._too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._head_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > MAX_CONNECTIONS:
            self._refuse(_BUSY, b"503 Service Unavailable")
            return
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _stop_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        """No complete head in time: a client this slow holds a socket for nothing."""
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            err = ProxyError(
                408, "The request head did not arrive in time.", code="request_timeout"
            )
            self._refuse(err, b"408 Request Timeout")
        else:
            self.transport.close()

    def _refuse(self, err: ProxyError, status: bytes) -> None:
        """Answer before any request reached the app: CONTRACT.md's JSON with a request id."""
        rid = new_request_id()
        body = err.to_bytes(rid)
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"x-request-id: " + rid.encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._too_large:
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                # The first bytes of a keep-alive connection's next head: the clock starts.
                self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timed_out)
        super().data_received(data)
        # A head still incomplete after this much data is too large, however it is split.
        if not self._too_large and self._in_head and self._head_bytes > self.max_header_bytes:
            self._too_large = True
            self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._counted = 0

    def _count(self, n: int) -> None:
        self._counted += n
        if self._counted > self.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's protocol-level 400 (and our 431) as JSON in CONTRACT.md's shape."""
        if self.transport.is_closing():
            return
        if self._too_large:
            err = headers_too_large(self.max_header_bytes)
            self._refuse(err, b"431 Request Header Fields Too Large")
            return
        err = ProxyError(400, "Invalid HTTP request received.", code="invalid_http_request")
        self._refuse(err, b"400 Bad Request")


class HeaderLimitMiddleware:
    """Answer 431 (CONTRACT.md error shape) to requests whose head exceeds ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and head_size(scope) > self.max_bytes:
            rid = scope.get("state", {}).get("request_id")
            response = error_response(headers_too_large(self.max_bytes), rid)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def head_size(scope: Scope) -> int:
    """Bytes of the request line's target and the headers, as HTTP/1.1 would send them."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + sum(len(k) + len(v) + 4 for k, v in scope["headers"])


def middleware(config: Any) -> list[Middleware]:
    """The security middleware for ``create_app`` (inside ``RequestIdMiddleware``)."""
    stack = []
    origins = list(getattr(config, "cors_origins", None) or [])
    if origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "x-api-key",
                    "x-request-id",
                    "x-omni-priority",
                    "x-omni-latency-pref",
                    "x-omni-max-cost",
                    "x-omni-quality-floor",
                    "traceparent",
                    "tracestate",
                ],
                expose_headers=CORS_EXPOSED,
                allow_credentials=False,
                max_age=600,
            )
        )
    stack.append(Middleware(HeaderLimitMiddleware))
    return stack


__all__ = [
    "MAX_HEADER_BYTES",
    "HeaderLimitMiddleware",
    "LimitedHttpToolsProtocol",
    "headers_too_large",
    "middleware",
]
