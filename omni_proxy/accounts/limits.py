"""Rate limits (requests and tokens per minute, per key and per org) and monthly budgets.

Windows are sliding-window counters: the current minute's count plus the previous minute's,
weighted by how much of it still overlaps the last 60 seconds. With ``redis_url`` the
counters live in Redis and are checked and incremented by one Lua script (atomic, timed by
the Redis clock: one limit across every instance; one Redis, not a cluster). Without it —
or while Redis is unreachable, with a logged warning — they live in this process's memory.

* RPM: a request is admitted if it fits under every applicable limit, and counted at once.
* TPM: a request is admitted if the window's tokens plus its prompt estimate fit; the
  actual tokens are added when it finishes (``settle``).
* Budgets: each org's spend this month (UTC) is kept in memory, seeded from the database
  and refreshed in the background (and shared through Redis when configured); once it
  reaches ``monthly_budget_usd`` requests get 429 ``insufficient_quota``. Admission also
  reserves the request's estimated cost (``estimate``: its model's prices, or the priciest
  model's for ``auto``, for its prompt and ``max_tokens`` times ``n``, else
  ``DEFAULT_OUTPUT_ESTIMATE`` tokens) and ``settle`` swaps it for the real cost, so
  concurrent requests cannot all slip in under the same remaining budget: overspend on
  one instance is bounded by one request's estimate (40 at once on a budget worth 5
  served 26 before). Reservations are per instance; across instances the shared spend
  (Redis, the database) catches up within the refresh interval.

Limits come from ``Principal.limits`` (filled from the key and org rows by the key cache);
a principal without limits — the master key — is unlimited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..errors import ProxyError
from ..types import CallContext, ModelInfo, Principal, RequestRecord
from .budgets import KeyBudgets, soft_budget_crossed

log = logging.getLogger("omni_proxy.limits")

WINDOW_S = 60
#: Endpoints that are rate limited but call no provider: nothing to reserve or settle.
NO_UPSTREAM = frozenset({"/v1/router/debug"})
#: Output tokens assumed for a request that did not bound its answer with ``max_tokens``.
DEFAULT_OUTPUT_ESTIMATE = 256
#: A reservation that is never settled (a request lost to a crash) is dropped after this.
RESERVATION_TTL_S = 600.0
_UNITS = Decimal("100000000")  # money in Redis: integer units of 1e-8 USD

_CHECK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local w = math.floor(now / 60)
local f = (now - w * 60) / 60
local n = #KEYS
for i = 1, n do
  local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (w - 1)) or '0')
  local curr = tonumber(redis.call('GET', KEYS[i] .. ':' .. w) or '0')
  local limit = tonumber(ARGV[(i - 1) * 3 + 1])
  local need = tonumber(ARGV[(i - 1) * 3 + 2])
  if prev * (1 - f) + curr + need > limit then
    return {i, tostring(prev), tostring(curr), tostring(now)}
  end
end
for i = 1, n do
  local incr = tonumber(ARGV[(i - 1) * 3 + 3])
  if incr > 0 then
    local k = KEYS[i] .. ':' .. w
    redis.call('INCRBY', k, incr)
    redis.call('EXPIRE', k, 180)
  end
end
return {0}
"""

_ADD_LUA = """
local t = redis.call('TIME')
local w = math.floor(tonumber(t[1]) / 60)
for i = 1, #KEYS do
  local k = KEYS[i] .. ':' .. w
  redis.call('INCRBY', k, ARGV[1])
  redis.call('EXPIRE', k, 180)
end
return 0
"""


@dataclass(slots=True, frozen=True)
class Check:
    key: str  # counter name, e.g. "omni:rl:k:key_123:rpm"
    kind: str  # "requests" | "tokens"
    scope: str  # "key" | "org"
    limit: int
    need: int
    incr: int


def _used(prev: float, curr: float, now: float) -> float:
    f = (now % WINDOW_S) / WINDOW_S
    return prev * (1 - f) + curr


