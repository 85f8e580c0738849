"""Helpers every provider needs: mapping upstream failures to CONTRACT.md errors, and SSE.

Providers raise what these return, so the fallback logic sees one vocabulary of errors
whichever wire format the upstream speaks.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from ..errors import ProxyError, bad_request, upstream_error

if TYPE_CHECKING:
    from .pool import UpstreamResponse


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms``, ``retry-after`` (seconds only) or OpenAI's
    ``x-ratelimit-reset-requests`` / ``-tokens`` ("1s", "6m0s", "20ms"), capped at a minute."""
    raw_ms = headers.get("retry-after-ms")
    raw = headers.get("retry-after")
    try:
        if raw_ms is not None:
            return min(60.0, max(0.0, float(raw_ms) / 1000))
        if raw is not None:
            return min(60.0, max(0.0, float(raw)))
    except ValueError:
        return None
    resets = [
        _duration(headers.get(name) or "")
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
    ]
    known = [r for r in resets if r is not None]
    return min(60.0, max(known)) if known else None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _duration(text: str) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "1h2m3.5s", "20ms") in seconds."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def error_from_status(
    provider: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
    overloaded: bool = False,
) -> ProxyError:
    """A CONTRACT.md error for an upstream's HTTP failure.

    The client's request is at fault only for 400/413/422: those pass through as client
    errors. The proxy's own credentials or model ids being wrong (401/403/404) are the
    operator's problem, so they become 502s another model may still fix.
    """
    text = f"{provider}: {message}" if message else f"{provider} answered HTTP {status}"
    if status in (400, 422):
        return ProxyError(400, text, code=code, param=param, retryable=False)
    if status == 413:
        return ProxyError(413, text, code=code or "request_too_large", retryable=False)
    if status in (401, 403):
        return upstream_error(
            502,
            f"{provider} rejected the proxy's credentials ({status}): {message}",
            code="upstream_auth_failed",
            retryable=True,
        )
    if status == 404:
        return upstream_error(502, text, code="upstream_model_not_found", retryable=True)
    if status == 402:  # the operator's account is out of credit: another provider may not be
        return upstream_error(502, text, code="upstream_insufficient_credits", retryable=True)
    if status == 429 and code != "insufficient_quota" and not overloaded:
        return upstream_error(
            429, text, code="rate_limit_exceeded", retry_after=retry_after, retryable=True
        )
    if status == 429 or overloaded or status in (503, 529):
        return upstream_error(
            503,
            text,
            code=code if code and status != 429 else "upstream_overloaded",
            retry_after=retry_after,
            retryable=True,
        )
    if status in (408, 504):
        return upstream_error(504, text, code="upstream_timeout", retryable=True)
    return upstream_error(502, text, code=code or "upstream_error", retryable=True)


def error_from_exception(provider: str, exc: Exception) -> ProxyError:
    """A CONTRACT.md error for a failure to talk to the upstream at all."""
    if isinstance(exc, httpx.TimeoutException):
        kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        return upstream_error(
            504, f"{provider}: timed out {kind} the upstream", code="upstream_timeout"
        )
    if isinstance(exc, httpx.ConnectError):
        return upstream_error(
            502, f"{provider}: could not connect to the upstream", code="upstream_unreachable"
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return upstream_error(
            502, f"{provider}: the upstream closed the connection", code="upstream_disconnected"
        )
    if isinstance(exc, httpx.DecodingError):  # undecodable, or larger than the cap
        return upstream_error(502, f"{provider}: {exc}", code="upstream_malformed")
    return upstream_error(
        502, f"{provider}: upstream request failed ({type(exc).__name__})", code="upstream_error"
    )


def arguments_object(arguments: Any, where: str) -> dict[str, Any]:
    """OpenAI's JSON-string tool-call ``arguments`` as the object most other APIs want."""
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        value = orjson.loads(arguments)
    except (TypeError, orjson.JSONDecodeError):
        raise bad_request(f"Invalid '{where}': not valid JSON.", where) from None
    if not isinstance(value, dict):
        raise bad_request(f"Invalid '{where}': expected a JSON object.", where)
    return value


def parse_data_uri(uri: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a ``data:`` URI, or None if it is not one: the image
    and file parts of OpenAI requests, for upstreams that want the bytes."""
    if not uri.startswith("data:"):
        return None
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        return None
    params = header.split(";")
    media = params[0].strip().lower() or "text/plain"
    if "base64" in (p.strip().lower() for p in params[1:]):
        return media, payload.strip()
    return media, base64.b64encode(urllib.parse.unquote_to_bytes(payload)).decode()


def error_body(response: UpstreamResponse, content: bytes) -> tuple[Any, str]:
    """An upstream error response's parsed body (None when it is not JSON) and a short text
    to report when the body says nothing useful."""
    try:
        payload = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        payload = None
    return payload, content[:200].decode("utf-8", "replace") or response.reason_phrase


def parse_json(provider: str, content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise upstream_error(
            502,
            f"{provider}: the upstream sent a body that is not valid JSON",
            code="upstream_bad_response",
        ) from None


def error_message(payload: Any) -> tuple[str, str | None, str | None, str | None]:
    """(message, code, param, type) from an OpenAI- or Anthropic- or Google-shaped error body."""
    err = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        return (
            str(err.get("message") or ""),
            str(code) if code is not None and not isinstance(code, int) else err.get("status"),
            err.get("param"),
            err.get("type"),
        )
    if isinstance(err, str):
        return err, None, None, None
    return "", None, None, None


#: One server-sent event (or line) at most: a stream that never ends its line would
#: otherwise be buffered without bound.
MAX_SSE_EVENT_BYTES = 8 << 20


def _sse_too_long() -> ProxyError:
    return ProxyError(
        502,
        f"the upstream sent a stream event longer than {MAX_SSE_EVENT_BYTES} bytes",
        type="server_error",
        code="upstream_malformed",
        retryable=True,
    )


async def sse_events(response: UpstreamResponse) -> AsyncIterator[tuple[str | None, bytes]]:
    """(event name, data) for each server-sent event, per the WHATWG framing rules."""
    buffer = b""
    event: str | None = None
    data: list[bytes] = []
    size = 0  # bytes of the event so far
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while True:
            cut = buffer.find(b"\n")
            if cut < 0:
                if len(buffer) > MAX_SSE_EVENT_BYTES:
                    raise _sse_too_long()
                break
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield event, b"\n".join(data)
                event, data, size = None, [], 0
                continue
            if line.startswith(b":"):
                continue
            field, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                size += len(value)
                if size > MAX_SSE_EVENT_BYTES:
                    raise _sse_too_long()
                data.append(value)
            elif field == b"event":
                event = value.decode("utf-8", "replace")
    if data:
        yield event, b"\n".join(data)
