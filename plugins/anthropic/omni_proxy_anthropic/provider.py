"""The Anthropic provider: HTTP to ``POST /v1/messages``; the translation is in ``translate``."""

from __future__ import annotations

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
    error_from_status,
    parse_json,
    retry_after_of,
    sse_events,
    stream_complete,
)

from .translate import (
    ANTHROPIC_VERSION,
    DEFAULT_MAX_TOKENS,
    StreamTranslator,
    anthropic_error,
    from_anthropic,
    to_anthropic,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"

# USD per million tokens, from Anthropic's public price list; context windows in tokens.
DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "name": "claude-sonnet-4-5",
        "cost_input": "3.00",
        "cost_output": "15.00",
        "avg_latency_ms": 1400,
        "strengths": ["coding", "reasoning", "agent_step", "image"],
        "supports_vision": True,
        "max_tokens": 200000,
    },
    {
        "name": "claude-haiku-4-5",
        "cost_input": "1.00",
        "cost_output": "5.00",
        "avg_latency_ms": 700,
        "strengths": ["chat", "summarization", "translation", "coding"],
        "supports_vision": True,
        "max_tokens": 200000,
    },
    {
        "name": "claude-opus-4-1",
        "cost_input": "15.00",
        "cost_output": "75.00",
        "avg_latency_ms": 2500,
        "strengths": ["reasoning", "coding", "agent_step"],
        "supports_vision": True,
        "max_tokens": 200000,
    },
]


#: The fields of a Messages body that Anthropic's token count takes.
_COUNTED = ("messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")


def messages_url(base_url: str) -> str:
    """``…/v1/messages`` whether or not the configured base URL already ends in ``/v1``."""
    base = base_url.rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


def _starts_output(chunk: dict[str, Any]) -> bool:
    """Whether a chunk carries anything beyond the opening ``role`` delta."""
    choices = chunk.get("choices") or []
    if not choices:
        return True
    choice = choices[0]
    return bool(choice.get("finish_reason")) or choice.get("delta") != {
        "role": "assistant",
        "content": "",
    }


class AnthropicProvider(Provider):
    """Claude through the Messages API. Options: ``anthropic_version``, ``anthropic_beta``,
    ``default_max_tokens`` (sent when the client sets no limit; Anthropic requires one)."""

    plugin = "anthropic"
    key_env_var = "ANTHROPIC_API_KEY"

    def __init__(self, settings: ProviderSettings, client: httpx.AsyncClient) -> None:
        super().__init__(settings, client)
        self.url = messages_url(settings.base_url or DEFAULT_BASE_URL)
        self.headers = {
            "content-type": "application/json",
            "anthropic-version": str(settings.option("anthropic_version", ANTHROPIC_VERSION)),
        }
        beta = settings.option("anthropic_beta")
        if beta:
            self.headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(beta)
        self.headers.update(settings.headers)
        if settings.api_key:
            self.headers["x-api-key"] = settings.api_key
        self.default_max_tokens = int(settings.option("default_max_tokens", DEFAULT_MAX_TOKENS))

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        return [dict(m) for m in DEFAULT_MODELS]

    @classmethod
    def default_base_url(cls, settings: ProviderSettings) -> str | None:
        return DEFAULT_BASE_URL

    def _payload(self, body: dict[str, Any], model: ModelInfo, stream: bool) -> bytes:
        payload = to_anthropic(
            {**body, "stream": stream}, model.model, default_max_tokens=self.default_max_tokens
        )
        return orjson.dumps(payload)

    def _error(self, response: UpstreamResponse, content: bytes) -> ProxyError:
        payload, fallback = error_body(response, content)
        return anthropic_error(
            self.name,
            response.status_code,
            payload,
            retry_after=retry_after_of(response.headers),
            fallback_message=fallback,
        )

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        content = self._payload(body, model, stream=False)
        response = await self.post(self.url, content, self.headers)
        if response.status_code != 200:
            raise self._error(response, response.content)
        data = parse_json(self.name, response.content)
        if not isinstance(data, dict) or data.get("type") == "error" or "content" not in data:
            raise anthropic_error(self.name, 502, data, fallback_message="unexpected response body")
        return from_anthropic(data, model.name)

    async def count_tokens(self, body: dict[str, Any], model: ModelInfo) -> int | None:
        """Anthropic's own count (``POST /v1/messages/count_tokens``); None when it fails, so
        the proxy answers its estimate rather than an error."""
        payload = {k: body[k] for k in _COUNTED if k in body}
        payload["model"] = model.model
        try:
            response = await self.post(
                self.url + "/count_tokens", orjson.dumps(payload), self.headers
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            tokens = orjson.loads(response.content).get("input_tokens")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        options = body.get("stream_options") or {}
        translator = StreamTranslator(
            model.name, provider=self.name, include_usage=bool(options.get("include_usage"))
        )
        response = await self.post_stream(
            self.url, self._payload(body, model, stream=True), self.headers
        )
        try:
            if response.status_code != 200:
                raise self._error(response, await response.aread())
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise anthropic_error(
                    self.name,
                    502,
                    parse_json(self.name, await response.aread()),
                    fallback_message="expected an event stream",
                )
            # The opening role chunk waits for real output, so an error event that comes
            # first (an overloaded upstream) still reaches the proxy before any byte does.
            pending: list[bytes] | None = []
            async for event, data in sse_events(response):
                obj = parse_json(self.name, data)
                if not isinstance(obj, dict):
                    continue
                for chunk in translator.feed(event, obj):
                    encoded = orjson.dumps(chunk)
                    if pending is None:
                        yield encoded
                    elif _starts_output(chunk):
                        for held in pending:
                            yield held
                        pending = None
                        yield encoded
                    else:
                        pending.append(encoded)
                if translator.done:
                    stream_complete(response)
                    return
            raise error_from_status(
                self.name, 502, "the stream ended before message_stop", code="upstream_stream_cut"
            )
        except httpx.HTTPError as exc:
            raise error_from_exception(self.name, exc) from None
        finally:
            await response.aclose()
