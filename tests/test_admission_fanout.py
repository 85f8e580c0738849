"""Admission covers all the work a request causes (issue 15): ``/v1/completions`` with a list
of prompts is admitted per prompt, capped, and recorded at what its calls really cost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import eventually, sqlite_rows

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config: dict[str, Any] = {
        "providers": {
            "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
        },
        "models": [
            {
                "name": "cheap",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 1000,
                "cost_output": 1000,
            }
        ],
        "routing": {"max_attempts": 1},
    }
    with ProxyProcess(tmp_path_factory.mktemp("fanout"), config) as running:
        yield running


def org_key(proxy: ProxyProcess, name: str, **fields: Any) -> str:
    r = httpx.post(proxy.base_url + "/organizations", json={"name": name, **fields}, headers=AUTH)
    assert r.status_code == 201, r.text
    r = httpx.post(proxy.base_url + "/api-keys", json={"org": name}, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def completions(proxy: ProxyProcess, key: str, prompt: Any, **extra: Any) -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/completions",
        json={"model": "cheap", "prompt": prompt, **extra},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_each_prompt_is_admitted_against_the_rate_limit(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    key = org_key(proxy, "fanout-rpm", rpm_limit=3)
    fake.reset()
    r = completions(proxy, key, ["a", "b", "c", "d", "e"])
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert fake.requests_to("/chat/completions") == []  # refused before any upstream call


def test_prompt_lists_are_capped(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    fake.reset()
    r = completions(proxy, MASTER_KEY, ["x"] * 1000)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "prompt"
    assert fake.requests_to("/chat/completions") == []


def test_a_failure_mid_list_still_records_what_the_calls_cost(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    fake.reset()
    r = completions(proxy, MASTER_KEY, ["one two three", "four five six", "seven"])
    assert r.status_code == 200
    rid_ok = r.headers["x-request-id"]
    fake.reset()
    fake.fail_next("ok", path="/chat/completions")  # the first call answers,
    fake.fail_next("status", status=400, path="/chat/completions")  # the second fails
    r = completions(proxy, MASTER_KEY, ["hello there", "again", "never sent"])
    assert r.status_code == 400, r.text
    rid_fail = r.headers["x-request-id"]
    assert len(fake.requests_to("/chat/completions")) == 2
    assert eventually(lambda: len(sqlite_rows(proxy, [rid_ok, rid_fail])) == 2, timeout=10)
    rows = sqlite_rows(proxy, [rid_ok, rid_fail])
    assert float(rows[rid_ok]["cost"]) > 0 and rows[rid_ok]["prompt_tokens"] > 0
    assert rows[rid_fail]["status"] == 400
    assert float(rows[rid_fail]["cost"]) > 0  # the answered call is paid for


def test_a_reused_client_request_id_never_drops_or_suppresses_records(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    """Two orgs send the same ``x-request-id`` three times each: six records, each with the
    proxy's own id as the key and the client's kept as ``client_request_id`` (issue 15)."""
    fake.reset()
    keys = [org_key(proxy, "reuse-a"), org_key(proxy, "reuse-b")]
    ids = []
    for key in keys * 3:
        r = httpx.post(
            proxy.base_url + "/chat/completions",
            json={"model": "cheap", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key}", "x-request-id": "same-id-1"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-client-request-id"] == "same-id-1"
        assert r.headers["x-request-id"] != "same-id-1"
        assert r.json()["omni"]["request_id"] == r.headers["x-request-id"]
        ids.append(r.headers["x-request-id"])
    assert len(set(ids)) == 6
    assert eventually(lambda: len(sqlite_rows(proxy, ids)) == 6, timeout=10)
    rows = sqlite_rows(proxy, ids)
    assert {row["client_request_id"] for row in rows.values()} == {"same-id-1"}
    assert len({row["org_id"] for row in rows.values()}) == 2


def test_concurrent_requests_cannot_overshoot_the_budget(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    """40 requests at once on a budget worth 5: admission reserves each one's estimated
    cost, so at most about 5 are served and spend passes the budget by at most one
    request (issue 15: 26 were served)."""
    import asyncio

    fake.reset()
    body = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    probe = httpx.post(proxy.base_url + "/chat/completions", json=body, headers=AUTH, timeout=30)
    assert probe.status_code == 200
    one = float(probe.json()["omni"]["cost"])
    assert one > 0
    budget = round(one * 5, 8)
    key = org_key(proxy, "budget-race", monthly_budget_usd=budget)
    fake.set_behaviour("gpt-4o-mini", "timeout", delay_s=0.5)  # all 40 overlap

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=proxy.base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=40),
        ) as client:
            return await asyncio.gather(
                *(client.post("/chat/completions", json=body) for _ in range(40))
            )

    try:
        answers = asyncio.run(burst())
    finally:
        fake.clear_behaviour()
    served = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code == 429]
    assert len(served) + len(refused) == 40
    assert {r.json()["error"]["code"] for r in refused} == {"insufficient_quota"}
    assert 1 <= len(served) <= 6, len(served)
    spent = sum(float(r.json()["omni"]["cost"]) for r in served)
    print(f"\nbudget worth 5, 40 at once: {len(served)} served, spent {spent / budget:.2f}x")
    assert spent <= budget + one * 1.5, (spent, budget)


def test_router_debug_is_rate_limited(proxy: ProxyProcess) -> None:
    key = org_key(proxy, "debug-rpm", rpm_limit=2)
    body = {"messages": [{"role": "user", "content": "write a poem"}]}
    statuses = [
        httpx.post(
            proxy.base_url + "/router/debug",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).status_code
        for _ in range(4)
    ]
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429], statuses


def test_message_count_is_capped(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    fake.reset()
    many = [{"role": "user", "content": "x"}] * 10_001
    for path in ("/chat/completions", "/router/debug"):
        r = httpx.post(
            proxy.base_url + path, json={"model": "cheap", "messages": many}, headers=AUTH
        )
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == "messages" and err["code"] == "array_above_max_length"
    assert fake.requests_to("/chat/completions") == []
