"""omni-proxy provider for any OpenAI-compatible upstream.

The request body is already OpenAI's, so it goes upstream as it came (with the upstream
model id, minus the fields a preset's upstream rejects) and the stream's chunks come back
untouched. What differs between upstreams (OpenRouter's integer error codes and errors
inside a 200, Groq's ``x_groq`` usage, 402 out of credits) is handled in ``quirks``.
"""

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
    hookimpl,
    parse_json,
    retry_after_of,
    sse_events,
    stream_complete,
)

from .presets import PRESETS
from .quirks import (
    drop_message_fields,
    failed_choices,
    upstream_error_of,
    usage_chunk,
    usage_from_x_groq,
)
from .responses import post_response, responses_enabled, stream_response

__all__ = ["PRESETS", "OpenAIProvider"]


def preset_of(settings: ProviderSettings) -> dict[str, Any]:
    name = settings.preset or settings.name
    return PRESETS.get(name, {})


class OpenAIProvider(Provider):
    plugin = "openai"
    key_env_var = PRESETS["openai"]["key_env"]

    @classmethod
    def env_keys(cls) -> dict[str, tuple[str, dict[str, Any]]]:
        """``openai`` and each preset marked ``env_switches_on``, under the preset's name."""
        return {
            name: (preset["key_env"], {} if name == cls.plugin else {"preset": name})
            for name, preset in PRESETS.items()
            if preset.get("env_switches_on")
        }

    def __init__(self, settings: ProviderSettings, client: httpx.AsyncClient) -> None:
        super().__init__(settings, client)
        preset = preset_of(settings)
        base = settings.base_url or preset.get("base_url") or PRESETS["openai"]["base_url"]
        # Parsed once: httpx would otherwise parse the URL string on every request.
        self.url = httpx.URL(base.rstrip("/") + "/chat/completions")
        self.embeddings_url = httpx.URL(base.rstrip("/") + "/embeddings")
        self.responses_url = httpx.URL(base.rstrip("/") + "/responses")
        self.responses_api = responses_enabled(settings, preset)
        self.headers = {"content-type": "application/json", **preset.get("headers", {})}
        self.headers.update(settings.headers)
        if settings.api_key:
            self.headers["authorization"] = f"Bearer {settings.api_key}"
        self.drop_fields = tuple(preset.get("drop_fields", ()))
        self.drop_message_fields = tuple(preset.get("drop_message_fields", ()))
        self.x_groq_usage = bool(preset.get("x_groq_usage", False))
        self.stream_usage = bool(settings.option("stream_usage", True))

    @property
    def requires_api_key(self) -> bool:  # type: ignore[override]
        """Local servers (Ollama, vLLM, any custom ``base_url``) usually need no key."""
        preset = preset_of(self.settings)
        if preset:
            return preset.get("key_env") is not None
        return self.settings.base_url is None

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        return [dict(m) for m in preset_of(settings).get("models", [])]

    def _payload(self, body: dict[str, Any]) -> bytes:
        if self.drop_fields:
            body = {k: v for k, v in body.items() if k not in self.drop_fields}
        if self.drop_message_fields and "messages" in body:
            body = {
                **body,
                "messages": drop_message_fields(body["messages"], self.drop_message_fields),
            }
        try:
            return orjson.dumps(body)
        except orjson.JSONEncodeError as exc:  # e.g. nesting deeper than orjson writes
            raise ProxyError(400, f"The request cannot be sent upstream: {exc}.") from None

    def _error(self, response: UpstreamResponse, content: bytes) -> ProxyError:
        payload, fallback = error_body(response, content)
        return upstream_error_of(
            self.name,
            response.status_code,
            payload,
            retry_after=retry_after_of(response.headers),
            fallback_message=fallback,
        )

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        response = await self.post(self.url, self._payload(body), self.headers)
        if response.status_code != 200:
            raise self._error(response, response.content)
        data = parse_json(self.name, response.content)
        if not isinstance(data, dict) or "choices" not in data or data.get("error"):
            # A 200 whose body is an error: the failure came after the upstream accepted.
            raise upstream_error_of(
                self.name, None, data, fallback_message="unexpected response body"
            )
        failed = failed_choices(data)
        if failed is not None:
            raise upstream_error_of(self.name, None, failed, fallback_message="generation failed")
        if "usage" not in data and self.x_groq_usage:
            usage = usage_from_x_groq(data)
            if usage is not None:
                data["usage"] = usage
        return data

    async def embed(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        response = await self.post(self.embeddings_url, self._payload(body), self.headers)
        if response.status_code != 200:
            raise self._error(response, response.content)
        data = parse_json(self.name, response.content)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise upstream_error_of(
                self.name, None, data, fallback_message="unexpected response body"
            )
        return data

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        if self.stream_usage:
            options = body.get("stream_options") or {}
            if not options.get("include_usage"):
                body = {**body, "stream_options": {**options, "include_usage": True}}
        response = await self.post_stream(self.url, self._payload(body), self.headers)
        try:
            if response.status_code != 200:
                raise self._error(response, await response.aread())
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                # A JSON body instead of a stream: an error in a 200, or a server that
                # ignored "stream": true.
                content = await response.aread()
                raise upstream_error_of(
                    self.name,
                    None,
                    parse_json(self.name, content),
                    fallback_message="expected an event stream",
                )
            usage_seen = False
            groq_usage: dict[str, Any] | None = None
            last: dict[str, Any] = {}
            async for _, data in sse_events(response):
                if data == b"[DONE]":
                    stream_complete(response)
                    if groq_usage is not None and not usage_seen:
                        yield orjson.dumps(usage_chunk(last, groq_usage))
                    return
                if b'"error"' in data:
                    # OpenAI sends {"error": …}; OpenRouter a chunk with "error" and a
                    # choice finishing with "error" (possibly followed by [DONE]).
                    event = parse_json(self.name, data)
                    if isinstance(event, dict) and event.get("error"):
                        raise upstream_error_of(
                            self.name, None, event, fallback_message="the upstream stream failed"
                        )
                if self.x_groq_usage:
                    event = parse_json(self.name, data)
                    if isinstance(event, dict):
                        last = event
                        usage_seen = usage_seen or bool(event.get("usage"))
                        groq_usage = usage_from_x_groq(event) or groq_usage
                yield data
            raise error_from_status(
                self.name, 502, "the stream ended before [DONE]", code="upstream_stream_cut"
            )
        except httpx.HTTPError as exc:
            raise error_from_exception(self.name, exc) from None
        finally:
            await response.aclose()

    # The Responses API, passed through where the upstream serves it (see responses.py).
    def supports_responses(self) -> bool:
        return self.responses_api

    async def responses(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        return await post_response(self, body)

    def responses_stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        return stream_response(self, body)


@hookimpl
def register_providers(register: Any) -> None:
    register("openai", OpenAIProvider)
