"""End to end: the official openai SDK → omni-proxy (a real process) → fake Anthropic and
Gemini upstreams, both in their own wire formats. Needs the two plugins installed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.anthropic_upstream import DEFAULT_API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import DEFAULT_API_KEY as GEMINI_KEY
from tests.fakes.gemini_upstream import DEFAULT_MODELS, FakeGemini
from tests.openai_schema import validate

# A 1x1 PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}
MODELS = ["claude", "gem"]


def model_row(name: str, provider: str, model: str) -> dict[str, Any]:
    return {
        "name": name,
        "provider": provider,
        "model": model,
        "cost_input": 1,
        "cost_output": 2,
        "strengths": ["chat"],
        "supports_vision": True,
    }


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    anthropic = FakeAnthropic().start()
    gemini = FakeGemini(models=[*DEFAULT_MODELS, "gemini-spare"]).start()
    try:
        yield {"claude": anthropic, "gem": gemini}
    finally:
        anthropic.stop()
        gemini.stop()


def proxy_config(fakes: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": {
            "claude": {
                "plugin": "anthropic",
                "base_url": fakes["claude"].base_url,
                "api_key": ANTHROPIC_KEY,
                "timeout_s": 5,
            },
            "google": {
                "plugin": "gemini",
                "base_url": fakes["gem"].base_url,
                "api_key": GEMINI_KEY,
                "timeout_s": 5,
            },
        },
        "models": [
            model_row("claude", "claude", "claude-sonnet-4-5"),
            model_row("gem", "google", "gemini-2.5-flash"),
            model_row("gem-spare", "google", "gemini-spare"),
        ],
        "routing": {"fallback_model": "gem-spare", "max_attempts": 2},
    }


@pytest.fixture(scope="module")
def proxy(
    fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("proxy"), proxy_config(fakes)) as running:
        yield running


@pytest.fixture(scope="module")
def failing_proxy(
    fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    """A proxy of its own for the tests where every upstream fails: the cool-downs they
    start stay out of the other tests' plans."""
    with ProxyProcess(tmp_path_factory.mktemp("failing"), proxy_config(fakes)) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(fakes: dict[str, Any]) -> None:
    for fake in fakes.values():
        fake.reset()


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


