"""Built-in default hook implementations: ordinary plugins, all ``trylast``."""

from types import ModuleType

from . import auth, call, classify, fallback, guard, select

DEFAULT_PLUGINS: list[tuple[str, ModuleType]] = [
    ("omni_proxy.defaults.auth", auth),
    ("omni_proxy.defaults.classify", classify),
    ("omni_proxy.defaults.select", select),
    ("omni_proxy.defaults.call", call),
    ("omni_proxy.defaults.fallback", fallback),
    ("omni_proxy.defaults.guard", guard),
]
