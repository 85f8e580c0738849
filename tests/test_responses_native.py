"""``/v1/responses`` passed through to an upstream that serves the Responses API.

A real ``omni-proxy serve`` with two fake upstreams: ``openai`` (the preset default: native
Responses API) and ``compat`` (an OpenAI-compatible server: translated onto chat). The
official openai SDK talks to the proxy; the fakes record what reached them, so each test
proves which path a request took and that the body and the stream's bytes went through
untouched.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.openai_schema import validate
from tests.reliability_support import sqlite_path
from tests.test_responses_e2e import WEATHER_TOOL
from tests.test_responses_translate import EVENT_SCHEMAS, parse_sse

HEADERS = {"authorization": f"Bearer {MASTER_KEY}"}
ENVELOPES = {"response.created", "response.in_progress", "response.completed"}


@pytest.fixture(scope="module")
def proxy(
    native_up: FakeOpenAI, compat_up: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    key = "sk-upstream-test"
    config: dict[str, Any] = {
        "providers": {
            # Named "openai": the preset's default says it serves the Responses API.
            "openai": {"plugin": "openai", "base_url": native_up.base_url, "api_key": key},
            "compat": {"plugin": "openai", "base_url": compat_up.base_url, "api_key": key},
        },
        "models": [
            {
                "name": "native-mini",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.6,
                "strengths": ["chat"],
            },
            {
                "name": "native-big",
                "provider": "openai",
                "model": "gpt-4o",
                "cost_input": 2.5,
                "cost_output": 10,
                "strengths": ["coding"],
            },
            {
                "name": "translated",
                "provider": "compat",
                "model": "gpt-4o-mini",
                "cost_input": 0.2,
                "cost_output": 0.8,
                "strengths": ["chat"],
            },
        ],
        "routing": {"max_attempts": 5},
    }
    with ProxyProcess(tmp_path_factory.mktemp("native"), config) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess, native_up: FakeOpenAI, compat_up: FakeOpenAI) -> openai.OpenAI:
    native_up.reset()
    compat_up.reset()
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def post(proxy: ProxyProcess, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(proxy.base_url + "/responses", json=body, headers=HEADERS, timeout=30)


def frames(raw: bytes) -> list[bytes]:
    return [f + b"\n\n" for f in raw.split(b"\n\n") if f.strip()]


def checked_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = parse_sse(raw)
    for kind, data in events:
        assert data["type"] == kind
        validate(data, EVENT_SCHEMAS[kind])
    return events


def upstream_bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r["json"] for r in fake.requests_to("/responses")]


def test_plain_request_goes_through_untouched(
    client: openai.OpenAI, proxy: ProxyProcess, native_up: FakeOpenAI, compat_up: FakeOpenAI
) -> None:
    body: dict[str, Any] = {
        "model": "native-mini",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello there"}]}],
        "instructions": "Be terse.",
        "temperature": 0.3,
        "metadata": {"ticket": "42"},
        "include": ["message.output_text.logprobs"],
        "prompt_cache_key": "k-1",
        "service_tier": "auto",
        "reasoning": {"effort": "low"},
        "max_tool_calls": 3,
    }
    r = post(proxy, {**body, "priority": "cheap"})
    assert r.status_code == 200, r.text
    sent = upstream_bodies(native_up)
    # Only the model changed; the proxy's routing field stayed home (the fake, like OpenAI,
    # rejects unknown parameters); nothing went to chat completions anywhere.
    assert sent == [{**body, "model": "gpt-4o-mini"}]
    assert native_up.requests_to("/chat/completions") == []
    assert compat_up.requests == []
    answer = r.json()
    validate(answer, "Response")
    stored = native_up.responses_api.stored[answer["id"]]["response"]
    assert answer["id"] == stored["id"]  # the upstream's id, not one of the proxy's
    assert answer["output"] == stored["output"] and answer["usage"] == stored["usage"]
    assert answer["model"] == "native-mini" == r.headers["x-omni-model"]
    assert stored["model"] == "gpt-4o-mini-2024-07-18"
    omni = answer["omni"]
    assert omni["native"] is True and omni["provider"] == "openai"
    usage = answer["usage"]
    expected = Decimal("0.15") * usage["input_tokens"] + Decimal("0.6") * usage["output_tokens"]
    assert Decimal(str(omni["cost"])) == (expected / 1_000_000).quantize(Decimal("0.00000001"))

    response = client.responses.create(model="native-mini", input="over the sdk")
    assert response.output_text == "Echo: over the sdk" and response.model == "native-mini"
    assert upstream_bodies(native_up)[-1] == {"model": "gpt-4o-mini", "input": "over the sdk"}


def test_stream_bytes_are_relayed(
    client: openai.OpenAI, proxy: ProxyProcess, native_up: FakeOpenAI
) -> None:
    r = post(proxy, {"model": "native-mini", "input": "stream me please", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = frames(r.content)
    sent = native_up.responses_api.sent_streams[-1]
    assert len(got) == len(sent) > 8
    events = checked_events(r.content)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    for mine, theirs, (kind, data) in zip(got, sent, events, strict=True):
        if kind not in ENVELOPES:
            assert mine == theirs  # byte for byte
            continue
        upstream = json.loads(theirs.split(b"data: ", 1)[1])
        response = data["response"]
        assert response["model"] == "native-mini"
        assert upstream["response"]["model"] == "gpt-4o-mini-2024-07-18"
        assert {k: v for k, v in response.items() if k not in ("model", "omni")} == {
            k: v for k, v in upstream["response"].items() if k != "model"
        }
    kinds = [k for k, _ in events]
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds
    final = events[-1][1]["response"]
    assert final["omni"]["native"] is True and final["omni"]["cost"] > 0
    assert final["id"] == events[0][1]["response"]["id"]
    assert upstream_bodies(native_up)[-1] == {
        "model": "gpt-4o-mini",
        "input": "stream me please",
        "stream": True,
    }

    with client.responses.stream(model="native-mini", input="with the helper") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final_response = stream.get_final_response()
    assert text == "Echo: with the helper" == final_response.output_text
    assert final_response.usage is not None and final_response.usage.output_tokens == 4


def test_tools_and_built_in_tools(
    client: openai.OpenAI, proxy: ProxyProcess, native_up: FakeOpenAI, compat_up: FakeOpenAI
) -> None:
    first = client.responses.create(
        model="native-big",
        input="Weather in Paris? Use get_weather.",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    call = first.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    assert upstream_bodies(native_up)[-1]["tools"] == [WEATHER_TOOL]
    second = client.responses.create(
        model="native-big",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == "Tool result: sunny"

    # A built-in tool: served by the native upstream, untouched ...
    search = {"type": "web_search", "search_context_size": "low"}
    searched = post(proxy, {"model": "native-mini", "input": "search the news", "tools": [search]})
    assert searched.status_code == 200, searched.text
    assert [i["type"] for i in searched.json()["output"]] == ["web_search_call", "message"]
    validate(searched.json(), "Response")
    assert upstream_bodies(native_up)[-1]["tools"] == [search]
    streamed = post(
        proxy, {"model": "native-mini", "input": "search it", "tools": [search], "stream": True}
    )
    kinds = [k for k, _ in checked_events(streamed.content)]
    assert "response.web_search_call.searching" in kinds and kinds[-1] == "response.completed"
    # ... "auto" routes it only among models whose provider serves the Responses API ...
    auto = post(proxy, {"model": "auto", "input": "search again", "tools": [search]})
    assert auto.status_code == 200 and auto.json()["omni"]["provider"] == "openai"
    # ... and a model that would be translated refuses it, in OpenAI's error shape.
    refused = post(proxy, {"model": "translated", "input": "search", "tools": [search]})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "tools[0].type"
    validate(refused.json()["error"], "Error")
    assert compat_up.requests == []
    for field in ("background", "conversation"):
        r = post(proxy, {"model": "native-mini", "input": "x", field: "conv_1"})
        assert r.status_code == 400 and r.json()["error"]["param"] == field


def test_previous_response_id_across_native_and_translated(
    client: openai.OpenAI, proxy: ProxyProcess, native_up: FakeOpenAI, compat_up: FakeOpenAI
) -> None:
    first = client.responses.create(model="native-mini", input="My name is Ada")
    second = client.responses.create(
        model="native-mini", input="What is my name?", previous_response_id=first.id
    )
    # Same upstream: it holds the state, so the id goes through as it is.
    assert upstream_bodies(native_up)[-1] == {
        "model": "gpt-4o-mini",
        "input": "What is my name?",
        "previous_response_id": first.id,
    }
    assert second.previous_response_id == first.id
    third = client.responses.create(
        model="translated", input="Third turn", previous_response_id=second.id
    )
    assert [
        m["content"] for m in compat_up.requests_to("/chat/completions")[-1]["json"]["messages"]
    ] == [
        "My name is Ada",
        "Echo: My name is Ada",
        "What is my name?",
        "Echo: What is my name?",
        "Third turn",
    ]
    assert third.omni["native"] is False  # type: ignore[attr-defined]
    # Back on the native upstream after a translated turn: it never saw that turn, so it
    # gets the whole conversation as input instead of an id it cannot resolve.
    fourth = client.responses.create(
        model="native-mini", input="Fourth", previous_response_id=third.id
    )
    sent = upstream_bodies(native_up)[-1]
    assert "previous_response_id" not in sent
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": "My name is Ada"},
        {"role": "assistant", "content": "Echo: My name is Ada"},
        {"type": "message", "role": "user", "content": "What is my name?"},
        {"role": "assistant", "content": "Echo: What is my name?"},
        {"type": "message", "role": "user", "content": "Third turn"},
        {"role": "assistant", "content": "Echo: Third turn"},
        {"role": "user", "content": "Fourth"},
    ]
    assert fourth.previous_response_id == third.id and fourth.output_text == "Echo: Fourth"
    assert client.responses.retrieve(fourth.id).output_text == "Echo: Fourth"

    # Unknown ids, another org's ids and unstored responses are 404s before any upstream.
    calls = len(native_up.requests)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="native-mini", input="x", previous_response_id="resp_x")
    assert caught.value.code == "previous_response_not_found"
    made = httpx.post(
        proxy.base_url + "/api-keys", json={"org": "other-native"}, headers=HEADERS
    ).json()
    other = openai.OpenAI(base_url=proxy.base_url, api_key=made["key"], max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="native-mini", input="x", previous_response_id=second.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(second.id)
    assert len(native_up.requests) == calls
    unstored = client.responses.create(model="native-mini", input="forget me", store=False)
    assert upstream_bodies(native_up)[-1]["store"] is False
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="native-mini", input="x", previous_response_id=unstored.id)


def test_fallback_from_a_failing_native_upstream_to_a_translated_one(
    client: openai.OpenAI, proxy: ProxyProcess, native_up: FakeOpenAI, compat_up: FakeOpenAI
) -> None:
    native_up.set_behaviour("*", "status", status=500)
    try:
        response = client.responses.create(model="native-mini", input="rescue me")
        assert response.output_text == "Echo: rescue me" and response.model == "translated"
        omni: dict[str, Any] = response.omni  # type: ignore[attr-defined]
        assert omni["native"] is False
        assert [a["model"] for a in omni["fallbacks"]][:1] == ["native-mini"]
        assert {a["provider"] for a in omni["fallbacks"]} == {"openai"}
        assert len(compat_up.requests_to("/chat/completions")) == 1
        with client.responses.stream(model="native-mini", input="stream rescue") as stream:
            final = stream.get_final_response()
        assert final.output_text == "Echo: stream rescue" and final.model == "translated"
        # The conversation continues from a translated answer to a native one.
        native_up.clear_behaviour()
        follow = client.responses.create(
            model="native-mini", input="and now?", previous_response_id=final.id
        )
        assert follow.output_text == "Echo: and now?"
    finally:
        native_up.clear_behaviour()

    # A stream whose first event is an error falls back too (nothing reached the client).
    native_up.fail_next("stream_error", after=0, path="/responses", model="gpt-4o-mini")
    events = checked_events(
        post(proxy, {"model": "native-mini", "input": "first event fails", "stream": True}).content
    )
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["omni"]["fallbacks"][0]["model"] == "native-mini"


def test_failures_after_the_first_event(proxy: ProxyProcess, native_up: FakeOpenAI) -> None:
    native_up.reset()
    native_up.fail_next("stream_error", after=4, path="/responses", message="fell over")
    r = post(proxy, {"model": "native-mini", "input": "one two three four", "stream": True})
    got = frames(r.content)
    sent = native_up.responses_api.sent_streams[-1]
    assert len(got) == len(sent) == 5 and got[2:] == sent[2:]  # after the two envelopes
    assert got[-1] == sent[-1] and b"fell over" in got[-1]  # the upstream's error event
    assert parse_sse(got[-1])[0][0] == "error"

    native_up.fail_next("stream_cut", after=5, path="/responses")
    r = post(proxy, {"model": "native-mini", "input": "one two three four", "stream": True})
    events = checked_events(r.content)
    kind, data = events[-1]
    assert kind == "error" and data["code"] == "upstream_stream_cut"
    assert data["sequence_number"] == events[-2][1]["sequence_number"] + 1 == 5


def test_native_requests_are_recorded_in_usage(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    def totals() -> dict[str, Any]:
        return dict(httpx.get(proxy.base_url + "/usage", headers=HEADERS).json())

    time.sleep(0.5)  # let earlier tests' records land
    before = totals()
    plain = client.responses.create(model="native-big", input="count me")
    with client.responses.stream(model="native-big", input="count me too") as stream:
        streamed = stream.get_final_response()
    spent = plain.omni["cost"] + streamed.omni["cost"]  # type: ignore[attr-defined]
    after = before
    for _ in range(100):  # the recorder writes in the background
        after = totals()
        if after["total_requests"] >= before["total_requests"] + 2:
            break
        time.sleep(0.1)
    assert after["total_requests"] == before["total_requests"] + 2, (before, after)
    assert after["total_cost"] == pytest.approx(before["total_cost"] + spent)
    assert plain.usage is not None and streamed.usage is not None
    tokens = plain.usage.total_tokens + streamed.usage.total_tokens
    assert after["total_tokens"] == before["total_tokens"] + tokens
    by_model = {row["model"]: row for row in after["by_model"]}
    assert by_model["native-big"]["requests"] >= 2


def test_a_client_leaving_a_native_stream_is_recorded(
    client: openai.OpenAI, proxy: ProxyProcess, native_up: FakeOpenAI
) -> None:
    """The upstream was called, so the request is recorded even though nobody read the end:
    status 499 and ``client_disconnected``, as on the chat path."""
    native_up.chunk_delay_s = 0.2  # the stream takes long enough to walk out of
    try:
        body = {"model": "native-mini", "input": "a long story, please", "stream": True}
        with httpx.stream(
            "POST", proxy.base_url + "/responses", json=body, headers=HEADERS, timeout=30
        ) as r:
            assert r.status_code == 200
            rid = r.headers["x-request-id"]
            for line in r.iter_lines():
                if line.startswith("data:"):
                    break  # one event in, the client hangs up
    finally:
        native_up.chunk_delay_s = 0.0
    db = sqlite_path(proxy)
    row = None
    for _ in range(100):  # the recorder writes in the background
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT status, client_disconnected, endpoint, stream FROM requests WHERE id = ?",
                (rid,),
            ).fetchone()
        if row is not None:
            break
        time.sleep(0.1)
    assert row == (499, 1, "/v1/responses", 1), row


@pytest.mark.parametrize("failure", ["error", "response.failed"])
def test_key_echoed_by_a_failing_stream_is_blanked(
    proxy: ProxyProcess, native_up: FakeOpenAI, failure: str
) -> None:
    """An upstream that echoes the key it was sent in an ``error`` / ``response.failed``
    event after the first byte: the key reaches neither the client, nor the record, nor the
    log (issue 15)."""
    from tests.reliability_support import eventually, sqlite_rows

    key = "sk-upstream-test"
    native_up.reset()
    native_up.fail_next(
        "stream_error",
        after=3,
        path="/responses",
        message=f"Incorrect API key provided: {key}.",
        type=failure,
    )
    r = post(proxy, {"model": "native-mini", "input": "one two three", "stream": True})
    assert native_up.responses_api.sent_streams[-1][-1].count(key.encode()) >= 1  # it echoed
    assert key.encode() not in r.content
    assert b"Incorrect API key provided: ***" in r.content
    assert parse_sse(r.content)[-1][0] == failure
    rid = r.headers["x-request-id"]
    assert eventually(lambda: rid in sqlite_rows(proxy, [rid]), timeout=10)
    error = sqlite_rows(proxy, [rid])[rid]["error"]
    assert error and "***" in error and key not in error
    assert key not in proxy.read_log()


@pytest.mark.parametrize("model", ["native-mini", "translated"])
def test_a_chain_stores_each_item_once(
    client: openai.OpenAI, proxy: ProxyProcess, model: str
) -> None:
    """Each response stores only its own new items and a reference to the one it continues
    (issue 15: 10 MB sent became 105 MB stored); the conversation still reads in full."""
    import sqlite3

    big = "x" * 20_000
    previous = None
    ids = []
    for turn in range(6):
        made = client.responses.create(
            model=model, input=f"turn {turn} {big}", previous_response_id=previous
        )
        previous = made.id
        ids.append(made.id)
    with sqlite3.connect(sqlite_path(proxy)) as conn:
        marks = ",".join("?" * len(ids))
        stored = conn.execute(
            f"SELECT SUM(LENGTH(input)) FROM responses WHERE id IN ({marks})", ids
        ).fetchone()[0]
    assert stored < 6 * 20_000 * 1.5  # linear in what was sent, not quadratic (~21x)
    items = client.responses.input_items.list(ids[-1], limit=100, order="asc").data
    texts = [getattr(i, "content", [None])[0] for i in items if i.type == "message"]
    user_texts = [t.text for t in texts if t is not None and t.type == "input_text"]
    assert [t.split(" ")[1] for t in user_texts] == [str(n) for n in range(6)]
