"""What ``Provider.post`` / ``post_stream`` talk to: the pool interface and what pools share.

Providers call ``Provider.post`` / ``Provider.post_stream``. Those use the provider's
connection pool (``UpstreamPool``) when it has one: ``upstream_h1.H1Pool`` by default; and
the provider's ``httpx.AsyncClient`` otherwise (``transport: httpx``, chosen by itself when a
proxy is set in the environment, or a test's ``MockTransport``). httpx's client cost about
ten times H1Pool's CPU per call (``bench/clients.py``). Both answer with the same small
interface (``UpstreamResponse``, which ``httpx.Response`` already is) and fail with httpx's
exceptions, so provider code has one path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import httpx


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
    """A provider's connection pool: ``upstream_h1.H1Pool``."""

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


_FINISHING: set[asyncio.Task[Any]] = set()
#: How long a complete stream's transfer may take to end before its connection is closed.
FINISH_S = 2.0
#: At most this much is read past the last event (a well-behaved upstream sends 5 bytes).
FINISH_MAX_BYTES = 64 * 1024


def track_finishing(task: asyncio.Task[Any]) -> None:
    """Keep a background stream ending alive, and known to ``finish_pending``."""
    _FINISHING.add(task)
    task.add_done_callback(_FINISHING.discard)


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
