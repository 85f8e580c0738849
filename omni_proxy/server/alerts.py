"""Alerts: signed JSON POSTs to the operator's ``alerts.webhook_url``.

Nothing here runs on the request path. A watcher task looks at in-memory state once a
``check_s`` (the limiter's spend against each org's budget, the health's cooldowns, the
recorder's lag) and queues an alert on each crossing; a sender task delivers the queue with
exponential back-off (tenacity). The same kind and subject is sent at most once per
``dedupe_s``. The URL comes from the operator's config only.

Each POST's body is ``{"id", "kind", "subject", "at", "data"}``; with ``alerts.secret`` set,
``x-omni-signature: sha256=<hex>`` is HMAC-SHA256 over ``<x-omni-timestamp>.<body>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ..config import AlertSettings
from .metrics import ALERTS, child

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("omni_proxy.alerts")

#: Share of the monthly budget that counts as the soft budget when an org sets none.
SOFT_SHARE = Decimal("0.8")
MAX_QUEUED = 1000


class _Retry(Exception):
    """A delivery worth trying again (a connection error, a 429 or a 5xx)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Alerter:
    """Queue and deliver alerts; ``emit`` never blocks and never raises."""

    def __init__(self, settings: AlertSettings, *, wait_max_s: float = 30.0) -> None:
        assert settings.webhook_url is not None
        self.settings = settings
        self.url = settings.webhook_url
        self.wait_max_s = wait_max_s
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._sent_at: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def emit(self, kind: str, subject: str, data: dict[str, Any] | None = None) -> bool:
        """Queue an alert unless the same one went out within ``dedupe_s``; True if queued."""
        now = time.monotonic()
        last = self._sent_at.get((kind, subject))
        if last is not None and now - last < self.settings.dedupe_s:
            child(ALERTS, kind, "deduplicated").inc()
            return False
        if len(self._queue) >= MAX_QUEUED:
            child(ALERTS, kind, "dropped").inc()
            return False
        self._sent_at[(kind, subject)] = now
        self._queue.append(
            {
                "id": "alert_" + uuid.uuid4().hex[:24],
                "kind": kind,
                "subject": subject,
                "at": time.time(),
                "data": data or {},
            }
        )
        self._wake.set()
        return True

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)
        self._task = asyncio.create_task(self._send_loop(), name="omni-alerts")

    async def stop(self, drain_s: float = 2.0) -> None:
        """Give queued alerts a moment to go out, then stop."""
        deadline = time.monotonic() + drain_s
        while self._queue and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _send_loop(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            alert = self._queue[0]
            try:
                await self._deliver(alert)
                child(ALERTS, alert["kind"], "delivered").inc()
            except Exception as exc:
                child(ALERTS, alert["kind"], "failed").inc()
                log.warning("alert %s (%s) not delivered: %s", alert["id"], alert["kind"], exc)
            self._queue.popleft()

    async def _deliver(self, alert: dict[str, Any]) -> None:
        body = orjson.dumps(alert)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=wait_exponential_jitter(multiplier=0.5, max=self.wait_max_s, jitter=0.5),
            retry=retry_if_exception_type((_Retry, httpx.TransportError)),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._post(body)

    async def _post(self, body: bytes) -> None:
        assert self._client is not None
        stamp = str(int(time.time()))
        headers = {"content-type": "application/json", "x-omni-timestamp": stamp}
        if self.settings.secret:
            headers["x-omni-signature"] = sign(self.settings.secret, stamp, body)
        response = await self._client.post(self.url, content=body, headers=headers)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise RuntimeError(f"webhook refused the alert: {response.status_code}")


class Watcher:
    """Turns state crossings into alerts: budgets, cooldowns, a stuck recorder."""

    def __init__(self, services: Services, alerter: Alerter, *, check_s: float = 1.0) -> None:
        self.services = services
        self.alerter = alerter
        self.check_s = check_s
        self._levels: dict[str, int] = {}  # org -> 0 below soft, 1 soft, 2 spent
        self._month: str | None = None
        self._cooling: set[str] | None = None
        self._stuck = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="omni-alert-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                self.check()
            except Exception:
                log.exception("alert check failed")
            await asyncio.sleep(self.check_s)

    def check(self) -> None:
        self._budgets()
        self._cooldowns()
        self._recording()

    def _budgets(self) -> None:
        limiter, keys = self.services.limiter, self.services.keys
        if limiter is None or keys is None:
            return
        if self._month != limiter.month:  # a new month starts every org below again
            self._month, self._levels = limiter.month, {}
        for org_id, (limits, name) in keys.org_limits().items():
            budget = limits.get("monthly_budget_usd")
            if budget is None:
                continue
            budget = Decimal(str(budget))
            soft = limits.get("soft_budget_usd")
            soft = Decimal(str(soft)) if soft is not None else budget * SOFT_SHARE
            spent = limiter.spend.get(org_id, Decimal(0))
            level = 2 if spent >= budget else 1 if spent >= soft else 0
            before = self._levels.get(org_id, 0)
            self._levels[org_id] = level
            for crossed in range(before + 1, level + 1):
                kind = "budget.spent" if crossed == 2 else "budget.soft_crossed"
                data = {
                    "org_id": org_id,
                    "org_name": name,
                    "spend_usd": str(spent),
                    "budget_usd": str(budget),
                    "soft_budget_usd": str(soft),
                    "month": limiter.month,
                }
                self.alerter.emit(kind, f"{org_id}:{limiter.month}", data)

    def _cooldowns(self) -> None:
        pipeline = self.services.pipeline
        now = set(pipeline.health.active_cooldowns())
        if self._cooling is not None:
            for model in sorted(now - self._cooling):
                provider = _provider_of(pipeline, model)
                self.alerter.emit("model.cooldown", model, {"model": model, "provider": provider})
            for model in sorted(self._cooling - now):
                provider = _provider_of(pipeline, model)
                self.alerter.emit("model.recovered", model, {"model": model, "provider": provider})
        self._cooling = now

    def _recording(self) -> None:
        recorder = self.services.recorder
        if recorder is None:
            return
        lag = recorder.lag_s
        stuck = lag >= self.alerter.settings.stuck_after_s
        if stuck and not self._stuck:
            data = {"lag_s": round(lag, 1), "queued": recorder.depth}
            self.alerter.emit("recording.stuck", "recorder", data)
        elif self._stuck and not stuck:
            self.alerter.emit("recording.recovered", "recorder", {"queued": recorder.depth})
        self._stuck = stuck


def _provider_of(pipeline: Any, model: str) -> str | None:
    info = pipeline.registry.get(model) if model in pipeline.registry else None
    return info.provider if info is not None else None


async def start(services: Services, settings: AlertSettings) -> None:
    """Start the sender and the watcher when a webhook URL is configured."""
    if settings.webhook_url is None:
        return
    alerter = Alerter(settings)
    await alerter.start()
    watcher = Watcher(services, alerter)
    await watcher.start()
    services.alerts = alerter
    services.alert_watcher = watcher


async def stop(services: Services) -> None:
    watcher, services.alert_watcher = services.alert_watcher, None
    if watcher is not None:
        await watcher.stop()
    alerter, services.alerts = services.alerts, None
    if alerter is not None:
        await alerter.stop()
