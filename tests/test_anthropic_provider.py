"""AnthropicProvider end to end against the fake Anthropic upstream, over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from omni_proxy_anthropic import AnthropicProvider
from omni_proxy_anthropic.provider import DEFAULT_MODELS, messages_url

from omni_proxy.app import provider_classes
from omni_proxy.config import ProviderSettings
from omni_proxy.errors import ProxyError
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.types import ModelInfo
from tests.conftest import over
from tests.fakes.anthropic_upstream import DEFAULT_API_KEY, FakeAnthropic
from tests.openai_schema import validate

# A 1x1 PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
MODEL = ModelInfo(name="claude-public", provider="anthropic", model="claude-sonnet-4-5")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _clean(fake: FakeAnthropic) -> None:
    fake.reset()


@pytest.fixture
def client(upstream_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Over the h1 pool and over httpx alone (``tests/conftest.py``)."""
    return upstream_client


def make(fake: FakeAnthropic, client: httpx.AsyncClient, **kw: Any) -> AnthropicProvider:
    settings = ProviderSettings(
        name="anthropic",
        plugin="anthropic",
        base_url=fake.base_url,
        api_key=kw.pop("api_key", DEFAULT_API_KEY),
        **kw,
    )
    return over(AnthropicProvider(settings, client), client)


@pytest.fixture
def provider(fake: FakeAnthropic, client: httpx.AsyncClient) -> AnthropicProvider:
    return make(fake, client)


def body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL.model, "messages": list(messages), **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


async def collect(provider: AnthropicProvider, request: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = []
    async for data in provider.stream({**request, "stream": True}, MODEL):
        assert isinstance(data, bytes)
        chunk = orjson.loads(data)
        validate(chunk, "CreateChatCompletionStreamResponse")
        chunks.append(chunk)
    return chunks


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# --------------------------------------------------------------------------- plumbing


def test_plugin_is_registered_through_its_entry_point() -> None:
    assert provider_classes(get_plugin_manager())["anthropic"] is AnthropicProvider


def test_defaults() -> None:
    settings = ProviderSettings(name="anthropic", plugin="anthropic")
    assert AnthropicProvider.default_base_url(settings) == "https://api.anthropic.com"
    rows = AnthropicProvider.default_models(settings)
    assert rows == DEFAULT_MODELS and rows is not DEFAULT_MODELS
    assert all(r["supports_vision"] and float(r["cost_input"]) > 0 for r in rows)
    assert messages_url("https://api.anthropic.com") == "https://api.anthropic.com/v1/messages"
    assert messages_url("https://gw.test/v1/") == "https://gw.test/v1/messages"


async def test_plain_chat(provider: AnthropicProvider, fake: FakeAnthropic) -> None:
    out = await provider.chat(
        body({"role": "system", "content": "Be brief."}, user("Hello there"), temperature=1.5),
        MODEL,
    )
    validate(out, "CreateChatCompletionResponse")
    assert out["model"] == "claude-public"
    assert out["choices"][0]["message"]["content"] == "Echo: Hello there"
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["prompt_tokens"] == 4 and out["usage"]["completion_tokens"] == 3
    sent = fake.last
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == DEFAULT_API_KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent["headers"]
    assert sent["json"] == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hello there"}],
        "system": "Be brief.",
        "temperature": 1.0,
    }


async def test_options_and_extra_headers(fake: FakeAnthropic, client: httpx.AsyncClient) -> None:
    provider = make(
        fake, client, default_max_tokens=64, anthropic_beta=["a-1", "b-2"], headers={"x-team": "t1"}
    )
    await provider.chat(body(user("x")), MODEL)
    assert fake.last["json"]["max_tokens"] == 64
    assert fake.last["headers"]["anthropic-beta"] == "a-1,b-2"
    assert fake.last["headers"]["x-team"] == "t1"


