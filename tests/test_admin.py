"""Admin and usage routes through the real app (lifespan included), on both dialects:
authentication, permissions, org isolation, key revocation, rate limits and budgets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.config import load_config
from tests.test_storage_support import db_url

__all__ = ["db_url"]

MASTER = "sk-omni-test-master-admin-0123"
CHAT = {"model": "auto", "messages": [{"role": "user", "content": "hello there"}]}


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    config = load_config(env={"OMNI_DATABASE_URL": db_url, "OMNI_MASTER_KEY": MASTER}, demo=True)
    with TestClient(create_app(config)) as c:
        yield c


def make_org(client: TestClient, name: str, **fields: Any) -> str:
    r = client.post("/v1/organizations", json={"name": name, **fields}, headers=auth(MASTER))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_key(client: TestClient, org_id: str, perms: list[str], **fields: Any) -> dict[str, Any]:
    r = client.post(
        "/v1/api-keys",
        json={"org_id": org_id, "permissions": perms, **fields},
        headers=auth(MASTER),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["key"].startswith("sk-omni-")
    return body


def assert_error(r: Any, status: int, type_: str, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["type"] == type_
    if code is not None:
        assert body["error"]["code"] == code
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "request_id" in body


def test_admin_routes_need_a_valid_admin_key(client: TestClient) -> None:
    org = make_org(client, "acme")
    reader = make_key(client, org, ["read", "write"])["key"]
    for method, path in [
        ("GET", "/v1/organizations"),
        ("POST", "/v1/organizations"),
        ("GET", "/v1/api-keys"),
        ("POST", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys/key_x"),
        ("DELETE", f"/v1/organizations/{org}"),
    ]:
        kw = {"json": {"name": "z"}} if method == "POST" else {}
        assert_error(
            client.request(method, path, **kw), 401, "invalid_request_error", "invalid_api_key"
        )
        assert_error(
            client.request(method, path, headers=auth("sk-omni-abcdefgh-wrong"), **kw),
            401,
            "invalid_request_error",
            "invalid_api_key",
        )
        assert_error(
            client.request(method, path, headers=auth(reader), **kw), 403, "permission_error"
        )
    assert client.get("/v1/organizations", headers={"x-api-key": MASTER}).status_code == 200


def test_org_crud(client: TestClient) -> None:
    org = make_org(client, "acme", monthly_budget_usd=12.5, rpm_limit=60)
    r = client.post("/v1/organizations", json={"name": "acme"}, headers=auth(MASTER))
    assert r.status_code == 409
    assert_error(
        client.post("/v1/organizations", json={"name": ""}, headers=auth(MASTER)),
        400,
        "invalid_request_error",
    )
    assert_error(
        client.post("/v1/organizations", json={"name": "b", "rpm_limit": -1}, headers=auth(MASTER)),
        400,
        "invalid_request_error",
    )
    r = client.patch(f"/v1/organizations/{org}", json={"tpm_limit": 500}, headers=auth(MASTER))
    assert r.status_code == 200 and r.json()["tpm_limit"] == 500 and r.json()["rpm_limit"] == 60
    assert r.json()["monthly_budget_usd"] == 12.5
    r = client.post(f"/v1/organizations/{org}", json={"name": "acme2"}, headers=auth(MASTER))
    assert r.json()["name"] == "acme2"
    listed = client.get("/v1/organizations", headers=auth(MASTER)).json()["data"]
    names = [o["name"] for o in listed]
    assert names == ["acme2"]
    key = make_key(client, org, ["read", "write"])["key"]
    assert client.get("/v1/models", headers=auth(key)).status_code == 200
    assert client.delete(f"/v1/organizations/{org}", headers=auth(MASTER)).status_code == 200
    assert client.delete(f"/v1/organizations/{org}", headers=auth(MASTER)).status_code == 404
    assert client.get("/v1/organizations", headers=auth(MASTER)).json()["data"] == []
    # Deleting the org revoked its keys at once.
    assert client.get("/v1/models", headers=auth(key)).status_code == 401


def test_key_lifecycle_through_the_api(client: TestClient) -> None:
    org = make_org(client, "acme")
    created = make_key(client, org, ["read"], name="dash")
    key = created["key"]
    assert client.get("/v1/models", headers=auth(key)).status_code == 200
    assert client.get("/v1/models", headers={"x-api-key": key}).status_code == 200
    # A read key cannot call a write endpoint.
    assert_error(
        client.post("/v1/chat/completions", json=CHAT, headers=auth(key)), 403, "permission_error"
    )
    listed = client.get("/v1/api-keys", headers=auth(MASTER)).json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and "secret_hash" not in listed[0]
    assert key not in str(listed)
    r = client.delete(f"/v1/api-keys/{created['id']}", headers=auth(MASTER))
    assert r.status_code == 200
    assert_error(
        client.get("/v1/models", headers=auth(key)), 401, "invalid_request_error", "invalid_api_key"
    )
    assert client.delete(f"/v1/api-keys/{created['id']}", headers=auth(MASTER)).status_code == 404
    bad = client.post(
        "/v1/api-keys", json={"org_id": org, "permissions": ["root"]}, headers=auth(MASTER)
    )
    assert_error(bad, 400, "invalid_request_error")
    assert (
        client.post("/v1/api-keys", json={"org_id": "org_nope"}, headers=auth(MASTER)).status_code
        == 400
    )
    by_name = client.post("/v1/api-keys", json={"org": "newco"}, headers=auth(MASTER))
    assert by_name.status_code == 201 and by_name.json()["org_name"] == "newco"


def test_expired_key_is_refused(client: TestClient) -> None:
    org = make_org(client, "acme")
    # Whole seconds: +2 leaves at least one second of validity whatever the fraction now.
    expires = int(time.time()) + 2
    key = make_key(client, org, ["read"], expires_at=expires)["key"]
    assert client.get("/v1/models", headers=auth(key)).status_code == 200
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    assert client.get("/v1/models", headers=auth(key)).status_code == 401


def test_org_admins_see_only_their_org(client: TestClient) -> None:
    a, b = make_org(client, "a"), make_org(client, "b")
    admin_a = make_key(client, a, ["read", "write", "admin"])["key"]
    key_b = make_key(client, b, ["read", "write"])
    orgs = client.get("/v1/organizations", headers=auth(admin_a)).json()["data"]
    assert [o["id"] for o in orgs] == [a]
    keys = client.get("/v1/api-keys", headers=auth(admin_a)).json()["data"]
    assert {k["org_id"] for k in keys} == {a}
    assert client.get(f"/v1/api-keys?org_id={b}", headers=auth(admin_a)).status_code == 403
    assert client.get(f"/v1/api-keys/{key_b['id']}", headers=auth(admin_a)).status_code == 404
    assert client.get(f"/v1/organizations/{b}", headers=auth(admin_a)).status_code == 404
    # Cannot revoke, create in, update or delete another org.
    assert client.delete(f"/v1/api-keys/{key_b['id']}", headers=auth(admin_a)).status_code == 404
    assert client.get("/v1/models", headers=auth(key_b["key"])).status_code == 200
    r = client.post("/v1/api-keys", json={"org_id": b}, headers=auth(admin_a))
    assert_error(r, 403, "permission_error")
    r = client.post("/v1/api-keys", json={"org": "b"}, headers=auth(admin_a))
    assert_error(r, 403, "permission_error")
    assert (
        client.post("/v1/organizations", json={"name": "c"}, headers=auth(admin_a)).status_code
        == 403
    )
    assert (
        client.patch(
            f"/v1/organizations/{b}", json={"rpm_limit": 1}, headers=auth(admin_a)
        ).status_code
        == 403
    )
    assert client.delete(f"/v1/organizations/{b}", headers=auth(admin_a)).status_code == 403
    # But can manage keys of its own org.
    r = client.post("/v1/api-keys", json={"permissions": "read"}, headers=auth(admin_a))
    assert r.status_code == 201 and r.json()["org_id"] == a


def wait_usage(client: TestClient, key: str, n: int, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(60):
        r = client.get("/v1/usage", params=params, headers=auth(key))
        assert r.status_code == 200, r.text
        body = r.json()
        if body["total_requests"] >= n:
            return body
        time.sleep(0.05)
    return body


def test_usage_is_per_org_and_recorded_from_real_requests(client: TestClient) -> None:
    a, b = make_org(client, "a"), make_org(client, "b")
    key_a = make_key(client, a, ["read", "write"])["key"]
    key_b = make_key(client, b, ["read", "write"])["key"]
    for _ in range(3):
        r = client.post("/v1/chat/completions", json=CHAT, headers=auth(key_a))
        assert r.status_code == 200
    bad = client.post("/v1/chat/completions", json={**CHAT, "model": "nope"}, headers=auth(key_a))
    assert bad.status_code == 404
    assert client.post("/v1/chat/completions", json=CHAT, headers=auth(key_b)).status_code == 200

    usage_a = wait_usage(client, key_a, 4)
    assert usage_a["org_id"] == a
    assert usage_a["total_requests"] == 4
    assert usage_a["success_rate"] == 0.75
    assert usage_a["total_tokens"] > 0 and usage_a["total_cost"] > 0
    assert usage_a["total_savings"] == pytest.approx(
        usage_a["total_premium_cost"] - usage_a["total_cost"]
    )
    assert len(usage_a["by_day"]) == 30
    assert sum(d["requests"] for d in usage_a["by_day"]) == 4
    assert sum(m["requests"] for m in usage_a["by_model"]) == 4
    assert sum(t["requests"] for t in usage_a["by_task"]) >= 3
    usage_b = wait_usage(client, key_b, 1)
    assert usage_b["total_requests"] == 1

    # Another org's usage is refused, to org keys and org admins alike.
    assert_error(
        client.get("/v1/usage", params={"org_id": b}, headers=auth(key_a)), 403, "permission_error"
    )
    admin_a = make_key(client, a, ["admin"])["key"]
    assert client.get("/v1/usage", params={"org_id": b}, headers=auth(admin_a)).status_code == 403
    # The master key may look at any org.
    assert wait_usage(client, MASTER, 1, org_id=b)["total_requests"] == 1


def test_usage_dates(client: TestClient) -> None:
    r = client.get("/v1/usage", params={"from": "2025-02-30"}, headers=auth(MASTER))
    assert_error(r, 400, "invalid_request_error", "invalid_date")
    r = client.get(
        "/v1/usage", params={"from": "2025-03-05", "to": "2025-03-01"}, headers=auth(MASTER)
    )
    assert_error(r, 400, "invalid_request_error")
    r = client.get(
        "/v1/usage", params={"from": "2025-03-01", "to": "2025-03-07"}, headers=auth(MASTER)
    )
    assert r.status_code == 200
    assert [d["date"] for d in r.json()["by_day"]][0::6] == ["2025-03-01", "2025-03-07"]
    assert_error(client.get("/v1/usage"), 401, "invalid_request_error", "invalid_api_key")


def test_rate_limit_and_budget_through_the_app(client: TestClient) -> None:
    org = make_org(client, "limited", rpm_limit=2)
    key = make_key(client, org, ["read", "write"])["key"]
    statuses = [client.post("/v1/chat/completions", json=CHAT, headers=auth(key)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert_error(statuses[2], 429, "requests", "rate_limit_exceeded")
    assert int(statuses[2].headers["retry-after"]) >= 1
    assert statuses[2].headers["x-ratelimit-limit-requests"] == "2"

    broke = make_org(client, "broke", monthly_budget_usd=0.0000001)
    key = make_key(client, broke, ["read", "write"])["key"]
    assert client.post("/v1/chat/completions", json=CHAT, headers=auth(key)).status_code == 200
    r = client.post("/v1/chat/completions", json=CHAT, headers=auth(key))
    assert_error(r, 429, "insufficient_quota", "insufficient_quota")
    assert r.headers["x-should-retry"] == "false"


def test_concurrent_requests_are_each_recorded_exactly_once(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    org = make_org(client, "busy")
    key = make_key(client, org, ["read", "write"])["key"]
    bodies = [CHAT, {**CHAT, "stream": True}, {**CHAT, "model": "no-such-model"}] * 10

    def send(body: dict[str, Any]) -> int:
        r = client.post("/v1/chat/completions", json=body, headers=auth(key))
        if body.get("stream"):
            assert "[DONE]" in r.text
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, bodies))
    assert statuses.count(200) == 20 and statuses.count(404) == 10
    usage = wait_usage(client, key, len(bodies))
    time.sleep(0.4)  # anything extra would have landed by now
    usage = wait_usage(client, key, len(bodies))
    assert usage["total_requests"] == len(bodies)
    assert usage["success_rate"] == pytest.approx(20 / 30)
