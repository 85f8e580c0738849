"""An ASGI response for SSE relays that notices a vanished client at once.

Starlette's ``StreamingResponse`` only learns of a disconnect on its next write (ASGI 2.4),
which never comes while an upstream stalls. This one watches ``receive`` alongside the
relay, cancels the relay when the client leaves, and always runs ``on_close`` (the
pipeline's closer) so the request is recorded and the upstream connection returned to the
pool, even when the first send fails before the relay ever started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class SSEResponse(Response):
    def __init__(
        self,
        iterator: AsyncGenerator[bytes, None],
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        # Deliberately not Response.__init__: there is no body to render.
        self.status_code = 200
        self.background = None
        self.iterator = iterator
        self.on_close = on_close
        self.raw_headers = SSE_HEADERS + [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async for chunk in self.iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _watch(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.create_task(self._pump(send))
        watch = asyncio.create_task(self._watch(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not pump.done():
                pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await pump
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            try:
                await self.iterator.aclose()
            finally:
                if self.on_close is not None:
                    await self.on_close()
