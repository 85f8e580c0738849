"""``/v1/messages``: the official anthropic SDK through omni-proxy to an OpenAI-format upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from omni_proxy.wire.anthropic import from_openai, to_openai
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config: dict[str, Any] = {
        "providers": {
            "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
        },
        "models": [
            {
                "name": "claude-sonnet-4",
                "provider": "up",
                "model": "gpt-4o",
                "cost_input": 3,
                "cost_output": 15,
                "strengths": ["coding"],
            },
            {
                "name": "small",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.6,
                "strengths": ["chat"],
            },
        ],
    }
    with ProxyProcess(tmp_path_factory.mktemp("p"), config) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.root, api_key=MASTER_KEY, max_retries=0)


def test_to_openai_maps_system_images_tools_and_results() -> None:
    chat = to_openai(
        {
            "model": "m",
            "max_tokens": 50,
            "system": [{"type": "text", "text": "Be brief."}],
            "stop_sequences": ["END"],
            "temperature": 0.5,
            "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}],
                },
            ],
        }
    )
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat["messages"][1]["content"][1]["image_url"]["url"] == "data:image/png;base64,AAA"
    assert chat["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "42"}
    assert chat["stop"] == ["END"] and chat["tool_choice"] == "required"
    assert chat["parallel_tool_calls"] is False and chat["max_tokens"] == 50


def test_from_openai_reads_every_block() -> None:
    message = from_openai(
        {
            "id": "chatcmpl-1",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "Checking.",
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"x": 2}'},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }
    )
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"]
    assert message["content"][1]["input"] == {"x": 2}
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {"input_tokens": 3, "output_tokens": 4}


def test_anthropic_sdk_plain_stream_tools_and_errors(
    client: anthropic.Anthropic, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    message = client.messages.create(
        model="claude-sonnet-4",
        max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert message.content[0].text == "Echo: hello there"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    sent = fake.last_request["json"]
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["max_tokens"] == 100
    with client.messages.stream(
        model="auto", max_tokens=50, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: stream me" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    tool = client.messages.create(
        model="claude-sonnet-4",
        max_tokens=100,
        tools=[
            {
                "name": "get_weather",
                "description": "w",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    assert tool.stop_reason == "tool_use" and tool.content[-1].name == "get_weather"
    assert isinstance(tool.content[-1].input, dict)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    bad = anthropic.Anthropic(base_url=proxy.root, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(
            model="small", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="small", max_tokens=0, messages=[{"role": "user", "content": "x"}]
        )


def test_count_tokens_and_request_id(client: anthropic.Anthropic, proxy: ProxyProcess) -> None:
    """``messages.count_tokens`` answers Anthropic's shape (the proxy's estimate: this
    upstream speaks OpenAI); every reply carries ``request-id`` (the SDK's ``_request_id``)."""
    long = "word " * 400
    counted = client.messages.count_tokens(
        model="claude-sonnet-4", system="Be brief.", messages=[{"role": "user", "content": long}]
    )
    short = client.messages.count_tokens(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens > short.input_tokens >= 1
    assert counted._request_id and counted._request_id.startswith("req_")
    message = client.messages.create(
        model="claude-sonnet-4", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert message._request_id and message._request_id == message.model_extra["omni"]["request_id"]
    with client.messages.stream(
        model="auto", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert stream.request_id and stream.request_id.startswith("req_")
        stream.until_done()
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "x"}])
    assert info.value.request_id and info.value.body["type"] == "error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError):
        client.messages.count_tokens(model="auto", messages=[])
