"""Quality-aware routing: the quality floor, the quality term of the hybrid score, and what
``/v1/router/debug`` and the ``omni`` object say about expected quality.

The engine is tested with a quality model that answers from a table (the interface of
``omni_proxy.quality``), so every expectation is exact; the end-to-end tests run the proxy
with the quality model the package ships and check properties that hold for any model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from omni_proxy.errors import ProxyError
from omni_proxy.quality import QualityEstimate, QualityModel, choose
from omni_proxy.routing.plan import PROMPT_TEXT_CHARS, QUALITY_WEIGHT, plan_route, prompt_text
from omni_proxy.types import Classification, ModelInfo, RoutePlan
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_routing import build, candidate, everyone, names

# name -> expected share of the premium model's quality (the premium model is "premium").
TABLE = {"cheap-coder": 0.97, "premium": 1.0, "fast-chat": 0.93, "generalist": 0.85}


class TableQuality(QualityModel):
    """A quality model that answers from a fixed table (for exact expectations)."""

    source = "table"

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.seen: list[tuple[str, str]] = []

    def estimate(
        self,
        text: str,
        task_type: str,
        models: Sequence[ModelInfo],
        premium: ModelInfo | None,
    ) -> dict[str, QualityEstimate]:
        self.seen.append((text, task_type))
        return {
            m.name: QualityEstimate(m.name, self.table[m.name], {"base": self.table[m.name]})
            for m in models
            if m.name in self.table
        }


def qplan(
    body: dict[str, Any] | None = None,
    task: str = "chat",
    *,
    table: dict[str, float] | None = None,
    routing: dict[str, Any] | None = None,
    models: list[dict[str, Any]] | None = None,
) -> RoutePlan:
    config, registry = build(models, {"premium_model": "premium", **(routing or {})})
    request: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    request.update(body or {})
    return plan_route(
        request,
        Classification(task),
        registry,
        config,
        configured=everyone,
        quality=TableQuality(TABLE if table is None else table),
    )


# --- the floor ------------------------------------------------------------------------------


def test_floor_picks_the_cheapest_model_that_keeps_it() -> None:
    # cheap-coder (0.97) is the cheapest; fast-chat (0.93) next; generalist is 0.85.
    assert qplan(routing={"quality_floor": 0.95}).routes[0].model.name == "cheap-coder"
    p = qplan(routing={"quality_floor": 0.98})
    assert names(p)[0] == "premium"  # only the premium model keeps 98%
    # The rest: best expected quality first, since none of them keeps the floor.
    assert names(p)[1:] == ["cheap-coder", "fast-chat", "generalist"]
    assert "quality floor 0.98" in p.reason
    assert p.routes[0].expected_quality == 1.0


def test_floor_orders_qualifying_models_by_cost_then_the_rest_by_quality() -> None:
    p = qplan(routing={"quality_floor": 0.9})
    # qualifying (>= 0.9) by cost: cheap-coder, fast-chat, premium; then generalist.
    assert names(p) == ["cheap-coder", "fast-chat", "premium", "generalist"]
    assert "cheapest of 3 models expected to keep >= 0.9" in p.reason


@pytest.mark.parametrize("floor", [0.5, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99, 1.0])
@pytest.mark.parametrize("premium_q", [1.0, 0.5])
def test_router_eval_picks_what_plan_route_puts_first(floor: float, premium_q: float) -> None:
    # One floor decision (routing.floor_rank): `router eval`'s choose() agrees with the plan.
    p = qplan(routing={"quality_floor": floor}, table={**TABLE, "premium": premium_q})
    chat = [c for c in p.candidates if c["expected_quality"] is not None]
    estimates = {c["model"]: QualityEstimate(c["model"], c["expected_quality"]) for c in chat}
    costs = {c["model"]: c["estimated_cost"] for c in chat}
    assert choose(estimates, costs, floor, "premium") == names(p)[0]


def test_premium_always_meets_the_floor_even_when_estimated_lower() -> None:
    table = {**TABLE, "premium": 0.5}
    p = qplan(routing={"quality_floor": 0.99}, table=table)
    assert names(p)[0] == "premium"


def test_no_model_meets_the_floor_without_the_premium_model() -> None:
    # The premium model cannot serve images here: the best expected quality goes first.
    table = {"premium": 1.0, "generalist": 0.85, "cheap-coder": 0.97, "fast-chat": 0.93}
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}],
        "quality_floor": 0.9,
    }
    models = [
        {**m, "supports_vision": m["name"] == "generalist"}
        for m in build()[0].model_dump()["models"]
    ]
    p = qplan(body, models=models, table=table)
    assert names(p)[0] == "generalist"
    assert "no model is expected to keep 0.9" in p.reason


def test_body_floor_overrides_the_config() -> None:
    p = qplan({"quality_floor": 0.95}, routing={"quality_floor": 0.99})
    assert names(p)[0] == "cheap-coder"
    p = qplan({"quality_floor": 0.99}, routing={"quality_floor": 0.5})
    assert names(p)[0] == "premium"


@pytest.mark.parametrize("bad", [1.5, -0.1, "high", True])
def test_a_bad_floor_in_the_body_is_a_400(bad: Any) -> None:
    with pytest.raises(ProxyError) as err:
        qplan({"quality_floor": bad})
    assert err.value.status == 400 and err.value.param == "quality_floor"


def test_config_refuses_a_floor_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="quality_floor"):
        build(routing={"quality_floor": 1.2})


# --- the hybrid score -----------------------------------------------------------------------

STRENGTH_MODELS: list[dict[str, Any]] = [
    # Cheapest and fastest by far, but without the task's strength.
    {
        "name": "bargain",
        "provider": "local",
        "cost_input": "0.01",
        "cost_output": "0.02",
        "avg_latency_ms": 100,
        "strengths": ["chat"],
    },
    {
        "name": "coder",
        "provider": "openai",
        "cost_input": "3",
        "cost_output": "9",
        "avg_latency_ms": 2500,
        "strengths": ["coding"],
    },
    {
        "name": "premium",
        "provider": "openai",
        "cost_input": "10",
        "cost_output": "30",
        "avg_latency_ms": 2000,
        "strengths": ["coding", "reasoning"],
    },
]


@pytest.mark.parametrize(
    "weights",
    [
        {"cost": 0.4, "latency": 0.3, "task": 0.3},
        {"cost": 1, "latency": 1, "task": 0},
        {"cost": 1, "latency": 0, "task": 0},
    ],
)
@pytest.mark.parametrize("priority", [None, "cheap", "balanced"])
@pytest.mark.parametrize("bargain", [0.8, 0.9, 0.96])
def test_hybrid_never_picks_a_model_without_the_strength_on_cost_alone(
    weights: dict[str, float], priority: str | None, bargain: float
) -> None:
    """However the weights lean to cost and latency, the bargain model (no coding strength,
    expected to do no better than the coder) never goes first for a coding prompt."""
    table = {"bargain": bargain, "coder": 0.96, "premium": 1.0}
    body = {"priority": priority} if priority else {}
    p = qplan(body, "coding", table=table, models=STRENGTH_MODELS, routing={"weights": weights})
    assert names(p)[0] != "bargain", p.candidates
    assert names(p).index("bargain") > names(p).index("coder")
    guard = candidate(p, "bargain")["score_parts"]
    assert sum(guard.values()) == pytest.approx(candidate(p, "bargain")["score"], abs=1e-3)


def test_hybrid_still_saves_when_a_cheap_model_keeps_quality() -> None:
    """A cheap model with the strength and nearly the premium model's quality wins."""
    table = {"bargain": 0.8, "coder": 0.97, "premium": 1.0}
    cheap = {"cost_input": "0.2", "cost_output": "0.4"}
    models = [{**m, **cheap} if m["name"] == "coder" else m for m in STRENGTH_MODELS]
    p = qplan({}, "coding", table=table, models=models)
    assert names(p)[0] == "coder"
    parts = candidate(p, "coder")["score_parts"]
    assert parts["quality"] == pytest.approx(-QUALITY_WEIGHT * 0.03, abs=1e-3)


