"""A model named explicitly can be kept from substitution (``strict_model``), and upstream
429s reach the client with a ``retry-after``: openai SDK → proxy process → fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI


def config(fake: FakeOpenAI, **routing: Any) -> dict[str, Any]:
    def model(name: str, upstream: str, cost: float) -> dict[str, Any]:
        return {
            "name": name,
            "provider": "up",
            "model": upstream,
            "cost_input": cost,
            "cost_output": cost,
        }

    return {
        "providers": {
            "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
        },
        "models": [model("named", "named-model", 1), model("other", "gpt-4o-mini", 0.1)],
        "routing": {"fallback_model": "other", "max_attempts": 2, **routing},
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("strict"), config(fake)) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(fake: FakeOpenAI) -> None:
    fake.clear_behaviour()
    fake.requests.clear()


def client(proxy: ProxyProcess, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0, default_headers=headers
    )


def upstream_models(fake: FakeOpenAI) -> set[str]:
    return {r["json"]["model"] for r in fake.requests_to("/chat/completions")}


HI: Any = [{"role": "user", "content": "hi"}]


def test_without_opt_out_a_failing_named_model_is_replaced(
    proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    fake.set_behaviour("named-model", "status", status=500)
    reply = client(proxy).chat.completions.create(model="named", messages=HI)
    assert reply.model == "other"
    assert reply.model_extra["omni"]["fallbacks"][0]["model"] == "named"


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        ({"x-omni-strict-model": "true"}, {}),
        ({}, {"strict_model": True}),
        ({}, {"disable_fallbacks": True}),  # LiteLLM's name
    ],
    ids=["header", "body", "litellm"],
)
def test_strict_model_is_the_named_model_or_an_error(
    proxy: ProxyProcess, fake: FakeOpenAI, headers: dict[str, str], extra: dict[str, Any]
) -> None:
    fake.set_behaviour("named-model", "status", status=500)
    with pytest.raises(openai.InternalServerError) as info:
        client(proxy, **headers).chat.completions.create(
            model="named", messages=HI, extra_body=extra
        )
    assert upstream_models(fake) == {"named-model"}  # retried, never replaced
    assert info.value.status_code in (500, 502)
    with pytest.raises(openai.InternalServerError):
        client(proxy, **headers).chat.completions.create(
            model="named", messages=HI, stream=True, extra_body=extra
        )
    assert upstream_models(fake) == {"named-model"}
    fake.clear_behaviour()
    ok = client(proxy, **headers).chat.completions.create(
        model="named", messages=HI, extra_body=extra
    )
    assert ok.model == "named"


def test_strict_model_off_by_header_and_bad_values(proxy: ProxyProcess, fake: FakeOpenAI) -> None:
    fake.set_behaviour("named-model", "status", status=500)
    reply = client(proxy, **{"x-omni-strict-model": "off"}).chat.completions.create(
        model="named", messages=HI
    )
    assert reply.model == "other"
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).chat.completions.create(
            model="named", messages=HI, extra_body={"strict_model": "maybe"}
        )
    assert info.value.body["param"] == "strict_model"  # type: ignore[index]


def test_config_strict_model_keeps_auto_routing(fake: FakeOpenAI, tmp_path: Path) -> None:
    with ProxyProcess(tmp_path, config(fake, strict_model=True)) as proxy:
        fake.set_behaviour("named-model", "status", status=503)
        with pytest.raises(openai.APIStatusError):
            client(proxy).chat.completions.create(model="named", messages=HI)
        assert upstream_models(fake) == {"named-model"}
        routed = client(proxy).chat.completions.create(model="auto", messages=HI)
        assert routed.choices[0].message.content
        debug = httpx.post(
            proxy.base_url + "/router/debug",
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            json={"model": "auto", "messages": HI},
        ).json()
        costs = [c["estimated_cost"] for c in debug["candidates"]]
        assert all(isinstance(c, int | float) for c in costs), costs  # numbers, not strings


@pytest.mark.parametrize(
    ("retry_after", "headers", "expect"),
    [(7, {}, 7), (None, {"x-ratelimit-reset-requests": "6s"}, 6), (None, {}, 1)],
    ids=["retry-after", "openai-reset", "none"],
)
def test_upstream_429_relayed_with_retry_after(
    proxy: ProxyProcess,
    fake: FakeOpenAI,
    retry_after: int | None,
    headers: dict[str, str],
    expect: int,
) -> None:
    fake.set_behaviour(
        "named-model", "status", status=429, retry_after=retry_after, headers=headers
    )
    response = httpx.post(
        proxy.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {MASTER_KEY}", "x-omni-strict-model": "1"},
        json={"model": "named", "messages": HI},
        timeout=30,
    )
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"]
    assert response.headers["retry-after"] == str(expect)


def test_limit_and_budget_messages_read_like_people_write(proxy: ProxyProcess) -> None:
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    base = proxy.base_url

    def org_key(name: str, **limits: Any) -> str:
        org = httpx.post(base + "/organizations", headers=admin, json={"name": name, **limits})
        assert org.status_code in (200, 201), org.text
        key = httpx.post(
            base + "/api-keys", headers=admin, json={"org_id": org.json()["id"], **limits}
        )
        assert key.status_code in (200, 201), key.text
        return str(key.json()["key"])

    broke = openai.OpenAI(
        base_url=base, api_key=org_key("broke", monthly_budget_usd=0), max_retries=0
    )
    with pytest.raises(openai.RateLimitError) as info:
        broke.chat.completions.create(model="other", messages=HI)
    assert "budget of $0.00 is spent" in info.value.message
    slow = openai.OpenAI(base_url=base, api_key=org_key("slow", rpm_limit=2), max_retries=0)
    for _ in range(2):
        slow.chat.completions.create(model="other", messages=HI)
    with pytest.raises(openai.RateLimitError) as limited:
        slow.chat.completions.create(model="other", messages=HI)
    seconds = int(limited.value.response.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert f"try again in {seconds}s" in limited.value.message
