"""Unit tests of the pure OpenAI <-> Gemini generateContent translation (omni_proxy_gemini)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omni_proxy_gemini.translate import (
    StreamTranslator,
    finish_reason,
    from_gemini,
    gemini_error,
    guess_mime,
    openai_usage,
    to_gemini,
)

from omni_proxy.errors import ProxyError
from tests.openai_schema import validate

# A 1x1 PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA},
}


def req(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "gemini-2.5-flash", "messages": list(messages), **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def call(cid: str, name: str, arguments: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
        **extra,
    }


# --------------------------------------------------------------------------- requests


def test_minimal_request() -> None:
    assert to_gemini(req(user("Hi"))) == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def test_roles_and_system_instruction() -> None:
    out = to_gemini(
        req(
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            user("one"),
            {"role": "assistant", "content": "two"},
            user("three"),
            user("four"),
        )
    )
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Use French."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "one"}]},
        {"role": "model", "parts": [{"text": "two"}]},
        {"role": "user", "parts": [{"text": "three"}, {"text": "four"}]},
    ]


def test_only_system_becomes_the_user_turn() -> None:
    out = to_gemini(req({"role": "system", "content": "Say hi"}))
    assert out == {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}


def test_generation_config() -> None:
    out = to_gemini(
        req(
            user("x"),
            temperature=1.5,
            top_p=0.8,
            max_completion_tokens=100,
            max_tokens=5,
            stop="END",
            n=3,
            seed=7,
            presence_penalty=0.1,
            frequency_penalty=0.2,
            stream_options={"include_usage": True},
            logit_bias={},
        ),
    )
    assert out["generationConfig"] == {
        "temperature": 1.5,
        "topP": 0.8,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "maxOutputTokens": 100,
        "stopSequences": ["END"],
        "candidateCount": 3,
        "seed": 7,
    }
    assert set(out) == {"contents", "generationConfig"}
    assert to_gemini(req(user("x"), max_tokens=9, stop=["a", "b"]))["generationConfig"] == {
        "maxOutputTokens": 9,
        "stopSequences": ["a", "b"],
    }


def test_json_mode_from_response_format() -> None:
    out = to_gemini(req(user("x"), response_format={"type": "json_object"}))
    assert out["generationConfig"] == {"responseMimeType": "application/json"}
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA, "strict": True}}
    out = to_gemini(req(user("x"), response_format=fmt))
    assert out["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": SCHEMA,
    }
    assert "generationConfig" not in to_gemini(req(user("x"), response_format={"type": "text"}))


def test_inline_and_file_images() -> None:
    out = to_gemini(
        req(
            user(
                [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://img.test/cat.webp?size=2"}},
                    {"type": "image_url", "image_url": {"url": "https://img.test/no-extension"}},
                ]
            )
        )
    )
    assert out["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://img.test/cat.webp?size=2"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://img.test/no-extension"}},
    ]
    assert guess_mime("https://x.test/a.PNG") == "image/png"


def test_audio_and_pdf_parts() -> None:
    out = to_gemini(
        req(
            user(
                [
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
                    {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "x.pdf"}},
                ]
            )
        )
    )
    assert out["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]


def test_unsupported_parts_are_a_400() -> None:
    with pytest.raises(ProxyError) as bad:
        to_gemini(req(user([{"type": "video", "video": {}}])))
    assert bad.value.status == 400 and bad.value.param == "messages[0].content[0]"
    with pytest.raises(ProxyError):
        to_gemini(req(user([{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}])))


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"functionCallingConfig": {"mode": "AUTO"}}),
        ("none", {"functionCallingConfig": {"mode": "NONE"}}),
        ("required", {"functionCallingConfig": {"mode": "ANY"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        ),
        (None, None),
    ],
)
def test_tools_and_tool_choice(choice: Any, expected: Any) -> None:
    body = req(user("x"), tools=[WEATHER, {"type": "function", "function": {"name": "now"}}])
    if choice is not None:
        body["tool_choice"] = choice
    out = to_gemini(body)
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "Weather", "parametersJsonSchema": SCHEMA},
                {"name": "now"},
            ]
        }
    ]
    assert out.get("toolConfig") == expected


def test_tool_calls_and_results_with_names_looked_up() -> None:
    out = to_gemini(
        req(
            user("Weather in Paris and Rome?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    call("call_1", "get_weather", '{"location": "Paris"}'),
                    call("call_2", "get_time", ""),
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
            user("Thanks"),
        )
    )
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
                {"text": "Thanks"},
            ],
        },
    ]


def test_tool_result_for_an_unknown_call_is_a_400() -> None:
    with pytest.raises(ProxyError) as bad:
        to_gemini(req(user("x"), {"role": "tool", "tool_call_id": "nope", "content": "1"}))
    assert bad.value.param == "messages[1].tool_call_id"


def test_thought_signatures_go_back_upstream() -> None:
    messages = [
        user("x"),
        {
            "role": "assistant",
            "tool_calls": [
                call("call_a", "f", "{}", extra_content={"google": {"thought_signature": "SIG_A"}}),
                call("call_b", "f", "{}"),
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "1"},
        {"role": "tool", "tool_call_id": "call_b", "content": "2"},
    ]
    parts = to_gemini(req(*messages), signatures={"call_b": "SIG_B"})["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in parts] == ["SIG_A", "SIG_B"]
    parts = to_gemini(req(*messages))["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in parts] == ["SIG_A", None]


# property: the translated request always has what Gemini requires.

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_part = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _text),
    st.just({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}),
    st.just({"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}),
)


@st.composite
def _conversation(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(_text)})
    for turn in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["user", "assistant", "tools"]))
        if kind == "user":
            messages.append(
                {"role": "user", "content": draw(st.one_of(_text, st.lists(_part, max_size=3)))}
            )
        elif kind == "assistant":
            messages.append({"role": "assistant", "content": draw(st.one_of(st.none(), _text))})
        else:
            ids = [f"call_{turn}_{k}" for k in range(draw(st.integers(1, 3)))]
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        call(i, f"fn_{k}", json.dumps({"a": draw(_text)}))
                        for k, i in enumerate(ids)
                    ],
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
    body["n"] = draw(st.one_of(st.none(), st.integers(1, 8)))
    body["stop"] = draw(st.one_of(st.none(), _text, st.lists(_text, max_size=4)))
    return body


_DATA = {"text", "inlineData", "fileData", "functionCall", "functionResponse"}


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(_conversation())
def test_translated_requests_always_satisfy_gemini(body: dict[str, Any]) -> None:
    try:
        out = to_gemini(body)
    except ProxyError as err:
        assert err.param == "messages"
        return
    assert out["contents"]
    roles = [c["role"] for c in out["contents"]]
    assert set(roles) <= {"user", "model"}
    assert all(a != b for a, b in itertools.pairwise(roles))
    for content in [*out["contents"], out.get("systemInstruction", {"parts": [{"text": "x"}]})]:
        assert content["parts"]
        for part in content["parts"]:
            assert len(set(part) & _DATA) == 1
            if "text" in part:
                assert part["text"]
            if "functionResponse" in part:
                assert part["functionResponse"]["name"].startswith("fn_")
                assert isinstance(part["functionResponse"]["response"], dict)
            if "functionCall" in part:
                assert isinstance(part["functionCall"]["args"], dict)
    config = out.get("generationConfig", {})
    assert set(config) <= {"temperature", "stopSequences", "candidateCount"}
    assert all(config.get("stopSequences", ["x"]))
    assert 1 < config.get("candidateCount", 2) <= 8


# --------------------------------------------------------------------------- responses


RESPONSE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Thinking...", "thought": True},
                    {"text": "Checking "},
                    {"text": "both."},
                    {
                        "functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
                        "thoughtSignature": "SIG",
                    },
                    {"functionCall": {"name": "get_weather", "args": {"location": "Rome"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 10,
        "candidatesTokenCount": 7,
        "thoughtsTokenCount": 3,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 20,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "abc",
}


def test_function_calls_and_text() -> None:
    out = from_gemini(RESPONSE, "gem", created=9)
    validate(out, "CreateChatCompletionResponse")
    assert (out["id"], out["model"], out["created"]) == ("chatcmpl-abc", "gem", 9)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Checking both."
    assert message["reasoning_content"] == "Thinking..."
    calls = message["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"location": "Paris"},
        {"location": "Rome"},
    ]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert calls[0]["id"] != calls[1]["id"]
    assert calls[0]["extra_content"] == {"google": {"thought_signature": "SIG"}}
    assert "extra_content" not in calls[1]


def test_usage_mapping() -> None:
    assert openai_usage(RESPONSE["usageMetadata"]) == {
        "prompt_tokens": 10,
        "completion_tokens": 10,
        "total_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }


def test_several_candidates_become_choices() -> None:
    response = {
        "candidates": [
            {
                "content": {"parts": [{"text": "B"}], "role": "model"},
                "finishReason": "MAX_TOKENS",
                "index": 1,
            },
            {
                "content": {"parts": [{"text": "A"}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            },
        ]
    }
    out = from_gemini(response, "gem")
    validate(out, "CreateChatCompletionResponse")
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out["choices"]] == [
        (0, "A", "stop"),
        (1, "B", "length"),
    ]


def test_safety_stop_and_blocked_prompt_are_content_filter() -> None:
    out = from_gemini({"candidates": [{"finishReason": "SAFETY", "index": 0}]}, "gem")
    validate(out, "CreateChatCompletionResponse")
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] == ""
    blocked = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3},
    }
    out = from_gemini(blocked, "gem")
    validate(out, "CreateChatCompletionResponse")
    assert out["choices"] == [
        {
            "index": 0,
            "logprobs": None,
            "finish_reason": "content_filter",
            "message": {"role": "assistant", "content": "", "refusal": None},
        }
    ]
    assert out["usage"]["prompt_tokens"] == 3
    with pytest.raises(ProxyError) as bad:
        from_gemini({"candidates": []}, "gem")
    assert bad.value.status == 502


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", False, "length"),
        ("MAX_TOKENS", True, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("IMAGE_SAFETY", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        ("OTHER", False, "stop"),
        (None, False, None),
    ],
)
def test_finish_reasons(reason: str | None, calls: bool, expected: str | None) -> None:
    assert finish_reason(reason, calls) == expected


# --------------------------------------------------------------------------- errors


def rpc(code: int, status: str, message: str = "boom", details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


@pytest.mark.parametrize(
    ("http", "status", "expected", "code", "retryable"),
    [
        (400, "INVALID_ARGUMENT", 400, None, False),
        (403, "PERMISSION_DENIED", 502, "upstream_auth_failed", True),
        (404, "NOT_FOUND", 502, "upstream_model_not_found", True),
        (429, "RESOURCE_EXHAUSTED", 429, "rate_limit_exceeded", True),
        (500, "INTERNAL", 502, "upstream_error", True),
        (503, "UNAVAILABLE", 503, "upstream_overloaded", True),
        (504, "DEADLINE_EXCEEDED", 504, "upstream_timeout", True),
    ],
)
def test_rpc_errors_map_to_contract_errors(
    http: int, status: str, expected: int, code: str | None, retryable: bool
) -> None:
    err = gemini_error("gemini", http, rpc(http, status))
    assert (err.status, err.code, err.retryable) == (expected, code, retryable)
    assert err.message.startswith("gemini") and err.message.endswith("boom")


def test_invalid_key_and_failed_precondition_are_operator_errors() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    err = gemini_error("g", 400, rpc(400, "INVALID_ARGUMENT", "API key not valid.", details))
    assert (err.status, err.code, err.retryable) == (502, "upstream_auth_failed", True)
    err = gemini_error("g", 400, rpc(400, "FAILED_PRECONDITION", "billing"))
    assert err.code == "upstream_auth_failed"


def test_retry_delay_and_list_wrapper() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]
    err = gemini_error("g", 429, [rpc(429, "RESOURCE_EXHAUSTED", "quota", details)])
    assert err.retry_after == 17.0 and err.headers["retry-after"] == "17"
    err = gemini_error("g", None, rpc(503, "UNAVAILABLE"))  # inside a stream: status from body
    assert err.status == 503


# --------------------------------------------------------------------------- streams


def event(
    parts: list[dict[str, Any]] | None,
    finish: str | None = None,
    index: int = 0,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": index}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate], "responseId": "r1", "modelVersion": "g"}
    if usage:
        out["usageMetadata"] = usage
    return out


def test_text_stream() -> None:
    translator = StreamTranslator("gem", include_usage=True, created=3)
    chunks = translator.feed(event([{"text": "Hel"}], usage={"promptTokenCount": 5}))
    chunks += translator.feed(
        event(
            [{"text": "lo"}],
            "STOP",
            usage={"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        )
    )
    chunks += translator.close()
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["id"] == "chatcmpl-r1" and chunk["model"] == "gem"
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": "Hel"},
        {"content": "lo"},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 7
    assert all(c["usage"] is None for c in chunks[:-1])


def test_function_call_stream_and_candidates() -> None:
    translator = StreamTranslator("gem")
    chunks = translator.feed(event([{"functionCall": {"name": "f", "args": {"a": 1}}}], "STOP"))
    chunks += translator.feed(event([{"text": "other"}], "MAX_TOKENS", index=1))
    chunks += translator.close()
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    (tool,) = chunks[0]["choices"][0]["delta"]["tool_calls"]
    assert tool["index"] == 0 and tool["id"].startswith("call_") and tool["type"] == "function"
    assert tool["function"] == {"name": "f", "arguments": '{"a":1}'}
    finishes = {
        c["choices"][0]["index"]: c["choices"][0]["finish_reason"]
        for c in chunks
        if c["choices"] and c["choices"][0]["finish_reason"]
    }
    assert finishes == {0: "tool_calls", 1: "length"}


def test_blocked_prompt_stream() -> None:
    translator = StreamTranslator("gem")
    chunks = translator.feed({"promptFeedback": {"blockReason": "SAFETY"}})
    chunks += translator.close()
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["finish_reason"] == "content_filter"


def test_stream_errors() -> None:
    translator = StreamTranslator("gem", provider="g")
    translator.feed(event([{"text": "a"}]))
    with pytest.raises(ProxyError) as cut:
        translator.close()
    assert cut.value.code == "upstream_stream_cut" and cut.value.retryable
    with pytest.raises(ProxyError) as failed:
        translator.feed(rpc(503, "UNAVAILABLE", "The model is overloaded."))
    assert (failed.value.status, failed.value.code) == (503, "upstream_overloaded")
    with pytest.raises(ProxyError):
        StreamTranslator("gem").close()  # nothing at all arrived