async def test_images_reach_the_upstream(provider: AnthropicProvider, fake: FakeAnthropic) -> None:
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://img.test/b.jpg"}},
    ]
    out = await provider.chat(body(user(content)), MODEL)
    assert out["choices"][0]["message"]["content"] == "Echo: Compare [2 images]"
    blocks = fake.last["json"]["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert blocks[2]["source"] == {"type": "url", "url": "https://img.test/b.jpg"}


async def test_tool_round_trip(provider: AnthropicProvider, fake: FakeAnthropic) -> None:
    first = await provider.chat(
        body(user("What's the weather?"), tools=[WEATHER], tool_choice="required"), MODEL
    )
    validate(first, "CreateChatCompletionResponse")
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "Paris"}
    assert fake.last["json"]["tool_choice"] == {"type": "any"}
    assert fake.last["json"]["tools"][0]["input_schema"]["type"] == "object"

    second = await provider.chat(
        body(
            user("What's the weather?"),
            choice["message"],
            {"role": "tool", "tool_call_id": call["id"], "content": "18C and sunny"},
            tools=[WEATHER],
        ),
        MODEL,
    )
    assert second["choices"][0]["message"]["content"] == "Tool said: 18C and sunny"
    turns = fake.last["json"]["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"][1] == {
        "type": "tool_use",
        "id": call["id"],
        "name": "get_weather",
        "input": {"location": "Paris"},
    }
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": call["id"], "content": "18C and sunny"}
    ]


async def test_stop_sequences_and_max_tokens(
    provider: AnthropicProvider, fake: FakeAnthropic
) -> None:
    out = await provider.chat(body(user("one two three four"), stop=["three"]), MODEL)
    assert out["choices"][0]["message"]["content"] == "Echo: one two "
    assert out["choices"][0]["finish_reason"] == "stop"
    assert fake.last["json"]["stop_sequences"] == ["three"]
    out = await provider.chat(body(user("one two three four"), max_completion_tokens=2), MODEL)
    assert out["choices"][0]["message"]["content"] == "Echo: one "
    assert out["choices"][0]["finish_reason"] == "length"


async def test_refusal_and_every_block(provider: AnthropicProvider, fake: FakeAnthropic) -> None:
    fake.fail_next("refusal")
    out = await provider.chat(body(user("bad")), MODEL)
    assert out["choices"][0]["finish_reason"] == "content_filter"
    blocks = [
        {"type": "thinking", "thinking": "Plan.", "signature": "s1"},
        {"type": "text", "text": "A"},
        {"type": "text", "text": "B"},
        {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"k": [1, 2]}},
    ]
    fake.fail_next(
        "ok",
        blocks=blocks,
        stop_reason="tool_use",
        usage={"cache_read_input_tokens": 10, "cache_creation_input_tokens": 2},
    )
    out = await provider.chat(body(user("x")), MODEL)
    message = out["choices"][0]["message"]
    assert message["content"] == "AB" and message["reasoning_content"] == "Plan."
    assert message["tool_calls"][0]["function"]["arguments"] == '{"k":[1,2]}'
    assert out["usage"]["prompt_tokens"] == 1 + 10 + 2
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 10}


# --------------------------------------------------------------------------- streaming


async def test_stream_text(provider: AnthropicProvider, fake: FakeAnthropic) -> None:
    chunks = await collect(
        provider, body(user("one two three"), stream_options={"include_usage": True})
    )
    assert text_of(chunks) == "Echo: one two three"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert all(c["usage"] is None for c in chunks[:-1])
    assert len({c["id"] for c in chunks}) == 1
    sent = fake.last["json"]
    assert sent["stream"] is True and "stream_options" not in sent


async def test_stream_tool_calls(provider: AnthropicProvider, fake: FakeAnthropic) -> None:
    chunks = await collect(provider, body(user("use get_weather please"), tools=[WEATHER]))
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    ]
    assert calls[0]["id"].startswith("toolu_") and calls[0]["function"]["name"] == "get_weather"
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == {"location": "Paris"}
    assert len(calls) > 3  # arguments arrive in fragments
    assert text_of(chunks) == "Let me check."
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert "usage" not in chunks[0]  # not asked for: only the (dropped) usage chunk has it


async def test_stream_error_before_output_raises_before_the_first_chunk(
    provider: AnthropicProvider, fake: FakeAnthropic
) -> None:
    fake.fail_next("stream_error", after=1)  # message_start, then an overloaded error
    stream = provider.stream(body(user("hi"), stream=True), MODEL)
    with pytest.raises(ProxyError) as failed:
        await anext(stream)
    assert (failed.value.status, failed.value.code, failed.value.retryable) == (
        503,
        "upstream_overloaded",
        True,
    )


