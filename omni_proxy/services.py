"""The running proxy's parts in one typed object, instead of attributes strewn on ``app.state``.

``create_app`` builds it with what exists before start-up (config, plugins, pipeline,
providers); the lifespan fills in what needs the database or Redis, and clears it again at
shutdown. Routes reach it with ``services(request)``; background tasks are handed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import State

if TYPE_CHECKING:
    from starlette.requests import Request

    from .accounts.keys import KeyCache
    from .accounts.limits import Limiter
    from .config import Config
    from .defaults.keyauth import KeyAuthPlugin
    from .pipeline import Pipeline
    from .plugins import PluginManager
    from .registry import Providers, Registry
    from .routing.cooldowns import SharedCooldowns
    from .server.alerts import Alerter, Watcher
    from .server.metrics import MetricsPlugin
    from .storage.base import Database
    from .storage.recorder import Recorder
    from .storage.registry_sync import RegistrySync


class NotStarted(RuntimeError):
    """A part that exists only between start-up and shutdown was used outside them."""


@dataclass(eq=False)
class Services:
    config: Config
    pm: PluginManager
    pipeline: Pipeline
    providers: Providers
    metrics: MetricsPlugin | None = None
    # Started in the lifespan (None before start-up and after shutdown):
    db: Database | None = None
    recorder: Recorder | None = None
    keys: KeyCache | None = None
    keyauth: KeyAuthPlugin | None = None
    limiter: Limiter | None = None
    cooldowns: SharedCooldowns | None = None
    registry_sync: RegistrySync | None = None
    alerts: Alerter | None = None
    alert_watcher: Watcher | None = None
    # Made on first use by the routes that need them:
    responses_store: Any = None
    dashboard_signer: Any = None
    dashboard_signed_out: Any = None
    dashboard_throttle: Any = None

    @property
    def registry(self) -> Registry:
        """The live registry (``RegistrySync`` swaps the pipeline's)."""
        return self.pipeline.registry

    @property
    def database(self) -> Database:
        """The connected database; only between start-up and shutdown."""
        if self.db is None:
            raise NotStarted("the database is connected at start-up (the app's lifespan)")
        return self.db


#: Names plugins read from ``app.state`` before ``Services`` existed -> the service now.
LEGACY_STATE = {
    "pipeline": "pipeline",
    "registry": "registry",
    "providers": "providers",
    "pm": "pm",
    "config": "config",
    "db": "db",
    "recorder": "recorder",
    "keys": "keys",
    "keyauth": "keyauth",
    "limiter": "limiter",
    "cooldowns": "cooldowns",
    "registry_sync": "registry_sync",
    "metrics_plugin": "metrics",
}


class AppState(State):
    """``app.state`` that still answers the names above from the services, so plugins
    written before ``Services`` (``app.state.registry`` in a ``startup`` hook) keep working.
    What a plugin sets on ``app.state`` itself is found first, as always."""

    def __getattr__(self, key: str) -> Any:
        try:
            return super().__getattr__(key)
        except AttributeError:
            found = self._state.get("services")
            if found is None or key not in LEGACY_STATE:
                raise
            return getattr(found, LEGACY_STATE[key])


def services(request: Request) -> Services:
    """The app's ``Services`` (``create_app`` put them on ``app.state``, their one home)."""
    found: Services = request.app.state.services
    return found
