"""A placeholder value valid against a JSON schema, so simulated answers parse.

Clients check what a model returns against the schema they sent: the openai SDK's
``parse()`` validates ``response_format`` answers with pydantic, agent frameworks validate
tool arguments. The demo has no model to fill in real values, so it fills in the simplest
value each schema allows: enums and consts as given, numbers inside their bounds, strings
of an allowed length (dates, e-mails, URIs and UUIDs in their formats), arrays of
``minItems`` items, objects with every property (``$ref`` and ``$defs`` resolved). Deep
or recursive schemas stop at the first branch that allows ending (null, fewer items,
optional properties left out).
"""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 6
_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "demo@example.com",
    "uri": "https://example.com/demo",
    "url": "https://example.com/demo",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}


def example(schema: Any, text: str = "simulated") -> Any:
    """A value ``schema`` accepts; ``text`` seeds free-form strings."""
    return _value(schema, schema, text, 0)


def _resolve(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    seen = 0
    while isinstance(schema.get("$ref"), str) and seen < 32:
        ref: str = schema["$ref"]
        target: Any = root
        for part in ref.removeprefix("#").strip("/").split("/") if ref.startswith("#") else []:
            if part:
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**(target if isinstance(target, dict) else {}), **extra}
        seen += 1
    return schema


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if isinstance(kind, str):
        return [kind]
    if "properties" in schema or "required" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return ["string"]


def _value(schema: Any, root: Any, text: str, depth: int) -> Any:
    if schema is True or not isinstance(schema, dict):
        return text
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                part = _resolve(part, root)
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                required = [*merged.get("required", []), *part.get("required", [])]
                merged = {**merged, **part, "properties": props, "required": required}
        return _value(merged, root, text, depth + 1)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _value(_pick(options, root, depth), root, text, depth + 1)
    kinds = _types(schema)
    if depth >= _MAX_DEPTH and "null" in kinds:
        return None
    kind = next((k for k in kinds if k != "null"), "null")
    if kind == "object":
        return _object(schema, root, text, depth)
    if kind == "array":
        count = int(schema.get("minItems") or (0 if depth >= _MAX_DEPTH else 1))
        count = min(count, int(schema.get("maxItems", count)))
        items = schema.get("items")
        if isinstance(schema.get("prefixItems"), list):
            return [_value(s, root, text, depth + 1) for s in schema["prefixItems"]]
        return [_value(items, root, text, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, text)


def _pick(options: list[Any], root: Any, depth: int) -> Any:
    """The first branch, or past the depth limit one that ends the recursion."""
    if depth >= _MAX_DEPTH:
        for option in options:
            if isinstance(option, dict) and "null" in _types(_resolve(option, root)):
                return option
    return options[0]


def _object(schema: dict[str, Any], root: Any, text: str, depth: int) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    out = {
        name: _value(sub, root, text, depth + 1)
        for name, sub in props.items()
        if name in required or depth < _MAX_DEPTH
    }
    for name in required - set(out):
        out[name] = text  # required but not described: any value will do
    return out


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1
    if isinstance(lo, int | float):
        value = lo + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if isinstance(hi, int | float) and value > hi:
        value = hi - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        value = step * max(1, -(-value // step))
    return int(value) if integer else float(value)


def _string(schema: dict[str, Any], text: str) -> str:
    fmt = schema.get("format")
    value = _FORMATS.get(fmt, text) if isinstance(fmt, str) else text
    lo = int(schema.get("minLength") or 0)
    hi = schema.get("maxLength")
    if len(value) < lo:
        value = value + "x" * (lo - len(value))
    if isinstance(hi, int) and len(value) > hi:
        value = value[:hi]
    return value
