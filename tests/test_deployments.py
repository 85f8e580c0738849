"""Deployments: several upstreams behind one public model name, end to end through the
openai SDK and a real proxy process in front of two fake OpenAI upstreams."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from redis import Redis

from omni_proxy.config import ConfigError
from omni_proxy.errors import ProxyError
from omni_proxy.routing.cooldowns import SharedCooldowns
from omni_proxy.routing.deployments import Balancer, Deployment
from omni_proxy.routing.health import Health
from omni_proxy.testing import make_config
from omni_proxy.types import ModelInfo
from tests.conftest import MASTER_KEY, ProxyProcess, need_service
from tests.fakes.openai_upstream import FakeOpenAI


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    with FakeOpenAI(api_key="sk-a") as a, FakeOpenAI(api_key="sk-b") as b:
        yield a, b


@pytest.fixture(autouse=True)
def clean(fakes: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    for fake in fakes:
        fake.clear_behaviour()
        fake.requests.clear()


def _config(a: FakeOpenAI, b: FakeOpenAI, **routing: Any) -> dict[str, Any]:
    return {
        "providers": {
            "east": {"plugin": "openai", "base_url": a.base_url, "api_key": "sk-a"},
            "west": {"plugin": "openai", "base_url": b.base_url, "api_key": "sk-b"},
        },
        "models": [
            {
                "name": "mini",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.6,
                "deployments": [
                    {"provider": "east", "weight": 3},
                    {"provider": "west", "weight": 1, "cost_input": 0.3, "cost_output": 1.2},
                ],
            },
            {
                "name": "capped",
                "deployments": [
                    {"provider": "east", "model": "gpt-4o", "weight": 100, "rpm": 3},
                    {"provider": "west", "model": "gpt-4o", "weight": 1},
                ],
                "cost_input": 2.5,
                "cost_output": 10,
            },
            {
                "name": "other",
                "provider": "west",
                "model": "gpt-4.1-nano",
                "cost_input": 0.1,
                "cost_output": 0.4,
            },
        ],
        "routing": {"fallback_model": "other", **routing},
    }


def _ask(client: openai.OpenAI, model: str, text: str = "hello") -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])


def test_weights_hold_and_the_answer_keeps_the_public_name(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    a, b = fakes
    with ProxyProcess(tmp_path, _config(a, b)) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        seen: Counter[str] = Counter()
        costs: dict[str, float] = {}
        for i in range(300):
            done = _ask(client, "mini", f"n {i}")
            assert done.model == "mini"
            omni = done.model_extra["omni"]
            seen[omni["deployment"]] += 1
            costs.setdefault(omni["deployment"], omni["cost"] / done.usage.total_tokens)  # type: ignore[union-attr]
        share = seen["east/gpt-4o-mini"] / 300
        assert 0.65 <= share <= 0.85, seen  # weight 3:1 → 0.75
        assert len(a.requests) + len(b.requests) == 300
        assert all(r["json"]["model"] == "gpt-4o-mini" for r in a.requests + b.requests)
        # The west deployment's own price override is what its answers cost.
        assert costs["west/gpt-4o-mini"] > costs["east/gpt-4o-mini"]
        # Streaming goes through the deployments too.
        stream = client.chat.completions.create(
            model="mini", messages=[{"role": "user", "content": "s"}], stream=True
        )
        assert {c.model for c in stream} == {"mini"}


def test_failing_deployment_fails_over_to_its_sibling(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    a, b = fakes
    a.set_behaviour("*", "status", status=500)
    with ProxyProcess(tmp_path, _config(a, b)) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        answers = [_ask(client, "mini", f"x {i}") for i in range(20)]
    assert all(r.model == "mini" for r in answers)  # no client error
    assert {r.model_extra["omni"]["deployment"] for r in answers} == {"west/gpt-4o-mini"}
    assert len(a.requests) == 1  # then cooled down: its sibling takes everything
    failed = [r for r in answers if r.model_extra["omni"]["fallbacks"]]
    assert len(failed) == 1 and failed[0].model_extra["omni"]["fallbacks"][0]["provider"] == "east"


def test_every_deployment_down_falls_back_to_another_model(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    a, b = fakes
    a.set_behaviour("gpt-4o-mini", "status", status=503)
    b.set_behaviour("gpt-4o-mini", "status", status=503)
    with ProxyProcess(tmp_path, _config(a, b)) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        done = _ask(client, "mini")
    assert done.model == "other"
    assert "deployment" not in done.model_extra["omni"]  # "other" has a single upstream
    tried = [(f["model"], f["provider"]) for f in done.model_extra["omni"]["fallbacks"]]
    assert sorted(tried)[:2] == [("mini", "east"), ("mini", "west")], tried
    assert set(tried) == {("mini", "east"), ("mini", "west")}


def test_deployment_rpm_is_respected(fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path) -> None:
    a, b = fakes
    with ProxyProcess(tmp_path, _config(a, b)) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        answers = [_ask(client, "capped", f"c {i}") for i in range(10)]
    assert all(r.model == "capped" for r in answers)
    assert len(a.requests) == 3 and len(b.requests) == 7  # east has rpm 3, then west


def _model(*deps: Deployment) -> ModelInfo:
    return ModelInfo("m", deps[0].provider, deps[0].model, deployments=deps)


def test_balancer_strategies() -> None:
    now = [0.0]
    one, two = Deployment("one", "p1", "m"), Deployment("two", "p2", "m")
    model = _model(one, two)
    busy = Balancer("least_busy", clock=lambda: now[0])
    busy.begin(one)
    assert busy.pick(model, set()) is two
    fast = Balancer("latency", clock=lambda: now[0])
    fast.end(one, 50.0, None)
    assert fast.pick(model, set()) is two  # untried first
    fast.end(two, 200.0, None)
    assert fast.pick(model, set()) is one
    capped = _model(Deployment("a", "p", "m", rpm=10), Deployment("b", "p", "m", rpm=10))
    usage = Balancer("usage", clock=lambda: now[0])
    for _ in range(5):
        usage.begin(capped.deployments[0])
    assert usage.pick(capped, set()).id == "b"  # type: ignore[union-attr]
    # A cooled-down deployment is used only when no sibling is left.
    weighted = Balancer(clock=lambda: now[0])
    weighted.end(one, 1.0, ProxyError(500, "boom", retryable=True))
    assert all(weighted.pick(model, set()) is two for _ in range(20))
    assert weighted.pick(model, {"two"}) is one
    now[0] += 31
    assert {weighted.pick(model, set()).id for _ in range(50)} == {"one", "two"}  # type: ignore[union-attr]
    assert weighted.pick(model, {"one", "two"}) is None


def test_config_checks_deployments() -> None:
    providers = {"east": {"plugin": "openai", "api_key": "k"}}
    with pytest.raises(ConfigError, match="needs a provider or deployments"):
        make_config({"providers": providers, "models": [{"name": "x"}]})
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.provider"):
        make_config(
            {"providers": providers, "models": [{"name": "x", "deployments": [{"provider": "no"}]}]}
        )
    with pytest.raises(ConfigError, match="duplicate deployment"):
        make_config(
            {
                "providers": providers,
                "models": [{"name": "x", "deployments": [{"provider": "east"}] * 2}],
            }
        )
    config = make_config(
        {
            "providers": providers,
            "models": [{"name": "x", "deployments": [{"provider": "east", "model": "u"}]}],
            "routing": {"load_balancing": "least_busy"},
        }
    )
    assert config.routing.load_balancing == "least_busy"
    assert config.models[0].deployments is not None


def test_models_command_lists_deployments(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    path = tmp_path / "omni.yaml"
    path.write_text(yaml.safe_dump(_config(*fakes)))
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
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["mini"][-1] == "east/gpt-4o-mini,west/gpt-4o-mini"
    assert rows["other"][-1] == "-"


@pytest.mark.redis
def test_deployment_cooldowns_are_shared_through_redis(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    need_service("127.0.0.1", 6379, "redis")
    a, b = fakes
    a.set_behaviour("*", "status", status=500)
    dep_id = f"east-{uuid.uuid4().hex[:8]}"
    config = _config(a, b)
    config["redis_url"] = "redis://127.0.0.1:6379/0"
    config["models"][0]["deployments"][0].update(id=dep_id, weight=1000)
    with ProxyProcess(tmp_path, config) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        assert _ask(client, "mini").model == "mini"
    assert len(a.requests) == 1
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        ttl = redis.pttl(f"omni:cooldown:dep:{dep_id}")
        assert isinstance(ttl, int) and 0 < ttl <= 30_000  # published with its cooldown

        # Another instance's pull adopts it: that deployment is skipped there too.
        class _Limiter:
            redis_ok = True

        async def pull() -> Balancer:
            import redis.asyncio as aioredis

            balancer = Balancer()
            limiter = _Limiter()
            limiter.redis = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")  # type: ignore[attr-defined]
            shared = SharedCooldowns(
                Health(lambda _: True),
                limiter,
                lambda: [],
                balancer=balancer,
                deployments=lambda: [dep_id, "west/gpt-4o-mini"],
            )
            await shared.pull()
            await limiter.redis.aclose()  # type: ignore[attr-defined]
            return balancer

        balancer = asyncio.run(pull())
        east = Deployment(dep_id, "east", "gpt-4o-mini")
        west = Deployment("west/gpt-4o-mini", "west", "gpt-4o-mini")
        model = _model(east, west)
        assert all(balancer.pick(model, set()) is west for _ in range(20))
    finally:
        redis.delete(f"omni:cooldown:dep:{dep_id}")
        redis.close()
