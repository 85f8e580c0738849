"""The LLM classifier plugin: the cheap model labels the task, the heuristic covers for it."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from typing import Any

import omni_proxy_classifier_llm as plugin
import omni_proxy_openai
import pytest
import yaml
from omni_proxy_classifier_llm import TTLCache, load_settings, parse_label, render_conversation
from omni_proxy_classifier_llm._cache import MISSING
from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.classifier import heuristic_classify
from omni_proxy.config import Config, ConfigError
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.types import TASK_TYPES
from tests.fakes.openai_upstream import DEFAULT_API_KEY, FakeOpenAI

MASTER = "sk-master-classifier"
AUTH = {"authorization": f"Bearer {MASTER}"}
CHEAP_UPSTREAM = "gpt-4.1-nano"
ENV_VARS = (
    plugin.ENV_MODEL,
    plugin.ENV_TIMEOUT_MS,
    plugin.ENV_CACHE_SIZE,
    plugin.ENV_CACHE_TTL_S,
    plugin.ENV_BELOW,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def make_config(fake: FakeOpenAI, tmp_path: Any, **routing: Any) -> Config:
    # The premium model is listed first, so "cheapest" has to look at the prices.
    return Config.model_validate(
        {
            "routing": routing,
            "master_key": MASTER,
            "database_url": f"sqlite:///{tmp_path}/proxy.db",
            "providers": {
                "fake": {
                    "name": "fake",
                    "plugin": "openai",
                    "base_url": fake.base_url,
                    "api_key": DEFAULT_API_KEY,
                }
            },
            "models": [
                {
                    "name": "big",
                    "provider": "fake",
                    "model": "gpt-4o",
                    "cost_input": "2.5",
                    "cost_output": "10",
                    "avg_latency_ms": 900,
                    "strengths": ["reasoning", "coding", "chat"],
                    "supports_vision": True,
                },
                {
                    "name": "nano",
                    "provider": "fake",
                    "model": CHEAP_UPSTREAM,
                    "cost_input": "0.1",
                    "cost_output": "0.4",
                    "avg_latency_ms": 300,
                    "strengths": ["chat", "summarization"],
                },
            ],
        }
    )


def client_for(fake: FakeOpenAI, tmp_path: Any, **routing: Any) -> TestClient:
    pm = get_plugin_manager(load_entry_points=False, plugins=[omni_proxy_openai, plugin])
    return TestClient(create_app(make_config(fake, tmp_path, **routing), pm=pm))


def debug(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/router/debug", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def upstream_calls(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r["json"] for r in fake.requests_to("chat/completions")]


# --------------------------------------------------------------------------- end to end


def test_the_models_label_is_the_classification(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="reasoning")
    with client_for(fake, tmp_path) as client:
        data = debug(client, ask("hello there, how was your weekend?"))
    assert data["task_type"] == "reasoning"
    assert data["classification"]["classifier"] == "llm"
    assert data["classification"]["signals"] == ["llm:nano"]
    calls = upstream_calls(fake)
    assert len(calls) == 1
    sent = calls[0]
    assert sent["model"] == CHEAP_UPSTREAM
    assert sent["temperature"] == 0
    assert 0 < sent["max_tokens"] <= 16
    assert sent["messages"][0]["role"] == "system"
    assert all(label in sent["messages"][0]["content"] for label in TASK_TYPES)
    assert "hello there, how was your weekend?" in sent["messages"][-1]["content"]


def test_cheapest_picks_the_cheapest_configured_chat_model(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "cheapest")
    fake.set_behaviour("*", "ok", content="Translation\n")
    with client_for(fake, tmp_path) as client:
        data = debug(client, ask("Bonjour, comment ça va ?"))
    assert data["task_type"] == "translation"
    assert data["classification"]["signals"] == ["llm:nano"]
    assert [c["model"] for c in upstream_calls(fake)] == [CHEAP_UPSTREAM]


def test_an_answer_is_cached_by_prompt(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="summarization")
    with client_for(fake, tmp_path) as client:
        first = debug(client, ask("Please condense the report below."))
        second = debug(client, ask("Please condense the report below."))
        assert len(upstream_calls(fake)) == 1
        debug(client, ask("Please condense the memo below."))
        assert len(upstream_calls(fake)) == 2
    assert first["task_type"] == second["task_type"] == "summarization"
    assert second["classification"]["classifier"] == "llm"
    assert second["classification"]["signals"] == ["llm:nano", "llm:cached"]


def test_a_slow_model_defers_to_the_heuristic_within_the_deadline(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    monkeypatch.setenv(plugin.ENV_TIMEOUT_MS, "150")
    fake.set_behaviour(CHEAP_UPSTREAM, "timeout", delay_s=3, content="reasoning")
    body = ask("write a python function that reverses a list")
    with client_for(fake, tmp_path) as client:
        debug(client, ask("warm up the connection pool and the app"))
        started = time.perf_counter()
        data = debug(client, body)
        elapsed = time.perf_counter() - started
    assert elapsed < 0.15 + 0.35, elapsed  # the deadline plus the request's own overhead
    expected = heuristic_classify(body)
    assert data["classification"]["classifier"] == expected.classifier != "llm"
    assert data["task_type"] == expected.task_type
    assert "llm:deferred:timeout" in data["classification"]["signals"]
    assert len(upstream_calls(fake)) == 2  # it was asked, and not cached


def test_an_answer_that_is_not_exactly_a_label_defers_to_the_heuristic(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="I think it's coding!")
    body = ask("What is the capital of France?")
    with client_for(fake, tmp_path) as client:
        data = debug(client, body)
        again = debug(client, body)
    expected = heuristic_classify(body)
    assert data["classification"]["classifier"] == expected.classifier != "llm"
    assert data["task_type"] == expected.task_type
    assert "llm:deferred:unparsable" in data["classification"]["signals"]
    # The odd answer is cached too: the heuristic answers the repeat without asking again.
    assert again["task_type"] == expected.task_type
    assert len(upstream_calls(fake)) == 1


def test_upstream_errors_defer_and_repeated_failures_stop_the_asking(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    fake.set_behaviour(CHEAP_UPSTREAM, "status", status=500)
    with client_for(fake, tmp_path) as client:
        for i in range(5):
            body = ask(f"question number {i}: how are you?")
            data = debug(client, body)
            assert data["task_type"] == heuristic_classify(body).task_type
            assert data["classification"]["classifier"] != "llm"
    # Three failures in a row open the breaker; the next requests never reach the model.
    assert len(upstream_calls(fake)) == 3


SURE = "write a python function that reverses a list"  # heuristic confidence 0.96
UNSURE = "How many squares are on a chessboard?"  # chat at 0.85: a weak quantity hint


def test_the_model_is_asked_only_below_the_confidence_gate(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="reasoning")
    assert (
        heuristic_classify(ask(SURE)).confidence >= 0.9 > heuristic_classify(ask(UNSURE)).confidence
    )
    with client_for(fake, tmp_path, llm_classifier_below=0.9) as client:
        sure = debug(client, ask(SURE))
        assert upstream_calls(fake) == []  # a sure heuristic is not second-guessed
        unsure = debug(client, ask(UNSURE))
    assert sure["task_type"] == "coding"
    assert sure["classification"]["classifier"] == "heuristic"
    assert unsure["task_type"] == "reasoning"  # the model's label, not the heuristic's chat
    assert unsure["classification"]["classifier"] == "llm"
    calls = upstream_calls(fake)
    assert len(calls) == 1 and UNSURE in calls[0]["messages"][-1]["content"]


def test_the_environment_sets_the_gate_over_the_config(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    monkeypatch.setenv(plugin.ENV_BELOW, "0.99")  # everything the text decides is asked
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="chat")
    with client_for(fake, tmp_path, llm_classifier_below=0.5) as client:
        data = debug(client, ask(SURE))
    assert data["task_type"] == "chat" and data["classification"]["classifier"] == "llm"
    assert len(upstream_calls(fake)) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            ask(
                "what's the weather in Paris?",
                tools=[{"type": "function", "function": {"name": "get_weather"}}],
            ),
            id="tools",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is in this picture?"},
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                            },
                        ],
                    }
                ]
            },
            id="image-part",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": "look it up"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "search", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call_1", "content": "found it"},
                ]
            },
            id="tool-result",
        ),
    ],
)
def test_structure_decides_without_asking_the_model(
    body: dict[str, Any], fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="chat")
    with client_for(fake, tmp_path) as client:
        data = debug(client, body)
    assert data["classification"]["classifier"] != "llm"
    assert data["task_type"] == heuristic_classify(body).task_type
    assert upstream_calls(fake) == []


def test_off_unless_configured(fake: FakeOpenAI, tmp_path: Any) -> None:
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="reasoning")
    body = ask("hello there, how was your weekend?")
    with client_for(fake, tmp_path) as client:
        data = debug(client, body)
    assert plugin.classifier.active is None
    assert data["classification"]["classifier"] != "llm"
    assert data["task_type"] == heuristic_classify(body).task_type
    assert fake.requests == []


def test_a_model_that_is_not_in_the_registry_stops_the_start(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "no-such-model")
    with (
        pytest.raises(ConfigError, match=r"OMNI_CLASSIFIER_LLM_MODEL.*no-such-model"),
        client_for(fake, tmp_path),
    ):
        pass


def test_the_plugin_stops_with_its_app(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.ENV_MODEL, "nano")
    with client_for(fake, tmp_path):
        assert plugin.classifier.active is not None
    assert plugin.classifier.active is None


async def test_standalone_runs_the_plugin_outside_the_proxy(
    fake: FakeOpenAI, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `omni-proxy eval-classifier --classifier omni_proxy_classifier_llm:...` calls."""
    config = make_config(fake, tmp_path).model_dump(mode="json", exclude={"source", "master_key"})
    path = tmp_path / "omni.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OMNI_CONFIG", str(path))
    monkeypatch.setenv(plugin.ENV_MODEL, "cheapest")
    fake.set_behaviour(CHEAP_UPSTREAM, "ok", content="coding")
    plugin.standalone_classifier.cache_clear()
    try:
        result = plugin.standalone_classify(ask("hello there"))
        assert inspect.isawaitable(result)
        answer = await result
        assert answer is not None and answer.task_type == "coding"
        assert answer.classifier == "llm"
        tools = ask("hi", tools=[{"type": "function", "function": {"name": "f"}}])
        assert plugin.standalone_llm_only(tools) is None
        assert plugin.standalone_classify(tools) == heuristic_classify(tools)
    finally:
        active = plugin.standalone_classifier().active
        assert active is not None
        await active.provider.client.aclose()
        plugin.standalone_classifier.cache_clear()
    assert len(upstream_calls(fake)) == 1


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("content", "finish", "label"),
    [
        ("coding", "stop", "coding"),
        ("  Agent_Step\n", "stop", "agent_step"),
        ("summarization", None, "summarization"),
        ("coding.", "stop", None),
        ("I think it's coding!", "stop", None),
        ("code", "stop", None),
        ("chat", "length", None),
        ("", "stop", None),
        (None, "stop", None),
    ],
)
def test_parse_label_is_strict(content: Any, finish: Any, label: str | None) -> None:
    response = {"choices": [{"message": {"content": content}, "finish_reason": finish}]}
    assert parse_label(response) == label


