"""Large bodies are parsed and depth-checked off the event loop (issue 15: a 250k-message body
walked on the loop stalled every other tenant for seconds); small ones stay on it (no thread
hop on the hot path). Both still get the same answers."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from starlette.requests import Request

from omni_proxy.errors import ProxyError
from omni_proxy.server import http


def request_with(raw: bytes) -> Request:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json")],
    }
    return Request(scope, receive)


@pytest.fixture
def parsed_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    threads: list[str] = []
    real = http.parse_json

    def spy(raw: bytes) -> Any:
        threads.append(threading.current_thread().name)
        return real(raw)

    monkeypatch.setattr(http, "parse_json", spy)
    return threads


async def test_a_large_body_is_parsed_in_a_worker_thread(parsed_on: list[str]) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}] * 50_000}
    raw = orjson.dumps(body)
    assert len(raw) > http.PARSE_OFF_LOOP_BYTES
    value = await http.read_json(request_with(raw), 10 << 20)
    assert value == body
    assert parsed_on and parsed_on[0] != threading.main_thread().name


async def test_a_small_body_stays_on_the_loop(parsed_on: list[str]) -> None:
    value = await http.read_json(request_with(b'{"model": "m"}'), 10 << 20)
    assert value == {"model": "m"}
    assert parsed_on == [threading.main_thread().name]


async def test_a_large_deep_or_broken_body_is_still_a_400() -> None:
    deep = b'{"pad": "' + b"x" * (2 << 20) + b'", "a": ' + b"[" * 200 + b"]" * 200 + b"}"
    with pytest.raises(ProxyError) as caught:
        await http.read_json(request_with(deep), 10 << 20)
    assert caught.value.status == 400 and "nested more than" in caught.value.message
    broken = b'{"pad": "' + b"x" * (2 << 20)
    with pytest.raises(ProxyError) as caught:
        await http.read_json(request_with(broken), 10 << 20)
    assert caught.value.status == 400 and caught.value.code == "invalid_json"
