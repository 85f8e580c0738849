"""Key controls end to end: model allow-lists, per-key budgets per period, rotation with a
grace period, alias and expiry updates, and the org soft-budget alert. The openai SDK talks
to a real proxy process in front of a fake OpenAI upstream; admin calls go over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from omni_proxy.accounts.budgets import KeyBudgets, on_soft_budget, period_start
from omni_proxy.accounts.limits import Limiter
from omni_proxy.errors import ProxyError
from omni_proxy.types import RequestRecord
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-up") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config = {
        "providers": {"up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-up"}},
        "models": [
            {"name": "cheap", "provider": "up", "model": "gpt-4o-mini", "strengths": ["chat"]},
            {
                "name": "mid",
                "provider": "up",
                "model": "gpt-4.1-nano",
                "cost_input": 0.1,
                "cost_output": 0.4,
                "strengths": ["chat"],
            },
            {"name": "smart", "provider": "up", "model": "gpt-4o"},
            {
                "name": "emb-cheap",
                "provider": "up",
                "model": "text-embedding-3-small",
                "kind": "embedding",
                "cost_input": 0.02,
            },
            {
                "name": "emb-big",
                "provider": "up",
                "model": "text-embedding-3-small",
                "kind": "embedding",
                "cost_input": 0.13,
            },
        ],
        "routing": {"premium_model": "smart"},
    }
    with ProxyProcess(tmp_path_factory.mktemp("keys"), config) as running:
        yield running


def _org(proxy: ProxyProcess, **fields: Any) -> str:
    r = httpx.post(
        proxy.root + "/v1/organizations",
        json={"name": f"org-{uuid.uuid4().hex[:10]}", **fields},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _key(proxy: ProxyProcess, org: str | None = None, **fields: Any) -> dict[str, Any]:
    r = httpx.post(
        proxy.root + "/v1/api-keys",
        json={"org_id": org or _org(proxy), "permissions": ["read", "write"], **fields},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _client(proxy: ProxyProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=key, max_retries=0)


def _hi(client: openai.OpenAI, model: str = "cheap") -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello there"}]
    )


def test_key_limited_to_models(proxy: ProxyProcess) -> None:
    key = _key(proxy, models=["cheap", "mid"], alias="limited")
    assert key["models"] == ["cheap", "mid"] and key["alias"] == "limited"
    client = _client(proxy, key["key"])
    assert _hi(client, "cheap").model == "cheap"
    with pytest.raises(openai.PermissionDeniedError) as denied:
        _hi(client, "smart")
    assert denied.value.status_code == 403
    assert denied.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert denied.value.body["param"] == "model"  # type: ignore[index]
    # auto routes among the allowed models only.
    plan = httpx.post(
        proxy.base_url + "/router/debug",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {key['key']}"},
    ).json()["plan"]
    assert set(plan) <= {"cheap", "mid"} and plan
    assert _hi(client, "auto").model in ("cheap", "mid")
    # Lifting the limit: every model again.
    r = httpx.patch(f"{proxy.base_url}/api-keys/{key['id']}", json={"models": None}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["models"] is None
    assert _hi(client, "smart").model == "smart"


def test_auto_embeddings_pick_among_the_allowed_models(proxy: ProxyProcess) -> None:
    key = _key(proxy, models=["emb-big"])
    client = _client(proxy, key["key"])
    assert client.embeddings.create(model="auto", input="x").model == "emb-big"
    assert _client(proxy, MASTER_KEY).embeddings.create(model="auto", input="x").model == (
        "emb-cheap"
    )
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="emb-cheap", input="x")


def test_key_budget_refuses_once_spent(proxy: ProxyProcess) -> None:
    key = _key(proxy, max_budget_usd=0.000001, budget_period="daily")
    assert key["budget_period"] == "daily" and key["max_budget_usd"] == 0.000001
    client = _client(proxy, key["key"])
    assert _hi(client).choices  # spend 0 so far: admitted, and it costs more than the budget
    with pytest.raises(openai.RateLimitError) as refused:
        _hi(client)
    assert refused.value.body["code"] == "insufficient_quota"  # type: ignore[index]
    assert "daily budget" in refused.value.message
    # Another key of the same org is not affected.
    other = _key(proxy, org=key["org_id"])
    assert _hi(_client(proxy, other["key"])).choices
    # Raising the budget lets the key through again.
    r = httpx.patch(
        f"{proxy.base_url}/api-keys/{key['id']}", json={"max_budget_usd": 100}, headers=ADMIN
    )
    assert r.status_code == 200
    assert _hi(client).choices


def test_rotation_revokes_old_secret_or_keeps_it_for_a_grace_period(proxy: ProxyProcess) -> None:
    key = _key(proxy, name="backend")
    old = key["key"]
    r = httpx.post(f"{proxy.base_url}/api-keys/{key['id']}/rotate", headers=ADMIN)
    assert r.status_code == 200, r.text
    new = r.json()["key"]
    assert new != old and r.json()["id"] == key["id"] and r.json()["name"] == "backend"
    assert _hi(_client(proxy, new)).choices
    with pytest.raises(openai.AuthenticationError):
        _hi(_client(proxy, old))
    # With a grace period both secrets work until it ends.
    r = httpx.post(
        f"{proxy.base_url}/api-keys/{key['id']}/rotate",
        json={"grace_period_s": 3600},
        headers=ADMIN,
    )
    newer = r.json()["key"]
    assert r.json()["previous_key_valid_until"] is not None
    assert _hi(_client(proxy, newer)).choices and _hi(_client(proxy, new)).choices
    bad = httpx.post(
        f"{proxy.base_url}/api-keys/{key['id']}/rotate",
        json={"grace_period_s": -1},
        headers=ADMIN,
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "grace_period_s"
    missing = httpx.post(f"{proxy.base_url}/api-keys/key_nope/rotate", headers=ADMIN)
    assert missing.status_code == 404


def test_alias_and_expiry_are_managed_through_the_api(proxy: ProxyProcess) -> None:
    key = _key(proxy)
    url = f"{proxy.base_url}/api-keys/{key['id']}"
    r = httpx.patch(url, json={"alias": "ci-runner", "expires_at": 1_000_000}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["alias"] == "ci-runner"
    assert r.json()["expires_at"].startswith("1970-01-12")
    with pytest.raises(openai.AuthenticationError):
        _hi(_client(proxy, key["key"]))
    r = httpx.patch(url, json={"expires_at": None}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["expires_at"] is None
    assert _hi(_client(proxy, key["key"])).choices
    bad = httpx.patch(url, json={"budget_period": "hourly"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "budget_period"


def test_org_soft_budget_logs_and_counts(proxy: ProxyProcess) -> None:
    org = _org(proxy, soft_budget_usd=0.0000001)
    key = _key(proxy, org=org)
    client = _client(proxy, key["key"])
    _hi(client)
    _hi(client)  # the first one's spend is settled: this admission has seen it
    assert f"org {org} reached its soft budget" in proxy.read_log()
    metrics = httpx.get(proxy.root + "/metrics", headers=ADMIN).text
    line = next(ln for ln in metrics.splitlines() if ln.startswith("omni_soft_budget_alerts_total"))
    assert float(line.split()[-1]) >= 1
    got = httpx.get(f"{proxy.base_url}/organizations/{org}", headers=ADMIN).json()
    assert got["soft_budget_usd"] == 0.0000001


def test_soft_budget_listener_is_called_once_a_month() -> None:
    calls: list[tuple[str, Decimal, Decimal]] = []
    on_soft_budget(lambda org, soft, spend: calls.append((org, soft, spend)))
    limiter = Limiter()
    limiter._soft["org_x"] = Decimal("0.5")

    def record(cost: str) -> RequestRecord:
        return RequestRecord(
            "r",
            "/v1/chat/completions",
            "org_x",
            "key_x",
            "chat",
            "m",
            "m",
            "p",
            1,
            1,
            Decimal(cost),
            Decimal(cost),
            Decimal(0),
            1.0,
            None,
            False,
            200,
            None,
            0,
            0.0,
        )

    limiter.settle(record("0.3"))
    assert calls == []
    limiter.settle(record("0.3"))
    limiter.settle(record("0.3"))
    assert calls == [("org_x", Decimal("0.5"), Decimal("0.6"))]


def test_budget_periods() -> None:
    now = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # a Thursday
    assert period_start("daily", now) == datetime(2026, 12, 3, tzinfo=UTC)
    assert period_start("weekly", now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert period_start("monthly", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert period_start("total", now).year == 1970
    budgets = KeyBudgets()
    budgets.admit("k", Decimal(1), "daily", now.timestamp())
    budgets.add("k", Decimal(2))
    with pytest.raises(ProxyError):
        budgets.admit("k", Decimal(1), "daily", now.timestamp())
    tomorrow = datetime(2026, 12, 4, 0, 0, 1, tzinfo=UTC).timestamp()
    budgets.admit("k", Decimal(1), "daily", tomorrow)  # a new day: spend starts over


def test_cli_rotate_prints_the_new_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    env["OMNI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "omni_proxy.cli", "keys", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        ).stdout

    out = run(
        "create", "--org", "acme", "--models", "a,b", "--budget", "5", "--budget-period", "weekly"
    )
    old = out.splitlines()[-1]
    key_id = out.split()[2]
    rotated = run("rotate", key_id, "--grace-s", "60").splitlines()
    assert rotated[-1].startswith("sk-omni-") and rotated[-1] != old
    assert "valid for 60 s more" in rotated[0]
