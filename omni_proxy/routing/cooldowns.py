"""Sharing model cooldowns between instances through Redis.

``Health`` decides locally and never waits on Redis: a cooldown that starts here is
published (fire and forget, with the cooldown as its TTL), and a background loop pulls the
cooldowns other instances published into the local table about once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from .health import Health

log = logging.getLogger("omni_proxy.cooldowns")


class SharedCooldowns:
    def __init__(
        self,
        health: Health,
        limiter: Any,
        models: Any,
        *,
        prefix: str = "omni:cooldown:",
        interval_s: float = 1.0,
        balancer: Any = None,
        deployments: Any = None,
    ) -> None:
        self.health = health
        #: Deployment cooldowns (omni_proxy/routing/deployments.py) are shared the same way, under
        #: ``<prefix>dep:<id>``; ``deployments`` is a callable: current deployment ids.
        self.balancer = balancer
        self.deployments = deployments
        self.limiter = limiter  # owns the Redis connection and knows whether Redis is up
        self.models = models  # callable: current model names
        self.prefix = prefix
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.health.on_cooldown = self._publish
        if self.balancer is not None:
            self.balancer.on_cooldown = lambda dep, s: self._publish("dep:" + dep, s)
        self._task = asyncio.create_task(self._loop(), name="omni-cooldowns")

    async def stop(self) -> None:
        self.health.on_cooldown = None
        if self.balancer is not None:
            self.balancer.on_cooldown = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _redis(self) -> Any:
        return self.limiter.redis if self.limiter.redis_ok else None

    def _publish(self, model: str, seconds: float) -> None:
        redis = self._redis()
        if redis is None:
            return
        task = asyncio.ensure_future(
            redis.set(self.prefix + model, "1", px=max(1, int(seconds * 1000)))
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def pull(self) -> None:
        redis = self._redis()
        if redis is None:
            return
        names = list(self.models())
        deps = ["dep:" + d for d in self.deployments()] if self.deployments is not None else []
        if not names and not deps:
            return
        pipe = redis.pipeline(transaction=False)
        for name in names + deps:
            pipe.pttl(self.prefix + name)
        ttls = await pipe.execute()
        now = time.monotonic()
        for name, ttl in zip(names + deps, ttls, strict=True):
            if not isinstance(ttl, int) or ttl <= 0:
                continue
            if name.startswith("dep:") and name in deps:
                self.balancer.adopt(name[4:], now + ttl / 1000)
            else:
                self.health.adopt(name, now + ttl / 1000)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.pull()
            except Exception as exc:
                log.debug("cooldown sync failed: %s", exc)