def test_parse_label_refuses_odd_bodies() -> None:
    assert parse_label(None) is None
    assert parse_label({"choices": []}) is None
    assert parse_label({"choices": ["coding"]}) is None


def test_the_conversation_is_clipped_and_keeps_the_newest_messages() -> None:
    messages = [{"role": "system", "content": "You are a careful translator."}]
    messages += [{"role": "user", "content": f"old message {i} " + "x" * 900} for i in range(10)]
    messages.append({"role": "user", "content": "start " + "y" * 10_000 + " end"})
    text = render_conversation(messages)
    assert len(text) <= 4000 + 100
    assert text.startswith("system: You are a careful translator.")
    assert "start" in text and text.endswith("end")
    assert "old message 9" in text and "old message 0" not in text
    assert render_conversation([{"role": "user", "content": "  "}]) == ""


def test_ttl_cache_is_bounded_and_forgets() -> None:
    now = [0.0]
    cache: TTLCache[str | None] = TTLCache(2, 10, clock=lambda: now[0])
    cache.put("a", "chat")
    cache.put("b", None)
    assert cache.get("b") is None  # a stored None is a value, not a miss
    assert cache.get("a") == "chat"  # "a" is now the most recently used
    cache.put("c", "coding")
    assert cache.get("b") is MISSING and len(cache) == 2
    now[0] = 10.0
    assert cache.get("a") is MISSING and cache.get("c") is MISSING
    off: TTLCache[str] = TTLCache(0, 10)
    off.put("a", "chat")
    assert off.get("a") is MISSING


