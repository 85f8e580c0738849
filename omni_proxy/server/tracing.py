"""Request ids and W3C trace context, carried to the upstream call without new arguments.

A context variable holds the headers for the current request's upstream calls;
``Provider.post`` and ``post_stream`` add them (``upstream_headers()``) to every call.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_EMPTY: dict[str, str] = {}
_current: ContextVar[dict[str, str]] = ContextVar("omni_upstream_headers", default=_EMPTY)
#: The caller's own ``traceparent`` (None when it sent none), for the span exporter.
_incoming: ContextVar[str | None] = ContextVar("omni_incoming_traceparent", default=None)


def child_traceparent(incoming: str | None) -> str:
    """Continue the caller's trace with a new span id, or start a trace."""
    match = _TRACEPARENT.match(incoming.strip().lower()) if incoming else None
    # Ids must be unique and non-zero, not secret (W3C trace context): random's generator
    # (reseeded in forked children) instead of two getrandom() system calls per request.
    span = f"{random.getrandbits(64) or 1:016x}"
    if match and match.group(1) != "0" * 32 and match.group(2) != "0" * 16:
        return f"00-{match.group(1)}-{span}-{match.group(3)}"
    return f"00-{random.getrandbits(128) or 1:032x}-{span}-01"


def begin(request_id: str, traceparent: str | None, tracestate: str | None = None) -> None:
    headers = {"x-request-id": request_id, "traceparent": child_traceparent(traceparent)}
    if tracestate:
        headers["tracestate"] = tracestate[:512]
    _current.set(headers)
    _incoming.set(traceparent)


def current() -> tuple[str | None, str | None]:
    """(the caller's traceparent, the one sent upstream): the request's span is the
    upstream call's parent, and the caller's span is its own (omni_proxy/server/otel.py)."""
    return _incoming.get(), _current.get().get("traceparent")


def upstream_headers() -> dict[str, str]:
    """Headers every provider should add to its upstream request."""
    return _current.get()
