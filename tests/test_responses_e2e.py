"""``/v1/responses``: the official openai SDK through a real omni-proxy process to FakeOpenAI.

Every body and stream event on the wire is also checked against the OpenAI spec's schemas.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.openai_schema import validate
from tests.test_responses_translate import EVENT_SCHEMAS, parse_sse

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


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
                "name": "big",
                "provider": "up",
                "model": "gpt-4o",
                "cost_input": 2.5,
                "cost_output": 10,
                "strengths": ["coding", "reasoning"],
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
def client(proxy: ProxyProcess, fake: FakeOpenAI) -> openai.OpenAI:
    fake.reset()
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def raw_post(proxy: ProxyProcess, body: dict[str, Any], key: str = MASTER_KEY) -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/responses",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def raw_stream(proxy: ProxyProcess, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """POST with ``stream: true``; every event, each checked against its spec schema."""
    r = raw_post(proxy, {**body, "stream": True})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.content)
    for kind, data in events:
        assert data["type"] == kind
        validate(data, EVENT_SCHEMAS[kind])
        validate(data, "ResponseStreamEvent")
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    return events


def sent_messages(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return list(fake.requests_to("/chat/completions")[-1]["json"]["messages"])


def test_plain_create_is_a_spec_valid_response(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    response = client.responses.create(
        model="small",
        input="hello there",
        instructions="Be terse.",
        temperature=0.3,
        metadata={"ticket": "42"},
        max_output_tokens=64,
    )
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == "small"
    assert response.output_text == "Echo: hello there"
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert message.content[0].type == "output_text"
    assert response.usage is not None and response.usage.input_tokens > 0
    assert response.usage.output_tokens == 3
    assert response.usage.total_tokens == response.usage.input_tokens + 3
    assert response.metadata == {"ticket": "42"} and response.instructions == "Be terse."
    assert response.temperature == 0.3 and response.max_output_tokens == 64
    sent = fake.requests_to("/chat/completions")[-1]["json"]
    assert sent["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hello there"},
    ]
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.3
    assert "metadata" not in sent and "store" not in sent

    r = raw_post(proxy, {"model": "auto", "input": "hi again", "priority": "cheap"})
    assert r.status_code == 200, r.text
    body = r.json()
    validate(body, "Response")
    assert body["omni"]["model_used"] == body["model"] == r.headers["x-omni-model"]
    assert body["omni"]["cost"] >= 0 and body["omni"]["request_id"]
    assert body["tools"] == [] and body["tool_choice"] == "auto" and body["error"] is None
    assert body["store"] is True and body["completed_at"] >= body["created_at"]


def test_stream_emits_the_full_event_sequence(
    client: openai.OpenAI, proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    events = raw_stream(proxy, {"model": "small", "input": "stream me please"})
    kinds = [k for k, _ in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = "".join(d["delta"] for k, d in events if k == "response.output_text.delta")
    assert deltas == "Echo: stream me please"
    final = events[-1][1]["response"]
    assert final["status"] == "completed" and final["output_text"] == deltas
    assert final["usage"]["output_tokens"] == 4 and final["omni"]["model_used"] == "small"
    assert fake.requests_to("/chat/completions")[-1]["json"]["stream_options"] == {
        "include_usage": True
    }

    stream = client.responses.create(model="small", input="over the sdk", stream=True)
    seen = [event.type for event in stream]
    assert seen[0] == "response.created" and seen[-1] == "response.completed"
    with client.responses.stream(model="small", input="with the helper") as helper:
        text = "".join(e.delta for e in helper if e.type == "response.output_text.delta")
        final_response = helper.get_final_response()
    assert text == "Echo: with the helper" == final_response.output_text
    assert final_response.usage is not None and final_response.usage.output_tokens == 4


def test_previous_response_id_continues_the_conversation(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    first = client.responses.create(
        model="small", input="My name is Ada", instructions="Remember names."
    )
    second = client.responses.create(
        model="small", input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    # Instructions are not carried over; the earlier turn (input and output) is.
    assert sent_messages(fake) == [
        {"role": "user", "content": "My name is Ada"},
        {"role": "assistant", "content": "Echo: My name is Ada"},
        {"role": "user", "content": "What is my name?"},
    ]
    # A streamed turn is stored too, and a chain keeps the whole history.
    with client.responses.stream(
        model="small", input="Third turn", previous_response_id=second.id
    ) as stream:
        third = stream.get_final_response()
    client.responses.create(model="big", input="Fourth", previous_response_id=third.id)
    assert [m["content"] for m in sent_messages(fake)] == [
        "My name is Ada",
        "Echo: My name is Ada",
        "What is my name?",
        "Echo: What is my name?",
        "Third turn",
        "Echo: Third turn",
        "Fourth",
    ]


def test_retrieve_delete_and_store_false(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    created = client.responses.create(model="small", input="keep me", metadata={"a": "b"})
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == "Echo: keep me"
    assert fetched.metadata == {"a": "b"}
    raw = httpx.get(
        f"{proxy.base_url}/responses/{created.id}",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    validate(raw.json(), "Response")
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)

    unstored = client.responses.create(model="small", input="forget me", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="small", input="x", previous_response_id=unstored.id)
    assert caught.value.code == "previous_response_not_found"


def test_function_tools_round_trip(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    first = client.responses.create(
        model="big",
        input="What is the weather in Paris? Use get_weather.",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        parallel_tool_calls=False,
    )
    call = first.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    assert call.id.startswith("fc_") and call.status == "completed"
    assert json.loads(call.arguments).keys() == {"city"}
    sent = fake.requests_to("/chat/completions")[-1]["json"]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_TOOL["parameters"],
                "description": "Current weather for a city.",
                "strict": True,
            },
        }
    ]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False

    # Stateful: the call's output continues the stored response.
    second = client.responses.create(
        model="big",
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == "Tool result: sunny"
    messages = sent_messages(fake)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}

    # Stateless: the client sends the whole conversation back itself.
    replay = client.responses.create(
        model="big",
        store=False,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "What is the weather in Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],  # type: ignore[misc]
            {"type": "function_call_output", "call_id": call.call_id, "output": "rain"},
        ],
    )
    assert replay.output_text == "Tool result: rain"

    # Forced tool choice, streamed: arguments arrive as deltas.
    events = raw_stream(
        proxy,
        {
            "model": "big",
            "input": "Paris please",
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
        },
    )
    kinds = [k for k, _ in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(d for k, d in events if k == "response.function_call_arguments.done")
    final = events[-1][1]["response"]
    assert final["output"][0]["type"] == "function_call"
    assert final["output"][0]["arguments"] == done["arguments"]
    assert json.loads(done["arguments"]).keys() == {"city"}
    assert final["tool_choice"] == {"type": "function", "name": "get_weather"}
    sent = fake.requests_to("/chat/completions")[-1]["json"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


class Person(BaseModel):
    name: str
    age: int


def test_json_schema_text_format(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model="small",
        input="Ada, 36",
        text={
            "format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}
        },
    )
    assert json.loads(response.output_text).keys() == {"name", "age"}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    sent = fake.requests_to("/chat/completions")[-1]["json"]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": schema, "strict": True},
    }
    parsed = client.responses.parse(model="small", input="Ada, 36", text_format=Person)
    assert isinstance(parsed.output_parsed, Person)
    client.responses.create(
        model="small", input="json please", text={"format": {"type": "json_object"}}
    )
    assert fake.requests_to("/chat/completions")[-1]["json"]["response_format"] == {
        "type": "json_object"
    }


def test_images_and_max_output_tokens(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    pixel = "data:image/png;base64,iVBORw0KGgo="
    response = client.responses.create(
        model="big",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": pixel, "detail": "low"},
                ],
            }
        ],
    )
    assert response.output_text == "Echo: What is this?"
    assert sent_messages(fake)[0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": pixel, "detail": "low"}},
    ]
    long_input = " ".join(f"word{i}" for i in range(40))
    cut = raw_post(proxy, {"model": "small", "input": long_input, "max_output_tokens": 16})
    body = cut.json()
    validate(body, "Response")
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete" and body["completed_at"] is None
    events = raw_stream(proxy, {"model": "small", "input": long_input, "max_output_tokens": 16})
    assert events[-1][0] == "response.incomplete"
    assert events[-1][1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_mid_stream_failure_ends_with_response_failed(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    fake.fail_next("stream_error", after=3, message="upstream fell over")
    events = raw_stream(proxy, {"model": "small", "input": "one two three four five six"})
    kind, data = events[-1]
    assert kind == "response.failed"
    assert data["response"]["status"] == "failed"
    assert data["response"]["error"]["code"] == "server_error"
    assert "upstream fell over" in data["response"]["error"]["message"]
    item_done = [d for k, d in events if k == "response.output_item.done"]
    assert item_done and item_done[0]["item"]["status"] == "incomplete"


def test_errors(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="small", input="x", previous_response_id="resp_nope")
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"

    # Another org cannot continue, read or delete this org's responses.
    mine = client.responses.create(model="small", input="org secret")
    made = httpx.post(
        proxy.base_url + "/api-keys",
        json={"org": "other", "permissions": ["read", "write"]},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert made.status_code == 201, made.text
    other = openai.OpenAI(base_url=proxy.base_url, api_key=made.json()["key"], max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.create(model="small", input="x", previous_response_id=mine.id)
    assert caught.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(mine.id)
    assert client.responses.retrieve(mine.id).id == mine.id  # still there for its owner
    theirs = other.responses.create(model="small", input="their own")
    assert other.responses.retrieve(theirs.id).output_text == "Echo: their own"

    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nope", input="x")
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(
            model="small",
            input="x",
            tools=[{"type": "web_search"}],  # type: ignore[list-item]
        )
    assert bad.value.param == "tools[0].type"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="small", input="x", max_output_tokens=4)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="small", input=[{"type": "mystery"}])  # type: ignore[list-item]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=proxy.base_url, api_key="wrong", max_retries=0).responses.create(
            model="small", input="x"
        )
    r = raw_post(proxy, {"model": "small"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    validate(r.json()["error"], "Error")


def test_requests_are_recorded_in_usage(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}

    def totals() -> dict[str, Any]:
        return dict(httpx.get(proxy.base_url + "/usage", headers=headers).json())

    time.sleep(0.5)  # let earlier tests' records land
    before = totals()
    client.responses.create(model="small", input="count me")
    with client.responses.stream(model="small", input="count me too") as stream:
        stream.until_done()
    after = before
    for _ in range(100):  # the recorder writes in the background
        after = totals()
        if after["total_requests"] >= before["total_requests"] + 2:
            break
        time.sleep(0.1)
    assert after["total_requests"] == before["total_requests"] + 2, (before, after)
    assert after["total_cost"] > before["total_cost"]
    assert after["total_tokens"] > before["total_tokens"]


HOSTILE: list[Any] = [
    None,
    [],
    "text",
    {"model": "small", "input": {"role": "user"}},
    {"model": "small", "input": [None]},
    {"model": "small", "input": [{"role": "user", "content": [None]}]},
    {"model": "small", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
    {"model": "small", "input": [{"type": "function_call", "call_id": [], "name": {}}]},
    {"model": "small", "input": [{"type": "function_call_output", "call_id": "c", "output": 1}]},
    {"model": "small", "input": "x", "tools": [[]]},
    {"model": "small", "input": "x", "tools": {"type": "function"}},
    {"model": "small", "input": "x", "tool_choice": {"type": "function", "name": {}}},
    {"model": "small", "input": "x", "text": {"format": {"type": "json_schema", "name": []}}},
    {"model": "small", "input": "x", "metadata": []},
    {"model": "small", "input": "x", "max_output_tokens": 1e30},
    {"model": "small", "input": "x", "max_output_tokens": True},
    {"model": "small", "input": "x", "previous_response_id": ""},
    {"model": "small", "input": "x", "previous_response_id": "r" * 10_000},
    {"model": "small", "input": "x", "priority": "free"},
    {"model": "small", "input": "x", "max_cost": -1},
    {"model": ["small"], "input": "x"},
]


def test_hostile_bodies_get_a_clean_4xx(proxy: ProxyProcess) -> None:
    for body in HOSTILE:
        r = raw_post(proxy, body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        validate(r.json()["error"], "Error")
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/input_items")):
        r = httpx.request(
            method,
            f"{proxy.base_url}/responses/{'x' * 3000}{suffix}",
            headers={"authorization": f"Bearer {MASTER_KEY}"},
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "Traceback" not in proxy.read_log()
