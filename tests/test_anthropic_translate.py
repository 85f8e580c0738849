"""Unit tests of the pure OpenAI <-> Anthropic Messages translation (omni_proxy_anthropic)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omni_proxy_anthropic.translate import (
    JSON_INSTRUCTION,
    StreamTranslator,
    anthropic_error,
    finish_reason,
    from_anthropic,
    openai_usage,
    parse_data_uri,
    to_anthropic,
)

from omni_proxy.errors import ProxyError
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
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}


def req(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "claude", "messages": list(messages), **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def call(cid: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": arguments}}


# --------------------------------------------------------------------------- requests


def test_minimal_request_has_every_required_field() -> None:
    out = to_anthropic(req(user("Hi")), "claude-sonnet-4-5")
    assert out == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hi"}],
    }


def test_system_and_developer_messages_go_top_level() -> None:
    out = to_anthropic(
        req(
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            user("Hi"),
        ),
        "m",
    )
    assert out["system"] == "Be brief.\n\nUse French."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_system_cache_control_keeps_blocks() -> None:
    part = {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}
    out = to_anthropic(req({"role": "system", "content": [part]}, user("Hi")), "m")
    assert out["system"] == [part]


def test_only_a_system_message_becomes_the_user_turn() -> None:
    out = to_anthropic(req({"role": "system", "content": "Say hi"}), "m")
    assert "system" not in out
    assert out["messages"] == [{"role": "user", "content": "Say hi"}]


def test_multi_turn_history_alternates_and_merges_same_role_turns() -> None:
    out = to_anthropic(
        req(
            user("one"),
            user("two"),
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
            user("five"),
        ),
        "m",
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
        {"role": "user", "content": "five"},
    ]


def test_empty_assistant_content_is_dropped_and_prefill_is_right_trimmed() -> None:
    out = to_anthropic(
        req(
            user("a"),
            {"role": "assistant", "content": ""},
            user("b"),
            {"role": "assistant", "content": "Sure:  \n"},
        ),
        "m",
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]
    assert out["messages"][-1] == {"role": "assistant", "content": "Sure:"}


def test_image_parts_base64_and_url() -> None:
    out = to_anthropic(
        req(
            user(
                [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x.test/cat.jpg", "detail": "low"},
                    },
                ]
            )
        ),
        "m",
    )
    blocks = out["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert blocks[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://x.test/cat.jpg"},
    }


def test_image_jpg_alias_and_unsupported_types() -> None:
    out = to_anthropic(
        req(user([{"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAAA"}}])), "m"
    )
    assert out["messages"][0]["content"][0]["source"]["media_type"] == "image/jpeg"
    with pytest.raises(ProxyError) as bad:
        to_anthropic(
            req(user([{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}])),
            "m",
        )
    assert bad.value.status == 400 and bad.value.param == "messages[0].content[0]"
    with pytest.raises(ProxyError):
        to_anthropic(req(user([{"type": "input_audio", "input_audio": {}}])), "m")


def test_pdf_file_part_becomes_a_document() -> None:
    part = {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
    }
    out = to_anthropic(req(user([part])), "m")
    assert out["messages"][0]["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }


def test_parse_data_uri_handles_plain_and_base64() -> None:
    assert parse_data_uri("data:image/png;base64,QUJD") == ("image/png", "QUJD")
    assert parse_data_uri("data:text/plain,hi%20there") == ("text/plain", "aGkgdGhlcmU=")
    assert parse_data_uri("https://x") is None


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
        (None, None),
    ],
)
def test_tools_and_tool_choice(choice: Any, expected: Any) -> None:
    body = req(user("Weather?"), tools=[WEATHER])
    if choice is not None:
        body["tool_choice"] = choice
    out = to_anthropic(body, "m")
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER["function"]["parameters"],
        }
    ]
    assert out.get("tool_choice") == expected


def test_tool_without_parameters_gets_an_object_schema() -> None:
    out = to_anthropic(
        req(user("x"), tools=[{"type": "function", "function": {"name": "now"}}]), "m"
    )
    assert out["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


def test_parallel_tool_calls_false_disables_parallel_use() -> None:
    out = to_anthropic(req(user("x"), tools=[WEATHER], parallel_tool_calls=False), "m")
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    out = to_anthropic(
        req(user("x"), tools=[WEATHER], tool_choice="required", parallel_tool_calls=False), "m"
    )
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_tool_choice_without_tools_is_dropped_and_non_function_tools_rejected() -> None:
    assert "tool_choice" not in to_anthropic(req(user("x"), tool_choice="auto"), "m")
    with pytest.raises(ProxyError) as bad:
        to_anthropic(req(user("x"), tools=[{"type": "custom", "custom": {"name": "x"}}]), "m")
    assert bad.value.param == "tools[0]"


def test_assistant_tool_calls_and_tool_results() -> None:
    out = to_anthropic(
        req(
            user("Weather in Paris and Rome?"),
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    call("call_1", "get_weather", '{"location": "Paris"}'),
                    call("call_2", "get_weather", '{"location": "Rome"}'),
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "25C"}],
            },
            user("Thanks, which is warmer?"),
        ),
        "m",
        default_max_tokens=100,
    )
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"location": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "25C"}],
                },
                {"type": "text", "text": "Thanks, which is warmer?"},
            ],
        },
    ]
    assert out["max_tokens"] == 100


def test_tool_ids_from_other_providers_are_made_valid() -> None:
    out = to_anthropic(
        req(
            user("x"),
            {"role": "assistant", "content": None, "tool_calls": [call("fc:1/a", "f", "")]},
            {"role": "tool", "tool_call_id": "fc:1/a", "content": ""},
        ),
        "m",
    )
    use = out["messages"][1]["content"][0]
    result = out["messages"][2]["content"][0]
    assert use == {"type": "tool_use", "id": "fc_1_a", "name": "f", "input": {}}
    assert result == {"type": "tool_result", "tool_use_id": "fc_1_a"}


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_bad_tool_call_arguments_are_a_400(arguments: str) -> None:
    with pytest.raises(ProxyError) as bad:
        to_anthropic(
            req(user("x"), {"role": "assistant", "tool_calls": [call("c", "f", arguments)]}), "m"
        )
    assert bad.value.status == 400
    assert bad.value.param == "messages[1].tool_calls[0].function.arguments"


def test_sampling_parameters() -> None:
    out = to_anthropic(
        req(
            user("x"),
            stop="END",
            temperature=1.7,
            top_p=0.9,
            max_completion_tokens=50,
            max_tokens=999,
            user="u-1",
            stream=True,
        ),
        "m",
    )
    assert out["stop_sequences"] == ["END"]
    assert out["temperature"] == 1.0  # OpenAI's 0..2 clamped to Anthropic's 0..1
    assert out["top_p"] == 0.9
    assert out["max_tokens"] == 50  # max_completion_tokens wins
    assert out["metadata"] == {"user_id": "u-1"}
    assert out["stream"] is True
    out = to_anthropic(req(user("x"), stop=["a", "b"], temperature=0.3, max_tokens=7), "m")
    assert (out["stop_sequences"], out["temperature"], out["max_tokens"]) == (["a", "b"], 0.3, 7)
    assert "stream" not in out


def test_openai_only_fields_are_not_sent() -> None:
    out = to_anthropic(
        req(
            user("x"),
            stream_options={"include_usage": True},
            logprobs=True,
            seed=3,
            presence_penalty=0.5,
            response_format={"type": "text"},
        ),
        "m",
    )
    assert set(out) == {"model", "max_tokens", "messages"}


def test_n_above_one_is_refused_but_may_fall_back() -> None:
    with pytest.raises(ProxyError) as bad:
        to_anthropic(req(user("x"), n=2), "m")
    assert bad.value.param == "n" and bad.value.retryable


def test_response_format_becomes_a_system_instruction() -> None:
    out = to_anthropic(
        req({"role": "system", "content": "S"}, user("x"), response_format={"type": "json_object"}),
        "m",
    )
    assert out["system"] == "S\n\n" + JSON_INSTRUCTION
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    out = to_anthropic(req(user("x"), response_format=fmt), "m")
    assert out["system"].startswith(JSON_INSTRUCTION)
    assert json.dumps(schema) in out["system"]


def test_unknown_role_is_a_400() -> None:
    with pytest.raises(ProxyError) as bad:
        to_anthropic(req({"role": "function", "name": "f", "content": "x"}), "m")
    assert bad.value.param == "messages[0].role"


# property: whatever valid OpenAI request comes in, Anthropic's required fields are there,
# turns alternate, no empty text blocks, and every tool_result answers the previous turn.

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_part = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _text),
    st.just({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}),
    st.just({"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}),
)
_content = st.one_of(_text, st.lists(_part, max_size=3))


@st.composite
def _conversation(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(_text)}
        )
    for turn in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["user", "assistant", "tools"]))
        if kind == "user":
            messages.append({"role": "user", "content": draw(_content)})
        elif kind == "assistant":
            messages.append({"role": "assistant", "content": draw(st.one_of(st.none(), _text))})
        else:
            ids = [f"call_{turn}_{k}" for k in range(draw(st.integers(1, 3)))]
            args = json.dumps({"q": draw(_text)})
            messages.append(
                {
                    "role": "assistant",
                    "content": draw(st.one_of(st.none(), _text)),
                    "tool_calls": [call(i, "get_weather", args) for i in ids],
                }
            )
            messages.extend(
                {"role": "tool", "tool_call_id": i, "content": draw(_text)} for i in ids
            )
    body: dict[str, Any] = {"model": "x", "messages": messages}
    if draw(st.booleans()):
        body["tools"] = [WEATHER]
        body["tool_choice"] = draw(st.sampled_from(["auto", "none", "required", None]))
    body["temperature"] = draw(st.one_of(st.none(), st.floats(0, 2)))
    body["max_tokens"] = draw(st.one_of(st.none(), st.integers(1, 10_000)))
    body["stop"] = draw(st.one_of(st.none(), _text, st.lists(_text, max_size=4)))
    return body


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(_conversation())
def test_translated_requests_always_satisfy_anthropic(body: dict[str, Any]) -> None:
    try:
        out = to_anthropic(body, "claude-x")
    except ProxyError as err:  # only when there is nothing at all to send
        assert err.param == "messages"
        return
    assert out["model"] == "claude-x"
    assert isinstance(out["max_tokens"], int) and out["max_tokens"] >= 1
    assert out["messages"]
    roles = [m["role"] for m in out["messages"]]
    assert all(r in ("user", "assistant") for r in roles)
    assert all(a != b for a, b in itertools.pairwise(roles)), roles
    if "temperature" in out:
        assert 0 <= out["temperature"] <= 1
    assert all(s for s in out.get("stop_sequences", [])) and out.get("stop_sequences", 1) != []
    previous_uses: set[str] = set()
    for message in out["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        assert blocks
        kinds = [b["type"] for b in blocks]
        assert kinds == sorted(kinds, key=lambda k: k != "tool_result")  # results first
        for block in blocks:
            if block["type"] == "text":
                assert block["text"]
            if block["type"] == "tool_result":
                assert block["tool_use_id"] in previous_uses
        previous_uses = {b["id"] for b in blocks if b["type"] == "tool_use"}
    last = out["messages"][-1]
    if last["role"] == "assistant" and isinstance(last["content"], str):
        assert last["content"] == last["content"].rstrip()


# --------------------------------------------------------------------------- responses


MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
        {"type": "text", "text": "Checking ", "citations": None},
        {"type": "text", "text": "both."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "get_weather",
            "input": {"location": "Paris"},
        },
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"location": "Rome"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 11,
        "output_tokens": 6,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 100,
    },
}


def test_every_content_block_is_read() -> None:
    out = from_anthropic(MESSAGE, "claude-public", created=123)
    validate(out, "CreateChatCompletionResponse")
    assert out["model"] == "claude-public" and out["created"] == 123
    assert out["object"] == "chat.completion"
    message = out["choices"][0]["message"]
    assert message["content"] == "Checking both."
    assert message["reasoning_content"] == "Let me think."
    assert [json.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [
        {"location": "Paris"},
        {"location": "Rome"},
    ]
    assert message["tool_calls"][0]["id"] == "toolu_1"
    assert message["tool_calls"][0]["type"] == "function"
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_usage_counts_cache_tokens_as_prompt_tokens() -> None:
    assert openai_usage(MESSAGE["usage"]) == {
        "prompt_tokens": 114,
        "completion_tokens": 6,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    assert openai_usage(None)["total_tokens"] == 0


def test_tool_only_answer_has_null_content() -> None:
    message = {**MESSAGE, "content": MESSAGE["content"][3:4]}
    out = from_anthropic(message, "m")
    validate(out, "CreateChatCompletionResponse")
    assert out["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_stop_reasons(stop: str | None, finish: str) -> None:
    assert finish_reason(stop) == finish


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "kind", "expected_status", "code", "retryable"),
    [
        (400, "invalid_request_error", 400, None, False),
        (401, "authentication_error", 502, "upstream_auth_failed", True),
        (403, "permission_error", 502, "upstream_auth_failed", True),
        (404, "not_found_error", 502, "upstream_model_not_found", True),
        (413, "request_too_large", 413, "request_too_large", False),
        (429, "rate_limit_error", 429, "rate_limit_exceeded", True),
        (500, "api_error", 502, "upstream_error", True),
        (529, "overloaded_error", 503, "upstream_overloaded", True),
        (402, "billing_error", 502, "upstream_insufficient_credits", True),
    ],
)
def test_error_bodies_map_to_contract_errors(
    status: int, kind: str, expected_status: int, code: str | None, retryable: bool
) -> None:
    body = {"type": "error", "error": {"type": kind, "message": "boom"}, "request_id": "req_1"}
    err = anthropic_error("anthropic", status, body, retry_after=2.0 if status == 429 else None)
    assert (err.status, err.code, err.retryable) == (expected_status, code, retryable)
    assert "boom" in err.message
    if status == 429:
        assert err.retry_after == 2.0 and err.headers["retry-after"] == "2"


def test_overloaded_error_type_is_overloaded_whatever_the_status() -> None:
    err = anthropic_error(
        "a", 500, {"error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    assert (err.status, err.code, err.retryable) == (503, "upstream_overloaded", True)


# --------------------------------------------------------------------------- streams


def sse_fixture(*events: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(e["type"], e) for e in events]


START = {
    "type": "message_start",
    "message": {
        "id": "msg_s1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 1, "cache_read_input_tokens": 4},
    },
}


def run(
    translator: StreamTranslator, events: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, data in events:
        out.extend(translator.feed(name, data))
    return out


def test_text_stream_translation() -> None:
    events = sse_fixture(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Hello"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": " there"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 6},
        },
        {"type": "some_future_event"},
        {"type": "message_stop"},
    )
    translator = StreamTranslator("pub", include_usage=True, created=5)
    chunks = run(translator, events)
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["id"] == "msg_s1" and chunk["model"] == "pub" and chunk["created"] == 5
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {"content": " there"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None, None, None, "stop"]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 15,
        "completion_tokens": 6,
        "total_tokens": 21,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    assert translator.done


def test_without_include_usage_chunks_have_no_usage_key() -> None:
    chunks = run(StreamTranslator("pub"), sse_fixture(START, {"type": "message_stop"}))
    assert "usage" not in chunks[0]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"  # finish even without delta
    assert chunks[-1]["usage"]["prompt_tokens"] == 15  # the usage chunk is always produced


def test_tool_use_stream_translation() -> None:
    fragments = ["", '{"locati', 'on": "P', "ar", 'is"}']
    events = sse_fixture(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Okay"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "get_weather",
                "input": {},
            },
        },
        *(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": f},
            }
            for f in fragments
        ),
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_02",
                "name": "get_time",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 65},
        },
        {"type": "message_stop"},
    )
    chunks = run(StreamTranslator("pub"), events)
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_01",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert all(set(c) == {"index", "function"} for c in calls[1:5] + calls[6:])
    args: dict[int, str] = {}
    for c in calls:
        args[c["index"]] = args.get(c["index"], "") + c["function"]["arguments"]
    assert json.loads(args[0]) == {"location": "Paris"} and args[1] == "{}"
    assert calls[5]["id"] == "toolu_02" and calls[5]["index"] == 1  # ordinal, not block index
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] == 65


def test_thinking_deltas_become_reasoning_content() -> None:
    events = sse_fixture(
        START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Hmm"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "x"},
        },
    )
    chunks = run(StreamTranslator("pub"), events)
    assert chunks[-1]["choices"][0]["delta"] == {"reasoning_content": "Hmm"}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("overloaded_error", 503, "upstream_overloaded"),
        ("api_error", 502, "upstream_error"),
        ("rate_limit_error", 429, "rate_limit_exceeded"),
    ],
)
def test_error_event_raises(kind: str, status: int, code: str) -> None:
    translator = StreamTranslator("pub", provider="claude")
    translator.feed("message_start", START)
    with pytest.raises(ProxyError) as failed:
        translator.feed(
            "error", {"type": "error", "error": {"type": kind, "message": "Overloaded"}}
        )
    assert (failed.value.status, failed.value.code, failed.value.retryable) == (status, code, True)
    assert failed.value.message.startswith("claude: ")
