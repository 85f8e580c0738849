"""The provider interface: what a provider plugin implements.

A provider turns an OpenAI-format chat request into a call to its upstream and answers in
OpenAI format. The core hands it its settings and a shared, pooled ``httpx.AsyncClient``;
providers never read the environment and never build clients, so tests can hand them any
transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

if TYPE_CHECKING:
    from .config import ProviderSettings
    from .types import ModelInfo


class Provider:
    """Subclass this, set ``plugin``, and implement ``chat`` and ``stream``."""

    plugin: ClassVar[str] = ""
    #: Upstream keys are needed unless this is False (local servers, simulations).
    requires_api_key: ClassVar[bool] = True

    def __init__(self, settings: ProviderSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

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


__all__ = ["Provider"]
