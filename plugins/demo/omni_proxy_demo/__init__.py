"""A SIMULATED provider: deterministic answers, realistic prices and latencies, no network.

What ``omni-proxy serve --demo`` and the README quickstart use, so routing, savings and the
dashboard can be tried without a single provider key. Every answer says it is simulated.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from omni_proxy import (
    ModelInfo,
    Provider,
    ProviderSettings,
    estimate_tokens,
    hookimpl,
    last_user_text,
)

from .schema import example

__all__ = ["DEMO_MODELS", "DemoProvider"]

# Prices mirror real models of each class (USD per 1M tokens); latencies are typical.
DEMO_MODELS: list[dict[str, Any]] = [
    {
        "name": "demo-premium",
        "cost_input": "2.50",
        "cost_output": "10.00",
        "avg_latency_ms": 900,
        "strengths": ["coding", "reasoning", "agent_step", "image"],
        "supports_vision": True,
        "max_tokens": 128000,
    },
    {
        "name": "demo-coder",
        "cost_input": "0.30",
        "cost_output": "0.90",
        "avg_latency_ms": 500,
        "strengths": ["coding"],
        "max_tokens": 256000,
    },
    {
        "name": "demo-reasoner",
        "cost_input": "0.55",
        "cost_output": "2.19",
        "avg_latency_ms": 2000,
        "strengths": ["reasoning"],
        "max_tokens": 64000,
    },
    {
        "name": "demo-mini",
        "cost_input": "0.15",
        "cost_output": "0.60",
        "avg_latency_ms": 400,
        "strengths": ["chat", "summarization", "translation"],
        "supports_vision": True,
        "max_tokens": 128000,
    },
    {
        "name": "demo-embed",
        "cost_input": "0.02",
        "cost_output": "0",
        "avg_latency_ms": 100,
        "kind": "embedding",
        "max_tokens": 8191,
    },
    {
        "name": "demo-fast",
        "cost_input": "0.05",
        "cost_output": "0.08",
        "avg_latency_ms": 150,
        "strengths": ["chat"],
        "supports_functions": False,
        "max_tokens": 8192,
    },
]

_PREFIX = "[simulated by omni-proxy demo] "


def _tool_results(body: dict[str, Any]) -> str:
    """The tool results sent since the last user message ("" when there are none)."""
    out: list[str] = []
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            break
        if msg.get("role") in ("tool", "function"):
            content = msg.get("content")
            out.append(content if isinstance(content, str) else orjson.dumps(content).decode())
    return " ".join(reversed(out))


_STOP_WORDS = frozenset({"the", "and", "for", "with", "from", "this", "that", "what", "into"})
_FINISHING = ("final", "result", "answer", "respond", "output", "submit", "done")


def _words(text: str) -> set[str]:
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower().replace("_", " "))
    return {w for w in cleaned.split() if len(w) >= 3 and w not in _STOP_WORDS}


def _about(tool: dict[str, Any]) -> set[str]:
    """What a tool is about: its name, description, schema title and parameter names."""
    params = tool.get("parameters")
    params = params if isinstance(params, dict) else {}
    props = params.get("properties")
    props = props if isinstance(props, dict) else {}
    name = str(tool.get("name", ""))
    spaced = "".join(f" {c}" if c.isupper() else c for c in name)  # GetWeather -> Get Weather
    text = f"{spaced} {tool.get('description', '')} {params.get('title', '')} {' '.join(props)}"
    return _words(text)


def _called_this_turn(body: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            break
        for call in msg.get("tool_calls") or ():
            names.add(str((call.get("function") or {}).get("name")))
    return names


def _tool_to_call(body: dict[str, Any], text: str) -> dict[str, Any] | None:
    """The function a model would call now, or None to answer in text.

    Like a model in an agent loop: call a tool for a new user message, answer once the
    tools have replied. The tool whose name, description and parameters share most words
    with the prompt wins; a named ``tool_choice`` decides. When a call is required after
    tools replied (agent frameworks that take structured output as a tool), a finishing
    tool (``final_result``, ``answer``…) or one not called yet this turn comes next, so
    the loop ends.
    """
    tools = [t.get("function") or {} for t in body.get("tools") or () if isinstance(t, dict)]
    tools = [t for t in tools if isinstance(t, dict) and t.get("name")]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t.get("name") == name), tools[0])
    if _tool_results(body):
        if choice != "required":
            return None
        finishing = [t for t in tools if any(w in str(t["name"]).lower() for w in _FINISHING)]
        called = _called_this_turn(body)
        untried = [t for t in tools if t["name"] not in called]
        tools = finishing or untried or tools
    words = _words(text)
    return max(tools, key=lambda tool: len(words & _about(tool)))


def _tokens(text: str) -> int:
    return max(1, estimate_tokens(len(text)))


class DemoProvider(Provider):
    plugin = "demo"
    requires_api_key = False

    def __init__(self, settings: ProviderSettings, client: Any) -> None:
        super().__init__(settings, client)
        # Fraction of each model's avg latency actually slept; 0 makes tests instant.
        self.latency_scale = float(settings.option("latency_scale", 0.05))

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        return [dict(m) for m in DEMO_MODELS]

    def _answer(self, body: dict[str, Any], model: ModelInfo) -> tuple[str, dict[str, Any] | None]:
        text = last_user_text(body, sep=" ")
        tool = _tool_to_call(body, text)
        if tool is not None:
            args = example(tool.get("parameters") or {"type": "object"}, text[:80] or "demo")
            return "", {
                "id": "call_demo_" + hashlib.sha1(text.encode()).hexdigest()[:12],
                "type": "function",
                "function": {
                    "name": tool.get("name", "tool"),
                    "arguments": orjson.dumps(args).decode(),
                },
            }
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
            return orjson.dumps(example(schema, text[:80] or "demo")).decode(), None
        if fmt.get("type") == "json_object":
            return orjson.dumps(
                {"simulated": True, "model": model.name, "echo": text[:200]}
            ).decode(), None
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        results = _tool_results(body)
        if results:
            return f"{_PREFIX}{model.name} answering ({digest}) from the tool's result: " + (
                results[:200]
            ), None
        return f"{_PREFIX}{model.name} answering ({digest}): {text[:200]}", None

    async def _delay(self, model: ModelInfo) -> None:
        if self.latency_scale > 0:
            await asyncio.sleep(model.avg_latency_ms * self.latency_scale / 1000)

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        await self._delay(model)
        content, call = self._answer(body, model)
        prompt = _tokens(" ".join(str(m.get("content")) for m in body.get("messages", [])))
        completion = _tokens(content or str(call))
        message: dict[str, Any] = {"role": "assistant", "content": content or None, "refusal": None}
        if call:
            message["tool_calls"] = [call]
        n = int(body.get("n") or 1)
        return {
            "id": "chatcmpl-demo" + hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()[:20],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.model,
            "choices": [
                {
                    "index": i,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if call else "stop",
                }
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion * n,
                "total_tokens": prompt + completion * n,
            },
            "system_fingerprint": "fp_omni_demo",
        }

    async def embed(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        await self._delay(model)
        items = body.get("input")
        texts = [items] if isinstance(items, str) else list(items or [])
        dims = int(body.get("dimensions") or 16)
        data = []
        for i, text in enumerate(texts):
            seed = hashlib.sha256(str(text).encode()).digest()
            vector = [(seed[j % len(seed)] - 128) / 128 for j in range(dims)]
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = sum(_tokens(str(t)) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": model.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        await self._delay(model)
        content, call = self._answer(body, model)
        cid = "chatcmpl-demo" + hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()[:20]
        head = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return orjson.dumps(
                {
                    **head,
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                    ],
                }
            )

        yield chunk({"role": "assistant", "content": ""})
        if call:
            yield chunk({"tool_calls": [{"index": 0, **call}]})
        else:
            words = content.split(" ")
            for i, word in enumerate(words):
                yield chunk({"content": word if i == 0 else " " + word})
                await asyncio.sleep(0)
        yield chunk({}, "tool_calls" if call else "stop")
        prompt = _tokens(" ".join(str(m.get("content")) for m in body.get("messages", [])))
        completion = _tokens(content or str(call))
        yield orjson.dumps(
            {
                **head,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )


@hookimpl
def register_providers(register: Any) -> None:
    register("demo", DemoProvider)
