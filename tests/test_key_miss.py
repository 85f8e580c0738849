"""A key the cache has not loaded yet (created from the CLI or another instance) works at
once, looked up in the database single-flight, with misses remembered and look-ups rate
bounded (issue 15: such keys were refused for up to 2 s)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from omni_proxy.accounts.keys import KeyCache, create_key, ensure_org
from omni_proxy.storage import open_database
from tests.conftest import ROOT, ProxyProcess
from tests.test_storage_support import db_url

__all__ = ["db_url"]

SECRET = "key-miss-secret"


def test_a_key_created_from_the_cli_works_at_once(tmp_path: Path) -> None:
    env = {"OMNI_KEY_SECRET": SECRET}
    with ProxyProcess(tmp_path, {"demo": True}, env=env) as proxy:
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
        cli_env.update(OMNI_DATABASE_URL=proxy.env["OMNI_DATABASE_URL"], OMNI_KEY_SECRET=SECRET)
        for i in range(3):
            made = subprocess.run(
                [sys.executable, "-m", "omni_proxy.cli", "keys", "create", "--org", f"cli{i}"],
                env=cli_env,
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
                check=True,
            )
            key = made.stdout.strip().splitlines()[-1]
            r = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text  # not 401 until the next reload
            wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
            r = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {wrong}"})
            assert r.status_code == 401


class Counting:
    """The real database, counting the key look-ups that reach it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    async def active_keys(self, prefix: str | None = None) -> list[dict[str, Any]]:
        if prefix is not None:
            self.calls += 1
            await asyncio.sleep(0.01)
        return await self.inner.active_keys(prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_misses_are_single_flight_remembered_and_rate_bounded(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("OMNI_KEY_SECRET", SECRET)
    db = await open_database(f"sqlite:///{tmp_path / 'k.db'}")
    await db.migrate()
    try:
        counting = Counting(db)
        cache = KeyCache(counting)  # type: ignore[arg-type]
        await cache.refresh()
        org = await ensure_org(db, "late")
        key, _ = await create_key(db, org["id"])  # after the cache loaded: unknown to it
        answers = await asyncio.gather(*(cache.lookup_missing(key) for _ in range(50)))
        assert all(a is not None and a.org_id == org["id"] for a in answers)
        assert counting.calls == 1  # one query for 50 concurrent requests
        assert cache.knows(key)

        counting.calls = 0
        unknown = "sk-omni-zzzzzzzz-" + "x" * 30
        for _ in range(20):
            assert await cache.lookup_missing(unknown) is None
        assert counting.calls == 1  # the miss is remembered

        counting.calls = 0
        flood = [f"sk-omni-{i:08d}-{'y' * 30}" for i in range(300)]
        results = await asyncio.gather(*(cache.lookup_missing(k) for k in flood))
        assert results == [None] * 300
        assert counting.calls <= 21  # a burst of at most MISS_LOOKUPS_PER_S (+1 refilled)
    finally:
        await db.close()


class Reloads:
    """The real database, counting full reloads of the key table."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.full = 0

    async def active_keys(self, prefix: str | None = None, **kw: Any) -> list[dict[str, Any]]:
        if prefix is None and not kw:
            self.full += 1
        return await self.inner.active_keys(prefix, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_refresh_reloads_only_what_changed(db_url: str, monkeypatch: Any) -> None:
    from decimal import Decimal

    monkeypatch.setenv("OMNI_KEY_SECRET", SECRET)
    db = await open_database(db_url)
    await db.migrate()
    try:
        org = await ensure_org(db, "inc")
        keep, _ = await create_key(db, org["id"])
        doomed, doomed_row = await create_key(db, org["id"])
        counting = Reloads(db)
        cache = KeyCache(counting)  # type: ignore[arg-type]
        await cache.refresh()
        assert counting.full == 1 and cache.lookup(doomed) is not None
        fresh, _ = await create_key(db, org["id"])
        await db.revoke_key(doomed_row["id"])
        await db.update_org(org["id"], {"monthly_budget_usd": Decimal("7"), "rpm_limit": 9})
        await cache.refresh()
        assert counting.full == 1  # incremental: no second full reload
        assert cache.lookup(doomed) is None  # revoked
        got = cache.lookup(fresh)
        assert got is not None  # created since
        assert got.limits["monthly_budget_usd"] == Decimal("7") and got.limits["org_rpm"] == 9
        kept = cache.lookup(keep)
        assert kept is not None and kept.limits["org_rpm"] == 9  # org change applied
        await db.delete_org(org["id"])
        await cache.refresh()
        assert cache.lookup(keep) is None and cache.lookup(fresh) is None
    finally:
        await db.close()
