"""GeminiProvider end to end against the fake Gemini upstream, over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from omni_proxy_gemini import GeminiProvider
from omni_proxy_gemini.provider import DEFAULT_MODELS, model_path

from omni_proxy.app import provider_classes
from omni_proxy.config import ProviderSettings
from omni_proxy.errors import ProxyError
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.types import ModelInfo
from tests.conftest import over
from tests.fakes.gemini_upstream import DEFAULT_API_KEY, FakeGemini
from tests.openai_schema import validate

# A 1x1 PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
MODEL = ModelInfo(name="gem-public", provider="gemini", model="gemini-2.5-flash")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture
def client(upstream_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Over the h1 pool and over httpx alone (``tests/conftest.py``)."""
    return upstream_client


def make(base_url: str, client: httpx.AsyncClient, **kw: Any) -> GeminiProvider:
    settings = ProviderSettings(
        name="gemini",
        plugin="gemini",
        base_url=base_url,
        api_key=kw.pop("api_key", DEFAULT_API_KEY),
        **kw,
    )
    return over(GeminiProvider(settings, client), client)


@pytest.fixture
def provider(fake: FakeGemini, client: httpx.AsyncClient) -> GeminiProvider:
    return make(fake.base_url, client)


def body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL.model, "messages": list(messages), **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


async def collect(provider: GeminiProvider, request: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = []
    async for data in provider.stream({**request, "stream": True}, MODEL):
        chunk = orjson.loads(data)
        validate(chunk, "CreateChatCompletionStreamResponse")
        chunks.append(chunk)
    return chunks


def text_of(chunks: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in chunks
        if c["choices"] and c["choices"][0]["index"] == index
    )


# --------------------------------------------------------------------------- plumbing


def test_plugin_is_registered_through_its_entry_point() -> None:
    assert provider_classes(get_plugin_manager())["gemini"] is GeminiProvider


def test_defaults() -> None:
    settings = ProviderSettings(name="gemini", plugin="gemini")
    base = GeminiProvider.default_base_url(settings)
    assert base == "https://generativelanguage.googleapis.com/v1beta"
    rows = GeminiProvider.default_models(settings)
    assert rows == DEFAULT_MODELS and {r["name"] for r in rows} >= {"gemini-2.5-flash"}
    assert model_path("gemini-2.5-pro") == "models/gemini-2.5-pro"
    assert model_path("models/x") == "models/x" and model_path("tunedModels/t") == "tunedModels/t"


async def test_plain_chat(provider: GeminiProvider, fake: FakeGemini) -> None:
    out = await provider.chat(
        body(
            {"role": "system", "content": "Be brief."},
            user("Hello there"),
            temperature=0.2,
            max_tokens=50,
        ),
        MODEL,
    )
    validate(out, "CreateChatCompletionResponse")
    assert out["model"] == "gem-public"
    assert out["choices"][0]["message"]["content"] == "Echo: Hello there"
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["prompt_tokens"] == 4 and out["usage"]["completion_tokens"] == 3
    sent = fake.last
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent["query"] == {}  # never ?key=
    assert sent["headers"]["x-goog-api-key"] == DEFAULT_API_KEY
    assert "authorization" not in sent["headers"]
    assert sent["json"] == {
        "contents": [{"role": "user", "parts": [{"text": "Hello there"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 50},
    }


async def test_images(provider: GeminiProvider, fake: FakeGemini) -> None:
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://img.test/b.jpg"}},
    ]
    out = await provider.chat(body(user(content)), MODEL)
    assert out["choices"][0]["message"]["content"] == "Echo: Compare [2 images]"
    parts = fake.last["json"]["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert parts[2] == {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://img.test/b.jpg"}}


async def test_tool_round_trip(provider: GeminiProvider, fake: FakeGemini) -> None:
    first = await provider.chat(
        body(user("What's the weather?"), tools=[WEATHER], tool_choice="required"), MODEL
    )
    validate(first, "CreateChatCompletionResponse")
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "Paris"}
    sent = fake.last["json"]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["type"] == "object"

    second = await provider.chat(
        body(
            user("What's the weather?"),
            choice["message"],
            {"role": "tool", "tool_call_id": call["id"], "content": '{"temp": 18}'},
            tools=[WEATHER],
        ),
        MODEL,
    )
    assert second["choices"][0]["message"]["content"] == 'Tool said: {"temp":18}'
    contents = fake.last["json"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}}
    ]


