"""Built-in prices: models without cost_input/cost_output take the table's list price.

The end-to-end test goes through the openai SDK, a real proxy process and a fake OpenAI
upstream that reports prompt-cache reads and reasoning tokens as OpenAI does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from omni_proxy.app import provider_classes
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.registry import build_registry
from omni_proxy.testing import make_config
from omni_proxy.types import ModelInfo, Usage
from omni_proxy.upstream.prices import lookup
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI

# gpt-4o-mini's list prices (USD per 1M tokens) as OpenAI publishes them.
MINI_IN, MINI_OUT, MINI_CACHED = Decimal("0.15"), Decimal("0.6"), Decimal("0.075")


def _config(base_url: str = "http://127.0.0.1:9/v1") -> dict[str, Any]:
    return {
        "providers": {"up": {"plugin": "openai", "base_url": base_url, "api_key": "sk-up"}},
        "models": [
            {"name": "mini", "provider": "up", "model": "gpt-4o-mini"},
            {
                "name": "mine",
                "provider": "up",
                "model": "gpt-4o",
                "cost_input": 1,
                "cost_output": 2,
            },
            {"name": "half", "provider": "up", "model": "gpt-4o", "cost_input": 1},
            {"name": "mystery", "provider": "up", "model": "in-house-llm-7b"},
        ],
        "routing": {"premium_model": "mine"},
    }


def test_table_knows_well_known_models() -> None:
    mini = lookup("gpt-4o-mini", ("openai",))
    assert mini is not None
    assert (mini.cost_input, mini.cost_output, mini.cost_cached_input) == (
        MINI_IN,
        MINI_OUT,
        MINI_CACHED,
    )
    # Provider names omni-proxy spells its own way, and an unknown provider name.
    assert lookup("gemini-2.0-flash", ("gemini",)) is not None
    assert lookup("gpt-4o-mini", ("my-gateway",)) == mini
    assert lookup("in-house-llm-7b", ("openai",)) is None


def test_registry_fills_prices_and_says_where_from(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omni_proxy"):
        registry = build_registry(make_config(_config()), provider_classes(get_plugin_manager()))
    mini, mine, half, mystery = (registry.get(n) for n in ("mini", "mine", "half", "mystery"))
    assert mini is not None and mine is not None and half is not None and mystery is not None
    assert (mini.cost_input, mini.cost_output, mini.price_source) == (MINI_IN, MINI_OUT, "table")
    assert mini.cost_cached_input == MINI_CACHED
    # Explicit config wins, and the table is not consulted for a fully priced entry.
    assert (mine.cost_input, mine.cost_output, mine.price_source) == (1, 2, "config")
    assert mine.cost_cached_input is None
    assert (half.cost_input, half.cost_output, half.price_source) == (1, 10, "config+table")
    assert mystery.price_source == "unknown"
    assert "no price for mystery" in caplog.text


def test_cost_prices_cached_and_reasoning_tokens_apart() -> None:
    m = ModelInfo(
        "m",
        "p",
        "m",
        cost_input=Decimal(2),
        cost_output=Decimal(8),
        cost_cached_input=Decimal("0.5"),
        cost_reasoning=Decimal(10),
    )
    # 1000 prompt tokens of which 400 cached; 100 completion tokens of which 30 reasoning.
    expected = (Decimal(600 * 2 + 400 * Decimal("0.5")) + 70 * 8 + 30 * 10) / 1_000_000
    assert m.cost(1000, 100, cached=400, reasoning=30) == expected
    # No separate price: cached and reasoning tokens cost what the others do.
    plain = ModelInfo("m", "p", "m", cost_input=Decimal(2), cost_output=Decimal(8))
    assert plain.cost(1000, 100, cached=400, reasoning=30) == plain.cost(1000, 100)
    usage = Usage.from_openai(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        }
    )
    assert usage == Usage(10, 5, 4, 2)


def test_sdk_call_costs_the_documented_list_price(tmp_path: Path) -> None:
    with FakeOpenAI(api_key="sk-up") as fake:
        fake.cached_tokens = 4
        with ProxyProcess(tmp_path, _config(fake.base_url)) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            words = "one two three four five six seven eight"
            done = client.chat.completions.create(
                model="mini", messages=[{"role": "user", "content": words}]
            )
            omni = done.model_extra["omni"]
            usage = done.usage
            assert usage is not None and usage.prompt_tokens >= 8
            cached = usage.prompt_tokens_details.cached_tokens  # type: ignore[union-attr]
            assert cached == 4
            expected = (
                (usage.prompt_tokens - cached) * MINI_IN
                + cached * MINI_CACHED
                + usage.completion_tokens * MINI_OUT
            ) / 1_000_000
            assert Decimal(str(omni["cost"])) == expected.quantize(Decimal("0.00000001"))
            # The unpriced model: no fake savings against the premium model.
            fake_answer = client.chat.completions.create(
                model="mystery",
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"cache": False},  # the cache is off: dropped all the same
            )
            assert fake_answer.model_extra["omni"]["savings_estimate"] == 0
            assert "cache" not in fake.requests[-1]["json"]


def test_models_command_shows_price_sources(tmp_path: Path) -> None:
    path = tmp_path / "omni.yaml"
    path.write_text(yaml.safe_dump(_config()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    env["OMNI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    out = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", "models", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout
    lines = out.splitlines()
    header = lines[0].split()
    rows = {line.split()[0]: dict(zip(header, line.split(), strict=False)) for line in lines[1:]}
    assert rows["mini"]["price"] == "table" and rows["mini"]["in$/1M"] == "0.15"
    assert rows["mini"]["cached$/1M"] == "0.075"
    assert rows["mine"]["price"] == "config"
    assert rows["mystery"]["price"] == "unknown"
