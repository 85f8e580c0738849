"""Write ``openai-openapi-subset.json``: the OpenAI schemas the suite validates against.

The full OpenAI OpenAPI document (github.com/openai/openai-openapi, ``openapi.yaml``, MIT
licence) is 3 MB and lives outside this repository. The suite needs only a handful of its
schemas, so this script keeps those (``ROOTS`` in ``tests/openai_schema.py``) and every
schema they reference, unchanged, with the source recorded in ``info``. Run it again after
adding a root or updating the spec::

    python tests/spec/extract_subset.py /path/to/openai-openapi.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.openai_schema import ROOTS, SUBSET_PATH  # noqa: E402


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    """``roots`` and every schema they reach through ``$ref``, in name order."""
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - keep)
    return {name: schemas[name] for name in sorted(keep)}


def main(argv: list[str]) -> int:
    source = (
        Path(argv[1])
        if len(argv) > 1
        else HERE.parents[1].parent / "shared/spec/openai-openapi.yaml"
    )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with source.open("rb") as fh:
        spec = yaml.load(fh, Loader=loader)
    provenance = (
        (source.parent / "SOURCE.txt").read_text().strip()
        if (source.parent / "SOURCE.txt").is_file()
        else str(source)
    )
    subset = {
        "openapi": spec["openapi"],
        "info": {
            "title": "OpenAI API: the schemas omni-proxy's tests validate against",
            "version": spec["info"]["version"],
            "description": f"Extracted unchanged by tests/spec/extract_subset.py from {provenance}",
            "license": {"name": "MIT", "url": "https://github.com/openai/openai-openapi"},
        },
        "components": {"schemas": closure(spec["components"]["schemas"], ROOTS)},
    }
    SUBSET_PATH.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"{len(subset['components']['schemas'])} schemas -> {SUBSET_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