def test_settings_come_from_the_environment() -> None:
    assert load_settings(None, {}) is None
    settings = load_settings(None, {plugin.ENV_MODEL: "nano"})
    assert settings is not None and settings.timeout_ms == 300 and not settings.cheapest
    settings = load_settings(None, {plugin.ENV_MODEL: "cheapest", plugin.ENV_TIMEOUT_MS: "120"})
    assert settings is not None and settings.cheapest and settings.timeout_s == 0.12
    with pytest.raises(ConfigError, match="OMNI_CLASSIFIER_LLM_TIMEOUT_MS"):
        load_settings(None, {plugin.ENV_MODEL: "nano", plugin.ENV_TIMEOUT_MS: "soon"})
    with pytest.raises(ConfigError, match="OMNI_CLASSIFIER_LLM_CACHE_SIZE"):
        load_settings(None, {plugin.ENV_MODEL: "nano", plugin.ENV_CACHE_SIZE: "-1"})


def test_the_gate_setting_is_checked_and_falls_back_to_the_routing_key() -> None:
    settings = load_settings(None, {plugin.ENV_MODEL: "nano"})
    assert settings is not None and settings.below is None  # unset: ask on every request
    settings = load_settings(None, {plugin.ENV_MODEL: "nano", plugin.ENV_BELOW: "0.7"})
    assert settings is not None and settings.below == 0.7
    with pytest.raises(ConfigError, match="OMNI_CLASSIFIER_LLM_BELOW"):
        load_settings(None, {plugin.ENV_MODEL: "nano", plugin.ENV_BELOW: "1.5"})
    with pytest.raises(ConfigError, match="OMNI_CLASSIFIER_LLM_BELOW"):
        load_settings(None, {plugin.ENV_MODEL: "nano", plugin.ENV_BELOW: "sure"})

    class Routing:
        llm_classifier_below = 0.8

    class WithRouting:
        routing = Routing()
        classifier_llm = {"model": "nano"}

    settings = load_settings(WithRouting(), {})
    assert settings is not None and settings.below == 0.8
    with pytest.raises(ConfigError, match=r"classifier_llm\.below"):
        load_settings(type("Bad", (), {"classifier_llm": {"model": "m", "below": -1}})(), {})


def test_a_config_section_is_read_when_the_core_has_one() -> None:
    class WithSection:
        classifier_llm = {"model": "nano", "timeout_ms": 250}

    settings = load_settings(WithSection(), {})
    assert settings is not None and settings.model == "nano" and settings.timeout_ms == 250
    assert settings.source == "classifier_llm.model"
    settings = load_settings(WithSection(), {plugin.ENV_TIMEOUT_MS: "90"})
    assert settings is not None and settings.timeout_ms == 90  # the environment wins
    with pytest.raises(ConfigError, match=r"classifier_llm\.timeout_ms"):
        load_settings(type("Bad", (), {"classifier_llm": {"model": "m", "timeout_ms": 0}})(), {})


def test_async_def_is_not_used_for_the_hooks() -> None:
    # Registering refuses `async def` hook implementations; this must register cleanly.
    pm = get_plugin_manager(load_entry_points=False, plugins=[plugin])
    assert pm.has_plugin(pm.get_name(plugin) or "")
    found: dict[str, Any] = {}
    pm.hook.register_classifiers(register=lambda name, fn: found.setdefault(name, fn))
    assert "llm" in found and "heuristic" in found
