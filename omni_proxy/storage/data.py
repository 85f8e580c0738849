"""Wiring for the data layer (keys, limits, budgets, usage, admin): started in the lifespan.

``start`` runs after migrations and before the first request: it loads the key cache (and
starts its refresher), and registers two plugins: the database-key ``authenticate`` and the
limiter (``admit``, and ``record`` to settle usage). ``stop`` undoes it, before the recorder
flushes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..accounts.keys import KeyCache
from ..accounts.limits import Limiter, estimate_cost
from ..defaults.keyauth import KeyAuthPlugin
from ..defaults.limits import NAME as LIMITS_PLUGIN
from ..defaults.limits import LimitsPlugin
from ..routing.cooldowns import SharedCooldowns
from .registry_sync import RegistrySync

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("omni_proxy.data")

KEYAUTH_PLUGIN = "omni_proxy.defaults.keyauth"


async def start(services: Services) -> None:
    """Start key caches, limiters and refreshers, onto ``services``."""
    config, pm, db, pipeline = services.config, services.pm, services.database, services.pipeline
    cache = KeyCache(db)
    await cache.start()
    plugin = KeyAuthPlugin(cache)
    if pm.has_plugin(KEYAUTH_PLUGIN):
        pm.unregister(name=KEYAUTH_PLUGIN)
    pm.register(plugin, name=KEYAUTH_PLUGIN)
    limiter = Limiter(db, config.redis_url)
    await limiter.start()
    services.keys, services.keyauth, services.limiter = cache, plugin, limiter
    if pm.has_plugin(LIMITS_PLUGIN):
        pm.unregister(name=LIMITS_PLUGIN)
    pm.register(LimitsPlugin(limiter), name=LIMITS_PLUGIN)
    # The registry may be replaced by RegistrySync: read it at each estimate.
    limiter.estimate = lambda ctx: estimate_cost(pipeline.registry, ctx)
    if config.redis_url:
        cooldowns = SharedCooldowns(
            pipeline.health,
            limiter,
            lambda: [m.name for m in pipeline.registry],
            balancer=pipeline.balancer,
            deployments=lambda: [d.id for m in pipeline.registry for d in m.deployments],
        )
        await cooldowns.start()
        services.cooldowns = cooldowns
    sync = RegistrySync(services, db)
    await sync.start()
    services.registry_sync = sync


async def stop(services: Services) -> None:
    """Stop what ``start`` started, and forget it."""
    pm = services.pm
    if pm.has_plugin(LIMITS_PLUGIN):
        pm.unregister(name=LIMITS_PLUGIN)
    plugin, services.keyauth = services.keyauth, None
    if plugin is not None and pm.is_registered(plugin):
        pm.unregister(plugin)
    cooldowns, services.cooldowns = services.cooldowns, None
    if cooldowns is not None:
        await cooldowns.stop()
    sync, services.registry_sync = services.registry_sync, None
    if sync is not None:
        await sync.stop()
    cache, services.keys = services.keys, None
    if cache is not None:
        await cache.stop()
    limiter, services.limiter = services.limiter, None
    if limiter is not None:
        await limiter.stop()