async def test_thought_signatures_survive_a_client_that_drops_them(
    client: httpx.AsyncClient,
) -> None:
    with FakeGemini(require_signatures=True) as strict:
        provider = make(strict.base_url, client)  # type: ignore[attr-defined]
        first = await provider.chat(
            body(user("Weather?"), tools=[WEATHER], tool_choice="required"), MODEL
        )
        message = first["choices"][0]["message"]
        call = message["tool_calls"][0]
        assert call["extra_content"]["google"]["thought_signature"]
        plain = {**message, "tool_calls": [{k: v for k, v in call.items() if k != "extra_content"}]}
        follow = [
            user("Weather?"),
            plain,
            {"role": "tool", "tool_call_id": call["id"], "content": "18C"},
        ]
        out = await provider.chat(body(*follow, tools=[WEATHER]), MODEL)
        assert out["choices"][0]["message"]["content"] == 'Tool said: {"result":"18C"}'
        # a fresh provider has no memory of it: the upstream refuses, as Gemini 3 does
        with pytest.raises(ProxyError) as refused:
            await make(strict.base_url, client).chat(body(*follow, tools=[WEATHER]), MODEL)  # type: ignore[attr-defined]
        assert refused.value.status == 400 and "thought_signature" in refused.value.message


async def test_stop_max_tokens_and_candidates(provider: GeminiProvider, fake: FakeGemini) -> None:
    out = await provider.chat(body(user("one two three four"), stop=["three"]), MODEL)
    assert out["choices"][0]["message"]["content"] == "Echo: one two "
    assert fake.last["json"]["generationConfig"] == {"stopSequences": ["three"]}
    out = await provider.chat(body(user("one two three four"), max_completion_tokens=2), MODEL)
    assert out["choices"][0]["message"]["content"] == "Echo: one "
    assert out["choices"][0]["finish_reason"] == "length"
    out = await provider.chat(body(user("hi"), n=2), MODEL)
    assert [c["message"]["content"] for c in out["choices"]] == ["Echo: hi", "Echo: hi #2"]


