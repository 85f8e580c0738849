"""The Responses API translation on its own: request → chat, chat → ``Response``, and chat
chunks → Responses stream events, each checked against the OpenAI spec's schemas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import orjson
import pytest

from omni_proxy.errors import ProxyError
from omni_proxy.wire import responses as fmt
from tests.openai_schema import _spec, validate


def _event_schemas() -> dict[str, str]:
    """Stream event type → the spec schema describing it (from ``ResponseStreamEvent``)."""
    schemas = _spec()["components"]["schemas"]
    out = {}
    for option in schemas["ResponseStreamEvent"]["anyOf"]:
        name = option["$ref"].rsplit("/", 1)[1]
        kinds = schemas[name]["properties"]["type"].get("enum") or []
        for kind in kinds:
            out[kind] = name
    return out


EVENT_SCHEMAS = _event_schemas()


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``event: <type>\\ndata: <json>\\n\\n`` frames as (type, data) pairs."""
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def req(**body: Any) -> fmt.ResponsesRequest:
    return fmt.parse_request({"model": "m", "input": "hi", **body})


def bad(body: dict[str, Any]) -> ProxyError:
    with pytest.raises(ProxyError) as caught:
        fmt.parse_request(body)
    assert caught.value.status == 400
    return caught.value


# -- requests ----------------------------------------------------------------------------------
def test_string_input_instructions_and_sampling_fields() -> None:
    r = req(
        instructions="Be brief.",
        temperature=0.2,
        top_p=0.9,
        max_output_tokens=100,
        user="u1",
        metadata={"k": "v"},
        store=False,
        reasoning={"effort": "low"},
        text={"format": {"type": "text"}, "verbosity": "low"},
        priority="cheap",
        strategy="cost",
    )
    chat = fmt.to_chat(r)
    assert chat == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u1",
        "verbosity": "low",
        "reasoning_effort": "low",
        "priority": "cheap",
        "strategy": "cost",
    }
    assert r.store is False and r.metadata == {"k": "v"}
    streamed = fmt.to_chat(req(stream=True))
    assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}


def test_item_list_with_every_supported_item() -> None:
    items = fmt.normalize_input(
        [
            {"role": "developer", "content": "Use tools."},
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "S"}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "https://x/y.png", "detail": "high"},
                    {
                        "type": "input_file",
                        "file_data": "data:application/pdf;base64,AA",
                        "filename": "a.pdf",
                    },
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Calling.", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "c1",
                "name": "f",
                "arguments": "{}",
            },
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": '{"a":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "two"}],
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "a"},
                    {"type": "input_text", "text": "b"},
                ],
            },
        ]
    )
    messages = fmt.items_to_messages(items)
    assert messages == [
        {"role": "developer", "content": "Use tools."},
        {"role": "system", "content": "S"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": '{"a":1}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
        {"role": "user", "content": "a\nb"},
    ]
    # A function call with no assistant text before it gets an assistant message of its own.
    alone = fmt.items_to_messages(
        fmt.normalize_input(
            [
                {"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            ]
        )
    )
    assert alone[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }


def test_history_comes_after_instructions_and_before_new_input() -> None:
    history = [
        {"type": "message", "role": "user", "content": "one"},
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "two", "annotations": [], "logprobs": []}],
        },
    ]
    chat = fmt.to_chat(req(input="three", instructions="I"), history)
    assert [m["content"] for m in chat["messages"]] == ["I", "one", "two", "three"]
    # previous_response_id alone (no new input) is enough; instructions alone are not.
    only_previous = fmt.parse_request({"model": "m", "previous_response_id": "resp_1"})
    assert fmt.to_chat(only_previous, history)["messages"][-1]["role"] == "assistant"
    with pytest.raises(ProxyError):
        fmt.to_chat(fmt.parse_request({"model": "m", "input": [], "instructions": "I"}))


