"""The demo's placeholder values are valid against the schemas clients send."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from omni_proxy_demo.schema import example

SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
    {"type": "integer", "multipleOf": 5, "minimum": 7},
    {"type": "string", "minLength": 40},
    {"type": "string", "maxLength": 2},
    {"type": "string", "format": "email"},
    {"type": ["string", "null"]},
    {"enum": [3, "x"]},
    {"const": "fixed"},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 3, "maxItems": 3},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"a": {"type": "integer"}}}]},
    {"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]}, {"required": ["b"]}]},
    {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
                },
                "required": ["value", "next"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_example_is_valid(schema: dict[str, Any]) -> None:
    jsonschema.validate(example(schema, "text"), schema)
