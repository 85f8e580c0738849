"""Building the plugin manager: entry-point plugins first, built-in defaults last.

pluggy calls the most recently registered implementation first, and every built-in default
is ``trylast``, so an installed plugin's bare ``@hookimpl`` overrides the default it shadows.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Iterable
from importlib import metadata
from typing import Any, TypeVar

import pluggy

from . import hookspecs

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
        #: Bumped on every (un)registration, so ``DirectHooks`` knows to look again.
        self.generation = 0

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
        self.generation += 1
        return super().register(plugin, name)

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        self.generation += 1
        return super().unregister(plugin, name)

    def set_blocked(self, name: str) -> None:
        self.generation += 1
        super().set_blocked(name)


class DirectHooks:
    """``pm.hook`` for the request path. A hook with a single plain implementation (the
    usual case: a built-in default, or the one plugin that overrides it) is called
    directly, the way pluggy would call it: with only the arguments it names, answering
    its value for a ``firstresult`` hook and a list of its non-None value otherwise. That
    skips pluggy's dispatch, about 2.5 µs a call, four or five calls a request. Anything
    else (several implementations, wrappers, tracing) goes through pluggy unchanged."""

    def __init__(self, pm: PluginManager) -> None:
        self._pm = pm
        self._generation = -1
        self._calls: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if self._generation != self._pm.generation:
            self._calls.clear()
            self._generation = self._pm.generation
        call = self._calls.get(name)
        if call is None:
            call = self._calls[name] = _direct(self._pm, getattr(self._pm.hook, name))
        return call


def _direct(pm: PluginManager, caller: Any) -> Any:
    impls = caller.get_hookimpls()
    traced = pm._inner_hookexec is not _PLAIN_HOOKEXEC
    if len(impls) != 1 or traced or caller.spec is None or caller.spec.opts.get("historic"):
        return caller
    impl = impls[0]
    if impl.hookwrapper or impl.wrapper:
        return caller
    function, names = impl.function, impl.argnames
    optional = tuple(getattr(impl, "kwargnames", ()) or ())  # arguments with a default

    def call(kwargs: dict[str, Any]) -> Any:
        if optional:
            given = {n: kwargs[n] for n in optional if n in kwargs}
            return function(*[kwargs[n] for n in names], **given)
        return function(*[kwargs[n] for n in names])

    if caller.spec.opts.get("firstresult"):
        return lambda **kwargs: call(kwargs)

    def each(**kwargs: Any) -> list[Any]:
        result = call(kwargs)
        return [] if result is None else [result]

    return each


_PLAIN_HOOKEXEC = pluggy.PluginManager("omni_proxy_probe")._inner_hookexec


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
