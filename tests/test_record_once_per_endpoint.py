"""Every endpoint records each request exactly once, whether it answered, failed upstream
or was refused after authentication, streamed or not: ``Pipeline.handle``'s owner is the
only writer. Served by uvicorn on a real socket, asked with a real HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import uvicorn

from omni_proxy.app import create_app
from omni_proxy.errors import upstream_error
from omni_proxy.plugins import hookimpl
from omni_proxy.testing import MASTER_KEY, StubProvider, make_config, plugin_manager
from omni_proxy.types import ModelInfo, RequestRecord


class _Upstream(StubProvider):
    """The stub's answers, and a model that always fails upstream."""

    plugin = "counted"

    @classmethod
    def default_models(cls, settings: Any) -> list[dict[str, Any]]:
        return [
            {"name": "good-model", "cost_input": "1", "cost_output": "2"},
            {"name": "bad-model", "cost_input": "1", "cost_output": "2"},
            {"name": "embed-model", "cost_input": "0.1", "kind": "embedding"},
        ]

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        if model.name == "bad-model":
            raise upstream_error(500, "counted: the upstream broke", retryable=False)
        return await super().chat(body, model)

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        if model.name == "bad-model":
            raise upstream_error(500, "counted: the upstream broke", retryable=False)
        async for chunk in super().stream(body, model):
            yield chunk


class _Plugin:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("counted", _Upstream)

    @hookimpl
    def record(self, event: RequestRecord) -> None:
        self.records.append(event)


CHAT = {"messages": [{"role": "user", "content": "hi"}]}
BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": CHAT,
    "/v1/chat": CHAT,
    "/v1/agent-step": CHAT,
    "/v1/completions": {"prompt": "hi"},
    "/v1/messages": {"max_tokens": 20, **CHAT},
    "/v1/responses": {"input": "hi"},
    "/v1/embeddings": {"input": "hi"},
}
STREAMING = ("/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/responses")
#: A body each endpoint refuses with a 400 after authenticating.
BAD: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "good-model", "messages": "not a list"},
    "/v1/chat": {"messages": "not a list"},
    "/v1/agent-step": {"messages": "not a list"},
    "/v1/completions": {"model": "good-model"},
    "/v1/messages": {"model": "good-model", "max_tokens": 20, "messages": "not a list"},
    "/v1/responses": {"model": "good-model"},
    "/v1/embeddings": {"model": "embed-model"},
}


def _cases() -> list[tuple[str, dict[str, Any], int]]:
    cases = []
    for path, body in BODIES.items():
        good = "embed-model" if path == "/v1/embeddings" else "good-model"
        cases.append((path, {"model": good, **body}, 200))
        if path in STREAMING:
            cases.append((path, {"model": good, "stream": True, **body}, 200))
        if path != "/v1/embeddings":
            cases.append((path, {"model": "bad-model", **body}, 500))
        if path in STREAMING:
            cases.append((path, {"model": "bad-model", "stream": True, **body}, 500))
        cases.append((path, BAD[path], 400))
    return cases


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_every_endpoint_records_each_request_exactly_once() -> None:
    plugin = _Plugin()
    # strict_model: the failing model is not fallen back from.
    config = make_config({"providers": {"counted": {}}, "routing": {"strict_model": True}})
    app = create_app(config, pm=plugin_manager([plugin]))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.01)
    sent: list[tuple[str, int, str, bool]] = []
    try:
        headers = {"authorization": f"Bearer {MASTER_KEY}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
        ) as client:
            for path, body, status in _cases():
                stream = bool(body.get("stream"))
                async with client.stream("POST", path, content=orjson.dumps(body)) as response:
                    await response.aread()
                rid = response.headers["x-request-id"]
                # A stream that failed before its first chunk is answered as an error.
                assert response.status_code == status, (path, body, response.text)
                sent.append((path, status, rid, stream))
    finally:
        server.should_exit = True
        await serving
    counts = Counter(r.request_id for r in plugin.records)
    for path, status, rid, stream in sent:
        assert counts[rid] == 1, (path, status, stream, counts[rid])
        record = next(r for r in plugin.records if r.request_id == rid)
        assert record.endpoint == path
        assert record.status == status, (path, stream, record.status, record.error)
        assert record.stream == stream or path in ("/v1/chat", "/v1/agent-step")
        if status == 200:
            assert record.model_used in ("good-model", "embed-model")
            assert not record.client_disconnected
    assert len(plugin.records) == len(sent)


class _Stalled(StubProvider):
    """A chat model that never answers (until its task is cancelled)."""

    plugin = "stalled"
    entered: asyncio.Event

    @classmethod
    def default_models(cls, settings: Any) -> list[dict[str, Any]]:
        return [{"name": "stalled-model", "cost_input": "1", "cost_output": "2"}]

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class _StalledPlugin(_Plugin):
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("stalled", _Stalled)


async def test_a_request_cancelled_mid_call_is_recorded_once() -> None:
    """Shutdown (or a server that cancels on disconnect) cancels the request's task while
    the provider is still thinking: the owner records it as a client gone, once."""
    plugin = _StalledPlugin()
    _Stalled.entered = asyncio.Event()
    app = create_app(make_config({"providers": {"stalled": {}}}), pm=plugin_manager([plugin]))
    body = orjson.dumps({"model": "stalled-model", **CHAT})
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays; only cancellation ends this
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"nothing should be sent: {message}")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {MASTER_KEY}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    async with app.router.lifespan_context(app):
        task = asyncio.create_task(app(scope, receive, send))
        await _Stalled.entered.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert len(plugin.records) == 1, plugin.records
        record = plugin.records[0]
        assert record.status == 499 and record.client_disconnected
        assert record.provider == "stalled" and record.prompt_tokens > 0
