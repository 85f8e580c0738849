"""omni-proxy provider for Anthropic's Messages API.

Clients keep speaking OpenAI's Chat Completions; requests are translated to Messages
(``translate.to_anthropic``), answers and streams back to OpenAI's shapes.

    providers:
      anthropic:
        plugin: anthropic
        api_key: ${ANTHROPIC_API_KEY}
"""

from __future__ import annotations

from typing import Any

from omni_proxy import hookimpl

from .provider import DEFAULT_BASE_URL, DEFAULT_MODELS, AnthropicProvider
from .translate import StreamTranslator, from_anthropic, to_anthropic

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "AnthropicProvider",
    "StreamTranslator",
    "from_anthropic",
    "to_anthropic",
]


@hookimpl
def register_providers(register: Any) -> None:
    register("anthropic", AnthropicProvider)
