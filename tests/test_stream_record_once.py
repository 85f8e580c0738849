"""A streamed request is recorded exactly once, however it ends, and its upstream closed.

The case that used to slip: the client is gone before the first byte reaches it, so the
server's very first ``send`` fails. The relay generator never started, so nothing inside
it could record the request or close the upstream stream; the SSE response's closer must.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from omni_proxy.app import create_app
from omni_proxy.plugins import hookimpl
from omni_proxy.provider import Provider
from omni_proxy.testing import MASTER_KEY, make_config, plugin_manager
from omni_proxy.types import ModelInfo, RequestRecord


class _Upstream(Provider):
    """One model whose stream notes whether it was closed."""

    plugin = "tracked"
    requires_api_key = False
    closed: list[bool] = []

    @classmethod
    def default_models(cls, settings: Any) -> list[dict[str, Any]]:
        return [{"name": "tracked-model", "cost_input": "1", "cost_output": "2"}]

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        head = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model.model}
        try:
            for _ in range(3):
                delta = {"role": "assistant", "content": "word "}
                choice = {"index": 0, "delta": delta, "finish_reason": None}
                yield orjson.dumps({**head, "choices": [choice]})
        finally:
            self.closed.append(True)


class _Plugin:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("tracked", _Upstream)

    @hookimpl
    def record(self, event: RequestRecord) -> None:
        self.records.append(event)


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {MASTER_KEY}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


BODIES = {
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "hi"}]},
    "/v1/completions": {"prompt": "hi"},
    "/v1/messages": {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/responses": {"input": "hi"},
}


@pytest.mark.parametrize("path", sorted(BODIES))
async def test_a_client_gone_before_the_first_byte_is_recorded_once(path: str) -> None:
    plugin = _Plugin()
    _Upstream.closed = []
    config = make_config({"providers": {"tracked": {}}})
    app = create_app(config, pm=plugin_manager([plugin]))
    body = orjson.dumps({"model": "tracked-model", "stream": True, **BODIES[path]})
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        raise OSError("the client's socket is gone")

    async with app.router.lifespan_context(app):
        with contextlib.suppress(OSError):  # the server may see it, or the response may
            await app(_scope(path), receive, send)
        mine = [r for r in plugin.records if r.endpoint == path]
        assert len(mine) == 1, [(r.endpoint, r.status) for r in plugin.records]
        record = mine[0]
        assert record.status == 499 and record.client_disconnected
        assert record.model_used is None or record.model_used == "tracked-model"
        assert record.prompt_tokens > 0
        assert _Upstream.closed == [True], "the upstream stream was left open"
    assert sent and sent[0]["type"] == "http.response.start"