def test_tools_tool_choice_and_text_format() -> None:
    tool = {
        "type": "function",
        "name": "f",
        "description": "d",
        "parameters": {"type": "object", "properties": {}},
        "strict": True,
    }
    bare = {"type": "function", "name": "g"}
    r = req(
        tools=[tool, bare], tool_choice={"type": "function", "name": "g"}, parallel_tool_calls=False
    )
    chat = fmt.to_chat(r)
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {"type": "object", "properties": {}},
                "description": "d",
                "strict": True,
            },
        },
        {
            "type": "function",
            "function": {"name": "g", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "g"}}
    assert chat["parallel_tool_calls"] is False
    assert r.tools[1] == {
        "type": "function",
        "name": "g",
        "description": None,
        "parameters": None,
        "strict": None,
    }
    for choice in ("auto", "none", "required"):
        assert fmt.to_chat(req(tools=[tool], tool_choice=choice))["tool_choice"] == choice
    allowed = fmt.to_chat(
        req(
            tools=[tool, bare],
            tool_choice={
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "f"}],
            },
        )
    )
    assert allowed["tool_choice"] == {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "f"}}],
        },
    }
    assert "tool_choice" not in fmt.to_chat(req())

    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    js = fmt.to_chat(
        req(
            text={
                "format": {
                    "type": "json_schema",
                    "name": "out",
                    "schema": schema,
                    "strict": True,
                    "description": "D",
                }
            }
        )
    )
    assert js["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema, "description": "D", "strict": True},
    }
    obj = fmt.to_chat(req(text={"format": {"type": "json_object"}}))
    assert obj["response_format"] == {"type": "json_object"}
    assert "response_format" not in fmt.to_chat(req(text={"format": {"type": "text"}}))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": 3}, "input"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "user"}]}, "input[0].content"),
        ({"model": "m", "input": [{"type": "mystery"}]}, "input[0].type"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        (
            {"model": "m", "input": [{"type": "function_call_output", "output": "x"}]},
            "input[0].call_id",
        ),
        ({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "f"}},
            "tool_choice",
        ),
        ({"model": "m", "input": "x", "tool_choice": "required"}, "tool_choice"),
        ({"model": "m", "input": "x", "max_output_tokens": 15}, "max_output_tokens"),
        ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "m", "input": "x", "top_p": "high"}, "top_p"),
        ({"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata"),
        ({"model": "m", "input": "x", "metadata": {str(i): "v" for i in range(17)}}, "metadata"),
        ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        (
            {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}},
            "text.format.schema",
        ),
        ({"model": "m", "input": "x", "store": "yes"}, "store"),
        ({"model": "m", "input": "x", "stream": 1}, "stream"),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
        ({"model": "m", "input": "x", "background": True}, "background"),
        ({"model": "m", "input": "x", "truncation": "sometimes"}, "truncation"),
        ({"model": "m", "input": "x", "truncation": ""}, "truncation"),
        ({"model": "m", "input": "x", "text": {"verbosity": "loud"}}, "text.verbosity"),
        (
            {
                "model": "m",
                "input": [{"role": "assistant", "content": [{"type": "output_text", "text": 3}]}],
            },
            "input[0].content[0].text",
        ),
        (
            {"model": "m", "input": [{"role": "system", "content": [{"type": "input_image"}]}]},
            "input[0].content[0].type",
        ),
        (
            {
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}],
            },
            "input[0].call_id",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": {"type": "function", "name": ["f"]},
            },
            "tool_choice",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": {
                    "type": "allowed_tools",
                    "mode": "auto",
                    "tools": [{"type": "function", "name": {}}],
                },
            },
            "tool_choice.tools",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": {"type": "allowed_tools", "mode": "sometimes", "tools": []},
            },
            "tool_choice.mode",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": {"type": "mcp"},
            },
            "tool_choice",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "function", "name": "f", "parameters": []}],
            },
            "tools[0].parameters",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "function", "name": "f", "strict": "yes"}],
            },
            "tools[0].strict",
        ),
        ({"model": "m", "input": "x", "reasoning": "high"}, "reasoning"),
        ({"model": "m", "input": "x", "previous_response_id": 7}, "previous_response_id"),
        (
            {
                "model": "m",
                "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}],
            },
            "input[0].content[0].file_data",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type",
        ),
        (
            {
                "model": "m",
                "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}],
            },
            "input[0].content[0].file_id",
        ),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    try:
        r = fmt.parse_request(body)
        fmt.to_chat(r)
    except ProxyError as err:
        assert err.status == 400 and err.param == param, (err.param, err.message)
        return
    pytest.fail("no error")


