"""The provider interface: what a provider plugin implements.

A provider turns an OpenAI-format chat request into a call to its upstream and answers in
OpenAI format. One whose upstream speaks OpenAI's Responses API may also say so
(``supports_responses``) and take ``/v1/responses`` requests as they are; every other
provider keeps working, with those requests translated onto ``chat``.

The core hands a provider its settings and a shared, pooled ``httpx.AsyncClient``;
providers never read the environment and never build clients, so tests can hand them any
transport. ``post`` and ``post_stream`` are the way to call the upstream: they add the
request's trace headers, use the provider's connection pool directly when there is one
(``upstream_h1``: see ``upstream_http``) and the client otherwise, and turn a failure to
reach the upstream into the ``ProxyError`` the fallback logic understands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from .server.tracing import upstream_headers
from .upstream.errors import error_from_exception

if TYPE_CHECKING:
    from .config import ProviderSettings
    from .types import ModelInfo
    from .upstream.pool import UpstreamPool, UpstreamResponse


class Provider:
    """Subclass this, set ``plugin``, and implement ``chat`` and ``stream``."""

    plugin: ClassVar[str] = ""
    #: Upstream keys are needed unless this is False (local servers, simulations).
    requires_api_key: ClassVar[bool] = True
    #: The environment variable that holds the upstream key (as in simonw/llm). Set, it
    #: switches the provider named like the plugin on with no config file, and it wins over
    #: the file's ``api_key`` for that provider. None: the environment configures nothing.
    key_env_var: ClassVar[str | None] = None

    def __init__(self, settings: ProviderSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        #: The connection pool ``post`` uses, set by the core (None: use ``client``).
        self.http: UpstreamPool | None = None

    @classmethod
    def env_keys(cls) -> dict[str, tuple[str, dict[str, Any]]]:
        """Provider name -> (key variable, settings) for each provider of this class that a
        key in the environment switches on by itself. One plugin may serve several (presets
        of one wire format); the default is the plugin's own name and ``key_env_var``."""
        return {cls.plugin: (cls.key_env_var, {})} if cls.key_env_var else {}

    async def post(
        self, url: str | httpx.URL, content: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """POST (with the trace headers) and read the whole answer, whatever its status.
        Not reaching the upstream raises ``ProxyError`` (502/504)."""
        trace = upstream_headers()
        if trace:
            headers = {**headers, **trace}
        try:
            if self.http is not None:
                return await self.http.request("POST", url, content, headers)
            return await self.client.post(url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise error_from_exception(self.name, exc) from None

    async def post_stream(
        self, url: str | httpx.URL, content: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """POST (with the trace headers) and return at the response's head; read with
        ``aiter_bytes`` (which raises ``httpx.HTTPError``), then ``aclose``. Not reaching
        the upstream raises ``ProxyError`` (502/504)."""
        trace = upstream_headers()
        if trace:
            headers = {**headers, **trace}
        try:
            if self.http is not None:
                return await self.http.request("POST", url, content, headers, stream=True)
            request = self.client.build_request("POST", url, content=content, headers=headers)
            return await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_from_exception(self.name, exc) from None

    @property
    def name(self) -> str:
        """The provider's name in the config (several may share one plugin)."""
        return self.settings.name

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        """Registry rows to use when the config lists no models for this provider."""
        return []

    @classmethod
    def default_base_url(cls, settings: ProviderSettings) -> str | None:
        return None

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        """Answer a non-streaming request with an OpenAI ``chat.completion`` dict.

        ``body`` is the client's request with ``model`` already set to the upstream id and
        the proxy's own routing fields removed. Raise ``ProxyError`` on failure.
        """
        raise NotImplementedError

    async def embed(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        """Answer an embeddings request with OpenAI's ``CreateEmbeddingResponse`` dict."""
        from .errors import bad_request

        raise bad_request(
            f"provider {self.name!r} ({self.plugin}) does not serve embeddings", param="model"
        )

    def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        """Yield the JSON text of each OpenAI ``chat.completion.chunk``, unframed.

        Upstream failures before the first chunk must raise (so the proxy can fall back);
        ask the upstream for usage so the final chunk carries it.
        """
        raise NotImplementedError

    async def count_tokens(self, body: dict[str, Any], model: ModelInfo) -> int | None:
        """The upstream's own input-token count for an Anthropic Messages ``body``, for
        ``POST /v1/messages/count_tokens``; None (the default) when it offers none, and the
        proxy's estimate is answered instead."""
        return None

    # -- OpenAI's Responses API, for upstreams that serve it themselves (optional) --------
    def supports_responses(self) -> bool:
        """Whether ``/v1/responses`` requests go to this upstream as they are (``responses``
        and ``responses_stream``). False (the default) translates them onto ``chat``."""
        return False

    async def responses(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        """Answer a ``CreateResponse`` body (``model`` already the upstream id) with the
        upstream's ``Response`` object, untouched. Raise ``ProxyError`` on failure."""
        raise _no_responses(self)

    def responses_stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        """Yield each server-sent event of the upstream's Responses stream exactly as it
        arrived, blank-line terminator included (the proxy relays the bytes). Failures
        before the first event must raise, so the proxy can fall back."""
        raise _no_responses(self)


def _no_responses(provider: Provider) -> Exception:
    from .errors import bad_request

    return bad_request(
        f"provider {provider.name!r} ({provider.plugin}) does not serve the Responses API",
        param="model",
    )


__all__ = ["Provider"]
