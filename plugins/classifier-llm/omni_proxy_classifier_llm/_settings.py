"""The plugin's settings: a ``classifier_llm`` config section if the core has one, then the
``OMNI_CLASSIFIER_LLM_*`` environment variables (which win, as elsewhere in omni-proxy)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omni_proxy import ConfigError

ENV_MODEL = "OMNI_CLASSIFIER_LLM_MODEL"
ENV_TIMEOUT_MS = "OMNI_CLASSIFIER_LLM_TIMEOUT_MS"
ENV_CACHE_SIZE = "OMNI_CLASSIFIER_LLM_CACHE_SIZE"
ENV_CACHE_TTL_S = "OMNI_CLASSIFIER_LLM_CACHE_TTL_S"
ENV_BELOW = "OMNI_CLASSIFIER_LLM_BELOW"

#: ``model`` values that mean "the cheapest chat model whose provider is configured".
CHEAPEST = frozenset({"cheapest", "auto"})

DEFAULT_TIMEOUT_MS = 300.0
DEFAULT_CACHE_SIZE = 4096
DEFAULT_CACHE_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Settings:
    model: str
    timeout_ms: float = DEFAULT_TIMEOUT_MS
    cache_size: int = DEFAULT_CACHE_SIZE
    cache_ttl_s: float = DEFAULT_CACHE_TTL_S
    #: Ask the model only when the heuristic's confidence is below this; None: always ask.
    below: float | None = None
    #: Where ``model`` was set (the variable or the config key), for error messages.
    source: str = ENV_MODEL

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000

    @property
    def cheapest(self) -> bool:
        return self.model.strip().lower() in CHEAPEST


def _section(config: Any) -> dict[str, Any]:
    """The ``classifier_llm`` section of the config, if the core defines one."""
    section = getattr(config, "classifier_llm", None)
    if section is None:
        return {}
    if hasattr(section, "model_dump"):
        section = section.model_dump()
    return dict(section) if isinstance(section, Mapping) else {}


def _number(value: Any, where: str, *, integer: bool, minimum: float, what: str) -> Any:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {what} (got {value!r})") from None
    if not math.isfinite(number) or number < minimum:
        raise ConfigError(f"{where}: expected {what} (got {value!r})")
    return number


def _routing_below(config: Any) -> Any:
    """``routing.llm_classifier_below`` of the core config, when it has one."""
    return getattr(getattr(config, "routing", None), "llm_classifier_below", None)


def load_settings(config: Any = None, env: Mapping[str, str] | None = None) -> Settings | None:
    """The settings, or None when no model is named (the plugin is then off).

    The confidence gate comes from ``OMNI_CLASSIFIER_LLM_BELOW``, else the section's
    ``below``, else the core's ``routing.llm_classifier_below``; unset, the model is asked
    on every request (as before the gate existed)."""
    env = os.environ if env is None else env
    raw = _section(config)
    where = {key: f"classifier_llm.{key}" for key in raw}
    if raw.get("below") is None and _routing_below(config) is not None:
        raw["below"] = _routing_below(config)
        where["below"] = "routing.llm_classifier_below"
    for key, var in (
        ("model", ENV_MODEL),
        ("timeout_ms", ENV_TIMEOUT_MS),
        ("cache_size", ENV_CACHE_SIZE),
        ("cache_ttl_s", ENV_CACHE_TTL_S),
        ("below", ENV_BELOW),
    ):
        value = env.get(var)
        if value is not None and value.strip():
            raw[key] = value.strip()
            where[key] = var
    model = raw.get("model")
    if not model or raw.get("enabled") is False:
        return None
    below = raw.get("below")
    if below is not None:
        below = _number(
            below, where.get("below", "below"), integer=False, minimum=0, what="a confidence, 0..1"
        )
        if below > 1:
            raise ConfigError(f"{where.get('below', 'below')}: expected a confidence, 0..1")
    return Settings(
        model=str(model),
        source=where.get("model", ENV_MODEL),
        timeout_ms=_number(
            raw.get("timeout_ms", DEFAULT_TIMEOUT_MS),
            where.get("timeout_ms", "timeout_ms"),
            integer=False,
            minimum=1,
            what="a number of milliseconds, at least 1",
        ),
        cache_size=_number(
            raw.get("cache_size", DEFAULT_CACHE_SIZE),
            where.get("cache_size", "cache_size"),
            integer=True,
            minimum=0,
            what="a whole number of entries, 0 or more",
        ),
        cache_ttl_s=_number(
            raw.get("cache_ttl_s", DEFAULT_CACHE_TTL_S),
            where.get("cache_ttl_s", "cache_ttl_s"),
            integer=False,
            minimum=0,
            what="a number of seconds, 0 or more",
        ),
        below=below,
    )
