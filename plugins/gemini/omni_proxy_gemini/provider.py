"""The Gemini provider: HTTP to ``models/{id}:generateContent`` (and its ``alt=sse`` stream),
and ``:embedContent`` / ``:batchEmbedContents`` for embeddings.

The key goes in the ``x-goog-api-key`` header, never in the URL, so it cannot end up in a
log line. The translation is in ``translate``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from omni_proxy import (
    ModelInfo,
    Provider,
    ProviderSettings,
    ProxyError,
    UpstreamResponse,
    error_body,
    error_from_exception,
    parse_json,
    retry_after_of,
    sse_events,
)

from .embed import (
    batch_values,
    batches,
    embed_request,
    embedding_inputs,
    embeddings_response,
    single_values,
    usage_tokens,
)
from .translate import StreamTranslator, from_gemini, gemini_error, to_gemini

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
SIGNATURE_CACHE_SIZE = 4096

# USD per million tokens (prompts up to 200k tokens), from Google's public price list.
DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "name": "gemini-2.5-pro",
        "cost_input": "1.25",
        "cost_output": "10.00",
        "avg_latency_ms": 2500,
        "strengths": ["reasoning", "coding", "image", "agent_step"],
        "supports_vision": True,
        "max_tokens": 1048576,
    },
    {
        "name": "gemini-2.5-flash",
        "cost_input": "0.30",
        "cost_output": "2.50",
        "avg_latency_ms": 900,
        "strengths": ["chat", "summarization", "image", "agent_step"],
        "supports_vision": True,
        "max_tokens": 1048576,
    },
    {
        "name": "gemini-2.5-flash-lite",
        "cost_input": "0.10",
        "cost_output": "0.40",
        "avg_latency_ms": 500,
        "strengths": ["chat", "translation", "summarization"],
        "supports_vision": True,
        "max_tokens": 1048576,
    },
    {
        # 3072 dimensions (128-3072 with ``dimensions``), inputs up to 2048 tokens.
        "name": "gemini-embedding-001",
        "cost_input": "0.15",
        "cost_output": "0",
        "avg_latency_ms": 300,
        "kind": "embedding",
        "max_tokens": 2048,
    },
]


def model_path(model_id: str) -> str:
    """``models/<id>`` (ids may already carry ``models/`` or be ``tunedModels/…``)."""
    return model_id if "/" in model_id else f"models/{model_id}"


class GeminiProvider(Provider):
    """Gemini through the Developer API. Options: ``safety_settings`` (sent as
    ``safetySettings`` on every request), ``embedding_task_type`` (the ``taskType`` of
    embeddings requests that name none)."""

    plugin = "gemini"
    key_env_var = "GEMINI_API_KEY"

    def __init__(self, settings: ProviderSettings, client: httpx.AsyncClient) -> None:
        super().__init__(settings, client)
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.headers = {"content-type": "application/json", **settings.headers}
        if settings.api_key:
            self.headers["x-goog-api-key"] = settings.api_key
        self.safety_settings = settings.option("safety_settings")
        self.embedding_task_type = settings.option("embedding_task_type")
        # Thought signatures by tool-call id, for clients that drop ``extra_content``.
        self.signatures: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        return [dict(m) for m in DEFAULT_MODELS]

    @classmethod
    def default_base_url(cls, settings: ProviderSettings) -> str | None:
        return DEFAULT_BASE_URL

    def url(self, model_id: str, stream: bool) -> str:
        method = ":streamGenerateContent?alt=sse" if stream else ":generateContent"
        return f"{self.base_url}/{model_path(model_id)}{method}"

    def _payload(self, body: dict[str, Any]) -> bytes:
        payload = to_gemini(body, signatures=self.signatures)
        if self.safety_settings:
            payload["safetySettings"] = self.safety_settings
        return orjson.dumps(payload)

    def _remember(self, tool_calls: Any) -> None:
        for call in tool_calls or ():
            sig = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
            if sig:
                self.signatures[call["id"]] = sig
                while len(self.signatures) > SIGNATURE_CACHE_SIZE:
                    self.signatures.popitem(last=False)

    def _error(self, response: UpstreamResponse, content: bytes) -> ProxyError:
        payload, fallback = error_body(response, content)
        return gemini_error(
            self.name,
            response.status_code,
            payload,
            retry_after=retry_after_of(response.headers),
            fallback_message=fallback,
        )

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        content = self._payload(body)
        response = await self.post(self.url(model.model, False), content, self.headers)
        if response.status_code != 200:
            raise self._error(response, response.content)
        data = parse_json(self.name, response.content)
        if not isinstance(data, dict) or "error" in data:
            raise gemini_error(
                self.name,
                None if isinstance(data, dict) else 502,
                data,
                fallback_message="unexpected response body",
            )
        result = from_gemini(data, model.name, provider=self.name)
        for choice in result["choices"]:
            self._remember(choice["message"].get("tool_calls"))
        return result

    async def _post_json(self, url: str, payload: dict[str, Any]) -> Any:
        response = await self.post(url, orjson.dumps(payload), self.headers)
        if response.status_code != 200:
            raise self._error(response, response.content)
        return parse_json(self.name, response.content)

    async def embed(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        texts = embedding_inputs(body)
        path = model_path(model.model)
        if isinstance(body.get("input"), str):
            data = await self._post_json(
                f"{self.base_url}/{path}:embedContent",
                embed_request(texts[0], body, task_type=self.embedding_task_type),
            )
            vector = single_values(data)
            if vector is None:
                raise self._unexpected(data)
            vectors, answers = [vector], [data]
        else:
            requests = batches(texts, body, path, self.embedding_task_type)
            url = f"{self.base_url}/{path}:batchEmbedContents"
            answers = list(await asyncio.gather(*(self._post_json(url, r) for r in requests)))
            vectors = []
            for request, data in zip(requests, answers, strict=True):
                got = batch_values(data, len(request["requests"]))
                if got is None:
                    raise self._unexpected(data)
                vectors.extend(got)
        return embeddings_response(vectors, body, model.name, usage_tokens(answers, texts))

    def _unexpected(self, data: Any) -> ProxyError:
        return gemini_error(
            self.name,
            None if isinstance(data, dict) and "error" in data else 502,
            data,
            fallback_message="unexpected embeddings response body",
        )

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        options = body.get("stream_options") or {}
        translator = StreamTranslator(
            model.name, provider=self.name, include_usage=bool(options.get("include_usage"))
        )
        response = await self.post_stream(
            self.url(model.model, True), self._payload(body), self.headers
        )
        try:
            if response.status_code != 200:
                raise self._error(response, await response.aread())
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                content = await response.aread()
                raise gemini_error(
                    self.name,
                    502,
                    parse_json(self.name, content),
                    fallback_message="expected an event stream",
                )
            async for _, data in sse_events(response):
                event = parse_json(self.name, data)
                if not isinstance(event, dict):
                    continue
                for chunk in translator.feed(event):
                    for choice in chunk["choices"]:
                        self._remember(choice["delta"].get("tool_calls"))
                    yield orjson.dumps(chunk)
            for chunk in translator.close():
                yield orjson.dumps(chunk)
        except httpx.HTTPError as exc:
            raise error_from_exception(self.name, exc) from None
        finally:
            await response.aclose()
