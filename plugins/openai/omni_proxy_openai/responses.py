"""``POST /responses`` passed through to upstreams that serve OpenAI's Responses API.

The body goes up as the proxy hands it over (it already carries the upstream model id) and
the answer comes back untouched: the ``Response`` object, or the stream's server-sent events
byte for byte. Whether an upstream serves it is the provider's ``responses_api`` option,
defaulting to its preset's (true for ``openai`` only: other OpenAI-compatible servers
either lack the endpoint or serve a stateless subset, so they opt in explicitly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import httpx
import orjson

from omni_proxy import (
    ConfigError,
    ProviderSettings,
    ProxyError,
    UpstreamResponse,
    error_from_exception,
    parse_json,
)

from .quirks import upstream_error_of

__all__ = ["post_response", "responses_enabled", "split_events", "stream_response"]


class ResponsesUpstream(Protocol):
    """What the functions here need of ``OpenAIProvider``."""

    @property
    def name(self) -> str: ...

    responses_url: httpx.URL

    headers: dict[str, str]

    def _error(self, response: UpstreamResponse, content: bytes) -> ProxyError: ...

    async def post(
        self, url: str | httpx.URL, content: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse: ...

    async def post_stream(
        self, url: str | httpx.URL, content: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse: ...


def responses_enabled(settings: ProviderSettings, preset: dict[str, Any]) -> bool:
    """The provider's ``responses_api`` option, else its preset's default."""
    value = settings.option("responses_api")
    if value is None:
        return bool(preset.get("responses_api", False))
    if not isinstance(value, bool):
        raise ConfigError(
            f"invalid config: providers.{settings.name}.responses_api: expected true or "
            f"false (got {value!r})"
        )
    return value


def _payload(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise ProxyError(400, f"The request cannot be sent upstream: {exc}.") from None


async def post_response(provider: ResponsesUpstream, body: dict[str, Any]) -> dict[str, Any]:
    """The upstream's ``Response`` object for a non-streaming request."""
    response = await provider.post(provider.responses_url, _payload(body), provider.headers)
    if response.status_code != 200:
        raise provider._error(response, response.content)
    data = parse_json(provider.name, response.content)
    if not isinstance(data, dict) or data.get("object") != "response":
        raise upstream_error_of(
            provider.name, None, data, fallback_message="unexpected response body"
        )
    return data


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete server-sent events in ``buffer`` (each with its blank-line terminator, as
    sent) and the incomplete rest."""
    events = []
    start = 0
    while True:
        lf = buffer.find(b"\n\n", start)
        crlf = buffer.find(b"\r\n\r\n", start)
        if lf < 0 and crlf < 0:
            break
        end = crlf + 4 if crlf >= 0 and (lf < 0 or crlf < lf) else lf + 2
        events.append(buffer[start:end])
        start = end
    return events, buffer[start:]


async def stream_response(
    provider: ResponsesUpstream, body: dict[str, Any]
) -> AsyncIterator[bytes]:
    """Each event of the upstream's stream, bytes as received; comment-only keep-alives
    are relayed too (they are part of the stream the client would have seen)."""
    response = await provider.post_stream(provider.responses_url, _payload(body), provider.headers)
    try:
        if response.status_code != 200:
            raise provider._error(response, await response.aread())
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            content = await response.aread()
            raise upstream_error_of(
                provider.name,
                None,
                parse_json(provider.name, content),
                fallback_message="expected an event stream",
            )
        buffer = b""
        async for chunk in response.aiter_bytes():
            events, buffer = split_events(buffer + chunk)
            for event in events:
                yield event
        if buffer.strip():
            yield buffer + b"\n\n"  # a last event without its blank line
    except httpx.HTTPError as exc:
        raise error_from_exception(provider.name, exc) from None
    finally:
        await response.aclose()
