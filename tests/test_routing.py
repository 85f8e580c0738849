"""The routing engine: filters, scores, strategies, plans and the cascade's adequacy check."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from omni_proxy.config import Config
from omni_proxy.errors import ProxyError
from omni_proxy.registry import Registry, model_info
from omni_proxy.routing.plan import (
    GENERALIST_CHAT_MATCH,
    IMAGE_TOKENS,
    estimate_prompt_tokens,
    inadequate,
    plan_route,
    request_needs,
    task_match,
    weights,
)
from omni_proxy.types import Classification, RoutePlan

PROVIDERS = ("openai", "anthropic", "local")

# cost per 1M tokens (in/out), latency, strengths, capabilities, context window
MODELS: list[dict[str, Any]] = [
    {
        "name": "cheap-coder",
        "provider": "local",
        "cost_input": "0.1",
        "cost_output": "0.2",
        "avg_latency_ms": 800,
        "strengths": ["coding"],
        "supports_functions": True,
        "supports_vision": False,
        "max_tokens": 16_000,
    },
    {
        "name": "premium",
        "provider": "openai",
        "cost_input": "10",
        "cost_output": "30",
        "avg_latency_ms": 1500,
        "strengths": ["chat", "reasoning"],
        "supports_functions": True,
        "supports_vision": True,
        "max_tokens": 128_000,
    },
    {
        "name": "fast-chat",
        "provider": "anthropic",
        "cost_input": "1",
        "cost_output": "2",
        "avg_latency_ms": 200,
        "strengths": ["chat", "summarization"],
        "supports_functions": False,
        "supports_vision": False,
        "max_tokens": 32_000,
    },
    {
        "name": "generalist",
        "provider": "openai",
        "cost_input": "0.5",
        "cost_output": "1.5",
        "avg_latency_ms": 600,
        "strengths": [],
        "supports_functions": True,
        "supports_vision": True,
        "max_tokens": 128_000,
    },
    {
        "name": "embedder",
        "provider": "openai",
        "cost_input": "0.02",
        "cost_output": "0",
        "avg_latency_ms": 100,
        "kind": "embedding",
    },
]


def build(
    models: list[dict[str, Any]] | None = None, routing: dict[str, Any] | None = None
) -> tuple[Config, Registry]:
    config = Config.model_validate(
        {
            "providers": {p: {"plugin": "openai", "name": p} for p in PROVIDERS},
            "models": MODELS if models is None else models,
            "routing": routing or {},
        }
    )
    return config, Registry([model_info(m) for m in config.models], config)


def everyone(provider: str) -> bool:
    return True


def plan(
    body: dict[str, Any] | None = None,
    task: str = "chat",
    *,
    models: list[dict[str, Any]] | None = None,
    routing: dict[str, Any] | None = None,
    configured: Any = everyone,
    cooled: frozenset[str] = frozenset(),
) -> RoutePlan:
    config, registry = build(models, routing)
    request = {"model": "auto", "messages": [{"role": "user", "content": "hello there"}]}
    request.update(body or {})
    return plan_route(
        request,
        Classification(task),
        registry,
        config,
        configured=configured,
        cooled_down=lambda name: name in cooled,
    )


def names(p: RoutePlan) -> list[str]:
    return [r.model.name for r in p.routes]


def candidate(p: RoutePlan, name: str) -> dict[str, Any]:
    return next(c for c in p.candidates if c["model"] == name)


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}}


# --- estimates -----------------------------------------------------------------------


def test_prompt_estimate_counts_text_images_and_tools() -> None:
    text = {"messages": [{"role": "user", "content": "x" * 400}]}
    base = estimate_prompt_tokens(text)
    assert 100 <= base <= 110  # 400 chars / 4 plus a small per-message overhead
    with_image = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x" * 400}, IMAGE]}]
    }
    # the base64 payload is not counted as text: an image costs ~85 tokens
    assert estimate_prompt_tokens(with_image) == base + IMAGE_TOKENS
    with_tools = {**text, "tools": TOOLS}
    assert estimate_prompt_tokens(with_tools) > base
    needs = request_needs({**with_image, "tools": TOOLS, "max_completion_tokens": 50})
    assert needs.tools and needs.images == 1 and needs.output_tokens == 50
    assert request_needs(text).output_tokens == 1024
    assert request_needs({**text, "max_tokens": 7}).output_tokens == 7
    assert request_needs({**text, "max_cost": 0.0001}).max_cost == Decimal("0.0001")


def test_input_image_parts_count_as_images() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "input_image", "image_url": "https://x/y.png"}],
            }
        ]
    }
    assert request_needs(body).images == 1


# --- filters -------------------------------------------------------------------------


def test_kind_filter_removes_embedding_models() -> None:
    p = plan()
    c = candidate(p, "embedder")
    assert c["eligible"] is False and c["filtered_by"] == "kind"
    assert c["score"] is None and c["rank"] is None
    assert "embedder" not in names(p)


def test_tools_filter_and_legacy_functions() -> None:
    for body in ({"tools": TOOLS}, {"functions": [{"name": "f", "parameters": {}}]}):
        p = plan(body)
        assert candidate(p, "fast-chat")["filtered_by"] == "tools"
        assert "fast-chat" not in names(p)
        assert candidate(p, "premium")["eligible"] is True
    assert "fast-chat" in names(plan())


def test_vision_filter() -> None:
    p = plan({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, IMAGE]}]})
    assert candidate(p, "cheap-coder")["filtered_by"] == "vision"
    assert candidate(p, "fast-chat")["filtered_by"] == "vision"
    # cheap-coder is also the registry's implicit fallback (the cheapest): not forced in
    assert set(names(p)) == {"premium", "generalist"}


def test_context_window_filter_uses_prompt_and_requested_output() -> None:
    long_prompt = {"messages": [{"role": "user", "content": "x" * 80_000}]}  # ~20k tokens
    p = plan(long_prompt)
    assert candidate(p, "cheap-coder")["filtered_by"] == "context_window"
    assert "context window is 16000" in candidate(p, "cheap-coder")["detail"]
    assert candidate(p, "fast-chat")["eligible"] is True
    # a short prompt but a large requested output does not fit either
    p = plan({"max_tokens": 20_000})
    assert candidate(p, "cheap-coder")["filtered_by"] == "context_window"
    assert candidate(p, "fast-chat")["eligible"] is True


def test_max_cost_filter_and_estimated_cost() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 4000}], "max_tokens": 1000}
    p = plan(body)
    # premium: ~1004 prompt tokens x $10/M + 1000 x $30/M, about $0.04
    premium = Decimal(str(candidate(p, "premium")["estimated_cost"]))
    assert Decimal("0.039") < premium < Decimal("0.041")
    p = plan({**body, "max_cost": 0.01})
    assert candidate(p, "premium")["filtered_by"] == "max_cost"
    assert "premium" not in names(p)
    assert all(Decimal(str(candidate(p, n)["estimated_cost"])) <= Decimal("0.01") for n in names(p))


def test_estimated_cost_is_a_number() -> None:
    p = plan({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    cost = candidate(p, "cheap-coder")["estimated_cost"]
    assert isinstance(cost, float) and cost > 0


def test_unconfigured_provider_filter() -> None:
    p = plan(configured=lambda provider: provider != "openai")
    assert candidate(p, "premium")["filtered_by"] == "provider_not_configured"
    assert candidate(p, "generalist")["filtered_by"] == "provider_not_configured"
    assert set(names(p)) == {"cheap-coder", "fast-chat"}


def test_cooled_down_models_go_to_the_back() -> None:
    warm = plan(routing={"strategy": "latency"})
    assert names(warm)[0] == "fast-chat"
    p = plan(routing={"strategy": "latency"}, cooled=frozenset({"fast-chat"}))
    assert names(p)[-1] == "fast-chat"
    c = candidate(p, "fast-chat")
    assert c["eligible"] is False and c["filtered_by"] == "cooled_down"
    assert c["score"] is not None  # still scored: it is ordered among the cooled ones


def test_all_cooled_down_still_gives_a_plan() -> None:
    chat = {"cheap-coder", "premium", "fast-chat", "generalist"}
    p = plan(routing={"strategy": "cost"}, cooled=frozenset(chat))
    assert names(p) == ["cheap-coder", "generalist", "fast-chat", "premium"]
    assert "all 4 usable models are cooling down" in p.reason
    assert all(r.reason.startswith("cooling down") for r in p.routes)


# --- scores and strategies -----------------------------------------------------------


def test_single_candidate_normalises_to_zero() -> None:
    p = plan({"tools": TOOLS}, task="chat", models=MODELS[2:4])  # only generalist has tools
    c = candidate(p, "generalist")
    assert c["score_parts"] == {"cost": 0.4, "latency": 0.3, "task": round(0.3 * 0.25, 4)}
    assert c["score"] == pytest.approx(0.4 + 0.3 + 0.3 * GENERALIST_CHAT_MATCH, abs=1e-4)


def test_score_parts_are_min_max_normalised() -> None:
    p = plan(task="coding")
    for c in p.candidates:
        if c["score"] is not None:
            assert sum(c["score_parts"].values()) == pytest.approx(c["score"], abs=1e-3)
    premium = candidate(p, "premium")  # most expensive and slowest
    assert premium["score_parts"]["cost"] == 0 and premium["score_parts"]["latency"] == 0
    fast = candidate(p, "fast-chat")  # fastest
    assert fast["score_parts"]["latency"] == pytest.approx(0.3)
    coder = candidate(p, "cheap-coder")  # cheapest, and coding is its strength
    assert coder["score_parts"]["cost"] == pytest.approx(0.4)
    assert coder["score_parts"]["task"] == pytest.approx(0.3)
    assert names(p)[0] == "cheap-coder"


def test_task_match_comes_from_strengths_only() -> None:
    _, registry = build()
    premium, generalist = registry.get("premium"), registry.get("generalist")
    assert premium is not None and generalist is not None
    assert task_match(premium, "reasoning") == 1.0
    assert task_match(premium, "coding") == 0.0
    assert task_match(generalist, "chat") == GENERALIST_CHAT_MATCH
    assert task_match(generalist, "coding") == 0.0


def test_price_is_not_quality() -> None:
    models = [
        {"name": "pricey", "provider": "openai", "cost_input": "15", "cost_output": "60",
         "avg_latency_ms": 500, "strengths": ["chat"]},
        {"name": "bargain", "provider": "local", "cost_input": "0.1", "cost_output": "0.1",
         "avg_latency_ms": 500, "strengths": ["translation"]},
    ]  # fmt: skip
    for strategy in ("hybrid", "quality"):
        for priority in (None, "best"):
            body = {"priority": priority} if priority else {}
            p = plan(body, task="translation", models=models, routing={"strategy": strategy})
            assert names(p)[0] == "bargain", (strategy, priority)
            assert candidate(p, "pricey")["task_match"] == 0.0


def test_cost_strategy_orders_cheapest_first() -> None:
    p = plan(routing={"strategy": "cost"})
    assert names(p) == ["cheap-coder", "generalist", "fast-chat", "premium"]
    assert p.strategy == "cost"
    assert p.reason.startswith("auto (cost): chat task; cheap-coder is the cheapest")


def test_cascade_strategy_orders_by_ascending_cost() -> None:
    p = plan(routing={"strategy": "cascade"})
    costs = [Decimal(str(candidate(p, n)["estimated_cost"])) for n in names(p)]
    assert costs == sorted(costs) and len(costs) == 4
    assert p.strategy == "cascade"


def test_quality_strategy_orders_by_task_then_latency() -> None:
    p = plan(routing={"strategy": "quality"}, task="chat")
    # chat strength: fast-chat (200 ms), premium (1500 ms); then the generalist; then coder
    assert names(p) == ["fast-chat", "premium", "generalist", "cheap-coder"]


def test_latency_strategy_orders_fastest_first() -> None:
    p = plan(routing={"strategy": "latency"})
    assert names(p) == ["fast-chat", "generalist", "cheap-coder", "premium"]


def test_hybrid_is_the_default_and_body_overrides_strategy() -> None:
    p = plan()
    assert p.strategy == "hybrid"
    scores = [r.score for r in p.routes]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert plan({"strategy": "latency"}).strategy == "latency"
    assert names(plan({"strategy": "latency"}))[0] == "fast-chat"


def test_unknown_strategy_is_a_400() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"strategy": "vibes"})
    assert err.value.status == 400 and err.value.param == "strategy"


def test_weights_shift_with_priority_and_latency_pref() -> None:
    config, _ = build()
    base = weights(config)
    assert sum(base.values()) == pytest.approx(1.0)
    assert base == pytest.approx({"cost": 0.4, "latency": 0.3, "task": 0.3})
    cheap, best, fast = (
        weights(config, "cheap"),
        weights(config, "best"),
        weights(config, None, "fast"),
    )
    assert cheap["cost"] > base["cost"] and cheap["task"] < base["task"]
    assert best["task"] > base["task"] and best["cost"] < base["cost"]
    assert fast["latency"] > base["latency"]
    assert sum(weights(config, "best", "fast").values()) == pytest.approx(1.0)


def test_priority_and_latency_pref_change_the_choice() -> None:
    models = [
        {"name": "thrifty", "provider": "local", "cost_input": "0.1", "cost_output": "0.2",
         "avg_latency_ms": 900, "strengths": []},
        {"name": "expert", "provider": "openai", "cost_input": "1.2", "cost_output": "2",
         "avg_latency_ms": 1000, "strengths": ["reasoning"]},
        {"name": "speedy", "provider": "anthropic", "cost_input": "0.6", "cost_output": "1",
         "avg_latency_ms": 150, "strengths": []},
    ]  # fmt: skip

    def first(body: dict[str, Any]) -> str:
        return names(plan(body, task="reasoning", models=models))[0]

    assert first({"priority": "cheap"}) == "thrifty"
    assert first({"priority": "best"}) == "expert"
    assert first({"latency_pref": "fast"}) == "speedy"


# --- explicit model, fallback, errors ------------------------------------------------


def test_explicit_model_first_then_backups_by_score() -> None:
    p = plan({"model": "premium"})
    assert names(p)[0] == "premium"
    assert p.routes[0].reason.startswith("requested")
    assert sorted(names(p)) == ["cheap-coder", "fast-chat", "generalist", "premium"]
    backups = [r.score for r in p.routes[1:]]
    assert backups == sorted(backups, reverse=True)  # type: ignore[type-var]
    assert p.strategy == "direct"
    assert p.reason.startswith("requested premium")


def test_explicit_model_without_tools_is_still_tried_first() -> None:
    p = plan({"model": "fast-chat", "tools": TOOLS})
    assert names(p)[0] == "fast-chat"
    assert candidate(p, "fast-chat")["filtered_by"] == "tools"
    assert "tried anyway" in p.reason


def test_explicit_model_over_max_cost_is_removed() -> None:
    body = {"model": "premium", "max_tokens": 1000, "max_cost": 0.001}
    p = plan(body)
    assert "premium" not in names(p)
    assert names(p)
    assert "requested premium removed (max_cost" in p.reason


def test_explicit_model_over_max_cost_with_nothing_else_is_a_400() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"model": "premium", "max_cost": 0.000001, "max_tokens": 1000})
    assert err.value.status == 400
    assert "'premium' cannot serve this request (max_cost" in err.value.message
    assert err.value.param == "max_cost"


def test_unknown_explicit_model_is_404() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"model": "nope"})
    assert err.value.status == 404


def test_missing_model_uses_the_default_model() -> None:
    p = plan({"model": None}, routing={"default_model": "premium"})
    assert names(p)[0] == "premium" and p.strategy == "direct"
    assert plan({"model": None}).strategy == "hybrid"


def test_fallback_model_comes_last_even_without_tools() -> None:
    p = plan({"tools": TOOLS}, routing={"fallback_model": "fast-chat"})
    assert names(p)[-1] == "fast-chat"
    assert p.routes[-1].reason == "fallback model"
    assert "fallback fast-chat last" in p.reason


def test_fallback_model_not_duplicated_and_not_over_max_cost() -> None:
    p = plan(routing={"fallback_model": "generalist"})
    assert names(p).count("generalist") == 1
    body = {"max_tokens": 1000, "max_cost": 0.01}
    p = plan(body, routing={"fallback_model": "premium"})
    assert "premium" not in names(p)


def test_fallback_comes_before_cooled_down_models() -> None:
    p = plan(
        {"tools": TOOLS},
        routing={"fallback_model": "fast-chat", "strategy": "cost"},
        cooled=frozenset({"cheap-coder"}),
    )
    assert names(p) == ["generalist", "premium", "fast-chat", "cheap-coder"]


def test_no_eligible_model_names_the_filters() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"tools": TOOLS, "max_cost": 0.0000001}, configured=lambda p: p != "local")
    e = err.value
    assert e.status == 400 and e.code == "no_eligible_model" and e.param == "max_cost"
    assert "supports tools" in e.message
    assert "has an estimated cost under max_cost=0.0000001" in e.message
    assert "removed 1 by kind, 1 by tools, 3 by max_cost" in e.message
    assert "has a configured provider" in e.message


def test_no_chat_model_at_all() -> None:
    with pytest.raises(ProxyError) as err:
        plan(models=[MODELS[4]])
    assert "no chat model" in err.value.message


# --- candidates and reason -----------------------------------------------------------


def test_candidates_describe_every_registry_model() -> None:
    p = plan({"tools": TOOLS}, task="coding")
    assert [c["model"] for c in p.candidates] == [m["name"] for m in MODELS]
    keys = {"model", "provider", "eligible", "filtered_by", "score", "score_parts"}
    for c in p.candidates:
        assert keys | {"estimated_cost"} <= set(c)
    assert candidate(p, "premium")["provider"] == "openai"
    eligible = [c["model"] for c in p.candidates if c["eligible"]]
    assert eligible == ["cheap-coder", "premium", "generalist"]
    ranks = {c["model"]: c["rank"] for c in p.candidates}
    assert ranks == {n: i for i, n in enumerate(names(p), start=1)} | {
        "fast-chat": None,
        "embedder": None,
    }


def test_reason_is_one_explanatory_line() -> None:
    p = plan({"tools": TOOLS, "priority": "cheap"}, task="coding")
    assert "\n" not in p.reason
    assert p.reason.startswith("auto: coding task, priority cheap; cheap-coder scored ")
    assert "(cost " in p.reason and "latency " in p.reason and "task " in p.reason
    assert p.reason.endswith("3 of 5 models eligible")
    assert p.routes[0].reason.startswith("primary (score ")
    assert p.routes[1].reason.startswith("backup #1")


# --- inadequate (cascade escalation) ---------------------------------------------------


def answer(content: Any = "Here you go.", finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "choices": [
            {"message": {"role": "assistant", "content": content, **message},
             "finish_reason": finish}
        ]
    }  # fmt: skip


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def test_adequate_answers_pass() -> None:
    assert inadequate(answer(), CHAT) is None
    calls = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    assert inadequate(answer(None, "tool_calls", tool_calls=calls), CHAT) is None
    json_body = {**CHAT, "response_format": {"type": "json_object"}}
    assert inadequate(answer('{"a": 1}'), json_body) is None


def test_empty_answers_are_inadequate() -> None:
    assert inadequate(answer(""), CHAT) == "empty content"
    assert inadequate(answer(None), CHAT) == "empty content"
    assert inadequate(answer("   \n"), CHAT) == "empty content"
    assert inadequate({"choices": []}, CHAT) == "no choices in the response"


def test_length_cutoff_is_inadequate() -> None:
    reason = inadequate(answer("half an ans", "length"), CHAT)
    assert reason is not None and "length" in reason


def test_refusals_are_inadequate() -> None:
    reason = inadequate(answer(None, refusal="I won't do that."), CHAT)
    assert reason is not None and reason.startswith("refusal")
    for text in ("I can't help with that.", "I\u2019m sorry, but I can\u2019t assist with this."):
        reason = inadequate(answer(text), CHAT)
        assert reason is not None and reason.startswith("refusal"), text
    # a long, useful answer that mentions a limitation is not a refusal
    long = "Sure. " + "Step by step explanation. " * 40 + "I can't help with the last part."
    assert inadequate(answer(long), CHAT) is None


def test_invalid_json_is_inadequate_when_json_was_asked_for() -> None:
    for kind in ("json_object", "json_schema"):
        body = {**CHAT, "response_format": {"type": kind}}
        reason = inadequate(answer("Sure! {not json"), body)
        assert reason is not None and "invalid JSON" in reason
    body = {**CHAT, "response_format": {"type": "json_object"}}
    assert inadequate(answer("[1, 2]"), body) is not None
    assert inadequate(answer("Sure! {not json"), CHAT) is None


def test_content_filter_is_inadequate() -> None:
    reason = inadequate(answer("", "content_filter"), CHAT)
    assert reason is not None and "content_filter" in reason


# --- more edges ----------------------------------------------------------------------


def test_explicit_model_cooling_down_is_tried_last() -> None:
    p = plan({"model": "premium"}, cooled=frozenset({"premium"}))
    assert names(p)[-1] == "premium" and names(p)[0] != "premium"
    assert "requested premium is cooling down, tried last" in p.reason


def test_too_long_for_every_model_points_at_messages() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"messages": [{"role": "user", "content": "x" * 600_000}]})
    assert err.value.param == "messages"
    assert "context window for ~" in err.value.message


def test_unparseable_max_cost_is_a_400() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"max_cost": "cheap please"})
    assert err.value.status == 400 and err.value.param == "max_cost"


def test_zero_weights_fall_back_to_equal_weights() -> None:
    config, _ = build(routing={"weights": {"cost": 0, "latency": 0, "task": 0}})
    assert weights(config) == pytest.approx({"cost": 1 / 3, "latency": 1 / 3, "task": 1 / 3})


def test_explicit_embedding_model_is_a_400() -> None:
    with pytest.raises(ProxyError) as err:
        plan({"model": "embedder"})
    assert err.value.status == 400 and err.value.param == "model"
    assert "embedding model" in err.value.message


def test_explicit_model_with_unconfigured_provider_routes_elsewhere() -> None:
    p = plan({"model": "premium"}, configured=lambda provider: provider != "openai")
    assert "premium" not in names(p) and names(p)
    assert "removed (provider_not_configured" in p.reason
