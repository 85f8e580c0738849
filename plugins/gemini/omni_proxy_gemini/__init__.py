"""omni-proxy provider for Google's Gemini API (``generateContent``).

Clients keep speaking OpenAI's Chat Completions; requests are translated to
``GenerateContentRequest`` (``translate.to_gemini``), answers and streams back to OpenAI's
shapes. Embeddings go to ``embedContent`` / ``batchEmbedContents`` (``embed``).

    providers:
      gemini:
        plugin: gemini
        api_key: ${GEMINI_API_KEY}
"""

from __future__ import annotations

from typing import Any

from omni_proxy import hookimpl

from .provider import DEFAULT_BASE_URL, DEFAULT_MODELS, GeminiProvider
from .translate import StreamTranslator, from_gemini, to_gemini

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "GeminiProvider",
    "StreamTranslator",
    "from_gemini",
    "to_gemini",
]


@hookimpl
def register_providers(register: Any) -> None:
    register("gemini", GeminiProvider)
