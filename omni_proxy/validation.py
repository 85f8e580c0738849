"""Request checks that OpenAI would make, answered as 400s that name the bad parameter.

Hand-written rather than a pydantic model: the body stays the client's own dict (unknown
fields pass through untouched) and a valid request costs a few dict lookups.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from .errors import bad_request

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
PRIORITIES = ("cheap", "balanced", "best")
LATENCY_PREFS = ("fast", "normal")
STRATEGIES = ("hybrid", "cost", "quality", "latency", "cascade")
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


def type_name(value: Any) -> str:
    """How OpenAI names a JSON value's type in its error messages."""
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _number(body: dict[str, Any], key: str, lo: float, hi: float, *, integer: bool = False) -> None:
    value = body.get(key)
    if value is None:
        return
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        kind = "an integer" if integer else "a number"
        raise bad_request(
            f"Invalid type for '{key}': expected {kind}, but got {type_name(value)} instead.",
            param=key,
            code="invalid_type",
        )
    if not lo <= value <= hi:
        raise bad_request(
            f"Invalid value for '{key}': {value} is outside the allowed range {lo:g} to {hi:g}.",
            param=key,
            code="invalid_value",
        )


def _content_ok(content: Any) -> bool:
    if isinstance(content, str):
        return True
    if isinstance(content, list):
        return all(
            isinstance(p, dict)
            and isinstance(p.get("type"), str)
            and (p["type"] != "text" or isinstance(p.get("text"), str))
            for p in content
        )
    return False


def _tool_call_ids(where: str, calls: Any) -> set[str]:
    """Check an assistant message's ``tool_calls``; return their ids."""
    if not isinstance(calls, list):
        raise bad_request(
            f"Invalid type for '{where}.tool_calls': expected an array, but got "
            f"{type_name(calls)}.",
            param=f"{where}.tool_calls",
            code="invalid_type",
        )
    ids: set[str] = set()
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict) or not isinstance(call.get("id"), str):
            raise bad_request(f"Invalid '{at}': expected an object with a string 'id'.", param=at)
        ids.add(call["id"])
        if call.get("type", "function") != "function":
            continue
        fn = call.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise bad_request(
                f"Missing required parameter: '{at}.function.name'.", param=f"{at}.function.name"
            )
        args = fn.get("arguments")
        if not isinstance(args, str):
            raise bad_request(
                f"Invalid type for '{at}.function.arguments': expected a string of JSON, but "
                f"got {type_name(args)}.",
                param=f"{at}.function.arguments",
                code="invalid_type",
            )
        if args.strip():  # "" is what some clients send for a call without arguments
            try:
                parsed = orjson.loads(args)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                raise bad_request(
                    f"Invalid value for '{at}.function.arguments': expected a JSON object "
                    "encoded as a string.",
                    param=f"{at}.function.arguments",
                    code="invalid_value",
                )
    return ids


#: Messages in one conversation at most (``max_messages`` in the config): each is checked,
#: classified and estimated on the event loop; 250k of them held every other tenant ~1 s.
MAX_MESSAGES = 10_000


def validate_messages(messages: Any, max_messages: int = MAX_MESSAGES) -> None:
    if messages is None:
        raise bad_request("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list):
        raise bad_request(
            f"Invalid type for 'messages': expected an array, but got {type_name(messages)}.",
            param="messages",
            code="invalid_type",
        )
    if not messages:
        raise bad_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            param="messages",
            code="empty_array",
        )
    if len(messages) > max_messages:
        raise bad_request(
            f"Invalid 'messages': array too long. Expected an array with maximum length "
            f"{max_messages}, but got an array with length {len(messages)} instead.",
            param="messages",
            code="array_above_max_length",
        )
    open_calls: set[str] | None = None  # ids a tool message may answer here
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise bad_request(
                f"Invalid type for '{where}': expected an object, but got {type_name(msg)}.",
                param=where,
                code="invalid_type",
            )
        role = msg.get("role")
        if not isinstance(role, str) or role not in ROLES:  # a list or object is unhashable
            raise bad_request(
                f"Invalid value for '{where}.role': expected one of "
                f"{', '.join(sorted(ROLES))}, but got {role!r}.",
                param=f"{where}.role",
                code="invalid_value",
            )
        if role == "assistant":
            calls = msg.get("tool_calls")
            open_calls = _tool_call_ids(where, calls) if calls is not None else None
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str):
                raise bad_request(
                    f"Missing required parameter: '{where}.tool_call_id'.",
                    param=f"{where}.tool_call_id",
                )
            if not open_calls:
                raise bad_request(
                    f"Invalid parameter: '{where}': messages with role 'tool' must be a "
                    "response to a preceding assistant message with 'tool_calls'.",
                    param=f"{where}.role",
                    code="invalid_value",
                )
            if call_id not in open_calls:
                raise bad_request(
                    f"Invalid parameter: '{where}.tool_call_id' {call_id!r} is not among the "
                    "'tool_calls' of the preceding assistant message.",
                    param=f"{where}.tool_call_id",
                    code="invalid_value",
                )
        else:
            open_calls = None
        content = msg.get("content")
        if content is None:
            if role == "assistant" or role == "function":
                continue
            raise bad_request(
                f"Missing required parameter: '{where}.content'.", param=f"{where}.content"
            )
        if not _content_ok(content):
            raise bad_request(
                f"Invalid type for '{where}.content': expected a string or an array of "
                "content parts with a 'type'.",
                param=f"{where}.content",
                code="invalid_type",
            )


