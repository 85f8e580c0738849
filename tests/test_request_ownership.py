"""Rules of the request path that a refactor could quietly break: only the request's owner
records, and ``omni_proxy/wire`` (what travels) never depends on the pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import omni_proxy

ROOT = Path(omni_proxy.__file__).parent
#: The modules that may hand a request to the ``record`` hooks.
RECORDERS = {"owner.py"}


def _calls_record(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "record"
        for node in ast.walk(tree)
    )


def test_only_the_owner_records_a_request() -> None:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in RECORDERS or rel.startswith(("recorder", "storage/", "defaults/")):
            continue
        tree = ast.parse(path.read_text())
        if rel == "pipeline.py":
            # handle() tells its owner to record; nothing else in the pipeline does.
            calls = [
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr == "record"
            ]
            assert all(
                isinstance(c.func, ast.Attribute)
                and isinstance(c.func.value, ast.Name)
                and c.func.value.id == "owner"
                for c in calls
            ), "the pipeline records only through the request's owner"
            continue
        if _calls_record(tree):
            found.append(rel)
    assert found == [], f"these modules record requests themselves: {found}"


def test_wire_never_imports_the_pipeline() -> None:
    for path in sorted((ROOT / "wire").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
                assert not any("pipeline" in n or "endpoints" in n for n in names), path.name
            elif isinstance(node, ast.Import):
                assert not any("pipeline" in a.name for a in node.names), path.name