def test_error_locations_in_a_continued_conversation() -> None:
    history = [
        {"type": "message", "role": "user", "content": "x"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    ok = fmt.to_chat(
        req(input=[{"type": "function_call_output", "call_id": "c1", "output": "y"}]), history
    )
    assert ok["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "y"}
    with pytest.raises(ProxyError) as caught:
        fmt.to_chat(
            req(
                input=[
                    {"role": "user", "content": "z"},
                    {"type": "function_call_output", "call_id": "c9", "output": "y"},
                ]
            ),
            history,
        )
    assert caught.value.param == "input[1].call_id"


def test_body_must_be_an_object() -> None:
    assert bad([]).code == "invalid_type"  # type: ignore[arg-type]


# -- responses ---------------------------------------------------------------------------------
def chat_response(message: dict[str, Any], finish: str = "stop", **usage: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "public",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": 7,
            "completion_tokens": 5,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 1},
            **usage,
        },
    }


def make(r: fmt.ResponsesRequest, chat: dict[str, Any]) -> dict[str, Any]:
    out = fmt.from_chat(chat, r, response_id="resp_1", created_at=1700000000, model="public")
    validate(out, "Response")
    return out


def test_text_answer_is_a_completed_response() -> None:
    r = req(instructions="I", metadata={"a": "b"}, temperature=0.5, max_output_tokens=20)
    out = make(r, chat_response({"role": "assistant", "content": "Hello."}))
    assert out["status"] == "completed" and out["output_text"] == "Hello."
    assert out["id"] == "resp_1" and out["object"] == "response" and out["model"] == "public"
    message = out["output"][0]
    assert message["id"].startswith("msg_") and message["status"] == "completed"
    assert message["content"] == [
        {"type": "output_text", "text": "Hello.", "annotations": [], "logprobs": []}
    ]
    assert out["usage"] == {
        "input_tokens": 7,
        "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 12,
    }
    assert out["instructions"] == "I" and out["metadata"] == {"a": "b"}
    assert out["temperature"] == 0.5 and out["top_p"] == 1.0 and out["max_output_tokens"] == 20
    assert out["tools"] == [] and out["tool_choice"] == "auto"
    assert out["parallel_tool_calls"] is True and out["store"] is True
    assert out["error"] is None and out["incomplete_details"] is None
    assert out["text"] == {"format": {"type": "text"}}
    assert isinstance(out["completed_at"], int)


def test_tool_calls_become_function_call_items() -> None:
    r = req(tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}}])
    out = make(
        r,
        chat_response(
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x":1}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    },
                ],
            },
            "tool_calls",
        ),
    )
    assert [i["type"] for i in out["output"]] == ["message", "function_call", "function_call"]
    call = out["output"][1]
    assert call["id"].startswith("fc_") and call["call_id"] == "call_1"
    assert call["name"] == "f" and call["arguments"] == '{"x":1}' and call["status"] == "completed"
    assert out["output_text"] == "Let me check."
    only_calls = make(
        r,
        chat_response(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "tool_calls",
        ),
    )
    assert [i["type"] for i in only_calls["output"]] == ["function_call"]
    assert only_calls["output_text"] == ""


