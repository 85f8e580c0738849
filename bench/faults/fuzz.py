"""A seeded generator of hostile request bodies: each one is a valid body for its route with
one thing broken (a field's value, a missing or extra field, a message turned odd, the
stream flag), or any JSON value, or bytes that are not JSON at all. Same seed, same bodies."""

from __future__ import annotations

import json
import random
from typing import Any

WILD: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -1e308,
    1e308,
    2**63,
    2**64,
    -(2**64),
    "",
    "x",
    "\u0000",
    "\u0000" * 5,
    "a" * 70_000,
    "\u202e\ufeff",
    [],
    {},
    [None],
    [1, "a"],
    [[[]]],
    {"a": None},
    {"type": None},
    [{"type": "text"}],
    [{"role": "user"}],
    {"role": 5, "content": []},
    "auto",
    "none",
    "required",
    "NaN",
    "9999-12-31",
    "../../etc/passwd",
]
RAW_WILD = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e99999",
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b"[" * 2000 + b"]" * 2000,
    b'{"a":' * 500 + b"1" + b"}" * 500,
    b"01",
    b"-0",
    b'"\\u0000"',
]
FIELDS = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "response_format",
    "user",
    "metadata",
    "input",
    "prompt",
    "instructions",
    "previous_response_id",
    "system",
    "logit_bias",
    "seed",
    "functions",
    "parallel_tool_calls",
    "store",
    "include",
    "reasoning",
    "text",
    "dimensions",
    "encoding_format",
    "suffix",
    "echo",
    "best_of",
    "logprobs",
    "name",
    "org",
    "monthly_budget_usd",
    "rpm_limit",
    "expires_at",
    "max_output_tokens",
    "truncation",
    "thinking",
    "stop_sequences",
    "top_k",
    "safety_identifier",
    "omni",
]
MESSAGE_KEYS = ["role", "content", "name", "tool_calls", "tool_call_id", "refusal", "audio"]


def valid_body(route: str) -> dict[str, Any]:
    if route == "/v1/completions":
        return {"model": "cheap", "prompt": "say hi"}
    if route == "/v1/embeddings":
        return {"model": "embed", "input": "embed this"}
    if route in ("/v1/messages", "/v1/messages/count_tokens"):
        return {"model": "cheap", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    if route == "/v1/responses":
        return {"model": "cheap", "input": "hi"}
    if route == "/v1/organizations":
        return {"name": f"fz-{random.random():.12f}"[:30]}
    if route == "/v1/api-keys":
        return {"org": "fuzz-org", "name": "k"}
    if route == "/v1/feedback":
        return {"request_id": "req_x", "score": 1}
    if route == "/v1/chat":
        return {"model": "cheap", "message": "hi", "messages": [{"role": "user", "content": "hi"}]}
    return {"model": "cheap", "messages": [{"role": "user", "content": "hi"}]}


def _any_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind < 4:
        return rng.choice(WILD)
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [_any_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(FIELDS): _any_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def body(rng: random.Random, route: str) -> tuple[bytes, str]:
    """One hostile body for ``route`` (raw bytes) and the kind of fault it carries."""
    base = valid_body(route)
    roll = rng.random()
    if roll < 0.05:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        return raw, "bytes"
    if roll < 0.10:
        text = json.dumps(base)
        return text[: rng.randrange(len(text))].encode(), "truncated"
    if roll < 0.18:
        return json.dumps(_any_json(rng)).encode(), "any-json"
    if rng.random() < 0.3:
        base["stream"] = True
    action = rng.random()
    if action < 0.45:
        key = rng.choice(list(base) + FIELDS)
        base[key] = _any_json(rng)
        kind = f"field:{key}"
    elif action < 0.55:
        key = rng.choice(list(base))
        del base[key]
        kind = f"missing:{key}"
    elif action < 0.75 and isinstance(base.get("messages"), list):
        msg: dict[str, Any] = {"role": "user", "content": "hi"}
        for _ in range(rng.randrange(1, 3)):
            msg[rng.choice(MESSAGE_KEYS)] = _any_json(rng)
        base["messages"] = [msg] if rng.random() < 0.5 else [msg, *base["messages"]]
        kind = "message"
    elif action < 0.85:
        base[rng.choice(FIELDS)] = _any_json(rng)
        base[rng.choice(FIELDS)] = _any_json(rng)
        kind = "two-fields"
    else:
        raw = json.dumps(base).encode()
        key = rng.choice(FIELDS).encode()
        return raw[:-1] + b', "' + key + b'": ' + rng.choice(RAW_WILD) + b"}", "raw-value"
    try:
        return json.dumps(base).encode(), kind
    except (ValueError, TypeError):
        return json.dumps(valid_body(route)).encode(), kind
