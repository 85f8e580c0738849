"""Each input that gave a bare 500 in issue 15 gets the right 4xx/503 in the documented
shape, against a real proxy."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import assert_contract_error

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config: dict[str, Any] = {
        "providers": {
            # "openai": its preset serves the Responses API natively.
            "openai": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
        },
        "models": [{"name": "cheap", "provider": "openai", "model": "gpt-4o-mini"}],
    }
    with ProxyProcess(tmp_path_factory.mktemp("no500"), config) as running:
        yield running


def no_traceback(proxy: ProxyProcess) -> None:
    assert "Traceback" not in proxy.read_log(), proxy.read_log()[-3000:]


@pytest.mark.parametrize("tools", [{"a": 1}, "x", 5, [1], [{"name": 5}]])
def test_non_array_tools_on_messages(proxy: ProxyProcess, tools: Any) -> None:
    r = httpx.post(
        proxy.base_url + "/messages",
        json={
            "model": "cheap",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": tools,
        },
        headers=AUTH,
    )
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    no_traceback(proxy)


@pytest.mark.parametrize("tools", [{"a": 1}, "x", 5, [1], [{"type": 5}]])
def test_non_array_tools_on_responses(proxy: ProxyProcess, tools: Any) -> None:
    for stream in (False, True):
        r = httpx.post(
            proxy.base_url + "/responses",
            json={"model": "cheap", "input": "hi", "tools": tools, "stream": stream},
            headers=AUTH,
        )
        assert r.status_code == 400, r.text
        assert_contract_error(400, r.json())
        assert r.json()["error"]["param"] is not None
    no_traceback(proxy)


@pytest.mark.parametrize(
    "query",
    [
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"from": "9999-12-30"},
        {"to": "0001-01-01"},
    ],
)
def test_usage_dates_at_the_edges(proxy: ProxyProcess, query: dict[str, str]) -> None:
    r = httpx.get(proxy.base_url + "/usage", params=query, headers=AUTH)
    assert r.status_code == 400, r.text
    assert_contract_error(400, r.json())
    assert r.json()["error"]["param"] in ("from", "to")
    no_traceback(proxy)


def test_dashboard_login_with_many_fields(proxy: ProxyProcess) -> None:
    form = "&".join(f"f{i}=x" for i in range(200))
    r = httpx.post(
        proxy.root + "/dashboard/login",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 403, r.text  # read as no form at all: the sign-in page again
    assert "sign-in form has expired" in r.text
    no_traceback(proxy)


def test_creating_the_same_org_at_once(proxy: ProxyProcess) -> None:
    name = "race-" + uuid.uuid4().hex[:8]
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        r = httpx.post(proxy.base_url + "/organizations", json={"name": name}, headers=AUTH)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses.count(201) == 1 and statuses.count(409) == 7, statuses
    no_traceback(proxy)


def test_nul_in_a_response_id(proxy: ProxyProcess) -> None:
    for method in ("GET", "DELETE"):
        r = httpx.request(method, proxy.base_url + "/responses/resp_%00x", headers=AUTH)
        assert r.status_code == 404, r.text
    r = httpx.post(
        proxy.base_url + "/responses",
        json={"model": "cheap", "input": "hi", "previous_response_id": "resp_\u0000x"},
        headers=AUTH,
    )
    assert r.status_code in (400, 404), r.text
    assert_contract_error(r.status_code, r.json())
    no_traceback(proxy)


@pytest.mark.postgres
def test_nul_ids_and_org_race_on_postgres(fake: FakeOpenAI, tmp_path: Any) -> None:
    from tests.test_storage_support import postgres_database

    with postgres_database() as url:
        config: dict[str, Any] = {
            "providers": {
                "openai": {
                    "plugin": "openai",
                    "base_url": fake.base_url,
                    "api_key": "sk-upstream-test",
                }
            },
            "models": [{"name": "cheap", "provider": "openai", "model": "gpt-4o-mini"}],
        }
        with ProxyProcess(tmp_path, config, env={"OMNI_DATABASE_URL": url}) as pg_proxy:
            for method in ("GET", "DELETE"):
                r = httpx.request(method, pg_proxy.base_url + "/responses/resp_%00x", headers=AUTH)
                assert r.status_code == 404, r.text
            r = httpx.delete(pg_proxy.base_url + "/api-keys/key_%00x", headers=AUTH)
            assert r.status_code == 404, r.text
            test_creating_the_same_org_at_once(pg_proxy)
            no_traceback(pg_proxy)


def test_a_huge_model_name_is_refused_not_echoed(proxy: ProxyProcess) -> None:
    huge = "m" * 1_000_000
    for path, body in (
        ("/chat/completions", {"messages": [{"role": "user", "content": "x"}]}),
        ("/embeddings", {"input": "x"}),
        ("/responses", {"input": "x"}),
        ("/completions", {"prompt": "x"}),
    ):
        r = httpx.post(proxy.base_url + path, json={**body, "model": huge}, headers=AUTH)
        assert r.status_code == 400, (path, r.status_code)
        assert r.json()["error"]["param"] == "model"
        assert len(r.content) < 2000
    assert huge[:10_000] not in proxy.read_log()