#: Longest model name accepted: no registry name is longer, and a 1 MB one was echoed
#: into a 2 MB log line and row.
MAX_MODEL_CHARS = 256


def check_model_length(model: str) -> None:
    if len(model) > MAX_MODEL_CHARS:
        raise bad_request(
            f"Invalid 'model': string too long. Expected a string with maximum length "
            f"{MAX_MODEL_CHARS}, but got a string with length {len(model)} instead.",
            param="model",
            code="string_above_max_length",
        )


def validate_chat(body: Any, max_messages: int = MAX_MESSAGES) -> dict[str, Any]:
    """Check a chat-completions body in place; return it for convenience."""
    if not isinstance(body, dict):
        raise bad_request(
            f"The request body must be a JSON object, but got {type_name(body)}.",
            code="invalid_type",
        )
    model = body.get("model")
    if model is None:
        raise bad_request("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            "Invalid type for 'model': expected a non-empty string.",
            param="model",
            code="invalid_type",
        )
    check_model_length(model)
    validate_messages(body.get("messages"), max_messages)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request(
            f"Invalid type for 'stream': expected a boolean, but got {type_name(stream)}.",
            param="stream",
            code="invalid_type",
        )
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise bad_request(
            "Invalid type for 'stream_options': expected an object.",
            param="stream_options",
            code="invalid_type",
        )
    if opts is not None and stream is not True:  # as OpenAI; otherwise providers disagree
        raise bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    _number(body, "n", 1, 128, integer=True)
    _number(body, "max_tokens", 1, 10_000_000, integer=True)
    _number(body, "max_completion_tokens", 1, 10_000_000, integer=True)
    _number(body, "top_logprobs", 0, 20, integer=True)
    _number(body, "seed", -(2**63), 2**63 - 1, integer=True)
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str)
        or (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop))
    ):
        raise bad_request(
            "Invalid 'stop': expected a string or an array of at most 4 strings.", param="stop"
        )
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(
            isinstance(t, dict) and isinstance(t.get("type"), str) for t in tools
        ):
            raise bad_request(
                "Invalid 'tools': expected an array of tool objects with a 'type'.", param="tools"
            )
        for i, tool in enumerate(tools):
            fn = tool.get("function")
            if tool["type"] == "function" and not (
                isinstance(fn, dict) and isinstance(fn.get("name"), str)
            ):
                raise bad_request(
                    f"Missing required parameter: 'tools[{i}].function.name'.",
                    param=f"tools[{i}].function.name",
                )
    choice = body.get("tool_choice")
    if choice is not None:
        if isinstance(choice, str):
            if choice not in ("none", "auto", "required"):
                raise bad_request(
                    "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or "
                    "an object naming a tool.",
                    param="tool_choice",
                )
        elif not isinstance(choice, dict):
            raise bad_request("Invalid type for 'tool_choice'.", param="tool_choice")
        if choice not in ("none", None) and not tools:
            raise bad_request(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
    fmt = body.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and isinstance(fmt.get("type"), str)):
        raise bad_request(
            "Invalid 'response_format': expected an object with a 'type'.",
            param="response_format",
        )
    return body


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