@pytest.mark.parametrize("model", MODELS)
def test_plain_chat_with_system_prompt(
    client: openai.OpenAI, fakes: dict[str, Any], model: str
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, *user("Hello there")],
    )
    completion = raw.parse()
    validate(json.loads(raw.http_response.text), "CreateChatCompletionResponse")
    assert completion.model == model
    assert completion.choices[0].message.content == "Echo: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 3)
    sent = fakes[model].last["json"]
    if model == "claude":
        assert sent["system"] == "Be brief." and sent["messages"] == user("Hello there")
    else:
        assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_trace_headers_reach_the_upstream(
    client: openai.OpenAI, fakes: dict[str, Any], model: str, stream: bool
) -> None:
    """docs/security.md: the request id and the caller's trace continue upstream, for
    every provider (``Provider.post`` adds them), not only OpenAI-compatible ones."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {
        "x-request-id": f"trace-{model}",
        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
    }
    if stream:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=user("hi"), stream=True, extra_headers=headers
        )
        ours = raw.headers["x-request-id"]
        for _ in raw.parse():
            pass
    else:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=user("hi"), extra_headers=headers
        )
        ours = raw.headers["x-request-id"]
    sent = fakes[model].last["headers"]
    # Upstream sees the proxy's own request id (CONTRACT.md), the one the client got back.
    assert sent["x-request-id"] == ours != f"trace-{model}"
    assert sent["traceparent"].startswith(f"00-{trace_id}-")
    assert sent["traceparent"] != headers["traceparent"]  # a span of the proxy's own


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming(client: openai.OpenAI, model: str, include_usage: bool) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=user("one two three"),
        stream=True,
        stream_options={"include_usage": True} if include_usage else None,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    if include_usage:
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 4
    else:
        assert all(c.choices for c in chunks)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_tools_in_both_directions(client: openai.OpenAI, model: str, stream: bool) -> None:
    messages: list[Any] = user("What's the weather in Paris?")
    kwargs: dict[str, Any] = {"model": model, "tools": [WEATHER], "tool_choice": "required"}
    if stream:
        calls: dict[int, dict[str, Any]] = {}
        finish = None
        for chunk in client.chat.completions.create(messages=messages, stream=True, **kwargs):
            if not chunk.choices:
                continue
            finish = chunk.choices[0].finish_reason or finish
            for delta in chunk.choices[0].delta.tool_calls or ():
                entry = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = delta.id or entry["id"]
                if delta.function:
                    entry["name"] = delta.function.name or entry["name"]
                    entry["arguments"] += delta.function.arguments or ""
        assert finish == "tool_calls" and list(calls) == [0]
        call = calls[0]
    else:
        completion = client.chat.completions.create(messages=messages, **kwargs)
        assert completion.choices[0].finish_reason == "tool_calls"
        (tool_call,) = completion.choices[0].message.tool_calls or []
        call = {
            "id": tool_call.id,
            "name": tool_call.function.name,
            "arguments": tool_call.function.arguments,
        }
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"location": "Paris"}
    follow = [
        *messages,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "18C"},
    ]
    answer = client.chat.completions.create(model=model, messages=follow, tools=[WEATHER])
    content = answer.choices[0].message.content or ""
    assert content.startswith("Tool said: ") and "18C" in content


@pytest.mark.parametrize("model", MODELS)
def test_images(client: openai.OpenAI, fakes: dict[str, Any], model: str) -> None:
    parts = [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    completion = client.chat.completions.create(model=model, messages=user(parts))
    assert completion.choices[0].message.content == "Echo: What is it? [1 image]"
    sent = json.dumps(fakes[model].last["json"])
    assert PNG in sent and base64.b64decode(PNG)  # the bytes went upstream untouched


@pytest.mark.parametrize("model", MODELS)
def test_stop_reasons(client: openai.OpenAI, fakes: dict[str, Any], model: str) -> None:
    completion = client.chat.completions.create(
        model=model, messages=user("one two three four"), max_tokens=2
    )
    assert completion.choices[0].finish_reason == "length"
    fakes[model].fail_next("refusal" if model == "claude" else "safety")
    completion = client.chat.completions.create(model=model, messages=user("bad"))
    assert completion.choices[0].finish_reason == "content_filter"


def test_blocked_prompt_is_content_filter(client: openai.OpenAI, fakes: dict[str, Any]) -> None:
    fakes["gem"].fail_next("blocked")
    completion = client.chat.completions.create(model="gem", messages=user("bad"))
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content == ""


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.InternalServerError),  # the proxy's key is wrong: a 502, not the client's
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_each_error_class(
    failing_proxy: ProxyProcess, fakes: dict[str, Any], model: str, status: int, error: type
) -> None:
    client = openai.OpenAI(base_url=failing_proxy.base_url, api_key=MASTER_KEY, max_retries=0)
    status = 529 if model == "claude" and status == 503 else status
    for fake in fakes.values():
        fake.set_behaviour("*", "status", status=status, retry_after=0)
    with pytest.raises(error) as failed:
        client.chat.completions.create(model=model, messages=user("x"))
    assert failed.value.body is None or "type" in failed.value.body  # OpenAI error shape
    if status == 400:
        assert len(fakes[model].requests) == 1  # the client's fault: not retried elsewhere


@pytest.mark.parametrize("model", MODELS)
def test_overloaded_primary_falls_back(
    client: openai.OpenAI, fakes: dict[str, Any], model: str
) -> None:
    fakes[model].set_behaviour(
        "claude-sonnet-4-5" if model == "claude" else "gemini-2.5-flash",
        "status",
        status=529 if model == "claude" else 503,
    )
    completion = client.chat.completions.create(model=model, messages=user("hi"))
    assert completion.choices[0].message.content == "Echo: hi"
    omni = completion.model_extra["omni"]  # type: ignore[index]
    assert omni["model_used"] != model and omni["fallbacks"][0]["status"] == 503


@pytest.mark.parametrize("model", MODELS)
def test_stream_overloaded_before_output_falls_back(
    client: openai.OpenAI, fakes: dict[str, Any], model: str
) -> None:
    fakes[model].set_behaviour(
        "claude-sonnet-4-5" if model == "claude" else "gemini-2.5-flash",
        "stream_error",
        after=1 if model == "claude" else 0,
        status=503,
    )
    chunks = list(client.chat.completions.create(model=model, messages=user("s"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: s"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("mode", ["stream_error", "stream_cut"])
def test_stream_dying_midway_is_an_error_the_sdk_raises(
    client: openai.OpenAI, fakes: dict[str, Any], model: str, mode: str
) -> None:
    fakes[model].set_behaviour("*", mode, after=4, status=503)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(
            model=model, messages=user("one two three four five six"), stream=True
        ):
            received.append(chunk)
    assert received  # bytes were sent first: no silent truncation, no hang


def test_count_tokens_asks_anthropic(proxy: ProxyProcess, fakes: dict[str, Any]) -> None:
    """A Claude model's count comes from Anthropic's own endpoint; others get the estimate."""
    client = anthropic.Anthropic(base_url=proxy.root, api_key=MASTER_KEY, max_retries=0)
    messages: Any = [{"role": "user", "content": "one two three four five"}]
    counted = client.messages.count_tokens(model="claude", system="six seven", messages=messages)
    assert counted.input_tokens == 7  # the fake counts words
    sent = fakes["claude"].requests[-1]
    assert sent["path"].endswith("/v1/messages/count_tokens")
    assert sent["json"]["model"] == "claude-sonnet-4-5"
    estimated = client.messages.count_tokens(model="gem", messages=messages)
    assert estimated.input_tokens >= 1
    assert not any(r["path"].endswith("count_tokens") for r in fakes["gem"].requests)
