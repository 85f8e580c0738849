"""Validate objects against schemas of the OpenAI OpenAPI spec (``spec/openai-openapi.yaml``).

Tests use this to prove that what the proxy (or a fake upstream) emits is what the official
spec describes, instead of trusting hand-written expectations. The spec is OpenAPI 3.1, i.e.
JSON Schema 2020-12, except that it still uses the OpenAPI 3.0 keyword ``nullable: true`` in
places (e.g. a stream chunk's ``finish_reason`` and ``usage``); those are rewritten to
``anyOf: [schema, {type: null}]`` so null is accepted where the spec means it to be.

Spec location: ``$OMNI_OPENAI_SPEC`` if set, else ``/work/shared/spec/openai-openapi.yaml``
(found relative to this repo), else ``docs/spec/openai-openapi.yaml`` in the repo.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:openai:openapi"
_REPO = Path(__file__).resolve().parents[1]


class SchemaMismatch(AssertionError):
    """An object does not match a spec schema; ``errors`` has every jsonschema error."""

    def __init__(self, schema_name: str, errors: list[ValidationError]) -> None:
        lines = [f"{e.json_path}: {e.message}"[:300] for e in errors[:8]]
        more = f"\n  ... and {len(errors) - 8} more" if len(errors) > 8 else ""
        super().__init__(f"not a valid {schema_name}:\n  " + "\n  ".join(lines) + more)
        self.schema_name = schema_name
        self.errors = errors


def spec_path() -> Path | None:
    """Where the spec is, or None if it is not available on this machine."""
    candidates = [
        os.environ.get("OMNI_OPENAI_SPEC"),
        _REPO.parent / "shared" / "spec" / "openai-openapi.yaml",
        _REPO / "docs" / "spec" / "openai-openapi.yaml",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _nullable_to_anyof(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` into JSON Schema, recursively."""
    if isinstance(node, list):
        return [_nullable_to_anyof(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_anyof(value) for key, value in node.items()}
    if out.get("nullable") is True:
        del out["nullable"]
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _spec() -> dict[str, Any]:
    path = spec_path()
    if path is None:
        raise FileNotFoundError("OpenAI spec not found; set OMNI_OPENAI_SPEC")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as fh:
        spec = yaml.load(fh, Loader=loader)
    return dict(_nullable_to_anyof(spec))


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


def schema_names() -> list[str]:
    """Every schema name under ``components.schemas``."""
    return sorted(_spec()["components"]["schemas"])


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    """A cached validator for ``components.schemas.<schema_name>``."""
    if schema_name not in _spec()["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in the OpenAI spec")
    ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry())


def errors(obj: Any, schema_name: str) -> list[ValidationError]:
    """All validation errors (empty if ``obj`` is valid), most relevant first."""
    return sorted(validator(schema_name).iter_errors(obj), key=relevance, reverse=True)


def validate(obj: Any, schema_name: str) -> None:
    """Raise ``SchemaMismatch`` (an AssertionError) unless ``obj`` matches the schema."""
    found = errors(obj, schema_name)
    if found:
        raise SchemaMismatch(schema_name, found)
