"""The quality model: shape, difficulty ordering, unknown models, loading and choosing."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from omni_proxy.quality import (
    QualityEstimate,
    QualityModel,
    QualityModelError,
    choose,
    load,
)
from omni_proxy.quality.db import rows_to_examples
from omni_proxy.quality.families import family_accuracy
from omni_proxy.quality.features import HEAD, TAIL, features
from omni_proxy.text import prompt_text
from omni_proxy.types import ModelInfo


def info(name: str, price_in: str, price_out: str, upstream: str | None = None) -> ModelInfo:
    return ModelInfo(
        name=name,
        provider="p",
        model=upstream or name,
        cost_input=Decimal(price_in),
        cost_output=Decimal(price_out),
    )


PREMIUM = info("gpt-4-1106-preview", "10", "30")
CHEAP = info("mixtral", "0.6", "0.6", upstream="mistralai/Mixtral-8x7B-Instruct-v0.1")
MODELS = [PREMIUM, CHEAP]

EASY = "What is the capital of France?"
HARD = (
    "A 0.5 kg block on a spring with k = 200 N/m is released from rest 0.1 m from "
    "equilibrium on a surface with kinetic friction 0.2. Compute the work done by friction "
    "until it first stops, the position where it stops, and the period of oscillation.\n\n"
    "Options:\nA. 0.31 s\nB. 0.50 s\nC. 0.63 s\nD. 0.22 s"
)


def test_shipped_model_loads_from_the_package() -> None:
    model = load()
    assert model.source == "shipped"
    assert len(model.weights) > 1000


def test_estimate_shape_and_premium_is_one() -> None:
    out = load().estimate(EASY, "chat", MODELS, PREMIUM)
    assert set(out) == {PREMIUM.name, CHEAP.name}
    assert isinstance(out[CHEAP.name], QualityEstimate)
    assert out[PREMIUM.name].expected == 1.0
    assert 0.0 < out[CHEAP.name].expected < 1.0
    assert {"difficulty", "ability", "p_correct", "p_premium"} <= set(out[CHEAP.name].parts)


def test_a_hard_prompt_widens_the_gap() -> None:
    model = load()
    easy = model.estimate(EASY, "chat", MODELS, PREMIUM)[CHEAP.name]
    hard = model.estimate(HARD, "reasoning", MODELS, PREMIUM)[CHEAP.name]
    assert hard.parts["difficulty"] > easy.parts["difficulty"]
    assert hard.expected < easy.expected


def test_shipped_expected_quality_is_read_against_its_reference_traffic() -> None:
    model = load()
    assert len(model.reference) >= 100 and 0.0 < model.loss_scale <= 1.0
    easy = model.estimate(EASY, "chat", MODELS, PREMIUM)[CHEAP.name]
    hard = model.estimate(HARD, "reasoning", MODELS, PREMIUM)[CHEAP.name]
    # the per-prompt ratio stays visible; the traffic reading is higher on the easy prompt
    assert 0.0 < easy.parts["ratio"] < 1.0
    assert easy.expected > easy.parts["ratio"]
    assert hard.expected < easy.expected <= 1.0
    # easier than every reference prompt: sending it cheap costs the traffic nothing
    a_cheap = model.ability(CHEAP, PREMIUM)
    a_premium = model.ability(PREMIUM, PREMIUM)
    assert model.traffic_quality(a_cheap, a_premium, model.reference[0] - 1) == 1.0
    assert model.traffic_quality(a_cheap, a_premium, model.reference[-1] + 1) < 0.9


def test_weaker_candidates_share_the_floors_loss_budget() -> None:
    model = load()
    other = info("mistral-7b-instruct", "0.2", "0.2")
    alone = model.estimate(EASY, "chat", MODELS, PREMIUM)[CHEAP.name].expected
    shared = model.estimate(EASY, "chat", [*MODELS, other], PREMIUM)[CHEAP.name].expected
    assert alone < 1.0
    assert 1.0 - shared == pytest.approx(2 * (1.0 - alone), abs=2e-4)


def test_a_file_without_reference_reads_the_per_prompt_ratio() -> None:
    params = {k: v for k, v in load().params.items() if k != "reference"}
    out = QualityModel(params).estimate(EASY, "chat", MODELS, PREMIUM)[CHEAP.name]
    assert "ratio" not in out.parts
    assert out.expected == pytest.approx(out.parts["p_correct"] / out.parts["p_premium"], abs=1e-3)


def test_stronger_family_is_expected_better() -> None:
    strong = info("claude-3-5-sonnet-20241022", "3", "15")
    weak = info("claude-3-haiku-20240307", "0.25", "1.25")
    out = load().estimate(HARD, "reasoning", [strong, weak], PREMIUM)
    assert out[strong.name].expected > out[weak.name].expected


def test_family_names_match_robustly() -> None:
    assert family_accuracy("gpt-4-1106-preview") == family_accuracy("gpt-4-turbo")
    assert family_accuracy("mistralai/Mixtral-8x7B-Instruct-v0.1") == family_accuracy(
        "mixtral-8x7b-32768"
    )
    assert family_accuracy("anthropic/claude-3-opus") == family_accuracy(
        "anthropic.claude-3-opus-20240229-v1:0"
    )
    assert family_accuracy("gpt-4o-mini") != family_accuracy("gpt-4o")
    assert family_accuracy("my-house-model") is None


def test_unknown_models_fall_back_to_price() -> None:
    pricey = info("house-large", "5", "15")
    cheap = info("house-tiny", "0.05", "0.1")
    out = load().estimate(HARD, "chat", [PREMIUM, pricey, cheap], PREMIUM)
    assert out[cheap.name].expected < out[pricey.name].expected <= 1.2
    # With no premium at all, the best candidate is the reference.
    alone = load().estimate(EASY, "chat", [pricey, cheap], None)
    assert max(e.expected for e in alone.values()) == pytest.approx(1.0)


def test_features_are_capped_for_long_prompts() -> None:
    long_text = "alpha " * 5000 + "omega question"
    feats = features(long_text, "chat")
    assert "omega" in feats and "task=chat" in feats
    assert len(feats) < HEAD + TAIL
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "the real ask"},
    ]
    assert prompt_text({"messages": messages}) == "the real ask"


def test_load_a_trained_file_and_refuse_garbage(tmp_path: Path) -> None:
    params = {
        "format": "omni-proxy-quality/1",
        "bias": 0.0,
        "weights": {"capital": -3.0},
        "abilities": {"mixtral": 5.0},
    }
    path = tmp_path / "m.json.gz"
    path.write_bytes(gzip.compress(json.dumps(params).encode()))
    model = load(str(path))
    assert model.source == "trained:m.json.gz"
    out = model.estimate(EASY, "chat", MODELS, PREMIUM)
    assert out[CHEAP.name].parts["ability"] == pytest.approx(5.0)
    (tmp_path / "bad.json").write_text('{"hello": 1}')
    with pytest.raises(QualityModelError, match="not a quality model"):
        load(str(tmp_path / "bad.json"))
    with pytest.raises(QualityModelError, match="cannot read"):
        load(str(tmp_path / "missing.json"))


def test_choose_takes_the_cheapest_above_the_floor() -> None:
    est = {
        "a": QualityEstimate("a", 1.0),
        "b": QualityEstimate("b", 0.97),
        "c": QualityEstimate("c", 0.90),
    }
    costs = {"a": Decimal("1.0"), "b": Decimal("0.2"), "c": 0.01}
    assert choose(est, costs, 0.95) == "b"
    assert choose(est, costs, 0.80) == "c"
    assert choose(est, costs, 1.0) == "a"
    assert choose(est, costs, 1.5) == "a"  # nobody clears it: the best expected
    assert choose(est, costs, 1.5, premium="b") == "b"  # the premium model always clears it


def test_prior_without_parameters_still_answers() -> None:
    out = QualityModel().estimate(EASY, "chat", MODELS, PREMIUM)
    assert out[PREMIUM.name].expected == 1.0
    assert out[CHEAP.name].expected < 1.0


def test_db_rows_merge_per_request() -> None:
    rows = rows_to_examples(
        [("r1", "small", "hi", 1.0), ("r1", "small", "hi", 0.0), ("r1", "big", "hi", 1.0)]
    )
    assert rows == [
        {"messages": [{"role": "user", "content": "hi"}], "scores": {"small": 0.5, "big": 1.0}}
    ]


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4-0613",
        "gpt-4-turbo-2024-04-09",
        "gpt-4o-2024-08-06",
        "openai/gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-3.5-turbo-0125",
        "o1",
        "o1-mini",
        "o3",
        "o3-mini",
        "o4-mini",
        "claude-3-opus-20240229",
        "claude-3-sonnet-20240229",
        "claude-3-haiku-20240307",
        "claude-3-5-sonnet-latest",
        "claude-3.5-haiku",
        "claude-3-7-sonnet-20250219",
        "claude-sonnet-4-20250514",
        "claude-opus-4-1",
        "gemini-1.5-pro",
        "gemini-1.5-flash-8b",
        "gemini-2.0-flash",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "meta-llama/Llama-3.1-8B-Instruct",
        "llama-3.3-70b-versatile",
        "meta-llama/Meta-Llama-3.1-405B-Instruct",
        "mixtral-8x7b-32768",
        "mistralai/Mixtral-8x22B-Instruct-v0.1",
        "open-mistral-7b",
        "mistral-small-latest",
        "mistral-large-2411",
        "Qwen/Qwen2.5-72B-Instruct",
        "qwen2.5-7b-instruct",
        "deepseek-chat",
        "deepseek-reasoner",
        "deepseek-ai/DeepSeek-V3",
        "google/gemma-2-9b-it",
        "microsoft/Phi-3-mini-4k-instruct",
    ],
)
def test_common_families_have_a_figure(name: str) -> None:
    acc = family_accuracy(name)
    assert acc is not None and 0.1 < acc < 1.0


def test_family_figures_order_sizes_and_tiers() -> None:
    f = family_accuracy
    assert f("gpt-4o") > f("gpt-4o-mini") > f("gpt-3.5-turbo")  # type: ignore[operator]
    assert f("claude-3-opus") > f("claude-3-sonnet") > f("claude-3-haiku")  # type: ignore[operator]
    assert f("llama-3.1-405b") > f("llama-3.1-70b") > f("llama-3.1-8b")  # type: ignore[operator]
    assert f("gemini-1.5-pro") > f("gemini-1.5-flash") > f("gemini-1.5-flash-8b")  # type: ignore[operator]
    assert f("mixtral-8x22b") > f("mixtral-8x7b") > f("mistral-7b")  # type: ignore[operator]
