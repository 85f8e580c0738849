"""Governance: the audit log (storage on both dialects, the admin API, the CLI), per-org
guardrail overrides, and guardrail findings stored as counts only."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from omni_proxy.storage import open_database
from omni_proxy.testing import STUB_CONFIG, proxy_app, stub_plugin
from tests.test_storage_support import db, db_url, make_record  # noqa: F401

MASTER = {"authorization": "Bearer sk-test-master"}


async def test_audit_pages_filter_and_scope(db: Any) -> None:  # noqa: F811
    for i in range(5):
        await db.add_audit(
            {
                "org_id": "org_a" if i % 2 == 0 else "org_b",
                "actor": "master",
                "action": "key.create",
                "target_type": "api_key",
                "target_id": f"key_{i}",
                "after": {"name": f"k{i}", "monthly_budget_usd": 1.5},
            }
        )
    page, more = await db.list_audit(org_id="org_a", limit=2)
    assert [e["target_id"] for e in page] == ["key_4", "key_2"] and more
    rest, more = await db.list_audit(org_id="org_a", limit=2, after=page[-1]["id"])
    assert [e["target_id"] for e in rest] == ["key_0"] and not more
    assert rest[0]["after"] == {"name": "k0", "monthly_budget_usd": 1.5}
    everything, _ = await db.list_audit(limit=50)
    assert len(everything) == 5
    only, _ = await db.list_audit(target_id="key_3")
    assert [e["org_id"] for e in only] == ["org_b"]
    now = datetime.now(UTC)
    assert (
        len(
            (await db.list_audit(since=now - timedelta(hours=1), until=now + timedelta(hours=1)))[0]
        )
        == 5
    )
    assert (await db.list_audit(since=now + timedelta(hours=1)))[0] == []


async def test_findings_are_stored_as_counts(db: Any) -> None:  # noqa: F811
    record = make_record()
    record.guardrails = {"EMAIL": 2, "API_KEY": 1}
    plain = make_record()
    await db.write_records([record, plain])
    rows = await db._fetch(
        "SELECT id, guardrails FROM requests WHERE id IN (%s, %s)",
        (record.request_id, plain.request_id),
    )
    stored = {r["id"]: r["guardrails"] for r in rows}
    assert orjson.loads(stored[record.request_id]) == {"EMAIL": 2, "API_KEY": 1}
    assert stored[plain.request_id] is None


def _log(client: Any, headers: dict[str, str], **params: Any) -> Any:
    return client.get("/v1/audit-log", headers=headers, params=params)


def test_admin_changes_are_audited_and_orgs_see_only_their_own(tmp_path: Path) -> None:
    config = {**STUB_CONFIG, "database_url": f"sqlite:///{tmp_path}/a.db"}
    with proxy_app(config, plugins=[stub_plugin], master_key="sk-test-master") as client:
        a = client.post("/v1/organizations", json={"name": "a"}, headers=MASTER).json()
        b = client.post("/v1/organizations", json={"name": "b"}, headers=MASTER).json()
        made = client.post(
            "/v1/api-keys", json={"org_id": a["id"], "permissions": "admin"}, headers=MASTER
        ).json()
        a_admin = {"authorization": f"Bearer {made['key']}"}
        client.post(
            f"/v1/organizations/{a['id']}", json={"monthly_budget_usd": 12.5}, headers=MASTER
        )
        other = client.post("/v1/api-keys", json={"org_id": b["id"]}, headers=MASTER).json()
        plain = client.post("/v1/api-keys", json={"name": "app"}, headers=a_admin).json()
        assert client.delete(f"/v1/api-keys/{plain['id']}", headers=a_admin).status_code == 200

        mine = _log(client, a_admin)
        assert mine.status_code == 200, mine.text
        entries = mine.json()["data"]
        assert {e["org_id"] for e in entries} == {a["id"]}
        actions = [e["action"] for e in entries]
        assert actions == ["key.revoke", "key.create", "org.update", "key.create", "org.create"]
        revoke, created, budget = entries[0], entries[1], entries[2]
        assert revoke["actor"] == f"key:{made['id']}" and revoke["actor_key_id"] == made["id"]
        assert revoke["before"] == {"revoked_at": None} and revoke["after"]["revoked_at"]
        assert created["after"]["name"] == "app" and "key" not in created["after"]
        assert made["key"] not in mine.text and plain["key"] not in mine.text
        assert budget["actor"] == "master" and budget["actor_key_id"] is None
        assert budget["before"] == {"monthly_budget_usd": None}
        assert budget["after"] == {"monthly_budget_usd": "12.50000000"}  # exact decimal text
        assert entries[0]["source"] == "testclient"

        assert _log(client, a_admin, org_id=b["id"]).status_code == 403
        theirs = _log(client, MASTER, org_id=b["id"]).json()["data"]
        assert [e["target_id"] for e in theirs] == [other["id"], b["id"]]
        page = _log(client, MASTER, limit=2).json()
        assert len(page["data"]) == 2 and page["has_more"]
        nxt = _log(client, MASTER, limit=2, after=page["last_id"]).json()
        assert nxt["data"][0]["id"] not in {e["id"] for e in page["data"]}
        assert _log(client, MASTER, limit=0).status_code == 400
        assert _log(client, {"authorization": f"Bearer {plain['key']}"}).status_code == 401


def test_org_guardrail_override_applies_to_its_keys_and_is_audited(tmp_path: Path) -> None:
    config = {**STUB_CONFIG, "database_url": f"sqlite:///{tmp_path}/g.db"}
    with proxy_app(config, plugins=[stub_plugin], master_key="sk-test-master") as client:
        org = client.post("/v1/organizations", json={"name": "strict"}, headers=MASTER).json()
        key = client.post("/v1/api-keys", json={"org_id": org["id"]}, headers=MASTER).json()
        user = {"authorization": f"Bearer {key['key']}"}
        body = {"model": "auto", "messages": [{"role": "user", "content": "mail a@b.example"}]}
        assert client.post("/v1/chat/completions", json=body, headers=user).status_code == 200

        bad = client.post(
            f"/v1/organizations/{org['id']}",
            json={"guardrails": {"pii": {"mode": "shout"}}},
            headers=MASTER,
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "guardrails"
        set_ = client.post(
            f"/v1/organizations/{org['id']}",
            json={"guardrails": {"pii": {"mode": "block"}}},
            headers=MASTER,
        )
        assert set_.status_code == 200 and set_.json()["guardrails"] == {"pii": {"mode": "block"}}
        refused = client.post("/v1/chat/completions", json=body, headers=user)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "pii_detected"
        assert "a@b.example" not in refused.text
        # The master key's principal belongs to no org with an override: unchanged.
        assert client.post("/v1/chat/completions", json=body, headers=MASTER).status_code == 200

        entry = _log(client, MASTER, action="org.update").json()["data"][0]
        assert entry["before"] == {"guardrails": None}
        assert entry["after"] == {"guardrails": {"pii": {"mode": "block"}}}
        client.post(f"/v1/organizations/{org['id']}", json={"guardrails": None}, headers=MASTER)
        assert client.post("/v1/chat/completions", json=body, headers=user).status_code == 200


def test_cli_key_commands_are_audited(tmp_path: Path) -> None:
    env = {"OMNI_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "omni_proxy.cli", "keys"]
    out = subprocess.run(
        [*run, "create", "--org", "ops"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    key_id = out.stdout.split("created key ", 1)[1].split()[0]
    done = subprocess.run(
        [*run, "revoke", key_id], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

    async def entries() -> list[dict[str, Any]]:
        database = await open_database(env["OMNI_DATABASE_URL"])
        try:
            return (await database.list_audit())[0]
        finally:
            await database.close()

    import asyncio

    log = asyncio.run(entries())
    assert [e["action"] for e in log] == ["key.revoke", "key.create", "org.create"]
    assert all(e["actor"].startswith("cli:") and e["source"] == "cli" for e in log)
    assert key not in orjson.dumps(log).decode()


def test_the_dashboard_shows_an_orgs_audit_log_to_its_admins(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from tests.test_dashboard_support import sign_in

    config = {**STUB_CONFIG, "database_url": f"sqlite:///{tmp_path}/d.db"}
    with proxy_app(config, plugins=[stub_plugin], master_key="sk-test-master") as api:
        a = api.post("/v1/organizations", json={"name": "a"}, headers=MASTER).json()
        b = api.post("/v1/organizations", json={"name": "b"}, headers=MASTER).json()
        admin = api.post(
            "/v1/api-keys", json={"org_id": a["id"], "permissions": "admin"}, headers=MASTER
        ).json()
        writer = api.post("/v1/api-keys", json={"org_id": a["id"], "name": "w"}, headers=MASTER)
        api.post("/v1/api-keys", json={"org_id": b["id"], "name": "theirs"}, headers=MASTER)
        browser = TestClient(api.app)
        assert browser.get("/dashboard/audit", follow_redirects=False).status_code in (302, 303)
        sign_in(browser, admin["key"])
        page = browser.get("/dashboard/audit")
        assert page.status_code == 200, page.text
        assert page.text.count('data-testid="audit-row"') == 3  # org.create, two key.create
        assert writer.json()["id"] in page.text and "theirs" not in page.text
        assert admin["key"] not in page.text and ">Audit log<" in page.text
        plain = TestClient(api.app)
        sign_in(plain, writer.json()["key"])
        assert plain.get("/dashboard/audit").status_code == 403
