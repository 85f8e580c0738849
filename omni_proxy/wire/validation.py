"""The request checks the routes call: the chat body against its one schema
(``omni_proxy.wire.models``), and the routing options from the body or the headers.

A valid request costs one pydantic validation (in Rust) over the client's own dict, which
then travels on untouched: unknown fields pass through.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import bad_request
from .models import (
    CHAT,
    LATENCY_PREFS,
    MAX_MESSAGES,
    MAX_MODEL_CHARS,
    PRIORITIES,
    ROLES,
    STRATEGIES,
    checker,
    type_name,
)

# Routing extensions: read by the proxy, never sent upstream.
ROUTING_FIELDS = (
    "priority",
    "latency_pref",
    "max_cost",
    "strategy",
    "quality_floor",
    "strict_model",
)
ROUTING_HEADERS = {
    "priority": "x-omni-priority",
    "latency_pref": "x-omni-latency-pref",
    "max_cost": "x-omni-max-cost",
    "strategy": "x-omni-strategy",
    "quality_floor": "x-omni-quality-floor",
    "strict_model": "x-omni-strict-model",
}
_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})

_check_chat = checker(CHAT)


def check_model_length(model: str) -> None:
    if len(model) > MAX_MODEL_CHARS:
        raise bad_request(
            f"Invalid 'model': string too long. Expected a string with maximum length "
            f"{MAX_MODEL_CHARS}, but got a string with length {len(model)} instead.",
            param="model",
            code="string_above_max_length",
        )


def validate_chat(body: Any, max_messages: int = MAX_MESSAGES) -> dict[str, Any]:
    """Check a chat-completions body (unchanged); return it for convenience."""
    if isinstance(body, dict):
        messages = body.get("messages")
        # By length first: a huge conversation is refused before any message is looked at.
        if isinstance(messages, list) and len(messages) > max_messages:
            raise bad_request(
                f"Invalid 'messages': array too long. Expected an array with maximum length "
                f"{max_messages}, but got an array with length {len(messages)} instead.",
                param="messages",
                code="array_above_max_length",
            )
    checked: dict[str, Any] = _check_chat(body)
    return checked


def take_routing_options(body: dict[str, Any], headers: Any) -> dict[str, Any]:
    """Pop the proxy's routing fields from the body (headers fill gaps) and check them."""
    opts: dict[str, Any] = {}
    if "disable_fallbacks" in body:  # LiteLLM's name for the same switch
        disable = body.pop("disable_fallbacks")
        body.setdefault("strict_model", disable)
    for key in ROUTING_FIELDS:
        value = body.pop(key, None)
        if value is None:
            value = headers.get(ROUTING_HEADERS[key])
        if value is not None:
            opts[key] = value
    if "priority" in opts and opts["priority"] not in PRIORITIES:
        raise bad_request(
            f"Invalid value for 'priority': expected one of {', '.join(PRIORITIES)}.",
            param="priority",
        )
    if "latency_pref" in opts and opts["latency_pref"] not in LATENCY_PREFS:
        raise bad_request(
            f"Invalid value for 'latency_pref': expected one of {', '.join(LATENCY_PREFS)}.",
            param="latency_pref",
        )
    if "strategy" in opts and opts["strategy"] not in STRATEGIES:
        raise bad_request(
            f"Invalid value for 'strategy': expected one of {', '.join(STRATEGIES)}.",
            param="strategy",
        )
    if "max_cost" in opts:
        raw = opts["max_cost"]
        try:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise InvalidOperation
            cost = Decimal(str(raw))
            if not cost.is_finite() or cost < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise bad_request(
                "Invalid value for 'max_cost': expected a non-negative number of USD.",
                param="max_cost",
            ) from None
        opts["max_cost"] = cost
    if "quality_floor" in opts:
        opts["quality_floor"] = _share(opts["quality_floor"], "quality_floor")
    if "strict_model" in opts:
        opts["strict_model"] = _flag(opts["strict_model"], "strict_model")
    return opts


def _share(raw: Any, param: str) -> float:
    """A number from 0 to 1 (a JSON number, or a header's text)."""
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise bad_request(
            f"Invalid value for '{param}': expected a number from 0 to 1.",
            param=param,
            code="invalid_value",
        )
    return value


def _flag(value: Any, name: str) -> bool:
    """A boolean from JSON or a header ("true"/"false", "on"/"off", "1"/"0", "yes"/"no")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise bad_request(f"Invalid value for '{name}': expected true or false.", param=name)


__all__ = [
    "LATENCY_PREFS",
    "MAX_MESSAGES",
    "MAX_MODEL_CHARS",
    "PRIORITIES",
    "ROLES",
    "ROUTING_FIELDS",
    "ROUTING_HEADERS",
    "STRATEGIES",
    "check_model_length",
    "take_routing_options",
    "type_name",
    "validate_chat",
]
