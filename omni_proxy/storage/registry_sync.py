"""Keeping the in-memory registry in step with the ``models`` table.

At start the config's models are written to the table; afterwards every instance re-reads
the table in the background and swaps in a new ``Registry`` when it changed, so a model
added or repriced in the database reaches every instance without a restart — and the
request path never reads the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from ..registry import Registry, model_info
from ..types import ModelInfo

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("omni_proxy.registry")


def _row(m: Any) -> dict[str, Any]:
    return {
        "name": m.name,
        "provider": m.provider,
        "model": m.model,
        "cost_input": m.cost_input,
        "cost_output": m.cost_output,
        "avg_latency_ms": m.avg_latency_ms,
        "strengths": list(m.strengths),
        "supports_functions": m.supports_functions,
        "supports_vision": m.supports_vision,
        "max_tokens": m.max_tokens,
        "kind": m.kind,
    }


def _keep_price_details(fresh: ModelInfo, owner: ModelInfo | None) -> ModelInfo:
    """The table stores input and output prices only: while they are unchanged, keep the
    cached-token and reasoning prices and the price's source that the registry had."""
    if owner is not None and owner.deployments:
        fresh = replace(fresh, deployments=owner.deployments)  # config only, never the table
    if owner is None or (fresh.cost_input, fresh.cost_output) != (
        owner.cost_input,
        owner.cost_output,
    ):
        return fresh
    return replace(
        fresh,
        cost_cached_input=owner.cost_cached_input,
        cost_reasoning=owner.cost_reasoning,
        price_source=owner.price_source,
    )


class RegistrySync:
    def __init__(self, services: Services, db: Any, interval_s: float = 10.0) -> None:
        self.services = services
        self.db = db
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        registry: Registry = self.services.registry
        await self.db.seed_models([_row(m) for m in registry])
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="omni-registry-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # the database may blip; keep the registry we have
                log.warning("registry refresh failed: %s", exc)

    async def refresh(self) -> bool:
        """Swap in the table's registry if it differs; True when it did."""
        current: Registry = self.services.registry
        providers = self.services.providers
        rows = await self.db.list_models()
        models = []
        for row in rows:
            if providers.get(row["provider"]) is None:
                continue  # a provider this instance is not configured for
            owner = current.get(row["name"])
            try:
                fresh_model = model_info(row, owned_by=owner.owned_by if owner else None)
            except ValueError as exc:  # a hand-edited row the config schema would refuse
                log.warning("skipping model %r from the database: %s", row["name"], exc)
                continue
            models.append(_keep_price_details(fresh_model, owner))
        if not models or tuple(models) == tuple(current):
            return False
        try:
            fresh = Registry(models, current.config)
        except ConfigError as exc:
            log.warning("ignoring the models table: %s", exc)
            return False
        self.services.pipeline.registry = fresh
        log.info("registry refreshed from the database: %d models", len(fresh))
        return True
