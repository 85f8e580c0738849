"""``CoalescingTransport``: one socket write per loop turn, nothing held back longer."""

from __future__ import annotations

import asyncio
from typing import Any

from omni_proxy.server.coalesce import CoalescingTransport


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return "peer" if name == "peername" else default


async def test_writes_in_one_loop_turn_leave_as_one() -> None:
    inner = RecordingTransport()
    t = CoalescingTransport(inner, asyncio.get_running_loop())
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    t.write(memoryview(b"hi"))
    t.write(b"")
    assert inner.writes == []  # held until the end of this turn only
    assert t.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi")
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"]
    t.write(b"next")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"next"]


async def test_close_flushes_abort_drops_and_the_rest_passes_through() -> None:
    inner = RecordingTransport()
    t = CoalescingTransport(inner, asyncio.get_running_loop())
    assert t.get_extra_info("peername") == "peer"
    t.write(b"last words")
    t.close()
    assert inner.writes == [b"last words"] and inner.closed
    await asyncio.sleep(0)
    assert inner.writes == [b"last words"]  # not written twice

    inner2 = RecordingTransport()
    t2 = CoalescingTransport(inner2, asyncio.get_running_loop())
    t2.write(b"never")
    t2.abort()
    await asyncio.sleep(0)
    assert inner2.writes == [] and inner2.aborted


async def test_the_server_protocol_writes_each_answer_once() -> None:
    """omni-proxy's uvicorn protocol, fed a request: the status line, headers and body of the
    answer reach the socket in one write, and a streamed answer's chunks one write each."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from omni_proxy.server.security import LimitedHttpToolsProtocol

    release = asyncio.Event()

    async def chunks() -> Any:
        yield b"one"
        await release.wait()
        yield b"two"

    async def plain(request: Any) -> Any:
        return JSONResponse({"ok": True})

    async def streamed(request: Any) -> Any:
        return StreamingResponse(chunks())

    app = Starlette(routes=[Route("/plain", plain), Route("/stream", streamed)])
    config = Config(app, lifespan="off", log_config=None)
    inner = RecordingTransport()
    protocol = LimitedHttpToolsProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    protocol.connection_made(inner)

    async def until(n: int) -> None:
        for _ in range(200):
            if len(inner.writes) >= n:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"expected {n} writes, got {inner.writes!r}")

    protocol.data_received(b"GET /plain HTTP/1.1\r\nhost: x\r\n\r\n")
    await until(1)
    await asyncio.sleep(0.02)
    assert len(inner.writes) == 1
    head, _, body = inner.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b'{"ok":true}'

    protocol.data_received(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    await until(2)
    await asyncio.sleep(0.02)
    assert len(inner.writes) == 2  # the first chunk is out before the second exists
    assert inner.writes[1].startswith(b"HTTP/1.1 200") and inner.writes[1].endswith(b"3\r\none\r\n")
    release.set()
    await until(3)
    assert b"two" in inner.writes[2] and inner.writes[-1].endswith(b"0\r\n\r\n")
    protocol.connection_lost(None)