async def test_json_mode(provider: GeminiProvider, fake: FakeGemini) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    await provider.chat(body(user("hi"), response_format=fmt), MODEL)
    assert fake.last["json"]["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


@pytest.mark.parametrize("mode", ["safety", "blocked"])
async def test_safety_is_content_filter(
    provider: GeminiProvider, fake: FakeGemini, mode: str
) -> None:
    fake.fail_next(mode)
    out = await provider.chat(body(user("bad")), MODEL)
    validate(out, "CreateChatCompletionResponse")
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] == ""
    fake.fail_next(mode)
    chunks = await collect(provider, body(user("bad")))
    assert chunks[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert text_of(chunks) == ""


async def test_thoughts_are_reasoning_and_billed_as_output(
    provider: GeminiProvider, fake: FakeGemini
) -> None:
    fake.fail_next("thoughts")
    out = await provider.chat(body(user("hi")), MODEL)
    message = out["choices"][0]["message"]
    assert message["content"] == "Echo: hi" and message["reasoning_content"] == "Thinking it over."
    assert out["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}
    assert out["usage"]["completion_tokens"] == 2 + 5


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("crlf", [False, True])
async def test_stream_text(client: httpx.AsyncClient, crlf: bool) -> None:
    with FakeGemini(crlf=crlf) as server:
        provider = make(server.base_url, client)  # type: ignore[attr-defined]
        chunks = await collect(
            provider, body(user("one two three"), stream_options={"include_usage": True})
        )
        sent = server.last  # type: ignore[attr-defined]
    assert text_of(chunks) == "Echo: one two three"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 3
    assert chunks[-1]["usage"]["completion_tokens"] == 4  # the last usageMetadata, not a sum
    assert len({c["id"] for c in chunks}) == 1
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent["query"] == {"alt": "sse"}
    assert sent["headers"]["x-goog-api-key"] == DEFAULT_API_KEY


async def test_stream_tool_call_and_candidates(provider: GeminiProvider) -> None:
    chunks = await collect(provider, body(user("use get_weather"), tools=[WEATHER]))
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    ]
    assert len(calls) == 1 and json.loads(calls[0]["function"]["arguments"]) == {
        "location": "Paris"
    }
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    chunks = await collect(provider, body(user("a b"), n=2))
    assert (text_of(chunks, 0), text_of(chunks, 1)) == ("Echo: a b", "Echo: a b #2")


async def test_stream_error_first_raises_before_the_first_chunk(
    provider: GeminiProvider, fake: FakeGemini
) -> None:
    fake.fail_next("stream_error", after=0, status=503)
    with pytest.raises(ProxyError) as failed:
        await anext(provider.stream(body(user("hi"), stream=True), MODEL))
    assert (failed.value.status, failed.value.code, failed.value.retryable) == (
        503,
        "upstream_overloaded",
        True,
    )


@pytest.mark.parametrize(
    ("mode", "code"),
    [("stream_error", "upstream_overloaded"), ("stream_cut", "upstream_stream_cut")],
)
async def test_stream_failing_midway(
    provider: GeminiProvider, fake: FakeGemini, mode: str, code: str
) -> None:
    fake.fail_next(mode, after=2, status=503)
    received = []
    with pytest.raises(ProxyError) as failed:
        async for data in provider.stream(body(user("one two three four"), stream=True), MODEL):
            received.append(orjson.loads(data))
    assert received and failed.value.code == code and failed.value.retryable


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "expected", "code", "retryable"),
    [
        (400, 400, None, False),
        (403, 502, "upstream_auth_failed", True),
        (404, 502, "upstream_model_not_found", True),
        (429, 429, "rate_limit_exceeded", True),
        (500, 502, "upstream_error", True),
        (503, 503, "upstream_overloaded", True),
        (504, 504, "upstream_timeout", True),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_status_errors(
    provider: GeminiProvider,
    fake: FakeGemini,
    status: int,
    expected: int,
    code: str | None,
    retryable: bool,
    stream: bool,
) -> None:
    fake.set_behaviour(MODEL.model, "status", status=status, retry_after=3)
    with pytest.raises(ProxyError) as failed:
        if stream:
            await anext(provider.stream(body(user("hi"), stream=True), MODEL))
        else:
            await provider.chat(body(user("hi")), MODEL)
    err = failed.value
    assert (err.status, err.code, err.retryable) == (expected, code, retryable)
    if status == 429:
        assert err.retry_after == 3.0  # from google.rpc.RetryInfo


async def test_bad_key_missing_key_and_unknown_model(
    fake: FakeGemini, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProxyError) as failed:
        await make(fake.base_url, client, api_key="AIza-wrong").chat(body(user("x")), MODEL)
    assert failed.value.code == "upstream_auth_failed"  # Gemini says 400 API_KEY_INVALID
    assert "API key not valid" in failed.value.message
    with pytest.raises(ProxyError) as failed:
        await make(fake.base_url, client, api_key=None).chat(body(user("x")), MODEL)
    assert failed.value.code == "upstream_auth_failed"
    unknown = ModelInfo(name="u", provider="gemini", model="gemini-0-unknown")
    with pytest.raises(ProxyError) as failed:
        await make(fake.base_url, client).chat(body(user("x")), unknown)
    assert failed.value.code == "upstream_model_not_found"


async def test_the_fake_rejects_what_gemini_rejects(
    fake: FakeGemini, client: httpx.AsyncClient
) -> None:
    url = fake.base_url + "/models/gemini-2.5-flash:generateContent"
    headers = {"x-goog-api-key": DEFAULT_API_KEY}
    ok = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    bad_bodies = [
        {},
        {**ok, "messages": []},
        {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
        {"contents": [{"role": "user", "parts": []}]},
        {**ok, "generationConfig": {"max_tokens": 5}},
        {**ok, "generationConfig": {"responseJsonSchema": {"type": "object"}}},
        {"contents": [{"role": "user", "parts": [{"functionResponse": {"response": {}}}]}]},
    ]
    for bad in bad_bodies:
        response = await client.post(url, json=bad, headers=headers)
        assert response.status_code == 400, bad
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    response = await client.post(url + "?key=" + DEFAULT_API_KEY, json=ok)
    assert response.status_code == 200
    stream_url = fake.base_url + "/models/gemini-2.5-flash:streamGenerateContent"
    response = await client.post(stream_url, json=ok, headers=headers)
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), list)  # without alt=sse: one JSON array
    response = await client.post(stream_url + "?alt=sse", json=ok, headers=headers)
    assert response.text.startswith('data: {"candidates"') and response.text.endswith("}\n\n")
    assert "[DONE]" not in response.text and "event:" not in response.text
