"""End to end: the official openai SDK → omni-proxy (a real process) → a fake OpenAI upstream.

Everything crosses real sockets; the proxy is started with ``omni-proxy serve``.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.openai_schema import validate

UPSTREAM_KEY = "sk-upstream-test"


def proxy_config(fake: FakeOpenAI) -> dict[str, Any]:
    return {
        "providers": {
            "up": {
                "plugin": "openai",
                "base_url": fake.base_url,
                "api_key": UPSTREAM_KEY,
                "timeout_s": 5,
            }
        },
        "models": [
            {
                "name": "cheap",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.60,
                "avg_latency_ms": 300,
                "strengths": ["chat", "summarization"],
            },
            {
                "name": "smart",
                "provider": "up",
                "model": "gpt-4o",
                "cost_input": 2.5,
                "cost_output": 10,
                "avg_latency_ms": 900,
                "strengths": ["coding", "reasoning"],
            },
            {
                "name": "flaky",
                "provider": "up",
                "model": "flaky-model",
                "cost_input": 0.1,
                "cost_output": 0.2,
                "avg_latency_ms": 100,
                "strengths": ["chat"],
            },
            {
                "name": "wobbly",
                "provider": "up",
                "model": "wobbly-model",
                "cost_input": 0.1,
                "cost_output": 0.2,
                "avg_latency_ms": 100,
                "strengths": ["chat"],
            },
            {
                "name": "slow",
                "provider": "up",
                "model": "slow-model",
                "cost_input": 0.1,
                "cost_output": 0.2,
                "avg_latency_ms": 100,
                "strengths": ["translation"],
            },
        ],
        "routing": {"premium_model": "smart", "fallback_model": "cheap", "max_attempts": 3},
        "max_body_bytes": 200_000,
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model_suffix="-2024-07-18") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    tmp = tmp_path_factory.mktemp("proxy")
    with ProxyProcess(tmp, proxy_config(fake)) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_fake(fake: FakeOpenAI) -> None:
    fake.clear_behaviour()
    fake.requests.clear()


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_plain_chat_is_wire_exact(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="cheap", messages=user("hi there"))
    body = orjson.loads(raw.content)
    validate({k: v for k, v in body.items() if k != "omni"}, "CreateChatCompletionResponse")
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: hi there"
    assert completion.model == "cheap"  # the public name, not the upstream's dated id
    assert raw.headers["x-omni-model"] == "cheap"
    assert raw.headers["x-omni-provider"] == "up"
    assert raw.headers["x-omni-task"] == body["omni"]["task_type"]
    assert raw.headers["x-request-id"] == body["omni"]["request_id"]
    sent = fake.last_request
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert MASTER_KEY not in str(sent["headers"])  # the client's key never goes upstream


def test_omni_object_prices_the_request(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="cheap", messages=user("one two three"))
    omni = completion.model_extra["omni"]
    usage = completion.usage
    assert usage is not None and usage.total_tokens > 0
    expected = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1e6
    assert omni["cost"] == pytest.approx(expected, rel=1e-6)
    premium = (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6
    assert omni["premium_cost"] == pytest.approx(premium, rel=1e-6)
    assert omni["savings_estimate"] == pytest.approx(premium - expected, rel=1e-6)
    assert omni["model_used"] == "cheap" and omni["provider"] == "up"
    assert omni["fallbacks"] == [] and omni["latency_ms"] > 0


def test_every_parameter_and_unknown_field_passes_through(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    client.chat.completions.create(
        model="cheap",
        messages=user("x"),
        temperature=0.3,
        top_p=0.9,
        n=2,
        stop=["\n\n"],
        seed=42,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        logit_bias={"50256": -100},
        max_completion_tokens=50,
        user="u-1",
        response_format={"type": "json_object"},
        extra_body={"my_vendor_knob": {"deep": [1, 2]}, "priority": "cheap", "max_cost": 1},
    )
    sent = fake.last_request["json"]
    for key, value in {
        "temperature": 0.3,
        "top_p": 0.9,
        "n": 2,
        "stop": ["\n\n"],
        "seed": 42,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "logit_bias": {"50256": -100},
        "max_completion_tokens": 50,
        "user": "u-1",
        "response_format": {"type": "json_object"},
        "my_vendor_knob": {"deep": [1, 2]},
    }.items():
        assert sent[key] == value, key
    assert "priority" not in sent and "max_cost" not in sent  # routing fields stay here


def test_n_choices_come_back(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="cheap", messages=user("hey"), n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]


def test_streaming_chunks_validate_and_carry_omni_last(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="cheap", messages=user("stream these words please"), stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream these words please"
    for c in chunks:
        validate(
            {k: v for k, v in c.model_dump(exclude_unset=True).items() if k != "omni"},
            "CreateChatCompletionStreamResponse",
        )
    assert all(c.model == "cheap" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["omni"]["model_used"] == "cheap"
    assert all("omni" not in (c.model_extra or {}) for c in chunks[:-1])


def test_stream_include_usage_puts_usage_and_omni_on_the_last_chunk(
    client: openai.OpenAI,
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="cheap",
            messages=user("count me"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.model_extra["omni"]["cost"] > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_still_records_real_usage(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    stream = client.chat.completions.with_raw_response.create(
        model="cheap", messages=user("usage please"), stream=True
    )
    rid = stream.headers["x-request-id"]
    assert all(c.choices for c in stream.parse())  # no empty-choices chunk surprises the client
    # The proxy asked the upstream for usage anyway, to record and price the request.
    assert fake.last_request["json"]["stream_options"] == {"include_usage": True}
    row = wait_for_row(proxy, rid)
    assert row["completion_tokens"] == 3  # "Echo: usage please" is three words to the fake


def test_stream_chunks_arrive_as_the_upstream_sends_them(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    fake.set_behaviour("gpt-4o-mini", "ok", chunk_delay_s=0.25)
    arrivals = []
    for chunk in client.chat.completions.create(
        model="cheap", messages=user("a b c d e"), stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 5
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # Buffering would deliver them together; relayed as they come, they keep the upstream's pace.
    assert sorted(gaps)[len(gaps) // 2] > 0.15


def test_tools_and_tool_choice(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = client.chat.completions.create(
        model="smart",
        messages=user("call get_weather for Paris"),
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(orjson.loads(call.function.arguments), dict)
    assert completion.choices[0].finish_reason == "tool_calls"
    assert fake.last_request["json"]["tool_choice"]["function"]["name"] == "get_weather"
    # Streaming tool calls: fragments that the SDK reassembles.
    args, names = "", []
    for chunk in client.chat.completions.create(
        model="smart",
        messages=user("use get_weather"),
        tools=tools,
        tool_choice="required",
        stream=True,
    ):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            names += [tc.function.name] if tc.function and tc.function.name else []
            args += tc.function.arguments or "" if tc.function else ""
    assert names == ["get_weather"] and isinstance(orjson.loads(args), dict)


async def test_async_client_plain_and_stream(proxy: ProxyProcess) -> None:
    client = openai.AsyncOpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
    results = await asyncio.gather(
        *[client.chat.completions.create(model="cheap", messages=user(f"n{i}")) for i in range(8)]
    )
    assert sorted(r.choices[0].message.content for r in results) == [
        f"Echo: n{i}" for i in range(8)
    ]
    stream = await client.chat.completions.create(model="cheap", messages=user("go"), stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Echo: go"
    await client.close()


def test_sdk_error_classes(proxy: ProxyProcess, client: openai.OpenAI, fake: FakeOpenAI) -> None:
    bad = openai.OpenAI(base_url=proxy.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad.chat.completions.create(model="cheap", messages=user("x"))
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=user("x"))
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad_temp:
        client.chat.completions.create(model="cheap", messages=user("x"), temperature=7)
    assert bad_temp.value.param == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="cheap", messages=[])
    # The only candidate is rate limited upstream (and so is the fallback): a 429 with retry-after.
    fake.set_behaviour("*", "status", status=429, retry_after=1)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="cheap", messages=user("x"))
    assert limited.value.response.headers.get("retry-after")
    # A 400 from the upstream is the client's problem: passed through, never retried elsewhere.
    fake.set_behaviour(
        "*", "status", status=400, message="context too long", code="context_length_exceeded"
    )
    fake.requests.clear()
    with pytest.raises(openai.BadRequestError) as upstream_400:
        client.chat.completions.create(model="cheap", messages=user("x"))
    assert "context too long" in upstream_400.value.message
    assert len(fake.requests) == 1


def test_fallback_to_the_next_model_when_the_primary_fails(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    fake.set_behaviour("flaky-model", "status", status=500)
    raw = client.chat.completions.with_raw_response.create(model="flaky", messages=user("hello"))
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: hello"
    omni = completion.model_extra["omni"]
    assert omni["model_used"] != "flaky"
    assert omni["fallbacks"][0]["model"] == "flaky" and omni["fallbacks"][0]["status"] == 502
    row = wait_for_row(proxy, raw.headers["x-request-id"])
    assert row["fallback_count"] == 1 and row["model_used"] == omni["model_used"]


@pytest.mark.parametrize("mode", ["reset", "half_json", "error_200", "timeout"])
def test_upstream_faults_fall_back(client: openai.OpenAI, fake: FakeOpenAI, mode: str) -> None:
    fake.set_behaviour("flaky-model", mode, delay_s=8)
    completion = client.chat.completions.create(model="flaky", messages=user("still there?"))
    assert completion.choices[0].message.content == "Echo: still there?"
    omni = completion.model_extra["omni"]
    assert omni["model_used"] != "flaky"
    # Either flaky failed on this request, or it failed so often before that it is cooling down.
    tried_flaky = any(r["json"]["model"] == "flaky-model" for r in fake.requests)
    assert tried_flaky == bool(omni["fallbacks"])


def test_a_model_that_keeps_failing_is_cooled_down(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.set_behaviour("flaky-model", "status", status=500)
    for _ in range(4):
        client.chat.completions.create(model="flaky", messages=user("x"))
    fake.requests.clear()
    completion = client.chat.completions.create(model="flaky", messages=user("y"))
    assert completion.model_extra["omni"]["fallbacks"] == []
    sent = [r["json"]["model"] for r in fake.requests]
    assert len(sent) == 1 and sent[0] != "flaky-model"


def test_every_attempt_failing_is_a_5xx_with_the_attempts(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    fake.set_behaviour("*", "status", status=503)
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="flaky", messages=user("x"))
    assert failed.value.status_code in (502, 503)
    assert "attempts failed" in failed.value.message


def test_stream_falls_back_before_the_first_byte(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.set_behaviour("wobbly-model", "status", status=500)
    chunks = list(client.chat.completions.create(model="wobbly", messages=user("s"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: s"
    assert chunks[-1].model_extra["omni"]["fallbacks"][0]["model"] == "wobbly"


@pytest.mark.parametrize("mode", ["stream_error", "stream_cut"])
def test_stream_failing_midway_ends_with_an_error_the_sdk_raises(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess, mode: str
) -> None:
    fake.set_behaviour("gpt-4o-mini", mode, after=3)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(
            model="cheap", messages=user("one two three four five"), stream=True
        ):
            received.append(chunk)
    assert received  # it failed after bytes were sent: no silent truncation, no hang


def test_http_level_errors_are_contract_shaped(proxy: ProxyProcess) -> None:
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    url = proxy.base_url + "/chat/completions"
    cases = [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_type"),
        (b"null", 400, "invalid_type"),
        (b'{"model": "cheap", "messages": "hi"}', 400, "invalid_type"),
        (
            b'{"model": "cheap", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
            400,
            "invalid_type",
        ),
        (
            b'{"model": "cheap", "messages": [{"role": "wizard", "content": "x"}]}',
            400,
            "invalid_value",
        ),
        (
            b'{"model": "cheap", "messages": [{"role": "user", "content": "x"}], "n": 0}',
            400,
            "integer_below_min_value",  # OpenAI's code for a value under the minimum
        ),
        (
            b'{"model": "cheap", "messages": [{"role": "user", "content": "x"}], '
            b'"tool_choice": "required"}',
            400,
            None,
        ),
        (b'{"messages": [{"role": "user", "content": "x"}]}', 400, None),
        (
            b'{"model": "cheap", "messages": [{"role": "user", "content": "'
            + b"a" * 250_000
            + b'"}]}',
            413,
            "request_too_large",
        ),
    ]
    for payload, status, code in cases:
        r = httpx.post(url, content=payload, headers={**auth, "x-request-id": "my-req-1"})
        assert r.status_code == status, (payload[:60], r.text)
        body = r.json()
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["code"] == code, (payload[:60], body)
        # The proxy's own id always; the client's is echoed apart (CONTRACT.md).
        assert body["request_id"] == r.headers["x-request-id"] != "my-req-1"
        assert r.headers["x-request-id"].startswith("req_")
        assert r.headers["x-client-request-id"] == "my-req-1"
        assert "Traceback" not in r.text
    r = httpx.post(url, json={"model": "cheap", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(url, json={}, headers={"x-api-key": MASTER_KEY})
    assert r.status_code == 400  # X-API-Key is accepted as the key
    r = httpx.get(proxy.root + "/v1/nope", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert r.headers["x-request-id"].startswith("req_")


def test_models_health_ready(proxy: ProxyProcess, client: openai.OpenAI) -> None:
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids[0] == "auto" and {"cheap", "smart", "flaky"} <= set(ids)
    raw = httpx.get(proxy.base_url + "/models", headers={"authorization": f"Bearer {MASTER_KEY}"})
    validate(raw.json(), "ListModelsResponse")
    assert client.models.retrieve("smart").id == "smart"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")
    assert httpx.get(proxy.root + "/health").json() == {"status": "ok"}
    ready = httpx.get(proxy.root + "/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_auto_routes_and_routing_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=user("Write a Python function that reverses a linked list.")
    )
    completion = raw.parse()
    assert completion.model_extra["omni"]["task_type"] == "coding"
    assert raw.headers["x-omni-task"] == "coding"
    assert completion.model == raw.headers["x-omni-model"]


def wait_for_row(proxy: ProxyProcess, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    path = Path(str(proxy.env["OMNI_DATABASE_URL"]).removeprefix("sqlite:///"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(path) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        if row is not None:
            return dict(row)
        time.sleep(0.1)
    raise AssertionError(f"request {request_id} was never recorded")


def test_simple_chat_contract(proxy: ProxyProcess) -> None:
    r = httpx.post(
        proxy.base_url + "/chat",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        json={"messages": user("hello simple"), "priority": "cheap", "max_cost": 0.5},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"] == "Echo: hello simple"
    for key in ("model_used", "cost", "latency_ms", "savings_estimate", "request_id"):
        assert key in body
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["cost"] > 0 and body["savings_estimate"] >= 0
    bad = httpx.post(
        proxy.base_url + "/chat",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        json={"messages": user("x"), "priority": "free"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "priority"


def test_agent_step_is_routed_as_agent_step(proxy: ProxyProcess) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    r = httpx.post(
        proxy.base_url + "/agent-step",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        json={"messages": user("please lookup the weather"), "tools": tools},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["omni"]["task_type"] == "agent_step"
    assert body["tool_calls"][0]["function"]["name"] == "lookup" and body["done"] is False


def test_router_debug_explains_without_calling(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    r = httpx.post(
        proxy.base_url + "/router/debug",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        json={
            "messages": user("Prove that the square root of 2 is irrational."),
            "priority": "best",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task_type"] == "reasoning"
    assert body["selected_model"] == body["plan"][0]
    names = {c["model"] for c in body["candidates"]}
    assert {"cheap", "smart", "flaky"} <= names
    assert all("score" in c and "filtered_by" in c for c in body["candidates"])
    assert body["reason"]
    assert fake.requests == []  # no provider was called


def test_retry_policy_bounds_attempts_and_honours_retry_after(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    # Every model fails: at most routing.max_attempts (3) upstream calls in all.
    fake.set_behaviour("*", "status", status=502)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="slow", messages=user("x"))
    assert len(fake.requests) == 3