def test_length_is_incomplete_and_refusals_are_kept() -> None:
    out = make(req(), chat_response({"role": "assistant", "content": "Cut sh"}, "length"))
    assert out["status"] == "incomplete" and out["completed_at"] is None
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out["output"][0]["status"] == "incomplete"
    filtered = make(req(), chat_response({"role": "assistant", "content": ""}, "content_filter"))
    assert filtered["incomplete_details"] == {"reason": "content_filter"}
    refused = make(
        req(), chat_response({"role": "assistant", "content": None, "refusal": "I can't."})
    )
    assert refused["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't."}]
    empty = make(req(), chat_response({"role": "assistant", "content": None}))
    assert empty["output_text"] == "" and empty["output"][0]["type"] == "message"
    no_usage = fmt.from_chat(
        {"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]},
        req(),
        response_id="resp_2",
        created_at=1,
        model="m",
    )
    assert "usage" not in no_usage


def test_response_echoes_request_fields_exactly_as_the_spec_wants() -> None:
    r = req(
        tools=[{"type": "function", "name": "f", "strict": False}],
        tool_choice="required",
        text={"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
        previous_response_id="resp_0",
        truncation="auto",
        reasoning={"effort": "high"},
        user="u",
        top_logprobs=3,
    )
    out = make(r, chat_response({"role": "assistant", "content": "{}"}))
    assert out["previous_response_id"] == "resp_0" and out["truncation"] == "auto"
    assert out["reasoning"] == {"effort": "high", "summary": None}
    assert out["tool_choice"] == "required" and out["user"] == "u" and out["top_logprobs"] == 3
    assert out["tools"][0]["strict"] is False


# -- streaming ---------------------------------------------------------------------------------
def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> Any:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "public",
        "choices": choices,
        **extra,
    }


USAGE = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}


def run(translator: fmt.StreamTranslator, chunks: list[dict[str, Any]]) -> list[Any]:
    raw = translator.start()
    for c in chunks:
        raw += translator.feed(c)
    events, response = translator.finish()
    raw += events + translator.done(response)
    out = parse_sse(raw)
    for kind, data in out:
        assert data["type"] == kind
        validate(data, EVENT_SCHEMAS[kind])
    assert [d["sequence_number"] for _, d in out] == list(range(len(out)))
    return out


def shell(r: fmt.ResponsesRequest | None = None) -> dict[str, Any]:
    return fmt.response_shell(r or req(), "resp_s", 1700000000, "public")


