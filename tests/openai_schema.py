"""Validate objects against schemas of the OpenAI OpenAPI spec (``spec/openai-openapi.yaml``).

Tests use this to prove that what the proxy (or a fake upstream) emits is what the official
spec describes, instead of trusting hand-written expectations. The spec is OpenAPI 3.1, i.e.
JSON Schema 2020-12, except that it still uses the OpenAPI 3.0 keyword ``nullable: true`` in
places (e.g. a stream chunk's ``finish_reason`` and ``usage``); those are rewritten to
``anyOf: [schema, {type: null}]`` so null is accepted where the spec means it to be.

Spec location: ``$OMNI_OPENAI_SPEC`` if set, else ``../shared/spec/openai-openapi.yaml``
beside this repo (the full document), else ``tests/spec/openai-openapi-subset.json`` in the
repo: the ``ROOTS`` schemas and everything they reference, extracted unchanged by
``tests/spec/extract_subset.py``, so a fresh clone with nothing beside it validates too.
When the full document is used, asking for a schema outside the subset fails, so a new test
cannot silently depend on a file outside the repository.
"""

from __future__ import annotations

import functools
import json
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
SUBSET_PATH = _REPO / "tests" / "spec" / "openai-openapi-subset.json"

#: The schemas the suite validates against; the in-repo subset holds these and their refs.
ROOTS = (
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateCompletionResponse",
    "CreateEmbeddingResponse",
    "Error",
    "ListModelsResponse",
    "Response",
    "ResponseItemList",
    "ResponseStreamEvent",
)


class SchemaMismatch(AssertionError):
    """An object does not match a spec schema; ``errors`` has every jsonschema error."""

    def __init__(self, schema_name: str, errors: list[ValidationError]) -> None:
        lines = [f"{e.json_path}: {e.message}"[:300] for e in errors[:8]]
        more = f"\n  ... and {len(errors) - 8} more" if len(errors) > 8 else ""
        super().__init__(f"not a valid {schema_name}:\n  " + "\n  ".join(lines) + more)
        self.schema_name = schema_name
        self.errors = errors


def full_spec_path() -> Path | None:
    """Where the full OpenAI document is, or None if it is not on this machine."""
    candidates = [
        os.environ.get("OMNI_OPENAI_SPEC"),
        _REPO.parent / "shared" / "spec" / "openai-openapi.yaml",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def spec_path() -> Path:
    """The full document when available, else the subset kept in the repo."""
    return full_spec_path() or SUBSET_PATH


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
    return dict(_nullable_to_anyof(raw_spec(spec_path())))


def raw_spec(path: Path) -> dict[str, Any]:
    """A spec file as written (YAML, or the subset's JSON, which YAML also reads)."""
    if path.suffix == ".json":
        return dict(json.loads(path.read_bytes()))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as fh:
        return dict(yaml.load(fh, Loader=loader))


@functools.cache
def _subset_names() -> frozenset[str]:
    return frozenset(raw_spec(SUBSET_PATH)["components"]["schemas"])


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
    if schema_name not in _subset_names():
        raise KeyError(
            f"{schema_name!r} is not in {SUBSET_PATH.name}: add it to ROOTS in "
            "tests/openai_schema.py and run tests/spec/extract_subset.py"
        )
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
