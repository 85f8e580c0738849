"""The plugin API's edge: everything a plugin needs is a name in ``omni_proxy.__all__``,
and the plugins and examples in this repository import nothing else (so the core's modules
can move without breaking them). In the manner of httpx's ``test_exported_members``."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import omni_proxy

ROOT = Path(__file__).resolve().parent.parent
#: What plugin code may import: the package itself, and the fixtures for plugin tests.
ALLOWED = {"omni_proxy", "omni_proxy.testing"}


def test_every_exported_name_is_importable_and_listed_once() -> None:
    names = omni_proxy.__all__
    assert len(names) == len(set(names)), "a name listed twice in __all__"
    missing = [name for name in names if not hasattr(omni_proxy, name)]
    assert not missing, f"in __all__ but not importable: {missing}"
    namespace: dict[str, object] = {}
    exec("from omni_proxy import *", namespace)
    assert set(names) <= set(namespace)


def test_every_public_member_is_exported() -> None:
    """A name importable from ``omni_proxy`` (other than its submodules) is promised."""
    public = {
        name
        for name, value in vars(omni_proxy).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(omni_proxy.__all__) - {"__version__"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``omni_proxy`` import in ``path``, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, m) for line, m in found if m == "omni_proxy" or m.startswith("omni_proxy.")]


def test_plugins_and_examples_import_only_the_public_api() -> None:
    files = sorted((ROOT / "plugins").rglob("*.py")) + sorted((ROOT / "examples").rglob("*.py"))
    assert len(files) > 10
    outside = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in files
        if "build" not in path.parts
        for line, module in _imports(path)
        if module not in ALLOWED
    ]
    assert not outside, "plugins must import from omni_proxy (or omni_proxy.testing):\n" + (
        "\n".join(outside)
    )
