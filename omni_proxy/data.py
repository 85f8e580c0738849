"""Wiring for the data layer (keys, limits, budgets, usage, admin): started in the lifespan.

``start`` runs after migrations and before the first request: it loads the key cache (and
starts its refresher), and registers two plugins: the database-key ``authenticate`` and the
limiter (``admit``, and ``record`` to settle usage). ``stop`` undoes it, before the recorder
flushes.
"""

from __future__ import annotations

import logging
from typing import Any

from .cooldowns import SharedCooldowns
from .defaults.keyauth import KeyAuthPlugin
from .defaults.limits import NAME as LIMITS_PLUGIN
from .defaults.limits import LimitsPlugin
from .keys import KeyCache
from .limits import Limiter, estimate_cost
from .registry_sync import RegistrySync

log = logging.getLogger("omni_proxy.data")

KEYAUTH_PLUGIN = "omni_proxy.defaults.keyauth"


async def start(app: Any, config: Any, pm: Any, db: Any) -> None:
    """Start key caches, limiters and refreshers; attach them to ``app.state``."""
    cache = KeyCache(db)
    await cache.start()
    plugin = KeyAuthPlugin(cache)
    if pm.has_plugin(KEYAUTH_PLUGIN):
        pm.unregister(name=KEYAUTH_PLUGIN)
    pm.register(plugin, name=KEYAUTH_PLUGIN)
    limiter = Limiter(db, config.redis_url)
    await limiter.start()
    app.state.keys = cache
    app.state.keyauth = plugin
    app.state.limiter = limiter
    if pm.has_plugin(LIMITS_PLUGIN):
        pm.unregister(name=LIMITS_PLUGIN)
    pm.register(LimitsPlugin(limiter), name=LIMITS_PLUGIN)
    pipeline = app.state.pipeline
    # The registry may be replaced by RegistrySync: read it at each estimate.
    limiter.estimate = lambda ctx: estimate_cost(pipeline.registry, ctx)
    if config.redis_url:
        cooldowns = SharedCooldowns(
            pipeline.health,
            limiter,
            lambda: [m.name for m in app.state.registry],
            balancer=pipeline.balancer,
            deployments=lambda: [d.id for m in app.state.registry for d in m.deployments],
        )
        await cooldowns.start()
        app.state.cooldowns = cooldowns
    sync = RegistrySync(app, db)
    await sync.start()
    app.state.registry_sync = sync


async def stop(app: Any) -> None:
    """Stop what ``start`` started."""
    state = app.state
    pm = getattr(state, "pm", None)
    if pm is not None and pm.has_plugin(LIMITS_PLUGIN):
        pm.unregister(name=LIMITS_PLUGIN)
    plugin = getattr(state, "keyauth", None)
    if plugin is not None and pm is not None and pm.is_registered(plugin):
        pm.unregister(plugin)
    cooldowns = getattr(state, "cooldowns", None)
    if cooldowns is not None:
        await cooldowns.stop()
    sync = getattr(state, "registry_sync", None)
    if sync is not None:
        await sync.stop()
    cache = getattr(state, "keys", None)
    if cache is not None:
        await cache.stop()
    limiter = getattr(state, "limiter", None)
    if limiter is not None:
        await limiter.stop()
