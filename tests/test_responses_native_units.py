"""The Responses API passthrough's pure parts: who serves it natively, how history travels
to an upstream that did not make it, and how SSE events are split, named and numbered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from omni_proxy_openai import OpenAIProvider
from omni_proxy_openai.responses import split_events

from omni_proxy.config import ConfigError, ProviderSettings
from omni_proxy.endpoints.native_responses import (
    NativeTurn,
    _sequence,
    check_basics,
    event_parts,
    failure_of,
    input_items,
    portable_items,
    routing_body,
)
from omni_proxy.errors import ProxyError
from omni_proxy.provider import Provider
from omni_proxy.types import ModelInfo, Route


def provider(**settings: Any) -> OpenAIProvider:
    return OpenAIProvider(ProviderSettings(**settings), httpx.AsyncClient())


def test_which_providers_serve_the_responses_api() -> None:
    assert provider(name="openai", plugin="openai").supports_responses() is True
    assert provider(name="groq", plugin="openai").supports_responses() is False
    assert (
        provider(name="up", plugin="openai", base_url="http://x/v1").supports_responses() is False
    )
    assert provider(name="up", plugin="openai", preset="openai").supports_responses() is True
    opted_in = provider(name="vllm", plugin="openai", responses_api=True)
    assert opted_in.supports_responses() is True
    assert str(opted_in.responses_url) == "http://localhost:8000/v1/responses"
    assert (
        provider(name="openai", plugin="openai", responses_api=False).supports_responses() is False
    )
    with pytest.raises(ConfigError, match="responses_api"):
        provider(name="up", plugin="openai", responses_api="yes")


def test_a_provider_plugin_without_the_responses_api_keeps_working() -> None:
    class Legacy(Provider):
        plugin = "legacy"

    legacy = Legacy(ProviderSettings(name="l", plugin="legacy"), httpx.AsyncClient())
    assert legacy.supports_responses() is False
    with pytest.raises(ProxyError) as caught:
        legacy.responses_stream({}, ModelInfo("m", "l", "m"))
    assert caught.value.status == 400 and "Responses API" in caught.value.message


def test_check_basics() -> None:
    basics = check_basics({"model": "m", "input": "x", "stream": True, "store": False})
    assert (basics.model, basics.stream, basics.store) == ("m", True, False)
    assert check_basics({"model": "m", "previous_response_id": "r"}).previous_response_id == "r"
    assert check_basics({"model": "m", "prompt": {"id": "p"}}).store is True
    for body, param in [
        ({"input": "x"}, "model"),
        ({"model": 3, "input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": "x", "stream": "yes"}, "stream"),
        ({"model": "m", "input": "x", "previous_response_id": 7}, "previous_response_id"),
        ({"model": "m", "input": "x", "background": True}, "background"),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
    ]:
        with pytest.raises(ProxyError) as caught:
            check_basics(body)
        assert caught.value.status == 400 and caught.value.param == param, body


def test_input_items_change_as_little_as_possible() -> None:
    assert input_items("hi") == [{"type": "message", "role": "user", "content": "hi"}]
    item = {"type": "item_reference", "id": "msg_1"}
    assert input_items([{"role": "user", "content": "a"}, item]) == [
        {"type": "message", "role": "user", "content": "a"},
        item,
    ]
    with pytest.raises(ProxyError):
        input_items({"role": "user"})
    with pytest.raises(ProxyError):
        input_items([None])


def test_portable_items_drop_what_only_their_upstream_can_resolve() -> None:
    stored = [
        {"type": "message", "role": "user", "content": "q", "id": "msg_u"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}},
        {
            "type": "message",
            "id": "msg_a",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hello", "annotations": []},
                {"type": "refusal", "refusal": "no"},
            ],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "status": "completed",
            "call_id": "c1",
            "name": "f",
            "arguments": "{}",
        },
        {"type": "function_call_output", "id": "fco_1", "call_id": "c1", "output": "ok"},
    ]
    assert portable_items(stored) == [
        {"type": "message", "role": "user", "content": "q"},
        stored[2],
        {"role": "assistant", "content": "Hello\nno"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]


def test_the_previous_id_goes_only_to_the_upstream_that_made_it() -> None:
    body = {"model": "pub", "input": "next", "previous_response_id": "resp_1", "store": False}
    history = [
        {"type": "message", "role": "user", "content": "first"},
        {"type": "message", "id": "m", "role": "assistant", "content": "answer"},
    ]
    turn = NativeTurn(body, check_basics(body), history, previous_provider="a")

    def route(provider: str) -> Route:
        return Route(ModelInfo("pub", provider, "up-model"))

    assert turn.payload_for(route("a")) == {**body, "model": "up-model"}
    assert turn.payload_for(route("b")) == {
        "model": "up-model",
        "input": [
            {"type": "message", "role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "next"},
        ],
        "store": False,
    }
    assert body["input"] == "next"  # the client's body is never changed in place
    assert turn.conversation() == [*history, {"type": "message", "role": "user", "content": "next"}]


def test_routing_body_stands_in_for_untranslatable_requests() -> None:
    body = {
        "model": "auto",
        "instructions": "Be brief.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this"},
                    {"type": "input_image", "file_id": "file-1"},
                ],
            }
        ],
        "tools": [{"type": "web_search"}, {"type": "function", "name": "f"}],
    }
    chat = routing_body(body, [])
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat["messages"][1]["content"][0] == {"type": "text", "text": "what is this"}
    assert chat["messages"][1]["content"][1]["type"] == "image_url"  # the vision filter sees it
    assert chat["tools"] == [{"type": "function", "function": {"name": "f"}}]


def test_split_events_keeps_every_byte() -> None:
    raw = b"event: a\ndata: {}\n\n: keep-alive\n\nevent: b\r\ndata: {}\r\n\r\nevent: c\ndata"
    events, rest = split_events(raw)
    assert events == [
        b"event: a\ndata: {}\n\n",
        b": keep-alive\n\n",
        b"event: b\r\ndata: {}\r\n\r\n",
    ]
    assert rest == b"event: c\ndata"
    assert b"".join(events) + rest == raw


def test_event_parts_and_sequence_numbers() -> None:
    raw = b'event: response.output_text.delta\ndata: {"type":"x","sequence_number": 12}\n\n'
    assert event_parts(raw) == (
        "response.output_text.delta",
        b'{"type":"x","sequence_number": 12}',
    )
    # Without an event line the name comes from the data's type.
    assert event_parts(b'data: {"type":"response.completed"}\n\n')[0] == "response.completed"
    assert event_parts(b": comment\n\n") == (None, b"")
    assert _sequence(b'{"a":"\\"sequence_number\\": 99","sequence_number":3}') == 3
    assert _sequence(b"{}") is None


def test_in_band_failures_become_errors_fallback_understands() -> None:
    limited = failure_of(
        "error", b'{"type":"error","code":"rate_limit_exceeded","message":"slow down"}'
    )
    assert limited is not None and limited.status == 429 and limited.retryable
    failed = failure_of(
        "response.failed",
        b'{"type":"response.failed","response":{"error":{"code":"server_error","message":"x"}}}',
    )
    assert failed is not None and failed.status == 502 and failed.message == "x"
    assert failure_of("response.completed", b"{}") is None
