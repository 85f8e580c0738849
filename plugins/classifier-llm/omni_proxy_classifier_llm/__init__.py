"""omni-proxy plugin: the cheap model classifies.

Asks one cheap chat model (the one named by ``OMNI_CLASSIFIER_LLM_MODEL``, or the cheapest
configured one when that is ``cheapest``) for the request's task type, with a strict prompt,
``temperature: 0`` and a tiny ``max_tokens``. Answers are cached by a hash of the prompt.
When the model is slow (``OMNI_CLASSIFIER_LLM_TIMEOUT_MS``, default 300), fails or answers
anything but exactly one label, the built-in heuristic decides instead. With
``OMNI_CLASSIFIER_LLM_BELOW`` (or ``routing.llm_classifier_below``) set, the model is asked
only when the heuristic's calibrated confidence is below it. Requests whose
structure decides their type (tools, a tool result, image parts) never reach the model.

Off unless ``OMNI_CLASSIFIER_LLM_MODEL`` is set.

To measure it against the evaluation set outside the proxy::

    OMNI_CLASSIFIER_LLM_MODEL=cheapest omni-proxy eval-classifier \
        --classifier omni_proxy_classifier_llm:standalone_classify
"""

from __future__ import annotations

from typing import Any

from omni_proxy import hookimpl

from ._cache import MISSING, TTLCache
from ._classifier import CLASSIFIER_NAME, CONFIDENCE, LLMClassifier, heuristic
from ._prompt import SYSTEM_PROMPT, is_structural, parse_label, render_conversation
from ._settings import (
    ENV_BELOW,
    ENV_CACHE_SIZE,
    ENV_CACHE_TTL_S,
    ENV_MODEL,
    ENV_TIMEOUT_MS,
    Settings,
    load_settings,
)
from ._standalone import standalone_classifier, standalone_classify, standalone_llm_only

__all__ = [
    "CLASSIFIER_NAME",
    "CONFIDENCE",
    "ENV_BELOW",
    "ENV_CACHE_SIZE",
    "ENV_CACHE_TTL_S",
    "ENV_MODEL",
    "ENV_TIMEOUT_MS",
    "MISSING",
    "SYSTEM_PROMPT",
    "LLMClassifier",
    "Settings",
    "TTLCache",
    "classifier",
    "heuristic",
    "is_structural",
    "load_settings",
    "parse_label",
    "render_conversation",
    "standalone_classifier",
    "standalone_classify",
    "standalone_llm_only",
]

#: The plugin's state: the model, its provider and the cache of the app that started last.
classifier = LLMClassifier()


@hookimpl
def startup(app: Any, config: Any) -> None:
    classifier.start(app, config)


@hookimpl
def shutdown(app: Any) -> None:
    classifier.stop(app)


@hookimpl
def classify(body: dict[str, Any]) -> Any:
    return classifier.classify(body)


def _llm_only(body: dict[str, Any]) -> Any:
    return classifier.classify(body, fallback=False)


@hookimpl
def register_classifiers(register: Any) -> None:
    # The model's own answer or None (an evaluation of this classifier alone, or a core
    # that chains the classifiers itself); answers only once an app has started it.
    register(CLASSIFIER_NAME, _llm_only)
