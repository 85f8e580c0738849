"""LiteLLM's stream shape at the relay, without LiteLLM: usage on a chunk after the finishing
one whose ``choices`` holds only an empty delta (seen from LiteLLM's proxy with
``include_usage``, which the proxy always asks upstream for)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from omni_proxy.wire.relay import ChunkRelay


def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1}
    body.update(model="mock-gpt", choices=choices)
    if usage is not None:
        body["usage"] = usage
    return orjson.dumps(body)


LITELLM = [
    chunk([{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]),
    chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
    chunk([{"index": 0, "delta": {}}], {"prompt_tokens": 8, "completion_tokens": 2}),
]


def events(out: bytes) -> list[dict[str, Any]]:
    frames = [f for f in out.decode().split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    return [orjson.loads(f[len("data: ") :]) for f in frames[:-1]]


@pytest.mark.parametrize("asked", [True, False])
def test_usage_after_the_finish_chunk(asked: bool) -> None:
    relay = ChunkRelay("ll", include_usage=asked)
    out = b"".join(relay.feed(c) for c in LITELLM) + relay.finish({"request_id": "r"})
    sent = events(out)
    assert relay.usage is not None and relay.usage.total_tokens == 10
    assert sent[-1]["omni"] == {"request_id": "r"}
    with_usage = [e for e in sent if e.get("usage")]
    if asked:
        assert with_usage == [sent[-1]] and sent[-1]["choices"] == []
        assert sent[-1]["usage"]["total_tokens"] == 10
    else:
        assert with_usage == []
        assert sent[-1]["choices"][0]["finish_reason"] == "stop"
        assert all(e["choices"] for e in sent)
    assert all(e["model"] == "ll" for e in sent)