def retry_after(prev: float, curr: float, need: int, limit: int, now: float) -> float:
    """Seconds until ``need`` more fits under ``limit`` (no new traffic assumed)."""
    into = now % WINDOW_S
    room = limit - need - curr
    if room >= 0 and prev > 0:
        # Within this window, once enough of the previous window has slid out.
        f_needed = 1 - room / prev
        return max(0.0, f_needed * WINDOW_S - into)
    # After the boundary the current window becomes the previous one and decays.
    rest = WINDOW_S - into
    if curr <= 0:
        return rest
    f_needed = max(0.0, 1 - (limit - need) / curr)
    return rest + f_needed * WINDOW_S


def usd(value: Any) -> str:
    """Money for people: "$10.00", "$0.005", never "$0E-8"."""
    d = Decimal(str(value))
    if d == d.quantize(Decimal("0.01")):
        return f"${d:,.2f}"
    return "$" + format(d.normalize(), "f")


def current_month(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m")


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def estimate_cost(models: Iterable[ModelInfo], ctx: CallContext) -> Decimal:
    """What ``ctx`` may cost at most, roughly: the named model's prices (the priciest
    model's when the router picks), for the prompt and the bounded (or default) answer."""
    out = ctx.output_estimate if ctx.output_estimate is not None else DEFAULT_OUTPUT_ESTIMATE
    prompt = max(0, ctx.prompt_estimate)
    named = None
    priciest = Decimal(0)
    for model in models:
        cost = model.cost(prompt, out)
        if model.name == ctx.requested_model:
            named = cost
            break
        priciest = max(priciest, cost)
    return named if named is not None else priciest


class MemoryWindows:
    """The sliding-window counters in this process."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._last_gc = 0

    def _get(self, key: str, window: int) -> int:
        return self._counts.get((key, window), 0)

    def _gc(self, window: int) -> None:
        if window != self._last_gc:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
            self._last_gc = window

    def check(self, checks: list[Check], now: float) -> tuple[int, float, float] | None:
        """Admit (counting) or return (failed index, prev, curr) without counting anything."""
        w = int(now // WINDOW_S)
        self._gc(w)
        for i, c in enumerate(checks):
            prev, curr = self._get(c.key, w - 1), self._get(c.key, w)
            if _used(prev, curr, now) + c.need > c.limit:
                return i, prev, curr
        for c in checks:
            if c.incr:
                self._counts[(c.key, w)] = self._get(c.key, w) + c.incr
        return None

    def add(self, keys: list[str], amount: int, now: float) -> None:
        w = int(now // WINDOW_S)
        for key in keys:
            self._counts[(key, w)] = self._get(key, w) + amount


class Limiter:
    """Admission (``admit``) and accounting (``settle``) for the pipeline."""

    def __init__(
        self,
        db: Any = None,
        redis_url: str | None = None,
        *,
        prefix: str = "omni:",
        refresh_s: float = 5.0,
        redis_retry_s: float = 2.0,
    ) -> None:
        self.db = db
        self.redis_url = redis_url
        self.prefix = prefix
        self.refresh_s = refresh_s
        self.redis_retry_s = redis_retry_s
        self.memory = MemoryWindows()
        self.redis: Any = None
        self.redis_ok = False
        self._check_script: Any = None
        self._add_script: Any = None
        self.month = current_month()
        self._month_ends = 0.0
        self.spend: dict[str, Decimal] = {}
        self._budget_orgs: set[str] = set()
        self.key_budgets = KeyBudgets()
        #: Orgs with a soft budget -> it; and the orgs already alerted this month.
        self._soft: dict[str, Decimal] = {}
        self._soft_alerted: set[str] = set()
        self._tpm_keys: dict[str, list[str]] = {}  # key_id/org_id -> tpm counter names
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        #: A request's estimated cost, for budget reservations (None: reserve nothing).
        self.estimate: Callable[[CallContext], Decimal] | None = None
        #: request id -> (org, reserved USD, when it lapses): held in ``spend`` until settled.
        self._held: dict[str, tuple[str, Decimal, float]] = {}

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self.redis_url:
            import redis.asyncio as aioredis

            self.redis = aioredis.Redis.from_url(
                self.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
            )
            self._check_script = self.redis.register_script(_CHECK_LUA)
            self._add_script = self.redis.register_script(_ADD_LUA)
            await self._probe_redis()
            if not self.redis_ok:
                log.warning(
                    "redis at %s is unreachable: rate limits are per instance until it returns",
                    _safe(self.redis_url),
                )
        with contextlib.suppress(Exception):
            await self.refresh_spend()
        self._loop_task = asyncio.create_task(self._loop(), name="omni-limits")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def _loop(self) -> None:
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(self.redis_retry_s if self.redis is not None else self.refresh_s)
            if self.redis is not None:
                # Probed even while healthy: an instance whose traffic never touches Redis
                # (unlimited keys) must still notice it is gone, for /ready to tell the truth.
                was_ok = self.redis_ok
                await self._probe_redis()
                if self.redis_ok and not was_ok:
                    log.warning("redis is back: rate limits are shared again")
                elif was_ok and not self.redis_ok:
                    log.warning("redis is unreachable: falling back to in-memory rate limits")
            self.release_expired()
            if time.monotonic() - last_refresh >= self.refresh_s:
                last_refresh = time.monotonic()
                try:
                    await self.refresh_spend()
                except Exception as exc:
                    log.debug("spend refresh failed: %s", exc)

    async def _probe_redis(self) -> None:
        if not self.redis_ok:
            await self._drop_idle_connections()
        try:
            await self.redis.ping()
            self.redis_ok = True
        except Exception:
            self.redis_ok = False
            await self._drop_idle_connections()

    async def _drop_idle_connections(self) -> None:
        """Pooled connections to a Redis that went away fail at once when next used, and
        redis-py does not retry them: dropped while it is (or was just) down, so that once
        it is back every connection is new and one stale socket cannot send an instance back
        to memory limits (seen as a test failing about 1 run in 20)."""
        with contextlib.suppress(Exception):
            await self.redis.connection_pool.disconnect(inuse_connections=False)

    def _redis_down(self, exc: BaseException) -> None:
        if self.redis_ok:
            log.warning("redis failed (%s): falling back to in-memory rate limits", exc)
        self.redis_ok = False  # the next probe drops the pool's idle connections

    # -- budgets ----------------------------------------------------------------------------
    def _roll_month(self) -> None:
        # Called per request: a float comparison, not a date format, until the month ends.
        if time.time() < self._month_ends:
            return
        now = datetime.now(UTC)
        self._month_ends = next_month_start(now).timestamp()
        month = current_month(now)
        if month != self.month:
            self.month = month
            self.spend = {}
            self._soft_alerted = set()

    def _spend_key(self, org_id: str) -> str:
        return f"{self.prefix}spend:{org_id}:{self.month}"

    async def refresh_spend(self) -> None:
        """Merge the database's (and Redis's) view of this month's spend: each is a lower
        bound of the truth, so the largest wins."""
        self._roll_month()
        merged = dict(self.spend)
        if self.db is not None:
            for org, value in (await self.db.spend_since(month_start())).items():
                merged[org] = max(merged.get(org, Decimal(0)), value)
        if self.redis is not None and self.redis_ok and self._budget_orgs:
            orgs = sorted(self._budget_orgs)
            try:
                values = await self.redis.mget([self._spend_key(o) for o in orgs])
            except Exception as exc:
                self._redis_down(exc)
            else:
                for org, raw in zip(orgs, values, strict=True):
                    if raw is not None:
                        value = Decimal(int(raw)) / _UNITS
                        merged[org] = max(merged.get(org, Decimal(0)), value)
        self.spend = merged
        for org in self._soft:
            self._check_soft(org)
        if self.db is not None and self.key_budgets.keys:
            await self.key_budgets.refresh(self.db)

    def _check_soft(self, org_id: str) -> None:
        soft = self._soft.get(org_id)
        if soft is None or org_id in self._soft_alerted:
            return
        spend = self.spend.get(org_id, Decimal(0))
        if spend >= soft:
            self._soft_alerted.add(org_id)
            soft_budget_crossed(org_id, soft, spend)

    # -- admission --------------------------------------------------------------------------
    def checks_for(self, principal: Principal, prompt_estimate: int) -> list[Check]:
        limits = principal.limits
        out: list[Check] = []
        scopes = (("k", principal.key_id, "key"), ("o", principal.org_id, "org"))
        for short, ident, name in scopes:
            if ident is None:
                continue
            rpm = limits.get(f"{name}_rpm")
            if rpm is not None:
                out.append(
                    Check(f"{self.prefix}rl:{short}:{ident}:rpm", "requests", name, int(rpm), 1, 1)
                )
            tpm = limits.get(f"{name}_tpm")
            if tpm is not None:
                counter = f"{self.prefix}rl:{short}:{ident}:tpm"
                need = min(max(0, prompt_estimate), int(tpm))
                out.append(Check(counter, "tokens", name, int(tpm), need, 0))
        return out

    async def admit(self, principal: Principal, ctx: CallContext) -> None:
        """Raise ``ProxyError`` 429 when the principal is over a budget or a rate limit."""
        limits = principal.limits
        if not limits:
            return
        budget = limits.get("monthly_budget_usd")
        if budget is not None:
            self._roll_month()
            self._budget_orgs.add(principal.org_id)
            if self.spend.get(principal.org_id, Decimal(0)) >= Decimal(str(budget)):
                raise ProxyError(
                    429,
                    "You exceeded your current quota: the organization's monthly budget of "
                    f"{usd(budget)} is spent.",
                    type="insufficient_quota",
                    code="insufficient_quota",
                    headers={"x-should-retry": "false"},
                    retryable=False,
                )
        soft = limits.get("soft_budget_usd")
        if soft is not None:
            self._soft[principal.org_id] = soft
        key_budget = limits.get("key_budget_usd")
        if key_budget is not None and principal.key_id is not None:
            period = limits.get("key_budget_period") or "monthly"
            self.key_budgets.admit(principal.key_id, key_budget, period, time.time())
        checks = self.checks_for(principal, ctx.prompt_estimate)
        if checks:
            await self._admit_rates(principal, checks)
        if budget is not None and ctx.endpoint not in NO_UPSTREAM:
            self._reserve(principal.org_id, ctx)

    async def _admit_rates(self, principal: Principal, checks: list[Check]) -> None:
        for c in checks:
            if c.kind == "tokens":
                owner = principal.key_id if c.scope == "key" else principal.org_id
                if owner is not None:
                    self._tpm_keys.setdefault(owner, [])
                    if c.key not in self._tpm_keys[owner]:
                        self._tpm_keys[owner].append(c.key)
        failed = await self._check(checks)
        if failed is not None:
            raise self._limited(*failed)

    async def _check(self, checks: list[Check]) -> tuple[Check, float, float, float] | None:
        if self.redis is not None and self.redis_ok:
            args: list[int] = []
            for c in checks:
                args += [c.limit, c.need, c.incr]
            try:
                result = await self._check_script(keys=[c.key for c in checks], args=args)
            except Exception as exc:
                self._redis_down(exc)
            else:
                index = int(result[0])
                if index == 0:
                    return None
                prev, curr, now = (float(x) for x in result[1:4])
                return checks[index - 1], prev, curr, now
        now = time.time()
        failed = self.memory.check(checks, now)
        if failed is None:
            return None
        i, prev, curr = failed
        return checks[i], prev, curr, now

    def _limited(self, check: Check, prev: float, curr: float, now: float) -> ProxyError:
        # The sliding-window estimate can ask for more than a window (76 s on a 2-per-minute
        # limit); no client expects to wait longer than the limit's own minute, and a retry
        # that comes early is answered with the rest of the wait.
        wait = min(float(WINDOW_S), retry_after(prev, curr, check.need, check.limit, now))
        seconds = max(1, math.ceil(wait))
        remaining = max(0, math.floor(check.limit - _used(prev, curr, now)))
        kind = check.kind
        scope = "key" if check.scope == "key" else "organization"
        unit = "requests" if kind == "requests" else "tokens"
        return ProxyError(
            429,
            f"Rate limit reached for this {scope}: {check.limit} {unit} per minute. "
            f"Please try again in {seconds}s.",
            type=kind,
            code="rate_limit_exceeded",
            headers={
                "retry-after": str(seconds),
                f"x-ratelimit-limit-{kind}": str(check.limit),
                f"x-ratelimit-remaining-{kind}": str(remaining),
                f"x-ratelimit-reset-{kind}": f"{wait:.3f}s",
            },
            retry_after=float(seconds),
        )

    # -- budget reservations ----------------------------------------------------------------
    def _reserve(self, org_id: str, ctx: CallContext) -> None:
        """Count ``ctx``'s estimated cost as spent until it settles (a request admitted
        several times, one per upstream call, holds the sum)."""
        if self.estimate is None:
            return
        try:
            amount = self.estimate(ctx)
        except Exception:
            log.exception("estimating a request's cost failed")
            return
        if amount <= 0:
            return
        held = self._held.get(ctx.request_id)
        total = amount + (held[1] if held is not None else Decimal(0))
        self._held[ctx.request_id] = (org_id, total, time.monotonic() + RESERVATION_TTL_S)
        self.spend[org_id] = self.spend.get(org_id, Decimal(0)) + amount

    def _release(self, request_id: str) -> None:
        held = self._held.pop(request_id, None)
        if held is not None:
            org_id, amount, _ = held
            self.spend[org_id] = max(Decimal(0), self.spend.get(org_id, Decimal(0)) - amount)

    def release_expired(self) -> None:
        """Drop reservations of requests that never settled."""
        now = time.monotonic()
        for request_id in [r for r, (_, _, lapse) in self._held.items() if lapse < now]:
            self._release(request_id)

    @property
    def reserved(self) -> Decimal:
        return sum((amount for _, amount, _ in self._held.values()), Decimal(0))

    # -- accounting -------------------------------------------------------------------------
    def settle(self, record: RequestRecord) -> None:
        """Add a finished request's tokens and cost (its reservation released); sync, never
        waits on I/O."""
        if self._held:
            self._release(record.request_id)
        if record.org_id is None:
            return
        tokens = record.prompt_tokens + record.completion_tokens
        counters = [
            *self._tpm_keys.get(record.key_id or "", ()),
            *self._tpm_keys.get(record.org_id, ()),
        ]
        cost = record.cost
        if cost:
            self._roll_month()
            self.spend[record.org_id] = self.spend.get(record.org_id, Decimal(0)) + cost
            self.key_budgets.add(record.key_id, cost)
            if record.org_id in self._soft:
                self._check_soft(record.org_id)
        use_redis = self.redis is not None and self.redis_ok
        if counters and tokens:
            if use_redis:
                self._spawn(self._redis_add(counters, tokens))
            else:
                self.memory.add(counters, tokens, time.time())
        if cost and use_redis and record.org_id in self._budget_orgs:
            self._spawn(self._redis_spend(record.org_id, cost))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _redis_add(self, counters: list[str], tokens: int) -> None:
        try:
            await self._add_script(keys=counters, args=[tokens])
        except Exception as exc:
            self._redis_down(exc)
            self.memory.add(counters, tokens, time.time())

    async def _redis_spend(self, org_id: str, cost: Decimal) -> None:
        key = self._spend_key(org_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incrby(key, int(cost * _UNITS))
                pipe.expire(key, 40 * 86400)
                await pipe.execute()
        except Exception as exc:
            self._redis_down(exc)


def _safe(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
