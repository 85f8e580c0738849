"""The SSE relay: bytes through untouched, omni on the final chunk, nothing held that matters."""

from __future__ import annotations

import orjson
import pytest

from omni_proxy.errors import ProxyError
from omni_proxy.types import Usage
from omni_proxy.wire.relay import ChunkRelay
from omni_proxy.wire.sse import DONE


def chunk(
    delta: dict, finish: str | None = None, model: str = "up-1", usage: object = ...
) -> bytes:
    obj: dict = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not ...:
        obj["usage"] = usage
    return orjson.dumps(obj)


def usage_chunk(model: str = "up-1") -> bytes:
    return orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }
    )


def events(raw: bytes) -> list[dict]:
    out = []
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: ") and block != b"data: [DONE]":
            out.append(orjson.loads(block[6:]))
    return out


def test_content_chunks_pass_through_byte_for_byte_when_names_match() -> None:
    relay = ChunkRelay("up-1", include_usage=False)
    data = chunk({"content": "Hel"})
    assert relay.feed(data) == b"data: " + data + b"\n\n"


def test_model_renamed_to_public_name() -> None:
    relay = ChunkRelay("public", include_usage=False)
    out = relay.feed(chunk({"content": "x"}, model="gpt-up-2024"))
    assert events(out)[0]["model"] == "public"


def test_without_include_usage_omni_rides_on_finish_chunk_and_usage_chunk_is_dropped() -> None:
    relay = ChunkRelay("up-1", include_usage=False)
    out = relay.feed(chunk({"role": "assistant", "content": ""}))
    out += relay.feed(chunk({"content": "Hi"}))
    held = relay.feed(chunk({}, "stop"))
    assert held == b""  # held only until the next event
    out += held + relay.feed(usage_chunk())
    assert relay.usage == Usage(7, 3)
    out += relay.finish({"request_id": "r"})
    assert out.endswith(DONE)
    evs = events(out)
    assert [e["choices"][0]["finish_reason"] for e in evs] == [None, None, "stop"]
    assert evs[-1]["omni"] == {"request_id": "r"}
    assert all(e["choices"] for e in evs)  # the client never sees an empty choices list


def test_with_include_usage_omni_on_the_usage_chunk() -> None:
    relay = ChunkRelay("up-1", include_usage=True)
    out = relay.feed(chunk({"content": "Hi"}, usage=None))
    out += relay.feed(chunk({}, "stop", usage=None))
    assert events(out)[-1]["choices"][0]["finish_reason"] == "stop"  # not held
    assert relay.feed(usage_chunk()) == b""
    final = events(relay.finish({"cost": 1}))
    assert final[-1]["choices"] == []
    assert final[-1]["usage"]["total_tokens"] == 10
    assert final[-1]["omni"] == {"cost": 1}


def test_held_finish_chunk_flushed_before_later_chunks() -> None:
    relay = ChunkRelay("up-1", include_usage=False)
    assert relay.feed(chunk({}, "stop")) == b""
    out = relay.feed(chunk({"content": "more"}))
    assert [e["choices"][0].get("finish_reason") for e in events(out)] == ["stop", None]


def test_error_in_stream_raises_proxy_error() -> None:
    relay = ChunkRelay("m", include_usage=False)
    with pytest.raises(ProxyError) as info:
        relay.feed(b'{"error": {"message": "boom", "code": "x"}}')
    assert info.value.status == 502 and "boom" in info.value.message


def test_malformed_chunk_raises() -> None:
    with pytest.raises(ProxyError):
        ChunkRelay("m", include_usage=False).feed(b"{not json")


def test_counts_completion_text_for_estimates() -> None:
    relay = ChunkRelay("m", include_usage=False)
    relay.feed(chunk({"content": "abcd"}))
    relay.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}))
    assert relay.completion_chars == 6


USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


@pytest.mark.parametrize("include_usage", [True, False])
def test_usage_on_the_finishing_chunk_moves_to_the_final_one(include_usage: bool) -> None:
    relay = ChunkRelay("public", include_usage=include_usage)
    out = relay.feed(chunk({"content": "Hi"}))
    out += relay.feed(chunk({}, "stop", usage=USAGE))
    out += relay.finish({"request_id": "r"})
    evs = events(out)
    assert relay.usage == Usage(7, 3)
    carrying = [e for e in evs if e.get("usage")]
    assert evs[-1]["omni"] == {"request_id": "r"}
    assert all(e["model"] == "public" for e in evs)
    if include_usage:
        assert carrying == [evs[-1]] and evs[-1]["choices"] == []
        assert evs[-1]["usage"]["total_tokens"] == 10
    else:
        assert carrying == [] and all("usage" not in e for e in evs)
        assert evs[-1]["choices"][0]["finish_reason"] == "stop"


def test_usage_on_a_content_chunk_is_stripped_there() -> None:
    relay = ChunkRelay("up-1", include_usage=True)
    out = relay.feed(chunk({"content": "Hi"}, usage=USAGE))
    assert (
        events(out)[0]["usage"] is None and events(out)[0]["choices"][0]["delta"]["content"] == "Hi"
    )
    out += relay.feed(chunk({}, "stop")) + relay.finish({})
    assert [e["usage"]["total_tokens"] for e in events(out) if e.get("usage")] == [10]
