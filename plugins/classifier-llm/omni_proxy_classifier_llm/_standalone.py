"""The classifier outside a running proxy, for ``omni-proxy eval-classifier --classifier``.

The config (``$OMNI_CONFIG`` and the environment, as for ``serve``) and the installed
provider plugins are loaded on the first call; the classifier's settings come from the
usual ``OMNI_CLASSIFIER_LLM_*`` variables, which must name a model.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from omni_proxy import ConfigError

from ._classifier import ClassifyResult, LLMClassifier
from ._settings import ENV_MODEL


@functools.cache
def standalone_classifier() -> LLMClassifier:
    from omni_proxy import (
        Providers,
        build_registry,
        get_plugin_manager,
        load_config,
        provider_classes,
    )

    config = load_config()
    classes = provider_classes(get_plugin_manager())
    state = SimpleNamespace(
        registry=build_registry(config, classes), providers=Providers(config, classes)
    )
    instance = LLMClassifier()
    instance.start(SimpleNamespace(state=state), config)
    if instance.active is None:
        raise ConfigError(f"{ENV_MODEL} must name the model to classify with (or 'cheapest')")
    return instance


def standalone_classify(body: dict[str, Any]) -> ClassifyResult:
    """The plugin as it runs in the proxy: the model's label, else the heuristic's (which,
    in the proxy, answers whatever the plugin leaves to the next ``classify`` hook)."""
    result = standalone_classifier().classify(body)
    if result is None:
        from omni_proxy import heuristic_classify

        return heuristic_classify(body)
    return result


def standalone_llm_only(body: dict[str, Any]) -> ClassifyResult:
    """The model's label alone; None where the plugin would defer (tools, images, a slow
    or odd answer)."""
    return standalone_classifier().classify(body, fallback=False)
