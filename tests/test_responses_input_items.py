"""``GET /v1/responses/{id}/input_items``: a stored response's input items, paged.

A real ``omni-proxy serve`` with two fake upstreams, as in ``test_responses_native.py``:
``openai`` serves the Responses API (passthrough) and ``compat`` only chat completions
(translated). The official openai SDK lists the items (``client.responses.input_items``);
every page is also fetched raw and checked against the spec's ``ResponseItemList``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from omni_proxy.routes.responses import derived_item_id, input_item_list
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.openai_schema import validate
from tests.test_responses_e2e import WEATHER_TOOL

HEADERS = {"authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def proxy(
    native_up: FakeOpenAI, compat_up: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    key = "sk-upstream-test"
    model = {"cost_input": 0.15, "cost_output": 0.6, "strengths": ["chat"]}
    config: dict[str, Any] = {
        "providers": {
            "openai": {"plugin": "openai", "base_url": native_up.base_url, "api_key": key},
            "compat": {"plugin": "openai", "base_url": compat_up.base_url, "api_key": key},
        },
        "models": [
            {"name": "native", "provider": "openai", "model": "gpt-4o-mini", **model},
            {"name": "translated", "provider": "compat", "model": "gpt-4o-mini", **model},
        ],
    }
    with ProxyProcess(tmp_path_factory.mktemp("input-items"), config) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def raw_list(
    proxy: ProxyProcess, response_id: str, key: str = MASTER_KEY, **params: Any
) -> httpx.Response:
    return httpx.get(
        f"{proxy.base_url}/responses/{response_id}/input_items",
        params=params,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def listed(proxy: ProxyProcess, response_id: str, **params: Any) -> dict[str, Any]:
    """One page, raw, checked against the spec (a non-empty page) and its own ids."""
    r = raw_list(proxy, response_id, **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    page: dict[str, Any] = r.json()
    if page["data"]:
        validate(page, "ResponseItemList")
        assert page["first_id"] == page["data"][0]["id"]
        assert page["last_id"] == page["data"][-1]["id"]
    else:
        assert page == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }
    ids = [item["id"] for item in page["data"]]
    assert len(set(ids)) == len(ids)
    return page


def every_item(proxy: ProxyProcess, response_id: str) -> list[dict[str, Any]]:
    return list(listed(proxy, response_id, order="asc", limit=100)["data"])


def test_plain_string_input(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    for model in ("translated", "native"):
        created = client.responses.create(model=model, input="hello there")
        page = client.responses.input_items.list(created.id)
        assert len(page.data) == 1 and page.has_more is False
        item = page.data[0]
        assert item.type == "message" and item.role == "user"
        assert item.id.startswith("msg_") and item.status == "completed"
        assert [(p.type, p.text) for p in item.content] == [("input_text", "hello there")]  # type: ignore[union-attr]
        extra = page.model_extra or {}
        assert extra["first_id"] == extra["last_id"] == item.id
        raw = listed(proxy, created.id)
        assert raw["data"] == [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello there"}],
                "status": "completed",
                "id": item.id,
            }
        ]
        # The derived id is the same on every listing.
        assert listed(proxy, created.id)["first_id"] == item.id
        assert item.id == derived_item_id(created.id, 0, "message")


MIXED_INPUT: list[dict[str, Any]] = [
    {"role": "developer", "content": "Answer briefly."},
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "What is the weather in Paris? Use get_weather."},
            {"type": "input_image", "image_url": "https://example.com/paris.png"},
        ],
    },
    {"role": "assistant", "content": "Let me check."},
    {
        "type": "function_call",
        "id": "fc_client_made",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    },
    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
]


@pytest.mark.parametrize("model", ["translated", "native"])
def test_multi_item_input_with_a_function_call_output(
    client: openai.OpenAI, proxy: ProxyProcess, model: str
) -> None:
    created = client.responses.create(
        model=model,
        input=MIXED_INPUT,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert created.output_text == "Tool result: sunny"
    items = every_item(proxy, created.id)
    assert [(i["type"], i.get("role")) for i in items] == [
        ("message", "developer"),
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
        ("function_call_output", None),
    ]
    assert items[0]["content"] == [{"type": "input_text", "text": "Answer briefly."}]
    assert items[1]["content"][1] == {
        "type": "input_image",
        "image_url": "https://example.com/paris.png",
        "detail": "auto",
    }
    assert items[2]["content"] == [
        {"type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []}
    ]
    call, output = items[3], items[4]
    assert call["id"] == "fc_client_made"  # an item's own id is kept
    assert (call["call_id"], call["name"], call["arguments"]) == (
        "call_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert output["id"].startswith("fco_") and output["status"] == "completed"
    assert (output["call_id"], output["output"]) == ("call_1", "sunny")
    assert all(i["status"] == "completed" for i in items)
    for i, item in enumerate(items):
        if item is not call:
            assert item["id"] == derived_item_id(created.id, i, item["type"])

    # The SDK: newest first by default, each item its typed model.
    page = client.responses.input_items.list(created.id)
    assert [i.id for i in page.data] == [i["id"] for i in reversed(items)]
    assert page.data[0].type == "function_call_output"
    assert page.data[1].type == "function_call" and page.data[1].name == "get_weather"


@pytest.mark.parametrize("model", ["translated", "native"])
def test_previous_response_id_lists_the_whole_conversation(
    client: openai.OpenAI, proxy: ProxyProcess, model: str
) -> None:
    first = client.responses.create(
        model=model,
        input="What is the weather in Paris? Use get_weather.",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    call = first.output[-1]
    assert call.type == "function_call"
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == "Tool result: sunny"
    items = every_item(proxy, second.id)
    # The first turn's input, its output (with the ids it was answered with), then the new
    # input: the items the answer was made from.
    assert [i["type"] for i in items] == [
        "message",
        *(o.type for o in first.output),
        "function_call_output",
    ]
    assert [i["id"] for i in items[1:-1]] == [o.id for o in first.output]
    assert items[-2]["call_id"] == items[-1]["call_id"] == call.call_id
    # The first response still lists only its own input.
    assert [i["type"] for i in every_item(proxy, first.id)] == ["message"]


def test_pagination(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    texts = [f"note {n}" for n in range(7)]
    created = client.responses.create(
        model="translated",
        input=[{"role": "user", "content": text} for text in texts],
    )
    everything = every_item(proxy, created.id)
    assert [i["content"][0]["text"] for i in everything] == texts
    ids = [i["id"] for i in everything]

    # asc, three at a time, following `after`.
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"order": "asc", "limit": 3}
        if after is not None:
            params["after"] = after
        page = listed(proxy, created.id, **params)
        seen += [i["id"] for i in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == ids
    assert listed(proxy, created.id, order="asc", limit=7)["has_more"] is False
    assert listed(proxy, created.id, order="asc", limit=6)["has_more"] is True

    # desc (the default): newest first; `after` counts in that order.
    page = listed(proxy, created.id, limit=2)
    assert [i["id"] for i in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    page = listed(proxy, created.id, limit=2, after=ids[4])
    assert [i["id"] for i in page["data"]] == [ids[3], ids[2]]
    assert listed(proxy, created.id, order="asc", after=ids[-1])["data"] == []
    assert listed(proxy, created.id)["data"] == everything[::-1]  # default limit 20

    # The SDK's auto-pagination walks every page.
    assert [i.id for i in client.responses.input_items.list(created.id, limit=2)] == ids[::-1]
    assert [
        i.id for i in client.responses.input_items.list(created.id, limit=3, order="asc")
    ] == ids
    sdk_page = client.responses.input_items.list(created.id, limit=2, after=ids[5])
    assert [i.id for i in sdk_page.data] == [ids[4], ids[3]]

    # include: every spec value is accepted (as include[] from the SDK, or include) and
    # changes nothing; anything else is a 400.
    with_include = client.responses.input_items.list(
        created.id, include=["message.input_image.image_url", "reasoning.encrypted_content"]
    )
    assert [i.id for i in with_include.data] == ids[::-1]
    assert listed(proxy, created.id, include="message.output_text.logprobs")["data"]

    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"limit": 0}, "limit", "integer_below_min_value"),
        ({"limit": 101}, "limit", "integer_above_max_value"),
        ({"limit": "ten"}, "limit", "invalid_type"),
        ({"limit": "2.5"}, "limit", "invalid_type"),
        ({"order": "newest"}, "order", "invalid_value"),
        ({"include": "everything"}, "include", "invalid_value"),
        ({"include[]": "everything"}, "include", "invalid_value"),
        ({"after": "msg_unknown"}, "after", "invalid_value"),
    ]
    for params, param, code in bad:
        r = raw_list(proxy, created.id, **params)
        assert r.status_code == 400, (params, r.text)
        error = r.json()["error"]
        assert (error["param"], error["code"]) == (param, code), params
        assert error["type"] == "invalid_request_error"
        validate(error, "Error")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.input_items.list(created.id, limit=500)
    assert caught.value.param == "limit"


def test_not_found_and_auth(client: openai.OpenAI, proxy: ProxyProcess) -> None:
    mine = client.responses.create(model="translated", input="org secret")
    native = client.responses.create(model="native", input="org secret too")
    made = httpx.post(
        proxy.base_url + "/api-keys",
        json={"org": "other-items", "permissions": ["read", "write"]},
        headers=HEADERS,
    )
    assert made.status_code == 201, made.text
    other_key = made.json()["key"]
    other = openai.OpenAI(base_url=proxy.base_url, api_key=other_key, max_retries=0)
    # Another org's response and an unknown id: the same 404 as GET /v1/responses/{id}.
    for response_id in (mine.id, native.id):
        with pytest.raises(openai.NotFoundError) as caught:
            other.responses.input_items.list(response_id)
        assert caught.value.code == "not_found" and caught.value.param == "response_id"
        r = raw_list(proxy, response_id, key=other_key)
        got = httpx.get(
            f"{proxy.base_url}/responses/{response_id}",
            headers={"authorization": f"Bearer {other_key}"},
        )
        assert r.status_code == got.status_code == 404
        assert r.json()["error"] == got.json()["error"]
        assert "org secret" not in r.text
        validate(r.json()["error"], "Error")
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_unknown")
    assert raw_list(proxy, "x" * 3000).status_code == 404
    theirs = other.responses.create(model="translated", input="their own")
    assert [i.type for i in other.responses.input_items.list(theirs.id).data] == ["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(theirs.id)

    # Unstored and deleted responses are gone.
    unstored = client.responses.create(model="translated", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(unstored.id)
    client.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(mine.id)

    # A read-only key may list; no key or a wrong one is a 401.
    read_only = httpx.post(
        proxy.base_url + "/api-keys",
        json={"org": "other-items", "permissions": ["read"]},
        headers=HEADERS,
    ).json()["key"]
    assert raw_list(proxy, theirs.id, key=read_only).status_code == 200
    no_key = httpx.get(f"{proxy.base_url}/responses/{native.id}/input_items")
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=proxy.base_url, api_key="wrong", max_retries=0
        ).responses.input_items.list(native.id)


def test_odd_stored_items_still_list() -> None:
    """Rows from any path or version: ids made unique, parts made spec-shaped."""
    stored: Any = [
        {"type": "message", "role": "user", "content": [{"type": "text", "text": "a"}]},
        {"id": "msg_same", "type": "message", "role": "assistant", "content": "b"},
        {"id": "msg_same", "type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "c", "annotations": [], "logprobs": []},
            {"type": "refusal", "refusal": "no"},
        ]},
        {"type": "reasoning", "summary": []},
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "q"}},
        "not an item",
        {"role": "system", "content": None},
    ]  # fmt: skip
    items = input_item_list("resp_x", stored)
    assert [i["id"] for i in items] == [
        derived_item_id("resp_x", 0, "message"),
        "msg_same",
        derived_item_id("resp_x", 2, "message"),
        derived_item_id("resp_x", 3, "reasoning"),
        "ws_1",
        derived_item_id("resp_x", 6, "message"),
    ]
    assert items[0]["content"] == [{"type": "input_text", "text": "a"}]
    assert items[3]["id"].startswith("rs_")
    assert items[5] == {
        "type": "message",
        "role": "system",
        "content": [],
        "status": "completed",
        "id": items[5]["id"],
    }
    page = {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"],
        "last_id": items[-1]["id"],
        "has_more": False,
    }
    validate(page, "ResponseItemList")
    assert input_item_list("resp_x", {"not": "a list"}) == []