def test_priority_best_weighs_quality_more() -> None:
    """Four points below the premium model: a cheaper coder wins by default, not with
    priority best (the quality weight is scaled like the task weight)."""
    table = {"bargain": 0.5, "coder": 0.96, "premium": 1.0}
    cheaper = {"cost_input": "0.2", "cost_output": "0.4", "avg_latency_ms": 1500}
    models = [{**m, **cheaper} if m["name"] == "coder" else m for m in STRENGTH_MODELS]
    assert names(qplan({}, "coding", table=table, models=models))[0] == "coder"
    best = qplan({"priority": "best"}, "coding", table=table, models=models)
    assert names(best)[0] == "premium"
    assert candidate(best, "coder")["score_parts"]["quality"] == pytest.approx(
        -QUALITY_WEIGHT * 2.5 * 0.04, abs=1e-3
    )


def test_a_model_without_the_strength_may_win_on_expected_quality() -> None:
    table = {"bargain": 1.02, "coder": 0.9, "premium": 1.0}
    p = qplan({}, "coding", table=table, models=STRENGTH_MODELS)
    assert names(p)[0] == "bargain"  # not on cost alone: it is expected to do best


def test_quality_strategy_orders_by_expected_quality() -> None:
    p = qplan({"strategy": "quality"}, table={**TABLE, "generalist": 1.1})
    assert names(p)[0] == "generalist"


