"""Rate limits and budgets: in memory, in Redis (shared, atomic), and the fallback between."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from omni_proxy.accounts.limits import Limiter, retry_after
from omni_proxy.errors import ProxyError
from omni_proxy.types import CallContext, Principal
from tests.conftest import need_service
from tests.test_storage_support import db, db_url, make_record

__all__ = ["db", "db_url"]

REDIS_URL = "redis://127.0.0.1:6379/0"


def principal(key: str = "key_1", org: str = "org_1", **limits: Any) -> Principal:
    return Principal(org_id=org, key_id=key, limits=limits)


def ctx(prompt: int = 1) -> CallContext:
    c = CallContext(request_id="req_" + uuid.uuid4().hex, endpoint="/v1/chat/completions")
    c.prompt_estimate = prompt
    return c


async def admitted(limiter: Limiter, p: Principal, n: int, prompt: int = 1) -> int:
    ok = 0
    for _ in range(n):
        try:
            await limiter.admit(p, ctx(prompt))
            ok += 1
        except ProxyError as err:
            assert err.status == 429
    return ok


async def test_key_rpm_in_memory() -> None:
    limiter = Limiter()
    p = principal(key_rpm=3)
    assert await admitted(limiter, p, 3) == 3
    with pytest.raises(ProxyError) as info:
        await limiter.admit(p, ctx())
    err = info.value
    assert (err.status, err.type, err.code) == (429, "requests", "rate_limit_exceeded")
    assert int(err.headers["retry-after"]) >= 1
    assert err.headers["x-ratelimit-limit-requests"] == "3"
    assert err.headers["x-ratelimit-remaining-requests"] == "0"
    assert err.headers["x-ratelimit-reset-requests"].endswith("s")
    # Another key is not affected.
    assert await admitted(limiter, principal("key_2", key_rpm=3), 3) == 3


async def test_org_rpm_is_shared_by_its_keys() -> None:
    limiter = Limiter()
    a, b = principal("key_a", org_rpm=4), principal("key_b", org_rpm=4)
    assert await admitted(limiter, a, 3) == 3
    assert await admitted(limiter, b, 3) == 1


async def test_refused_requests_do_not_consume_the_other_limit() -> None:
    limiter = Limiter()
    p = principal(key_rpm=100, org_rpm=2)
    assert await admitted(limiter, p, 10) == 2
    # The key counter only counted the two admitted requests.
    assert await admitted(limiter, principal(key_rpm=2, org="org_other"), 5) == 0


async def test_tpm_counts_settled_tokens() -> None:
    limiter = Limiter()
    p = principal(key_tpm=1000)
    await limiter.admit(p, ctx(100))
    limiter.settle(make_record("org_1", key_id="key_1", prompt=600, completion=300))
    with pytest.raises(ProxyError) as info:
        await limiter.admit(p, ctx(200))  # 900 used + 200 > 1000
    assert info.value.headers["x-ratelimit-limit-tokens"] == "1000"
    await limiter.admit(p, ctx(50))  # still fits


async def test_master_key_is_unlimited() -> None:
    limiter = Limiter()
    master = Principal(org_id="default", key_id=None, permissions=frozenset({"admin"}))
    assert await admitted(limiter, master, 500) == 500


async def test_budget_exhausted_gives_insufficient_quota() -> None:
    limiter = Limiter()
    p = principal(monthly_budget_usd=Decimal("0.01"))
    await limiter.admit(p, ctx())
    limiter.settle(make_record("org_1", cost="0.006"))
    await limiter.admit(p, ctx())
    limiter.settle(make_record("org_1", cost="0.004"))
    with pytest.raises(ProxyError) as info:
        await limiter.admit(p, ctx())
    err = info.value
    assert (err.status, err.type, err.code) == (429, "insufficient_quota", "insufficient_quota")
    assert err.headers["x-should-retry"] == "false"
    # Other orgs are unaffected.
    await limiter.admit(principal(org="org_2", monthly_budget_usd=Decimal("0.01")), ctx())


async def test_budget_is_seeded_from_the_database(db) -> None:
    await db.write_records([make_record("org_rich", cost="3"), make_record("org_rich", cost="2")])
    limiter = Limiter(db)
    await limiter.start()
    try:
        assert limiter.spend["org_rich"] == Decimal("5")
        with pytest.raises(ProxyError):
            await limiter.admit(principal(org="org_rich", monthly_budget_usd=Decimal(5)), ctx())
        await limiter.admit(principal(org="org_rich", monthly_budget_usd=Decimal(6)), ctx())
    finally:
        await limiter.stop()


def test_retry_after_is_sane() -> None:
    # Full current window, nothing before: wait past the boundary until half decays.
    assert retry_after(0, 10, 1, 10, now=30.0) == pytest.approx(30 + 0.1 * 60)
    # Previous window full, current empty: wait until enough of it slid out.
    assert retry_after(10, 0, 1, 10, now=0.0) == pytest.approx(0.1 * 60)


# -- Redis -----------------------------------------------------------------------------------
@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    need_service("127.0.0.1", 6379, "Redis")
    import redis.asyncio as aioredis

    prefix = f"omni-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_limit_is_shared_by_instances(redis_prefix: str) -> None:
    one = Limiter(redis_url=REDIS_URL, prefix=redis_prefix)
    two = Limiter(redis_url=REDIS_URL, prefix=redis_prefix)
    await one.start()
    await two.start()
    try:
        assert one.redis_ok and two.redis_ok
        p = principal(key_rpm=10)
        results = await asyncio.gather(*(admitted(lim, p, 1) for lim in [one, two] * 15))
        assert sum(results) == 10  # atomic: never more than the limit across instances
        assert one.memory._counts == {} and two.memory._counts == {}
    finally:
        await one.stop()
        await two.stop()


@pytest.mark.redis
async def test_redis_tpm_and_spend(redis_prefix: str) -> None:
    one = Limiter(redis_url=REDIS_URL, prefix=redis_prefix)
    two = Limiter(redis_url=REDIS_URL, prefix=redis_prefix)
    await one.start()
    await two.start()
    try:
        p = principal(key_tpm=100, monthly_budget_usd=Decimal("1"))
        await one.admit(p, ctx(10))
        await two.admit(p, ctx(10))
        one.settle(make_record("org_1", key_id="key_1", prompt=80, completion=15, cost="1"))
        await asyncio.sleep(0.1)  # settle schedules its Redis writes
        with pytest.raises(ProxyError) as info:
            await two.admit(principal(key_tpm=100), ctx(10))
        assert info.value.code == "rate_limit_exceeded"
        await two.refresh_spend()  # the other instance learns the spend through Redis
        with pytest.raises(ProxyError) as info:
            await two.admit(p, ctx(1))
        assert info.value.code == "insufficient_quota"
    finally:
        await one.stop()
        await two.stop()


@pytest.mark.redis
async def test_redis_failure_falls_back_to_memory_and_recovers(
    redis_prefix: str, caplog: Any
) -> None:
    limiter = Limiter(redis_url=REDIS_URL, prefix=redis_prefix, redis_retry_s=0.05)
    await limiter.start()
    try:
        real = limiter._check_script

        async def broken(**kw: Any) -> Any:
            raise ConnectionError("redis went away")

        limiter._check_script = broken
        p = principal(key_rpm=2)
        with caplog.at_level("WARNING", logger="omni_proxy.accounts.limits"):
            assert await admitted(limiter, p, 5) == 2  # still limited, in memory
        assert not limiter.redis_ok
        assert any("falling back" in r.message for r in caplog.records)
        limiter._check_script = real
        for _ in range(50):
            if limiter.redis_ok:
                break
            await asyncio.sleep(0.02)
        assert limiter.redis_ok  # went back once Redis answered
        assert await admitted(limiter, principal("key_fresh", key_rpm=2), 3) == 2
    finally:
        await limiter.stop()


async def test_unreachable_redis_at_start_uses_memory(caplog: Any) -> None:
    limiter = Limiter(redis_url="redis://127.0.0.1:1/0", redis_retry_s=10)
    with caplog.at_level("WARNING", logger="omni_proxy.accounts.limits"):
        await limiter.start()
    try:
        assert not limiter.redis_ok
        assert any("unreachable" in r.message for r in caplog.records)
        assert await admitted(limiter, principal(key_rpm=1), 3) == 1
    finally:
        await limiter.stop()


async def test_budget_reservations_hold_concurrent_admissions_and_settle() -> None:
    """Each admission holds its estimated cost until it settles: concurrent requests cannot
    all slip in under the same remaining budget, and settling swaps the hold for the real
    cost (issue 15)."""
    limiter = Limiter()
    limiter.estimate = lambda c: Decimal("0.01")
    p = principal(monthly_budget_usd=Decimal("0.05"))
    held = [ctx() for _ in range(8)]
    admitted_ctxs = []
    for c in held:
        try:
            await limiter.admit(p, c)
            admitted_ctxs.append(c)
        except ProxyError as err:
            assert err.code == "insufficient_quota"
    assert len(admitted_ctxs) == 5  # 5 x 0.01 held: the 6th sees the budget spent
    assert limiter.reserved == Decimal("0.05")
    for c in admitted_ctxs:  # each really cost less than its estimate
        limiter.settle(make_record("org_1", request_id=c.request_id, cost="0.002"))
    assert limiter.reserved == 0
    assert limiter.spend["org_1"] == Decimal("0.010")
    await limiter.admit(p, ctx())  # room again


async def test_unsettled_reservations_lapse(monkeypatch: Any) -> None:
    import omni_proxy.accounts.limits as limits

    monkeypatch.setattr(limits, "RESERVATION_TTL_S", -1.0)  # lapsed as soon as made
    limiter = Limiter()
    limiter.estimate = lambda c: Decimal("1")
    p = principal(monthly_budget_usd=Decimal("1"))
    await limiter.admit(p, ctx())  # a request that never settles (lost to a crash)
    with pytest.raises(ProxyError):
        await limiter.admit(p, ctx())
    limiter.release_expired()  # what the background loop does
    assert limiter.spend["org_1"] == 0
    await limiter.admit(p, ctx())
