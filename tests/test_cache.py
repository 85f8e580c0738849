"""The exact-match response cache, end to end: the openai SDK → a real proxy process →
a fake OpenAI upstream that counts what reaches it. Redis sharing between two instances
uses the Redis at 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from omni_proxy.storage.cache import (
    MemoryStore,
    StreamAssembler,
    cache_key,
    sampled,
    skip_requested,
)
from tests.conftest import MASTER_KEY, ProxyProcess, need_service
from tests.fakes.openai_upstream import FakeOpenAI


def _config(fake: FakeOpenAI, **cache: Any) -> dict[str, Any]:
    return {
        "providers": {"up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-up"}},
        "models": [
            {"name": "cheap", "provider": "up", "model": "gpt-4o-mini", "strengths": ["chat"]},
            {"name": "smart", "provider": "up", "model": "gpt-4o"},
        ],
        "routing": {"premium_model": "smart", "fallback_model": "cheap"},
        "cache": {"mode": "exact", "ttl_s": 600, **cache},
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-up") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("cache"), _config(fake)) as running:
        yield running


def _client(proxy: ProxyProcess, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=key, max_retries=0)


def _ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_second_identical_request_is_a_free_hit(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    client = _client(proxy)
    text = f"cache me {uuid.uuid4().hex}"
    first = client.chat.completions.with_raw_response.create(model="cheap", messages=_ask(text))
    calls = len(fake.requests)
    second = client.chat.completions.with_raw_response.create(
        model="cheap",
        messages=_ask(text),
        user="someone-else",  # `user` changes no answer
    )
    assert len(fake.requests) == calls  # answered without the upstream
    assert first.headers["x-omni-cache"] == "miss" and second.headers["x-omni-cache"] == "hit"
    a, b = orjson.loads(first.content), orjson.loads(second.content)
    assert b["choices"] == a["choices"] and b["model"] == "cheap"
    assert a["omni"]["cache_hit"] is False and b["omni"]["cache_hit"] is True
    assert b["omni"]["cost"] == 0
    assert a["omni"]["cost"] > 0
    assert b["omni"]["cache_savings"] == a["omni"]["cost"]
    assert b["omni"]["savings_estimate"] == a["omni"]["premium_cost"]
    assert b["omni"]["request_id"] != a["omni"]["request_id"]
    assert second.headers["x-request-id"] == b["omni"]["request_id"]
    # A different body (another temperature) is another entry.
    third = client.chat.completions.with_raw_response.create(
        model="cheap", messages=_ask(text), temperature=0.1
    )
    assert third.headers["x-omni-cache"] == "miss" and len(fake.requests) == calls + 1


def test_no_cache_header_and_body_field_bypass(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    client = _client(proxy)
    text = f"bypass {uuid.uuid4().hex}"
    client.chat.completions.create(model="cheap", messages=_ask(text))
    calls = len(fake.requests)
    r = client.chat.completions.with_raw_response.create(
        model="cheap", messages=_ask(text), extra_headers={"x-omni-cache": "no-cache"}
    )
    assert r.headers["x-omni-cache"] == "bypass" and len(fake.requests) == calls + 1
    r = client.chat.completions.with_raw_response.create(
        model="cheap", messages=_ask(text), extra_body={"cache": False}
    )
    assert r.headers["x-omni-cache"] == "bypass" and len(fake.requests) == calls + 2
    assert "cache" not in fake.requests[-1]["json"]  # the proxy's field never goes upstream


def test_stream_is_replayed_from_a_stored_answer(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    client = _client(proxy)
    text = f"stream me {uuid.uuid4().hex}"
    stored = client.chat.completions.create(model="cheap", messages=_ask(text))
    calls = len(fake.requests)
    stream = client.chat.completions.create(
        model="cheap",
        messages=_ask(text),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(fake.requests) == calls
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == stored.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    final = chunks[-1]
    assert final.usage is not None and final.usage.total_tokens == stored.usage.total_tokens  # type: ignore[union-attr]
    assert final.model_extra["omni"]["cache_hit"] is True and final.model == "cheap"


def test_streamed_answer_is_stored_too(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    client = _client(proxy)
    text = f"streamed first {uuid.uuid4().hex}"
    chunks = list(client.chat.completions.create(model="cheap", messages=_ask(text), stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    calls = len(fake.requests)
    again = client.chat.completions.with_raw_response.create(model="cheap", messages=_ask(text))
    assert again.headers["x-omni-cache"] == "hit" and len(fake.requests) == calls
    answer = orjson.loads(again.content)
    assert answer["choices"][0]["message"]["content"] == streamed
    assert answer["choices"][0]["finish_reason"] == "stop" and answer["model"] == "cheap"


def test_assembler_rebuilds_content_and_tool_calls() -> None:
    assembler = StreamAssembler()
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    parts = [
        [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
        [{"index": 0, "delta": {"content": "lo"}}],
        [
            {
                "index": 0,
                "delta": {"tool_calls": [{**call, "function": {"name": "f", "arguments": '{"a"'}}]},
            }
        ],
        [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}],
        [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
    ]
    for choices in parts:
        assembler.add(orjson.dumps({**base, "choices": choices}))
    assembler.add(orjson.dumps({**base, "choices": [], "usage": {"total_tokens": 3}}))
    whole = assembler.response()
    assert whole is not None and whole["usage"] == {"total_tokens": 3}
    message = whole["choices"][0]["message"]
    assert message["content"] == "Hello"
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    unfinished = StreamAssembler()
    unfinished.add(orjson.dumps({**base, "choices": parts[0]}))
    assert unfinished.response() is None  # a stream cut short is never stored


def test_orgs_never_share_entries(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    org = httpx.post(
        proxy.root + "/v1/organizations", json={"name": f"o{uuid.uuid4().hex[:8]}"}, headers=admin
    ).json()["id"]
    key = httpx.post(
        proxy.root + "/v1/api-keys",
        json={"org_id": org, "permissions": ["read", "write"]},
        headers=admin,
    ).json()["key"]
    text = f"private {uuid.uuid4().hex}"
    _client(proxy).chat.completions.create(model="cheap", messages=_ask(text))
    calls = len(fake.requests)
    other = _client(proxy, key).chat.completions.with_raw_response.create(
        model="cheap", messages=_ask(text)
    )
    assert other.headers["x-omni-cache"] == "miss" and len(fake.requests) == calls + 1


def test_a_key_limited_to_some_models_gets_no_other_models_answer(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    limited = httpx.post(
        proxy.root + "/v1/api-keys",
        json={"org": "cache-limits", "models": ["cheap"]},
        headers=admin,
    ).json()["key"]
    free = httpx.post(
        proxy.root + "/v1/api-keys", json={"org": "cache-limits"}, headers=admin
    ).json()["key"]
    text = f"auto {uuid.uuid4().hex}"
    _client(proxy, free).chat.completions.create(model="auto", messages=_ask(text))
    r = _client(proxy, limited).chat.completions.with_raw_response.create(
        model="auto", messages=_ask(text)
    )
    assert r.headers["x-omni-cache"] == "miss" and orjson.loads(r.content)["model"] == "cheap"


def test_hits_are_counted_in_metrics(proxy: ProxyProcess) -> None:
    text = f"counted {uuid.uuid4().hex}"
    for _ in range(2):
        _client(proxy).chat.completions.create(model="cheap", messages=_ask(text))
    metrics = httpx.get(
        proxy.root + "/metrics", headers={"authorization": f"Bearer {MASTER_KEY}"}
    ).text
    hits = [
        ln for ln in metrics.splitlines() if ln.startswith('omni_cache_lookups_total{result="hit"}')
    ]
    assert hits and float(hits[0].split()[-1]) >= 1


def test_units_key_skip_and_sampling() -> None:
    body = {"model": "m", "messages": _ask("x"), "temperature": 0}
    k = cache_key("org1", "/v1/chat/completions", body, {})
    assert k == cache_key("org1", "/v1/chat/completions", {**body, "stream": True}, {})
    assert k != cache_key("org2", "/v1/chat/completions", body, {})
    assert k != cache_key("org1", "/v1/chat/completions", body, {"priority": "cheap"})
    assert k != cache_key("org1", "/v1/chat/completions", {**body, "tools": []}, {})
    assert skip_requested({"cache": {"no-cache": True}}, None)
    assert skip_requested({}, "no-cache") and not skip_requested({}, None)
    assert not sampled(body) and sampled({"temperature": 0.7}) and sampled({"n": 2})
    assert not sampled({"temperature": 0.7, "seed": 1})


def test_memory_store_expires_and_evicts() -> None:
    async def run() -> None:
        store = MemoryStore(max_entries=2)
        await store.put("a", b"1", 0.05)
        await store.put("b", b"2", 60)
        assert await store.get("a") == b"1"
        await asyncio.sleep(0.1)
        assert await store.get("a") is None  # expired
        await store.put("c", b"3", 60)
        await store.put("d", b"4", 60)
        assert await store.get("b") is None  # least recently used, evicted
        assert await store.get("d") == b"4"

    asyncio.run(run())


@pytest.mark.redis
def test_two_instances_share_entries_through_redis(tmp_path: Path) -> None:
    need_service("127.0.0.1", 6379, "redis")
    with FakeOpenAI(api_key="sk-up") as fake:
        config = {**_config(fake), "redis_url": "redis://127.0.0.1:6379/0"}
        with ProxyProcess(tmp_path, config) as one, ProxyProcess(tmp_path, config) as two:
            text = f"shared {uuid.uuid4().hex}"
            a = _client(one).chat.completions.with_raw_response.create(
                model="cheap", messages=_ask(text)
            )
            calls = len(fake.requests)
            b = None
            for _ in range(50):  # the first instance writes in the background
                b = _client(two).chat.completions.with_raw_response.create(
                    model="cheap", messages=_ask(text)
                )
                if b.headers["x-omni-cache"] == "hit":
                    break
            assert a.headers["x-omni-cache"] == "miss"
            assert b is not None and b.headers["x-omni-cache"] == "hit"
            assert orjson.loads(b.content)["choices"] == orjson.loads(a.content)["choices"]
            assert len(fake.requests) <= calls + 1
