"""Per-body cost of checking a chat request (``validate_chat``), on realistic bodies.

    python bench/validation_bench.py [--old PATH]

``--old`` names another implementation of ``validate_chat`` (a file, e.g. the hand-written
validator from git: ``git show REV:omni_proxy/wire/validation.py``, with its relative import made
absolute) to time side by side in the same process.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import timeit
from collections.abc import Callable
from typing import Any

from omni_proxy.wire.validation import validate_chat

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def bodies() -> dict[str, dict[str, Any]]:
    short = {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "temperature": 0.2,
        "max_tokens": 200,
    }
    tools = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": f'{{"city": "c{i}"}}'},
                    }
                    for i in range(2)
                ],
            },
            {"role": "tool", "tool_call_id": "call_0", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        ],
        "tools": [WEATHER] * 4,
        "tool_choice": "auto",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    history: list[dict[str, Any]] = [{"role": "system", "content": "Be helpful."}]
    for i in range(100):
        history.append({"role": "user", "content": f"question {i} " * 20})
        history.append(
            {
                "role": "assistant",
                "content": [{"type": "text", "text": f"answer {i} " * 40}],
            }
        )
    long = {"model": "auto", "messages": history, "priority": "cheap", "top_p": 0.9}
    return {"short chat": short, "tools": tools, "long history (201 msgs)": long}


def per_call_us(fn: Callable[[Any], Any], body: dict[str, Any]) -> float:
    timer = timeit.Timer(lambda: fn(body), timer=time.thread_time)
    n, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=n)) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="a file defining another validate_chat")
    args = parser.parse_args()
    impls: dict[str, Callable[[Any], Any]] = {"current": validate_chat}
    if args.old:
        spec = importlib.util.spec_from_file_location("old_validation", args.old)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        impls = {"old": module.validate_chat, **impls}
    print(f"{'body':28}" + "".join(f"{name:>12}" for name in impls) + "   (µs per body)")
    for label, body in bodies().items():
        row = [per_call_us(fn, body) for fn in impls.values()]
        print(f"{label:28}" + "".join(f"{v:12.2f}" for v in row))


if __name__ == "__main__":
    main()