def test_without_a_quality_model_scores_are_unchanged() -> None:
    config, registry = build()
    request = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    p = plan_route(request, Classification("chat"), registry, config, configured=everyone)
    assert all("quality" not in (c["score_parts"] or {}) for c in p.candidates)
    assert all(c["expected_quality"] is None for c in p.candidates)
    assert all(r.expected_quality is None for r in p.routes)


def test_candidates_carry_expected_quality_and_parts() -> None:
    p = qplan()
    c = candidate(p, "fast-chat")
    assert c["expected_quality"] == 0.93 and c["quality_parts"] == {"base": 0.93}
    assert candidate(p, "embedder")["expected_quality"] is None  # not a chat model
    assert {r.model.name: r.expected_quality for r in p.routes}["generalist"] == 0.85


def test_the_quality_model_reads_the_last_user_message_capped() -> None:
    model = TableQuality(TABLE)
    config, registry = build(None, {"premium_model": "premium"})
    long = "head " + "x" * (PROMPT_TEXT_CHARS + 500) + " the ask?"
    body = {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": long}]},
        ],
    }
    plan_route(body, Classification("coding"), registry, config, configured=everyone, quality=model)
    ((seen, task),) = model.seen
    assert task == "coding" and len(seen) == PROMPT_TEXT_CHARS
    assert seen.startswith("head x") and seen.endswith("x the ask?")  # its start and its end
    assert prompt_text({"input": "a responses prompt"}) == "a responses prompt"
    assert prompt_text({"prompt": "legacy"}) == "legacy"


# --- end to end: the openai SDK against the demo provider, with the shipped model ------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("quality"), None, args=["--demo"]) as proxy:
        yield proxy


def debug(proxy: ProxyProcess, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/router/debug",
        json=body,
        headers={"authorization": f"Bearer {MASTER_KEY}", **headers},
        timeout=10,
    )


CODING = "Write a Python function that merges two sorted lists and explain its complexity."


