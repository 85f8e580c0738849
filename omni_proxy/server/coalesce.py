"""One socket write per response instead of two.

uvicorn writes a response's status line and headers, then its body, as two
``transport.write`` calls: two system calls and two TCP segments for every answer, which
the client has to receive twice. ``CoalescingTransport`` holds the writes made during one
turn of the event loop and sends them together at the end of that turn, so nothing is held
back for longer than the code already running (a streamed chunk still leaves at once).
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """Wraps the server's transport; everything but writing is passed straight through."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        pending = self._pending
        if pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        extra = sum(map(len, self._pending)) if self._pending else 0
        return self._transport.get_write_buffer_size() + extra

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
