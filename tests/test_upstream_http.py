"""``Provider.post`` / ``post_stream`` over the h1 pool and over httpx (proxies), against
a raw HTTP/1.1 server on 127.0.0.1 that controls exactly how a stream's bytes and its end
arrive. (``test_upstream_h1.py`` tests the h1 pool itself in depth.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from omni_proxy_openai import OpenAIProvider

from omni_proxy.config import ProviderSettings
from omni_proxy.errors import ProxyError
from omni_proxy.registry import Providers
from omni_proxy.types import ModelInfo
from omni_proxy.upstream import pool as upstream_http

CHUNK = (
    b'{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}'
)


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class RawUpstream:
    """Answers every POST with an SSE stream: one chunk, ``[DONE]``, then the chunked
    terminator after ``end_delay_s`` (never, if None). Counts connections."""

    def __init__(self, end_delay_s: float | None) -> None:
        self.end_delay_s = end_delay_s
        self.connections = 0
        self.closed = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RawUpstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                    + _chunked(b"data: " + CHUNK + b"\n\n")
                    + _chunked(b"data: [DONE]\n\n")
                )
                await writer.drain()
                if self.end_delay_s is None:
                    await reader.read()  # never ends the stream; returns when the client hangs up
                    return
                await asyncio.sleep(self.end_delay_s)
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed += 1
            writer.close()


#: The pools ``Provider.post`` can use (``transport``); the tests run over each.
POOLS = ["h1"]


def _provider(base_url: str, transport: str) -> tuple[OpenAIProvider, httpx.AsyncClient, Any]:
    settings = ProviderSettings(
        name="up", plugin="openai", base_url=base_url, api_key="sk-x", transport=transport
    )
    client, pool = Providers._client_for(settings, env={})
    assert pool is not None
    provider = OpenAIProvider(settings, client)
    provider.http = pool
    return provider, client, pool


MODEL = ModelInfo(name="m", provider="up", model="m")
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


async def _drain(it: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in it]


async def _wait(check: Any, timeout: float = 3.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return bool(check())


@pytest.mark.parametrize("transport", POOLS)
@pytest.mark.parametrize("marked", [True, False])
async def test_a_finished_stream_keeps_its_connection_when_the_end_arrives_late(
    marked: bool, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not marked:  # the control: what closing at [DONE] without the mark does
        monkeypatch.setattr("omni_proxy_openai.stream_complete", lambda response: None)
    async with RawUpstream(end_delay_s=0.05) as upstream:
        provider, client, pool = _provider(upstream.base_url, transport)
        try:
            for _ in range(3):
                started = asyncio.get_running_loop().time()
                chunks = await _drain(provider.stream(dict(BODY), MODEL))
                assert chunks and b'"hi"' in chunks[0]  # [DONE] ends it: the client has all
                assert asyncio.get_running_loop().time() - started < 0.05  # not held for the end
                await asyncio.sleep(0.15)  # the next request comes after the terminator
            # The terminator arrives 50 ms after [DONE]: awaited in the background, so the
            # streams share one connection (and, upstream, one TLS session).
            assert upstream.connections == (1 if marked else 3), upstream.connections
        finally:
            await pool.aclose()
            await client.aclose()


@pytest.mark.parametrize("transport", POOLS)
async def test_a_stream_whose_end_never_comes_loses_its_connection(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upstream_http, "FINISH_S", 0.2)
    async with RawUpstream(end_delay_s=None) as upstream:
        provider, client, pool = _provider(upstream.base_url, transport)
        try:
            chunks = await _drain(provider.stream(dict(BODY), MODEL))
            assert chunks  # the client is not kept waiting for the terminator
            assert await _wait(lambda: upstream.closed == 1), "the stalled connection stayed open"
            await _drain(provider.stream(dict(BODY), MODEL))
            assert upstream.connections == 2  # a new connection, not the stalled one
        finally:
            await pool.aclose()
            await client.aclose()


@pytest.mark.parametrize("transport", POOLS)
async def test_upstream_failures_surface_as_httpx_errors(transport: str) -> None:
    settings = ProviderSettings(
        name="up", plugin="openai", base_url="http://127.0.0.1:9/v1", transport=transport
    )
    client, pool = Providers._client_for(settings, env={})
    assert pool is not None
    try:
        with pytest.raises(httpx.ConnectError):
            await pool.request("POST", "http://127.0.0.1:9/v1/x", b"{}", {})
    finally:
        await pool.aclose()
        await client.aclose()


async def test_transport_httpx_uses_the_httpx_client() -> None:
    settings = ProviderSettings(
        name="up", plugin="openai", base_url="http://127.0.0.1:9/v1", transport="httpx"
    )
    client, pool = Providers._client_for(settings, env={})
    try:
        assert pool is None
        provider = OpenAIProvider(settings, client)
        with pytest.raises(ProxyError) as failed:  # mapped by Provider.post itself
            await provider.post("http://127.0.0.1:9/v1/x", b"{}", {})
        assert (failed.value.status, failed.value.code) == (502, "upstream_unreachable")
    finally:
        await client.aclose()


ANSWER = (
    b'{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"via proxy"},"finish_reason":"stop"}]}'
)


async def test_with_a_proxy_set_the_upstream_is_reached_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY set: the provider's calls go to the proxy, in absolute form, not to the
    upstream's own address (which does not even resolve here)."""
    lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines.append(head.split(b"\r\n", 1)[0])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(ANSWER), ANSWER)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings = ProviderSettings(
        name="up", plugin="openai", base_url="http://upstream.invalid/v1", api_key="sk-x"
    )
    client, pool = Providers._client_for(settings)
    try:
        assert pool is None  # chosen because HTTP_PROXY is set
        provider = OpenAIProvider(settings, client)
        answer = await provider.chat(
            {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, MODEL
        )
        assert answer["choices"][0]["message"]["content"] == "via proxy"
        assert lines == [b"POST http://upstream.invalid/v1/chat/completions HTTP/1.1"]
    finally:
        await client.aclose()
        server.close()


# -- the OpenAI provider's contract, over both transports -------------------------------------
@pytest.fixture(scope="module")
def fake_openai() -> Any:
    from tests.fakes.openai_upstream import FakeOpenAI

    with FakeOpenAI() as fake:
        yield fake


async def test_openai_provider_contract_over_each_transport(
    fake_openai: Any, upstream_client: httpx.AsyncClient
) -> None:
    """Chat, a stream, an upstream error, an unreachable upstream and the trace headers:
    the same answers over the h1 pool and over httpx (``upstream_client`` runs both)."""
    from omni_proxy.server import tracing
    from tests.conftest import over
    from tests.fakes.openai_upstream import DEFAULT_API_KEY

    fake_openai.clear_behaviour()
    settings = ProviderSettings(
        name="up", plugin="openai", base_url=fake_openai.base_url, api_key=DEFAULT_API_KEY
    )
    provider = over(OpenAIProvider(settings, upstream_client), upstream_client)
    model = ModelInfo(name="m", provider="up", model="gpt-4o-mini")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two"}]}
    tracing.begin("req-contract", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")

    answer = await provider.chat(dict(body), model)
    assert answer["choices"][0]["message"]["content"] == "Echo: one two"
    sent = fake_openai.last_request["headers"]
    assert sent["x-request-id"] == "req-contract"
    assert sent["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")

    chunks = [orjson.loads(c) async for c in provider.stream({**body, "stream": True}, model)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: one two" and chunks[-1]["usage"]["completion_tokens"] > 0

    fake_openai.set_behaviour("gpt-4o-mini", "status", status=429, retry_after=3)
    try:
        with pytest.raises(ProxyError) as limited:
            await provider.chat(dict(body), model)
    finally:
        fake_openai.clear_behaviour()
    assert (limited.value.status, limited.value.retry_after) == (429, 3)

    gone = ProviderSettings(name="gone", plugin="openai", base_url="http://127.0.0.1:9/v1")
    unreachable = over(OpenAIProvider(gone, upstream_client), upstream_client)
    with pytest.raises(ProxyError) as failed:
        await unreachable.chat(dict(body), model)
    assert (failed.value.status, failed.value.code) == (502, "upstream_unreachable")