def test_text_stream_event_sequence() -> None:
    events = run(
        fmt.StreamTranslator(shell()),
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            chunk(usage=USAGE),
        ],
    )
    assert [k for k, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created = events[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and "usage" not in created
    added = events[2][1]
    assert added["item"]["status"] == "in_progress" and added["item"]["content"] == []
    item_id = added["item"]["id"]
    assert all(d.get("item_id", item_id) == item_id for _, d in events[3:9])
    assert events[6][1]["text"] == "Hello"
    assert events[8][1]["item"]["status"] == "completed"
    final = events[-1][1]["response"]
    assert final["status"] == "completed" and final["output_text"] == "Hello"
    assert final["output"][0]["id"] == item_id
    assert final["usage"]["input_tokens"] == 4 and final["usage"]["output_tokens"] == 3


def test_tool_call_stream_event_sequence() -> None:
    call = {
        "index": 0,
        "id": "call_9",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    call2 = {
        "index": 1,
        "id": "call_10",
        "type": "function",
        "function": {"name": "get_time", "arguments": ""},
    }
    events = run(
        fmt.StreamTranslator(shell()),
        [
            chunk({"role": "assistant", "content": "Checking."}),
            chunk({"tool_calls": [call]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
            chunk({"tool_calls": [call2]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
            chunk({}, "tool_calls"),
            chunk(usage=USAGE),
        ],
    )
    kinds = [k for k, _ in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[8][1]
    assert added["output_index"] == 1 and added["item"]["call_id"] == "call_9"
    assert added["item"]["arguments"] == "" and added["item"]["status"] == "in_progress"
    done = events[13][1]
    assert done["arguments"] == '{"city":"Paris"}' and done["name"] == "get_weather"
    final = events[-1][1]["response"]
    assert [i["type"] for i in final["output"]] == ["message", "function_call", "function_call"]
    assert final["output"][1]["arguments"] == '{"city":"Paris"}'
    assert final["output"][2]["call_id"] == "call_10"
    assert final["output_text"] == "Checking."


def test_text_after_tool_calls_is_a_message_of_its_own() -> None:
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
    events = run(
        fmt.StreamTranslator(shell()),
        [chunk({"tool_calls": [call]}), chunk({"content": "Done."}), chunk({}, "stop")],
    )
    final = events[-1][1]["response"]
    assert [i["type"] for i in final["output"]] == ["function_call", "message"]
    added = [d["output_index"] for k, d in events if k == "response.output_item.added"]
    assert added == [0, 1]


def test_stream_length_refusal_and_empty() -> None:
    cut = run(fmt.StreamTranslator(shell()), [chunk({"content": "a b"}), chunk({}, "length")])
    assert cut[-1][0] == "response.incomplete"
    assert cut[-1][1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert cut[-2][1]["item"]["status"] == "incomplete"
    refusal = run(
        fmt.StreamTranslator(shell()),
        [chunk({"refusal": "No"}), chunk({"refusal": "pe."}), chunk({}, "stop")],
    )
    kinds = [k for k, _ in refusal]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    assert refusal[-1][1]["response"]["output"][0]["content"] == [
        {"type": "refusal", "refusal": "Nope."}
    ]
    empty = run(fmt.StreamTranslator(shell()), [chunk({}, "stop")])
    assert empty[-1][1]["response"]["output_text"] == ""
    assert len(empty[-1][1]["response"]["output"]) == 1


def test_failure_mid_stream_is_response_failed() -> None:
    translator = fmt.StreamTranslator(shell())
    raw = translator.start() + translator.feed(chunk({"content": "part"}))
    raw += translator.fail({"message": "boom", "type": "server_error", "code": None})
    events = parse_sse(raw)
    for kind, data in events:
        validate(data, EVENT_SCHEMAS[kind])
    assert events[-2][1]["item"]["status"] == "incomplete"
    failed = events[-1][1]["response"]
    assert events[-1][0] == "response.failed" and failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": "boom"}
    assert failed["output"][0]["content"][0]["text"] == "part"
    assert fmt.failure_code("rate_limit_exceeded", None) == "rate_limit_exceeded"
    assert fmt.failure_code(None, "requests") == "rate_limit_exceeded"


async def _relay(frames: list[bytes]) -> AsyncGenerator[bytes, None]:
    for frame in frames:
        yield frame


def _frame(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def test_translate_stream_stores_before_completing() -> None:
    seen: list[str] = []

    async def keep(response: dict[str, Any]) -> None:
        seen.append(response["id"])
        await asyncio.sleep(0)

    final = chunk(usage=USAGE, omni={"model_used": "public", "cost": 0.1})
    frames = [
        _frame(chunk({"content": "Hi"})) + _frame(chunk({}, "stop")),
        _frame(final) + b"data: [DONE]\n\n",
    ]
    out = b""
    async for block in fmt.translate_stream(_relay(frames), fmt.StreamTranslator(shell()), keep):
        out += block
        if b"response.completed" in block:
            assert seen == ["resp_s"]  # stored before the client hears it is complete
    events = parse_sse(out)
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["omni"] == {"model_used": "public", "cost": 0.1}

    error = {"error": {"message": "gone", "type": "server_error", "param": None, "code": None}}
    broken = fmt.translate_stream(
        _relay([_frame(chunk({"content": "Hi"})), _frame(error)]), fmt.StreamTranslator(shell())
    )
    failed = parse_sse(b"".join([b async for b in broken]))
    assert failed[-1][0] == "response.failed"
