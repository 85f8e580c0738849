"""The fallback plan and the cascade's verdicts, end to end: the openai SDK → omni-proxy (a
real process) → fake OpenAI upstreams behind two providers.

- Three cheap models of one provider fail (503) and a healthy ``fallback_model`` stands by
  on another: with ``max_attempts: 3`` the answer comes from the fallback model.
- A cascade that escalates past a refusal records both verdicts as ``feedback`` rows
  (source ``cascade``) for ``router train --from-db``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from omni_proxy.config import Config
from omni_proxy.defaults.fallback import fallback_route
from omni_proxy.errors import ProxyError
from omni_proxy.registry import model_info
from omni_proxy.types import Attempt, CallContext, Route, RoutePlan
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI

UPSTREAM_KEY = "sk-upstream-test"


def _model(name: str, provider: str, cost: float, strengths: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "provider": provider,
        "model": f"m-{name}",
        "cost_input": cost,
        "cost_output": cost,
        "avg_latency_ms": 300,
        "strengths": strengths,
    }


def config(
    fake: FakeOpenAI, healthy: FakeOpenAI, *, two_failing: bool = False, **routing: Any
) -> dict[str, Any]:
    def provider(server: FakeOpenAI) -> dict[str, Any]:
        return {"plugin": "openai", "base_url": server.base_url, "api_key": UPSTREAM_KEY}

    second = "flaky2" if two_failing else "flaky"
    return {
        "providers": {
            "flaky": provider(fake),
            "flaky2": provider(fake),
            "steady": provider(healthy),
        },
        "models": [
            _model("cheap-1", "flaky", 0.1, ["chat"]),
            _model("cheap-2", second, 0.2, ["chat"]),
            _model("cheap-3", "flaky", 0.3, ["chat"]),
            _model("middle", second, 1.0, ["chat"]),
            _model("steady", "steady", 5.0, []),
        ],
        "routing": {
            "premium_model": "steady",
            "fallback_model": "steady",
            "max_attempts": 3,
            **routing,
        },
    }


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    with FakeOpenAI() as flaky, FakeOpenAI() as steady:
        yield flaky, steady


def test_the_fallback_model_answers_when_one_provider_fails(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    flaky, steady = fakes
    flaky.set_behaviour("*", "status", status=503)
    try:
        with ProxyProcess(tmp_path, config(flaky, steady)) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            completion = client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "hello there"}]
            )
    finally:
        flaky.clear_behaviour()
    omni = completion.model_extra["omni"]  # type: ignore[index]
    assert completion.model == "steady" == omni["model_used"]
    assert completion.choices[0].message.content == "Echo: hello there"
    # The first failure already sends it to the other provider (then nothing of the
    # failing one is tried again).
    # (Which cheap model is tried first is the router's choice; there is only one of them.)
    failed = [(f["model"], f["status"]) for f in omni["fallbacks"]]
    assert len(failed) == 1 and failed[0][0].startswith("cheap-") and failed[0][1] == 503
    assert [r["json"]["model"] for r in steady.requests] == ["m-steady"]


def test_the_last_attempt_goes_to_the_fallback_model_when_two_providers_fail(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    """cheap-1 (flaky) fails, cheap-2 (flaky2, another provider) fails; the third and last
    attempt is kept for the fallback model rather than cheap-3."""
    flaky, steady = fakes
    flaky.set_behaviour("*", "status", status=503)
    try:
        with ProxyProcess(tmp_path, config(flaky, steady, two_failing=True)) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            completion = client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "hello there"}]
            )
    finally:
        flaky.clear_behaviour()
    omni = completion.model_extra["omni"]  # type: ignore[index]
    assert omni["model_used"] == "steady"
    failed = [f["model"] for f in omni["fallbacks"]]
    assert len(failed) == 2 and all(m.startswith("cheap-") for m in failed), failed
    assert "cheap-2" in failed  # the second attempt went to the other failing provider


# --- the default fallback_route, model by model --------------------------------------------

PLAN_MODELS = [
    ("a1", "a"),
    ("a2", "a"),
    ("b1", "b"),
    ("a3", "a"),
    ("fb", "c"),
]


def _plan() -> RoutePlan:
    routes = [Route(model_info({"name": n, "provider": p})) for n, p in PLAN_MODELS]
    return RoutePlan(routes=routes, strategy="hybrid")


def _next(plan: RoutePlan, failed: list[str], max_attempts: int) -> str | None:
    cfg = Config.model_validate({"routing": {"fallback_model": "fb", "max_attempts": max_attempts}})
    ctx = CallContext(request_id="r", endpoint="/v1/chat/completions", config=cfg)
    by_name = {r.model.name: r for r in plan.routes}
    attempts = [Attempt(n, by_name[n].model.provider, 503, "down") for n in failed]
    error = ProxyError(503, "down", type="server_error", retryable=True)
    nxt = fallback_route(plan, by_name[failed[-1]], error, attempts, ctx)
    return None if nxt is None else nxt.model.name


def test_backups_prefer_another_provider_than_the_one_that_failed() -> None:
    plan = _plan()
    assert _next(plan, ["a1"], 5) == "b1"  # not a2: provider a just failed
    assert _next(plan, ["a1", "b1"], 5) == "a2"  # b failed last: a's next in plan order
    assert _next(plan, ["b1"], 5) == "a1"


def test_the_last_attempt_is_kept_for_the_fallback_model() -> None:
    plan = _plan()
    assert _next(plan, ["a1"], 2) == "fb"
    assert _next(plan, ["a1", "b1"], 3) == "fb"
    assert _next(plan, ["a1", "b1", "fb"], 3) is None  # the budget is spent


# --- the cascade's verdicts -----------------------------------------------------------------


def test_cascade_escalation_is_recorded_as_outcomes(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    flaky, steady = fakes
    flaky.set_behaviour("m-cheap-1", "ok", content="I'm sorry, but I can't help with that.")
    try:
        # Bodies on: the verdicts keep the prompt (router train --from-db learns from it).
        settings = {**config(flaky, steady, strategy="cascade"), "logging": {"bodies": True}}
        with ProxyProcess(tmp_path, settings) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            completion = client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "tell me a joke"}]
            )
            omni = completion.model_extra["omni"]  # type: ignore[index]
            db = tmp_path / "proxy.db"
            deadline = time.monotonic() + 10
            stored: list[tuple[Any, ...]] = []
            while time.monotonic() < deadline and len(stored) < 2:
                conn = sqlite3.connect(db)
                try:
                    stored = conn.execute(
                        "SELECT request_id, model, task_type, prompt_text, score, comment,"
                        " source FROM feedback ORDER BY id"
                    ).fetchall()
                finally:
                    conn.close()
                time.sleep(0.05)
    finally:
        flaky.clear_behaviour()
    assert omni["model_used"] == "cheap-2"
    assert omni["fallbacks"][0]["code"] == "escalated"
    rid = omni["request_id"]
    assert stored == [
        (
            rid,
            "cheap-1",
            "chat",
            "tell me a joke",
            0.0,
            "escalated: refusal: I'm sorry, but I can't help with that.",
            "cascade",
        ),
        (rid, "cheap-2", "chat", "tell me a joke", 1.0, "accepted", "cascade"),
    ]


def test_cascade_self_consistency_escalates_when_short_answers_disagree(
    fakes: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path
) -> None:
    """With ``cascade_samples: 2`` a short closed answer is asked for twice: the first model's
    two samples disagree (41, then the fake's echo), so it escalates; the next model's two
    samples agree, so its answer stands."""
    flaky, steady = fakes
    flaky.clear_behaviour()
    before = len(flaky.requests)
    flaky.fail_next("ok", 1, content="41", model="m-cheap-1")
    routing = {"strategy": "cascade", "cascade_samples": 2}
    with ProxyProcess(tmp_path, config(flaky, steady, **routing)) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        completion = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "2+2?"}]
        )
    omni = completion.model_extra["omni"]  # type: ignore[index]
    assert omni["model_used"] == "cheap-2"
    assert completion.choices[0].message.content == "Echo: 2+2?"
    [escalated] = omni["fallbacks"]
    assert escalated["model"] == "cheap-1" and escalated["code"] == "escalated"
    assert escalated["error"] == "samples disagree: '41' vs 'echo: 2+2?'"
    sent = [r["json"]["model"] for r in flaky.requests[before:]]
    assert sent == ["m-cheap-1", "m-cheap-1", "m-cheap-2", "m-cheap-2"]
