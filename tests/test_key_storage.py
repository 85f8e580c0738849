"""The key-control columns (sql/*/0007_gateway.sql) on both dialects: allow-lists, key
budgets and their spend, rotation with a grace period, org soft budgets."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omni_proxy.accounts.keys import KeyCache, create_key, hash_key, rotate_key
from omni_proxy.storage import Database
from tests.test_storage_support import db, db_url, make_record  # noqa: F401 - fixtures


async def test_key_controls_round_trip(db: Database) -> None:  # noqa: F811
    org = await db.create_org("acme", soft_budget_usd=Decimal("2.5"))
    assert org["soft_budget_usd"] == Decimal("2.5")
    key, row = await create_key(
        db, org["id"], name="ci", models=["a", "b"], max_budget_usd=Decimal("3")
    )
    assert row["models"] == ["a", "b"] and row["budget_period"] == "monthly"
    assert row["max_budget_usd"] == Decimal("3") and row["alias"] == "ci"
    changed = await db.update_key(
        row["id"], {"models": None, "budget_period": "weekly", "name": "ci-2"}
    )
    assert changed is not None and changed["models"] is None
    assert (changed["budget_period"], changed["alias"]) == ("weekly", "ci-2")
    assert await db.update_key(row["id"], {"name": "x"}, org_id="org_other") is None

    cache = KeyCache(db)
    await cache.refresh()
    principal = cache.lookup(key)
    assert principal is not None and principal.limits["key_budget_period"] == "weekly"
    assert principal.limits["soft_budget_usd"] == Decimal("2.5")

    rotated = await rotate_key(db, row["id"], grace_s=3600)
    assert rotated is not None
    new, after = rotated
    assert after["id"] == row["id"] and after["previous_key_valid_until"] is not None
    await cache.refresh()
    assert cache.lookup(new) is not None and cache.lookup(key) is not None  # grace period
    again = await rotate_key(db, row["id"])
    assert again is not None
    await cache.refresh()
    assert cache.lookup(again[0]) is not None
    assert cache.lookup(new) is None and cache.lookup(key) is None
    assert await rotate_key(db, "key_missing") is None
    assert hash_key(again[0]) != hash_key(new)


async def test_key_spend_since_sums_a_keys_rows(db: Database) -> None:  # noqa: F811
    now = time.time()
    old = now - 3 * 86400
    await db.write_records(
        [
            make_record("org_a", key_id="key_1", cost="0.25", created_at=now),
            make_record("org_a", key_id="key_1", cost="0.50", created_at=now),
            make_record("org_a", key_id="key_1", cost="9", created_at=old),
            make_record("org_a", key_id="key_2", cost="1", created_at=now),
        ]
    )
    since = datetime.now(UTC) - timedelta(days=1)
    spend = await db.key_spend_since(["key_1", "key_2", "key_3"], since)
    assert spend == {"key_1": Decimal("0.75"), "key_2": Decimal("1")}
