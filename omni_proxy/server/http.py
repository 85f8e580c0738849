"""Small HTTP helpers shared by the routes: JSON responses, body reading, request ids."""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ProxyError, bad_request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


def error_response(err: ProxyError, request_id: str | None) -> Response:
    return Response(
        err.to_bytes(request_id),
        status_code=err.status,
        media_type="application/json",
        headers=err.headers,
    )


class IndexedHeaders(Headers):
    """Starlette's request headers with a dict behind ``get``, ``[]`` and ``in``.

    ``Headers.get`` scans the list and raises a ``KeyError`` inside ``Mapping.get`` for
    every header that is absent, and a chat completion asks for a dozen, mostly absent
    (trace context, routing options). The first value of a repeated header wins, as in
    ``Headers``."""

    __slots__ = ("_index",)

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        index: dict[str, str] = {}
        for name, value in reversed(self._list):
            index[name.decode("latin-1")] = value.decode("latin-1")
        self._index = index

    def get(self, key: str, default: Any = None) -> Any:
        return self._index.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._index


def fast_request(scope: Scope, receive: Receive, send: Send) -> Request:
    """A ``Request`` whose headers are ``IndexedHeaders``."""
    request = Request(scope, receive, send)
    request._headers = IndexedHeaders(scope)
    return request


def request_id(request: Request) -> str:
    return request.scope["state"]["request_id"]  # type: ignore[no-any-return]


def api_key_of(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


# A client has this long to send its whole body (slow-loris defence); OMNI_BODY_TIMEOUT_S.
BODY_TIMEOUT_S = float(os.environ.get("OMNI_BODY_TIMEOUT_S") or 30.0)
# Deeper JSON is refused: orjson cannot serialise past 254 levels when the body goes upstream,
# and no real request comes close (OpenAI's structured outputs allow 10 levels of schema).
MAX_JSON_DEPTH = 128


async def read_json(request: Request, limit: int, timeout: float | None = None) -> Any:
    """The body as JSON, refusing bodies over ``limit`` bytes before reading them all.

    Any content type is read as JSON (as ``curl -d`` sends form-encoded), except
    ``multipart/*``, which is refused with a 415. The whole body must arrive within
    ``timeout`` seconds (default ``BODY_TIMEOUT_S``) or the answer is a 408.
    """
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype.startswith("multipart/"):
        raise ProxyError(
            415,
            f"Unsupported content type: '{ctype}'. This endpoint takes a JSON body; send it "
            "with 'Content-Type: application/json'.",
            code="unsupported_content_type",
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    wait = BODY_TIMEOUT_S if timeout is None else timeout
    try:
        async with asyncio.timeout(wait):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except ClientDisconnect:
        # Nobody is left to read the answer; a 4xx keeps it out of the 5xx figures and logs.
        raise bad_request(
            "The client closed the connection before the request body was complete.",
            code="client_disconnected",
        ) from None
    except TimeoutError:
        raise ProxyError(
            408,
            f"The request body did not arrive within {wait:g} seconds.",
            code="request_timeout",
            headers={"connection": "close"},
        ) from None
    raw = b"".join(chunks)
    if not raw.strip():
        raise bad_request("We could not parse the JSON body of your request: the body is empty.")
    if len(raw) > PARSE_OFF_LOOP_BYTES:
        return await asyncio.to_thread(parse_json, raw)
    return parse_json(raw)


#: Bodies larger than this are parsed and depth-checked in a worker thread: walking a 250k-
#: message body took seconds on the event loop, stalling every other tenant (issue 15).
PARSE_OFF_LOOP_BYTES = 1 << 20


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, refusing invalid or too deeply nested bodies with a 400."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            f"aren't using your HTTP library correctly. The parser said: {exc.msg}.)",
            code="invalid_json",
        ) from None
    # Cheap first: a body with few brackets cannot be nested deeply.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and too_deep(value, MAX_JSON_DEPTH):
        raise bad_request(
            f"The JSON body of your request is nested more than {MAX_JSON_DEPTH} levels deep.",
            code="invalid_json",
        )
    return value


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` levels (iteratively)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def too_large(limit: int) -> ProxyError:
    return ProxyError(
        413,
        f"The request body is larger than the proxy's limit of {limit} bytes.",
        code="request_too_large",
    )


class RequestIdMiddleware:
    """Pure ASGI: give every request the proxy's own id and echo it (and the client's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        assign_request_id(scope)
        extra = id_headers(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k == b"x-request-id" for k, _ in headers):
                    headers += extra
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def id_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """``x-request-id`` (ours) and, if the client sent one, ``x-client-request-id``."""
    state = scope.get("state", {})
    out = [(b"x-request-id", str(state.get("request_id", "")).encode())]
    client = state.get("client_request_id")
    if client:
        out.append((b"x-client-request-id", client.encode()))
    return out


def assign_request_id(scope: Scope) -> str:
    """A new id for the request, kept in the scope; never the client's (CONTRACT.md): a
    client's id is the primary key of nothing, so reusing one can neither drop a record
    nor let one org suppress another's. The client's ``x-request-id`` (or
    ``x-client-request-id``), if sane, is kept as ``client_request_id``."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is not None:
        return str(rid)
    client = None
    for name, value in scope["headers"]:
        if name == b"x-request-id" or name == b"x-client-request-id":
            text = value.decode("latin-1")
            if _SAFE_ID.match(text):
                client = text
            if name == b"x-request-id":
                break
    rid = new_request_id()
    state["request_id"] = rid
    state["client_request_id"] = client
    return rid


def new_request_id() -> str:
    """Unique, not secret: random's generator (reseeded in forked children) costs a fraction
    of a getrandom() system call per request. Time first (ms, then 80 random bits): the ids
    are primary keys, and appending at the index's edge keeps a growing table's insert cost
    flat (random ids doubled SQLite's by 500k rows)."""
    return f"req_{time.time_ns() // 1_000_000:012x}{random.getrandbits(80):020x}"