@pytest.mark.parametrize(
    ("mode", "code"),
    [("stream_error", "upstream_overloaded"), ("stream_cut", "upstream_stream_cut")],
)
async def test_stream_failing_midway_raises_after_chunks(
    provider: AnthropicProvider, fake: FakeAnthropic, mode: str, code: str
) -> None:
    fake.fail_next(mode, after=5)
    received = []
    with pytest.raises(ProxyError) as failed:
        async for data in provider.stream(body(user("one two three four"), stream=True), MODEL):
            received.append(orjson.loads(data))
    assert received and failed.value.code == code and failed.value.retryable


async def test_stream_http_error_raises_before_the_first_chunk(
    provider: AnthropicProvider, fake: FakeAnthropic
) -> None:
    fake.fail_next("status", status=529)
    with pytest.raises(ProxyError) as failed:
        await anext(provider.stream(body(user("hi"), stream=True), MODEL))
    assert failed.value.status == 503


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "expected", "code", "retryable"),
    [
        (400, 400, None, False),
        (401, 502, "upstream_auth_failed", True),
        (403, 502, "upstream_auth_failed", True),
        (404, 502, "upstream_model_not_found", True),
        (413, 413, "request_too_large", False),
        (429, 429, "rate_limit_exceeded", True),
        (500, 502, "upstream_error", True),
        (529, 503, "upstream_overloaded", True),
    ],
)
async def test_status_errors(
    provider: AnthropicProvider,
    fake: FakeAnthropic,
    status: int,
    expected: int,
    code: str | None,
    retryable: bool,
) -> None:
    fake.set_behaviour(MODEL.model, "status", status=status)
    with pytest.raises(ProxyError) as failed:
        await provider.chat(body(user("hi")), MODEL)
    err = failed.value
    assert (err.status, err.code, err.retryable) == (expected, code, retryable)
    assert err.message.startswith("anthropic")
    if status == 429:
        assert err.retry_after == 1.0


async def test_wrong_key_and_unknown_model(fake: FakeAnthropic, client: httpx.AsyncClient) -> None:
    with pytest.raises(ProxyError) as failed:
        await make(fake, client, api_key="sk-wrong").chat(body(user("x")), MODEL)
    assert (
        failed.value.code == "upstream_auth_failed" and "invalid x-api-key" in failed.value.message
    )
    unknown = ModelInfo(name="u", provider="anthropic", model="unknown-claude")
    with pytest.raises(ProxyError) as failed:
        await make(fake, client).chat(body(user("x")), unknown)
    assert failed.value.code == "upstream_model_not_found"


async def test_the_fake_rejects_what_anthropic_rejects(
    fake: FakeAnthropic, client: httpx.AsyncClient
) -> None:
    """The fake is strict, so the tests above prove the translation is acceptable upstream."""
    url = fake.base_url + "/v1/messages"
    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    ok = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    bad_bodies = [
        {k: v for k, v in ok.items() if k != "max_tokens"},
        {**ok, "stream_options": {"include_usage": True}},
        {**ok, "messages": [{"role": "system", "content": "x"}]},
        {**ok, "temperature": 1.5},
        {**ok, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
        {
            **ok,
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                },
                {"role": "user", "content": "no result"},
            ],
        },
    ]
    for bad in bad_bodies:
        response = await client.post(url, json=bad, headers=headers)
        assert response.status_code == 400, bad
        assert response.json()["type"] == "error"
        assert response.json()["error"]["type"] == "invalid_request_error"
    response = await client.post(url, json=ok, headers={"x-api-key": DEFAULT_API_KEY})
    assert response.status_code == 400  # anthropic-version is required
    response = await client.post(url, json=ok, headers=headers)
    assert response.status_code == 200 and response.headers["request-id"].startswith("req_")


async def test_fake_stream_is_named_sse(fake: FakeAnthropic, client: httpx.AsyncClient) -> None:
    url = fake.base_url + "/v1/messages"
    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    payload = {
        "model": "m",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    response = await client.post(url, json=payload, headers=headers)
    assert response.headers["content-type"].startswith("text/event-stream")
    raw = response.text
    assert raw.startswith('event: message_start\ndata: {"type":"message_start"')
    assert "event: ping\ndata: " in raw
    assert raw.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert "[DONE]" not in raw
