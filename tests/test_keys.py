"""Keys: format, keyed hash only, cache lifecycle (revocation within seconds), CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from omni_proxy.accounts import keys as keys_mod
from omni_proxy.accounts.keys import (
    KeyCache,
    KeyRequestError,
    create_key,
    ensure_org,
    generate_key,
    has_active_keys,
    hash_key,
    parse_permissions,
    parse_prefix,
)
from omni_proxy.config import load_config
from tests.conftest import ROOT
from tests.test_storage_support import db, db_url

__all__ = ["db", "db_url"]


def test_key_format_and_prefix() -> None:
    key, prefix = generate_key()
    assert key.startswith(f"sk-omni-{prefix}-") and len(prefix) == 8
    assert parse_prefix(key) == prefix
    assert parse_prefix("sk-omni-demo-abc") is None
    assert parse_prefix("sk-proj-abcdefgh-xyz") is None
    assert parse_prefix("sk-omni-ABCDEFGH-xyz") is None
    assert generate_key()[0] != key


def test_permissions_parsing() -> None:
    assert parse_permissions("admin,read") == ["read", "admin"]
    assert parse_permissions(None) == ["read", "write"]
    with pytest.raises(KeyRequestError):
        parse_permissions("read,root")


def test_hash_is_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_KEY_SECRET", "one")
    a = hash_key("sk-omni-abcdefgh-secret")
    monkeypatch.setenv("OMNI_KEY_SECRET", "two")
    assert hash_key("sk-omni-abcdefgh-secret") != a


async def test_key_lifecycle_create_auth_revoke(db) -> None:
    org = await ensure_org(db, "acme")
    assert (await ensure_org(db, "acme"))["id"] == org["id"]
    key, row = await create_key(db, org["id"], name="ci", permissions="read,write")
    cache = KeyCache(db, refresh_s=0.1)
    await cache.start()
    try:
        principal = cache.lookup(key)
        assert principal is not None
        assert principal.org_id == org["id"] and principal.key_id == row["id"]
        assert principal.permissions == frozenset({"read", "write"})
        assert principal.org_name == "acme"
        assert not principal.can("admin")
        # Same prefix, wrong secret.
        assert cache.lookup(key[:-3] + "xyz") is None
        # Revoked elsewhere (another instance, the CLI): gone within the refresh interval.
        assert await db.revoke_key(row["id"]) is True
        assert await db.revoke_key(row["id"]) is False
        for _ in range(40):
            if cache.lookup(key) is None:
                break
            await asyncio.sleep(0.05)
        assert cache.lookup(key) is None
    finally:
        await cache.stop()


async def test_expired_and_deleted_org_keys_are_refused(db) -> None:
    org = await ensure_org(db, "acme")
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired, _ = await create_key(db, org["id"], expires_at=past)
    future, _ = await create_key(db, org["id"], expires_at=datetime.now(UTC) + timedelta(days=1))
    cache = KeyCache(db)
    await cache.refresh()
    assert cache.lookup(expired) is None
    assert cache.lookup(future) is not None
    await db.delete_org(org["id"])
    await cache.refresh()
    assert cache.lookup(future) is None


async def test_limits_travel_with_the_principal(db) -> None:
    org = await db.create_org("lim", rpm_limit=10, tpm_limit=1000)
    await db.update_org(org["id"], {"monthly_budget_usd": "5"})
    key, _ = await create_key(db, org["id"], rpm_limit=3)
    cache = KeyCache(db)
    await cache.refresh()
    p = cache.lookup(key)
    assert p is not None
    assert p.limits["key_rpm"] == 3 and p.limits["org_rpm"] == 10
    assert p.limits["org_tpm"] == 1000 and p.limits["monthly_budget_usd"] == Decimal(5)
    assert "key_tpm" not in p.limits


class CountingDB:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if callable(attr):

            async def wrapped(*a: Any, **kw: Any) -> Any:
                self.calls += 1
                return await attr(*a, **kw)

            return wrapped
        return attr


async def test_unknown_keys_never_reach_the_database(db) -> None:
    counting = CountingDB(db)
    cache = KeyCache(counting)  # type: ignore[arg-type]
    await cache.refresh()
    before = counting.calls
    for i in range(2000):
        assert cache.lookup(f"sk-omni-{i:08d}-nope") is None
        assert cache.lookup(f"garbage-{i}") is None
    assert counting.calls == before


async def test_database_holds_only_the_hash(db, tmp_path: Path) -> None:
    org = await ensure_org(db, "acme")
    key, row = await create_key(db, org["id"])
    secret = key.split("-", 3)[3]
    rows = await db.fetch("SELECT * FROM api_keys")
    text = repr(rows)
    assert row["prefix"] in text
    assert key not in text and secret not in text
    assert hash_key(key) in text
    if db.dialect == "sqlite":
        await db.close()
        for f in tmp_path.iterdir():
            data = f.read_bytes()
            assert key.encode() not in data and secret.encode() not in data


# -- CLI ------------------------------------------------------------------------------------
def cli(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    env["OMNI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env["OMNI_KEY_SECRET"] = "cli-test-secret"
    proc = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_migrate_and_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "0001_init.sql" in cli(tmp_path, "migrate").stdout
    assert "up to date" in cli(tmp_path, "migrate").stdout

    created = cli(
        tmp_path,
        "keys",
        "create",
        "--org",
        "acme",
        "--name",
        "laptop",
        "--permissions",
        "read,admin",
    )
    key = created.stdout.strip().splitlines()[-1]
    assert parse_prefix(key) is not None
    second = cli(tmp_path, "keys", "create", "--org", "other").stdout.strip().splitlines()[-1]
    assert second != key

    listing = cli(tmp_path, "keys", "list").stdout.strip().splitlines()
    assert listing[0].split()[:3] == ["id", "org", "name"]
    assert len(listing) == 3
    assert key not in "\n".join(listing) and key.split("-", 3)[3] not in "\n".join(listing)
    mine = [line for line in listing[1:] if line.split()[1] == "acme"]
    assert len(mine) == 1
    key_id, _, name, prefix, perms = mine[0].split()[:5]
    assert (name, prefix, perms) == ("laptop", parse_prefix(key), "read,admin")
    assert key_id.startswith("key_")

    only_other = cli(tmp_path, "keys", "list", "--org", "other").stdout.strip().splitlines()
    assert len(only_other) == 2 and only_other[1].split()[1] == "other"

    monkeypatch.setenv("OMNI_KEY_SECRET", "cli-test-secret")
    config = load_config(env={"OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    assert has_active_keys(config) is True

    revoked = cli(tmp_path, "keys", "revoke", key_id)
    assert key_id in revoked.stdout
    again = cli(tmp_path, "keys", "revoke", key_id, check=False)
    assert again.returncode != 0
    listing = cli(tmp_path, "keys", "list", "--org", "acme").stdout.strip().splitlines()
    assert listing[1].split()[-1] != "-"  # revoked column filled

    # The key, hashed under the CLI's secret, authenticates in the server's cache.
    async def check() -> tuple[Any, Any]:
        from omni_proxy.storage import open_database

        d = await open_database(config.database_url)
        cache = KeyCache(d)
        await cache.refresh()
        await d.close()
        return cache.lookup(second), cache.lookup(key)

    ok, gone = asyncio.run(check())
    assert ok is not None and gone is None


def test_cli_rejects_bad_permissions(tmp_path: Path) -> None:
    proc = cli(tmp_path, "keys", "create", "--org", "x", "--permissions", "root", check=False)
    assert proc.returncode == 2 and "root" in proc.stderr


def test_has_active_keys_on_a_missing_database(tmp_path: Path) -> None:
    config = load_config(env={"OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"})
    assert has_active_keys(config) is False
    assert not (tmp_path / "none.db").exists()


def test_default_secret_warns_once(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.delenv("OMNI_KEY_SECRET", raising=False)
    monkeypatch.setattr(keys_mod, "_warned", False)
    with caplog.at_level("WARNING", logger="omni_proxy.accounts.keys"):
        keys_mod.server_secret()
        keys_mod.server_secret()
    assert sum("OMNI_KEY_SECRET" in r.message for r in caplog.records) == 1
