"""omni-proxy-echo: a provider plugin whose models answer with the last user message.

A complete third-party provider in one module (the tutorial is
docs/writing-a-provider-plugin.md): chat, streaming, embeddings, errors through
``omni_proxy``'s upstream helpers, default models, and registration. No network and no key.

    providers:
      echo:
        plugin: echo
        prefix: "echo: "      # optional; what each answer starts with

A message ``fail 503`` (any status) makes it fail like an upstream would, which is handy
for watching the proxy fall back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from omni_proxy import (
    ModelInfo,
    Provider,
    ProviderSettings,
    bad_request,
    error_from_status,
    hookimpl,
)

__version__ = "0.1.0"


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # text parts; images and the like are skipped
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            return str(content or "")
    return ""


def _tokens(text: str) -> int:
    return len(text.split())


class EchoProvider(Provider):
    plugin = "echo"
    requires_api_key = False  # nothing to authenticate against

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        return [
            {
                "name": "echo",
                "cost_input": "0.01",
                "cost_output": "0.01",
                "avg_latency_ms": 5,
                "strengths": ["chat"],
            },
            {"name": "echo-embed", "cost_input": "0.01", "kind": "embedding"},
        ]

    def _reply(self, body: dict[str, Any]) -> str:
        text = _last_user_text(body)
        words = text.split()
        if len(words) == 2 and words[0] == "fail" and words[1].isdigit():
            # What a real provider does with an upstream's error status: the helper maps
            # it to the proxy's errors (429 and 5xx retryable, 400 the client's fault, …).
            raise error_from_status(self.name, int(words[1]), "asked to fail", retry_after=0.1)
        return str(self.settings.option("prefix", "echo: ")) + text

    def _usage(self, body: dict[str, Any], reply: str) -> dict[str, int]:
        prompt = sum(_tokens(str(m.get("content") or "")) for m in body.get("messages") or [])
        return {
            "prompt_tokens": prompt,
            "completion_tokens": _tokens(reply),
            "total_tokens": prompt + _tokens(reply),
        }

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        reply = self._reply(body)
        return {
            "id": f"chatcmpl-echo{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(body, reply),
        }

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        reply = self._reply(body)  # raising before the first chunk lets the proxy fall back
        head = {
            "id": f"chatcmpl-echo{time.time_ns()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return json.dumps({**head, "choices": [choice]}).encode()

        yield chunk({"role": "assistant", "content": ""})
        for i, word in enumerate(reply.split(" ")):
            yield chunk({"content": word if i == 0 else " " + word})
        yield chunk({}, "stop")
        yield json.dumps({**head, "choices": [], "usage": self._usage(body, reply)}).encode()

    async def embed(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        items = body["input"]
        texts = [items] if isinstance(items, str) else items
        if not all(isinstance(t, str) for t in texts):
            raise bad_request("echo embeds strings only", param="input")
        dims = body.get("dimensions") or 8
        data = []
        for i, text in enumerate(texts):
            digest = hashlib.sha256(text.encode()).digest() * (dims // 32 + 1)
            vector = [b / 255 - 0.5 for b in digest[:dims]]
            if body.get("encoding_format") == "base64":
                packed = struct.pack(f"<{dims}f", *vector)
                data.append(
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": base64.b64encode(packed).decode(),
                    }
                )
            else:
                data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(_tokens(t) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": model.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


@hookimpl
def register_providers(register: Any) -> None:
    register("echo", EchoProvider)