def test_debug_shows_expected_quality_and_the_floor(demo: ProxyProcess) -> None:
    r = debug(demo, {"messages": [{"role": "user", "content": CODING}], "quality_floor": 0.9})
    assert r.status_code == 200, r.text
    out = r.json()
    chat = [c for c in out["candidates"] if c["eligible"]]
    assert chat and all(isinstance(c["expected_quality"], float) for c in chat)
    assert all(c["quality_parts"] for c in chat)
    assert "quality floor 0.9" in out["reason"]
    # The selection is the cheapest candidate that keeps the floor (the premium always does).
    keeping = [c for c in chat if c["expected_quality"] >= 0.9 or c["model"] == "demo-premium"]
    cheapest = min(keeping, key=lambda c: Decimal(c["estimated_cost"]))
    assert out["selected_model"] == cheapest["model"]


def test_header_floor_and_body_floor(demo: ProxyProcess) -> None:
    body = {"messages": [{"role": "user", "content": CODING}]}
    by_header = debug(demo, body, **{"x-omni-quality-floor": "1"}).json()
    assert by_header["selected_model"] == "demo-premium"
    assert "quality floor 1" in by_header["reason"]
    by_body = debug(demo, {**body, "quality_floor": 0}).json()
    cheapest = min(
        (c for c in by_body["candidates"] if c["eligible"]),
        key=lambda c: Decimal(c["estimated_cost"]),
    )
    assert by_body["selected_model"] == cheapest["model"]  # every model keeps a floor of 0


@pytest.mark.parametrize("value", ["1.5", "-1", "lots", "nan"])
def test_a_bad_floor_header_is_a_400_naming_the_param(demo: ProxyProcess, value: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    r = debug(demo, body, **{"x-omni-quality-floor": value})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "quality_floor"
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_a_bad_floor_in_the_body_through_the_sdk(demo: ProxyProcess) -> None:
    client = openai.OpenAI(base_url=demo.base_url, api_key=MASTER_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"quality_floor": 2},
        )
    assert err.value.body["param"] == "quality_floor"  # type: ignore[index]


def test_hybrid_on_the_demo_never_wins_on_cost_alone(demo: ProxyProcess) -> None:
    """With the shipped model: if the pick lacks the task's strength, it is expected to do
    better than every candidate that has it."""
    strengths = {
        "demo-premium": {"coding", "reasoning", "agent_step", "image"},
        "demo-coder": {"coding"},
        "demo-reasoner": {"reasoning"},
        "demo-mini": {"chat", "summarization", "translation"},
        "demo-fast": {"chat"},
    }
    for text in (CODING, "Prove that the square root of 2 is irrational, step by step."):
        out = debug(demo, {"messages": [{"role": "user", "content": text}]}).json()
        task, pick = out["task_type"], out["selected_model"]
        quality = {c["model"]: c["expected_quality"] for c in out["candidates"] if c["eligible"]}
        if task not in strengths[pick]:
            rivals = [quality[m] for m in quality if task in strengths[m]]
            assert all(quality[pick] > q for q in rivals), out


def test_omni_expected_quality_in_real_responses(demo: ProxyProcess) -> None:
    client = openai.OpenAI(base_url=demo.base_url, api_key=MASTER_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": CODING}],
        extra_body={"quality_floor": 0.5},
    )
    completion = raw.parse()
    omni = completion.model_extra["omni"]  # type: ignore[index]
    assert isinstance(omni["expected_quality"], float) and omni["expected_quality"] > 0
    # The same number the router estimated for the model that answered.
    out = debug(
        demo, {"messages": [{"role": "user", "content": CODING}], "quality_floor": 0.5}
    ).json()
    estimated = {c["model"]: c["expected_quality"] for c in out["candidates"]}
    assert omni["expected_quality"] == estimated[omni["model_used"]]
    # Streaming: in the final chunk.
    chunks = list(
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": CODING}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    finals = [c.model_extra["omni"] for c in chunks if c.model_extra and "omni" in c.model_extra]
    assert finals and isinstance(finals[-1]["expected_quality"], float)
    # The simple contract shows it next to the savings.
    simple = httpx.post(
        demo.base_url + "/chat",
        json={"messages": [{"role": "user", "content": CODING}], "quality_floor": 0.5},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=10,
    ).json()
    assert simple["expected_quality"] == omni["expected_quality"]
