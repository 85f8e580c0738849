"""The fake OpenAI upstream must be faithful, or tests built on it prove nothing.

These drive the fake with plain httpx and check its output against the wire format and the
official spec schemas.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import openai_schema
from tests.fakes.openai_upstream import DEFAULT_API_KEY, FakeOpenAI

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


def chat_body(text: str = "hello there world", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def sse_events(raw: bytes) -> list[str]:
    """Split a data-only SSE body into its data payloads, checking the framing strictly."""
    text = raw.decode()
    assert text.endswith("\n\n")
    blocks = text[:-2].split("\n\n")
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks
    return [b[len("data: ") :] for b in blocks]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    server.reset()
    server.chunk_delay_s = 0.0
    yield server
    server.reset()


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, headers=AUTH, timeout=5) as c:
        yield c


def test_json_completion_matches_spec_and_records_request(
    fake: FakeOpenAI, client: httpx.Client
) -> None:
    r = client.post("/chat/completions", json=chat_body(), headers={"X-Trace": "t1"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    openai_schema.validate(body, "CreateChatCompletionResponse")
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    choice = body["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": "Echo: hello there world",
        "refusal": None,
        "annotations": [],
    }
    assert choice["finish_reason"] == "stop"
    assert choice["logprobs"] is None
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 4, 7)
    seen = fake.last_request
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == AUTH["Authorization"]
    assert seen["headers"]["x-trace"] == "t1"
    assert seen["json"] == chat_body()


def test_stream_framing_without_usage(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body(stream=True))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.content)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        openai_schema.validate(chunk, "CreateChatCompletionStreamResponse")
        assert "usage" not in chunk
        assert chunk["object"] == "chat.completion.chunk"
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[-1] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    text = "".join(d.get("content") or "" for d in deltas)
    assert text == "Echo: hello there world"
    assert len(deltas) - 2 > 1  # content really is split over several chunks


def test_stream_include_usage(client: httpx.Client) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    chunks = [
        json.loads(e) for e in sse_events(client.post("/chat/completions", json=body).content)[:-1]
    ]
    for chunk in chunks:
        openai_schema.validate(chunk, "CreateChatCompletionStreamResponse")
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 7
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_stream_chunks_arrive_incrementally(fake: FakeOpenAI, client: httpx.Client) -> None:
    fake.chunk_delay_s = 0.05
    arrivals: list[float] = []
    with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as r:
        for line in r.iter_lines():
            if line:
                arrivals.append(time.monotonic())
    assert len(arrivals) == 7  # role, 4 content pieces, finish, [DONE]
    assert arrivals[-1] - arrivals[0] >= 0.25


def test_tool_call_json_and_stream(client: httpx.Client) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    body = chat_body("call get_weather for Paris", tools=tools)
    r = client.post("/chat/completions", json=body).json()
    openai_schema.validate(r, "CreateChatCompletionResponse")
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["id"].startswith("call_") and call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"]), dict)

    events = sse_events(client.post("/chat/completions", json={**body, "stream": True}).content)
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        openai_schema.validate(chunk, "CreateChatCompletionStreamResponse")
    first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["function"] == {"name": "get_weather", "arguments": ""} and first["id"]
    args = "".join(
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks[:-1]
    )
    assert json.loads(args) == json.loads(call["function"]["arguments"])
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }


def test_n_max_tokens_and_stop(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body("one two three four", n=2, max_tokens=2))
    body = r.json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][1]["message"]["content"] == "Echo: one "
    assert body["choices"][1]["finish_reason"] == "length"
    r = client.post("/chat/completions", json=chat_body("one two three", stop=[" two"]))
    assert r.json()["choices"][0] == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "Echo: one",
            "refusal": None,
            "annotations": [],
        },
        "logprobs": None,
        "finish_reason": "stop",
    }


def test_auth_and_validation_errors(fake: FakeOpenAI, client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body(), headers={"Authorization": "Bearer bad"})
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "message": "Incorrect API key provided: ***. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    r = client.post("/chat/completions", json={"model": "gpt-4o-mini"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages"
    r = client.post("/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert (r.status_code, r.json()["error"]["param"]) == (400, "model")
    r = client.post("/chat/completions", json={**chat_body(), "model": "unknown-model"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"
    assert len(fake.requests) == 4


def test_429_with_retry_after(fake: FakeOpenAI, client: httpx.Client) -> None:
    fake.fail_next("status", status=429)
    r = client.post("/chat/completions", json=chat_body())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    error = r.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "requests",
        "rate_limit_exceeded",
        None,
    )
    assert client.post("/chat/completions", json=chat_body()).status_code == 200


def test_behaviour_per_model(fake: FakeOpenAI, client: httpx.Client) -> None:
    fake.set_behaviour("gpt-4o", "status", status=500)
    for _ in range(2):
        r = client.post("/chat/completions", json={**chat_body(), "model": "gpt-4o"})
        assert r.status_code == 500
        assert r.json()["error"]["type"] == "server_error"
        assert client.post("/chat/completions", json=chat_body()).status_code == 200


def test_reset_is_a_connection_error(fake: FakeOpenAI, client: httpx.Client) -> None:
    fake.fail_next("reset")
    with pytest.raises(httpx.TransportError):
        client.post("/chat/completions", json=chat_body())
    assert client.post("/chat/completions", json=chat_body()).status_code == 200


def test_broken_bodies(fake: FakeOpenAI, client: httpx.Client) -> None:
    fake.fail_next("half_json")
    r = client.post("/chat/completions", json=chat_body())
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    fake.fail_next("error_200")
    r = client.post("/chat/completions", json=chat_body())
    assert r.status_code == 200 and r.json()["error"]["type"] == "server_error"

    fake.fail_next("stream_cut", after=2)
    events = sse_events(client.post("/chat/completions", json=chat_body(stream=True)).content)
    assert len(events) == 2 and "[DONE]" not in events
    fake.fail_next("stream_error", after=2)
    events = sse_events(client.post("/chat/completions", json=chat_body(stream=True)).content)
    assert len(events) == 3 and json.loads(events[-1])["error"]["message"]


def test_stall_then_timeout(fake: FakeOpenAI, client: httpx.Client) -> None:
    fake.fail_next("stall", after=1, delay_s=10)
    received: list[str] = []
    with (
        pytest.raises(httpx.ReadTimeout),
        client.stream("POST", "/chat/completions", json=chat_body(stream=True), timeout=0.3) as r,
    ):
        for line in r.iter_lines():
            received.append(line)
    assert received[0].startswith("data: ")


def test_embeddings_and_models(client: httpx.Client) -> None:
    body = {"model": "text-embedding-3-small", "input": ["a b", "c"]}
    floats = client.post("/embeddings", json=body).json()
    openai_schema.validate(floats, "CreateEmbeddingResponse")
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    b64 = client.post("/embeddings", json={**body, "encoding_format": "base64"}).json()
    raw = base64.b64decode(b64["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == floats["data"][0]["embedding"]
    models = client.get("/models").json()
    openai_schema.validate(models, "ListModelsResponse")
    assert client.get("/models/unknown-x").status_code == 404


def test_schema_helper_rejects_bad_objects() -> None:
    with pytest.raises(openai_schema.SchemaMismatch, match="finish_reason"):
        openai_schema.validate(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "done"}],
            },
            "CreateChatCompletionStreamResponse",
        )
