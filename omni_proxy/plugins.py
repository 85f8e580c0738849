"""Building the plugin manager: entry-point plugins first, built-in defaults last.

pluggy calls the most recently registered implementation first, and every built-in default
is ``trylast``, so an installed plugin's bare ``@hookimpl`` overrides the default it shadows.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Awaitable, Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from . import hookspecs

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger("omni_proxy.plugins")

ENTRY_POINT_GROUP = "omni_proxy"
hookimpl = pluggy.HookimplMarker("omni_proxy")

T = TypeVar("T")


class PluginError(RuntimeError):
    """A plugin that cannot be used as written."""


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, refusing ``async def`` hook implementations with a clear error."""

    def __init__(self) -> None:
        super().__init__("omni_proxy")
        self.add_hookspecs(hookspecs)
        #: plugin name -> (distribution, version), for `omni-proxy plugins`.
        self.distributions: dict[str, tuple[str, str]] = {}

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        for attr in dir(plugin):
            func = getattr(plugin, attr, None)
            if not callable(func) or not hasattr(self.hook, attr):
                continue
            if self.parse_hookimpl_opts(plugin, attr) is None:
                continue
            if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
                where = getattr(plugin, "__name__", type(plugin).__name__)
                raise PluginError(
                    f"{where}.{attr} is `async def`; hook implementations must be plain `def` "
                    "functions that return an awaitable (see docs/plugin-hooks.md)"
                )
        return super().register(plugin, name)


def _names(env_value: str | None) -> set[str] | None:
    if env_value is None:
        return None
    return {n.strip() for n in env_value.split(",") if n.strip()}


def load_entry_point_plugins(
    pm: PluginManager, env: dict[str, str] | os._Environ[str] | None = None
) -> list[str]:
    """Register every installed ``omni_proxy`` entry point, honouring the allow/block lists."""
    env = os.environ if env is None else env
    allow = _names(env.get("OMNI_PROXY_LOAD_PLUGINS"))
    block = _names(env.get("OMNI_PROXY_DISABLE_PLUGINS")) or set()
    loaded = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (allow is not None and ep.name not in allow) or ep.name in block:
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            module = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) failed to import: {exc!r}; uninstall it or "
                f"skip it with OMNI_PROXY_DISABLE_PLUGINS={ep.name}"
            ) from exc
        pm.register(module, name=ep.name)
        dist = getattr(ep, "dist", None)
        if dist is not None:
            pm.distributions[ep.name] = (dist.metadata["Name"], dist.version)
        loaded.append(ep.name)
    return loaded


def register_defaults(pm: PluginManager) -> None:
    from .defaults import DEFAULT_PLUGINS

    for name, module in DEFAULT_PLUGINS:
        if not pm.has_plugin(name):
            pm.register(module, name=name)


def get_plugin_manager(
    *,
    load_entry_points: bool = True,
    plugins: Iterable[Any] = (),
    env: dict[str, str] | None = None,
) -> PluginManager:
    """A fresh manager: installed plugins (unless told not to), then ``plugins``, then defaults."""
    pm = PluginManager()
    if load_entry_points:
        load_entry_point_plugins(pm, env)
    for plugin in plugins:
        pm.register(plugin)
    register_defaults(pm)
    return pm


def provider_classes(pm: PluginManager) -> dict[str, type[Provider]]:
    """The provider classes the plugins register, by plugin name."""
    from .config import ConfigError

    found: dict[str, type[Provider]] = {}

    def register(name: str, cls: type[Provider]) -> None:
        if name in found:
            raise ConfigError(f"two plugins register a provider named {name!r}")
        found[name] = cls

    pm.hook.register_providers(register=register)
    return found


def provider_env_keys(
    env: Mapping[str, str] | None = None,
) -> dict[str, tuple[str, str, Mapping[str, Any]]]:
    """Provider name -> (key variable, plugin, settings) for every provider that an
    installed plugin (allowed by ``env``) lets a key in the environment switch on."""
    env = os.environ if env is None else env
    names = (env.get("OMNI_PROXY_LOAD_PLUGINS"), env.get("OMNI_PROXY_DISABLE_PLUGINS"))
    return dict(_env_keys(*names))


@functools.cache
def _env_keys(allow: str | None, block: str | None) -> tuple[tuple[str, Any], ...]:
    env = {
        k: v
        for k, v in (("OMNI_PROXY_LOAD_PLUGINS", allow), ("OMNI_PROXY_DISABLE_PLUGINS", block))
        if v is not None
    }
    pm = get_plugin_manager(env=env)
    found: dict[str, tuple[str, str, Mapping[str, Any]]] = {}

    def register(plugin: str, cls: Any) -> None:
        declared = getattr(cls, "env_keys", None)  # None: a class not derived from Provider
        for name, (var, settings) in (declared() if declared else {}).items():
            found.setdefault(name, (var, plugin, settings))

    pm.hook.register_providers(register=register)
    return tuple(found.items())


async def await_me_maybe(value: T | Awaitable[T]) -> T:
    """Hooks may answer with a value or an awaitable of one; this resolves both."""
    if inspect.isawaitable(value):
        return await value
    return value


async def first_answer(results: list[Any]) -> Any:
    """Await hook results in call order and keep the first that is not None."""
    for result in results:
        value = await await_me_maybe(result)
        if value is not None:
            return value
    return None


def describe_plugins(pm: PluginManager) -> list[dict[str, Any]]:
    """Name, version and implemented hooks of every registered plugin."""
    from . import __version__

    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist_name, version = pm.distributions.get(name, (None, None))
        if version is None and name.startswith("omni_proxy.defaults"):
            dist_name, version = "omni-proxy (built-in)", __version__
        rows.append({"name": name, "distribution": dist_name, "version": version, "hooks": hooks})
    return rows
