"""Per-key budgets over a period, and the org soft-budget alert.

A key with ``max_budget_usd`` may spend that much per ``budget_period`` (UTC ``daily``,
``weekly`` from Monday, ``monthly``, or ``total``); past it its requests get 429
``insufficient_quota``, as an org over its monthly budget does. Spend is kept in memory,
added as requests finish and merged (largest wins) with the database's sum in the
background: nothing here waits on I/O on the request path.

An org's ``soft_budget_usd`` never refuses anything: the first time this month's spend
reaches it, ``soft_budget_crossed`` logs a warning, counts ``omni_soft_budget_alerts_total``
and calls every function given to ``on_soft_budget`` (the hook for webhooks and the like).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..errors import ProxyError

log = logging.getLogger("omni_proxy.budgets")

#: ``fn(org_id, soft_budget_usd, spend_usd)``: called once per org and month on crossing.
SoftBudgetListener = Callable[[str, Decimal, Decimal], None]
_listeners: list[SoftBudgetListener] = []


def on_soft_budget(listener: SoftBudgetListener) -> SoftBudgetListener:
    """Call ``listener`` whenever an org's spend first reaches its soft budget in a month."""
    _listeners.append(listener)
    return listener


def soft_budget_crossed(org_id: str, soft: Decimal, spend: Decimal) -> None:
    """Log, count, and tell every listener (a listener's failure is logged, not raised)."""
    from ..server.metrics import SOFT_BUDGET_ALERTS

    log.warning(
        "org %s reached its soft budget: $%s spent this month (soft budget $%s)",
        org_id,
        spend,
        soft,
    )
    SOFT_BUDGET_ALERTS.inc()
    for listener in list(_listeners):
        try:
            listener(org_id, soft, spend)
        except Exception:
            log.exception("a soft-budget listener failed")


def period_start(period: str, now: datetime) -> datetime:
    """The UTC start of the budget period holding ``now``."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return datetime(1970, 1, 1, tzinfo=UTC)


def period_end(period: str, start: datetime) -> float:
    """When the period that began at ``start`` ends, as a timestamp (inf for ``total``)."""
    if period == "daily":
        return (start + timedelta(days=1)).timestamp()
    if period == "weekly":
        return (start + timedelta(days=7)).timestamp()
    if period == "monthly":
        nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return nxt.timestamp()
    return float("inf")


class KeyBudgets:
    """Each budgeted key's spend in its current period."""

    def __init__(self) -> None:
        self.spend: dict[str, Decimal] = {}
        #: key id -> (budget, period, the period's start and end as timestamps)
        self.keys: dict[str, tuple[Decimal, str, float, float]] = {}

    def admit(self, key_id: str, budget: Decimal, period: str, now: float) -> None:
        """Raise 429 ``insufficient_quota`` when the key has spent its period's budget."""
        known = self.keys.get(key_id)
        if known is None or now >= known[3] or known[:2] != (budget, period):
            start = period_start(period, datetime.fromtimestamp(now, UTC))
            if known is not None and known[2] != start.timestamp():
                self.spend.pop(key_id, None)  # a new period
            self.keys[key_id] = (budget, period, start.timestamp(), period_end(period, start))
        if self.spend.get(key_id, Decimal(0)) >= budget:
            raise ProxyError(
                429,
                f"You exceeded your current quota: this key's {period} budget of ${budget} "
                "is spent.",
                type="insufficient_quota",
                code="insufficient_quota",
                headers={"x-should-retry": "false"},
                retryable=False,
            )

    def add(self, key_id: str | None, cost: Decimal) -> None:
        if key_id is not None and cost and key_id in self.keys:
            self.spend[key_id] = self.spend.get(key_id, Decimal(0)) + cost

    async def refresh(self, db: Any) -> None:
        """Merge the database's sums for every budgeted key (each a lower bound)."""
        by_start: dict[float, list[str]] = {}
        for key_id, (_, _, start, _) in self.keys.items():
            by_start.setdefault(start, []).append(key_id)
        for start, key_ids in by_start.items():
            since = datetime.fromtimestamp(start, UTC)
            for key_id, value in (await db.key_spend_since(key_ids, since)).items():
                self.spend[key_id] = max(self.spend.get(key_id, Decimal(0)), value)
