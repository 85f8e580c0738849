"""The one request schema (``omni_proxy.wire``): what it accepts, how it words a 400, and the
``/openapi.json`` components it generates. In process: the HTTP side is test_hostile_input.py
and test_fuzz.py."""

from __future__ import annotations

from typing import Any

import pytest

from omni_proxy.errors import ProxyError
from omni_proxy.routes.embeddings import validate_embeddings
from omni_proxy.routes.feedback import parse_feedback
from omni_proxy.wire import admin_models
from omni_proxy.wire.anthropic import to_openai
from omni_proxy.wire.models import MAX_OUTPUT_TOKENS
from omni_proxy.wire.openapi import REQUEST_MODELS, schemas
from omni_proxy.wire.validation import validate_chat

USER = {"role": "user", "content": "hi"}


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [USER], **fields}


def call(cid: str = "c1", arguments: Any = '{"city": "Paris"}', **extra: Any) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": "f", "arguments": arguments}}


def turn(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    return [USER, {"role": "assistant", "content": None, "tool_calls": list(calls)}]


def refused(body: Any, max_messages: int = 10_000) -> ProxyError:
    with pytest.raises(ProxyError) as info:
        validate_chat(body, max_messages)
    assert info.value.status == 400
    return info.value


def test_a_valid_body_is_returned_as_sent() -> None:
    body = chat(
        temperature=1,
        stop=["a"],
        logit_bias={"1": 2},
        stream=True,
        stream_options={"include_usage": True},
        messages=[
            *turn(call("c1"), call("c2", "")),
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "x"}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
        ],
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        tool_choice="auto",
        future_field={"kept": True},
    )
    snapshot = repr(body)
    assert validate_chat(body) is body
    assert repr(body) == snapshot  # unknown fields kept, nothing coerced


@pytest.mark.parametrize(
    ("body", "param", "code", "message"),
    [
        ([], None, "invalid_type", "The request body must be a JSON object, but got an array."),
        ({"messages": [USER]}, "model", None, "Missing required parameter: 'model'."),
        ({"model": "m"}, "messages", None, "Missing required parameter: 'messages'."),
        (chat(messages=[]), "messages", "empty_array", None),
        (chat(messages=[{"role": "user"}]), "messages[0].content", None, None),
        (chat(messages=[{"content": "x"}]), "messages[0].role", None, None),
        (
            chat(messages=[{"role": "bob", "content": "x"}]),
            "messages[0].role",
            "invalid_value",
            None,
        ),
        (
            chat(messages=[{"role": "user", "content": 5}]),
            "messages[0].content",
            "invalid_type",
            "Invalid type for 'messages[0].content': expected a string or an array, but got an "
            "integer instead.",
        ),
        (
            chat(messages=[{"role": "user", "content": [{"type": "text"}]}]),
            "messages[0].content[0].text",
            None,
            "Missing required parameter: 'messages[0].content[0].text'.",
        ),
        (chat(temperature="1"), "temperature", "invalid_type", None),
        (chat(n=1.0), "n", "invalid_type", None),
        (chat(n=0), "n", "integer_below_min_value", None),
        (chat(max_tokens=MAX_OUTPUT_TOKENS + 1), "max_tokens", "integer_above_max_value", None),
        (chat(top_logprobs=21), "top_logprobs", "integer_above_max_value", None),
        (chat(stop=["a"] * 5), "stop", "array_above_max_length", None),
        (chat(stop=[1]), "stop[0]", "invalid_type", None),
        (chat(stream=1), "stream", "invalid_type", None),
        (chat(stream_options={}), "stream_options", "invalid_value", None),
        (chat(tool_choice="auto"), "tool_choice", None, None),
        (chat(tools=[{"type": "function"}]), "tools[0].function.name", None, None),
        (chat(priority="fastest"), "priority", "invalid_value", None),
        (chat(model="m" * 300), "model", "string_above_max_length", None),
        (
            chat(messages=turn({"id": "c", "type": "function"})),
            "messages[1].tool_calls[0].function.name",
            None,
            None,
        ),
        (
            chat(messages=turn(call(arguments="[1]"))),
            "messages[1].tool_calls[0].function.arguments",
            "invalid_value",
            None,
        ),
        (
            chat(messages=[{"role": "tool", "tool_call_id": "c1", "content": "x"}]),
            "messages[0].role",
            "invalid_value",
            None,
        ),
        (
            chat(
                messages=[*turn(call("c1")), {"role": "tool", "tool_call_id": "c9", "content": "x"}]
            ),
            "messages[2].tool_call_id",
            "invalid_value",
            None,
        ),
    ],
)
def test_refusals_name_the_parameter_as_openai_does(
    body: Any, param: str | None, code: str | None, message: str | None
) -> None:
    err = refused(body)
    assert (err.param, err.code) == (param, code), err.message
    if message:
        assert err.message == message
    assert err.param is None or err.param.split(".")[0] in err.message


def test_the_configured_message_bound_applies_before_the_rest() -> None:
    err = refused(chat(messages=[USER, 5, USER]), max_messages=2)
    assert (err.param, err.code) == ("messages", "array_above_max_length")


def test_a_tool_turn_ends_with_the_next_user_message() -> None:
    messages = [
        *turn(call("c1")),
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        USER,
        {"role": "tool", "tool_call_id": "c1", "content": "19C"},
    ]
    assert refused(chat(messages=messages)).param == "messages[4].role"


def test_embeddings() -> None:
    body: dict[str, Any] = {"input": ["a", "b"]}
    assert validate_embeddings(body) is body and body["model"] == "auto"
    for bad, param in [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": ["a", ""]}, "input[1]"),
        ({"model": "m"}, "input"),
        ({"input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
    ]:
        with pytest.raises(ProxyError) as info:
            validate_embeddings(bad)
        assert info.value.param == param, (bad, info.value.message)


def test_feedback_and_admin_bodies() -> None:
    assert parse_feedback({"request_id": " r ", "score": 1}) == ("r", 1.0, None)
    for bad, param in [
        ({"request_id": "  ", "score": 1}, "request_id"),
        ({"request_id": "r", "score": True}, "score"),
    ]:
        with pytest.raises(ProxyError) as info:
            parse_feedback(bad)
        assert info.value.param == param
    with pytest.raises(ProxyError) as info:
        admin_models.check_api_key_rotate({"grace_period_s": -1})
    assert info.value.param == "grace_period_s"
    with pytest.raises(ProxyError) as info:
        admin_models.check_organization_create({"name": "x", "rpm_limit": 2**31})
    assert info.value.param == "rpm_limit"


def test_anthropic_bodies_are_refused_in_anthropics_words() -> None:
    with pytest.raises(ProxyError) as info:
        to_openai({"model": "c", "messages": [USER]})
    assert (info.value.param, info.value.message) == ("max_tokens", "max_tokens: Field required")


def test_every_request_model_is_a_component_of_the_document() -> None:
    components = schemas()
    for name in REQUEST_MODELS:
        assert components[name]["type"] == "object", name
        assert components[name]["additionalProperties"] is True, name
    chat_schema = components["ChatCompletionRequest"]
    assert chat_schema["required"] == ["model", "messages"]
    assert "$defs" not in chat_schema
    max_tokens = chat_schema["properties"]["max_tokens"]["anyOf"][0]
    assert max_tokens["maximum"] == MAX_OUTPUT_TOKENS
    top = chat_schema["properties"]["top_logprobs"]["anyOf"][0]
    assert (top["minimum"], top["maximum"]) == (0, 20)
