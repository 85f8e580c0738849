"""The classifier: ask one cheap model for the task label, within a short deadline."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from omni_proxy import Classification, ConfigError, ModelInfo, Provider, heuristic_classify

from ._cache import MISSING, TTLCache
from ._prompt import (
    cache_key,
    classifier_request,
    is_structural,
    parse_label,
    render_conversation,
)
from ._settings import Settings, load_settings

log = logging.getLogger("omni_proxy.classifier_llm")

CLASSIFIER_NAME = "llm"
#: The model gives no probability with its label; a clean, strict answer is trusted this much.
CONFIDENCE = 0.8
#: After this many failed calls in a row (errors or timeouts, not odd answers) the model is
#: not asked for ``BREAKER_COOLDOWN_S``: every request would otherwise pay the full deadline.
BREAKER_THRESHOLD = 3
BREAKER_COOLDOWN_S = 30.0

ClassifyResult = Classification | Awaitable[Classification | None] | None


class _Active:
    """Everything one running app's classifier needs: the model, its provider, the cache."""

    def __init__(
        self,
        app: Any,
        settings: Settings,
        model: ModelInfo,
        provider: Provider,
        health: Any,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.settings = settings
        self.model = model
        self.provider = provider
        self.health = health
        self.clock = clock
        self.cache: TTLCache[str | None] = TTLCache(
            settings.cache_size, settings.cache_ttl_s, clock=clock
        )
        self.signal = f"llm:{model.name}"
        self.failures = 0
        self.closed_until = 0.0

    def available(self) -> bool:
        if self.failures >= BREAKER_THRESHOLD and self.clock() < self.closed_until:
            return False
        cooled = getattr(self.health, "cooled_down", None)
        return not (cooled is not None and cooled(self.model.name))

    def failed(self, reason: str) -> None:
        self.failures += 1
        if self.failures >= BREAKER_THRESHOLD:
            self.closed_until = self.clock() + BREAKER_COOLDOWN_S
            log.warning(
                "classifier model %s failed %d times in a row (last: %s); "
                "using the heuristic for %.0f s",
                self.model.name,
                self.failures,
                reason,
                BREAKER_COOLDOWN_S,
            )

    def succeeded(self) -> None:
        self.failures = 0

    def result(self, label: str, *, cached: bool) -> Classification:
        signals = (self.signal, "llm:cached") if cached else (self.signal,)
        return Classification(label, CONFIDENCE, signals, classifier=CLASSIFIER_NAME)


class LLMClassifier:
    """Off until ``start`` finds a model to ask; ``classify`` is the hook's behaviour."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.active: _Active | None = None

    # -- life cycle ---------------------------------------------------------------------
    def start(self, app: Any, config: Any, env: Mapping[str, str] | None = None) -> None:
        """Read the settings and pick the model; off (and quiet) when none is named."""
        self.active = None
        settings = load_settings(config, env)
        if settings is None:
            return
        state = app.state
        registry, providers = state.registry, state.providers
        model = self._pick(settings, registry, providers)
        provider = providers.get(model.provider)
        if provider is None:  # pragma: no cover - the registry only holds known providers
            raise ConfigError(f"{settings.source}: provider {model.provider!r} is not running")
        pipeline = getattr(state, "pipeline", None)
        health = getattr(pipeline, "health", None)
        self.active = _Active(app, settings, model, provider, health, self.clock)
        log.info(
            "LLM classifier on: model %s, deadline %.0f ms, cache %d entries for %.0f s, %s",
            model.name,
            settings.timeout_ms,
            settings.cache_size,
            settings.cache_ttl_s,
            "every request"
            if settings.below is None
            else f"only below heuristic confidence {settings.below:g}",
        )

    def stop(self, app: Any) -> None:
        if self.active is not None and self.active.app is app:
            self.active = None

    @staticmethod
    def _pick(settings: Settings, registry: Any, providers: Any) -> ModelInfo:
        if settings.cheapest:
            usable = [m for m in registry if m.kind == "chat" and providers.configured(m.provider)]
            if not usable:
                raise ConfigError(
                    f"{settings.source}: no chat model with a configured provider to classify with"
                )
            cheapest: ModelInfo = min(
                usable, key=lambda m: (m.cost_input + m.cost_output, m.avg_latency_ms)
            )
            return cheapest
        model: ModelInfo | None = registry.get(settings.model)
        if model is None:
            names = ", ".join(m.name for m in registry) or "none"
            raise ConfigError(
                f"{settings.source}: {settings.model!r} is not a model in the registry "
                f"(models: {names}; or 'cheapest')"
            )
        if model.kind != "chat":
            raise ConfigError(f"{settings.source}: {model.name!r} is not a chat model")
        if not providers.configured(model.provider):
            raise ConfigError(
                f"{settings.source}: {model.name!r} needs provider {model.provider!r}, "
                "which has no API key configured"
            )
        return model

    # -- classifying --------------------------------------------------------------------
    def classify(self, body: dict[str, Any], *, fallback: bool = True) -> ClassifyResult:
        """None (synchronously) when the model is not to be asked, so the next plugin — in the
        end the heuristic — decides; a cached answer as is; otherwise an awaitable.

        With ``fallback`` the awaitable never resolves to None: when the model does not
        answer in time or answers something else than a label, it resolves to the built-in
        heuristic's classification. (``classify`` is a first-answer hook, so an awaitable
        that resolved to None would leave the request with no classification at all.)
        """
        active = self.active
        if active is None or is_structural(body):
            return None
        below = active.settings.below
        if below is not None:
            # The confidence gate: a sure heuristic answers, the model is not asked.
            first = heuristic_classify(body)
            if first.confidence >= below:
                return first
        conversation = render_conversation(body.get("messages"))
        if not conversation:
            return None
        key = cache_key(active.model.name, conversation)
        hit = active.cache.get(key)
        if hit is not MISSING:
            return None if hit is None else active.result(str(hit), cached=True)
        if not active.available():
            return None
        return self._resolve(active, body, conversation, key, fallback)

    async def _resolve(
        self, active: _Active, body: dict[str, Any], conversation: str, key: bytes, fallback: bool
    ) -> Classification | None:
        label, reason = await self._ask(active, conversation, key)
        if label is not None:
            return active.result(label, cached=False)
        if not fallback:
            return None
        return heuristic(body, reason)

    async def _ask(self, active: _Active, conversation: str, key: bytes) -> tuple[str | None, str]:
        """The label (or None) and why: ``ok``, ``timeout``, ``error`` or ``unparsable``."""
        request = classifier_request(active.model.model, conversation)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(active.settings.timeout_s):
                response = await active.provider.chat(request, active.model)
        except TimeoutError:
            active.failed("timeout")
            log.debug("classifier model %s: no answer within the deadline", active.model.name)
            return None, "timeout"
        except Exception as exc:  # any failure of the call means "ask the heuristic"
            active.failed(type(exc).__name__)
            log.debug("classifier model %s failed: %r", active.model.name, exc)
            return None, "error"
        active.succeeded()
        label = parse_label(response)
        # A strict temperature-0 answer repeats itself: an unusable one is cached as None too.
        active.cache.put(key, label)
        log.debug(
            "classifier model %s answered %s in %.0f ms",
            active.model.name,
            label or "no label",
            (time.perf_counter() - started) * 1000,
        )
        return label, "ok" if label is not None else "unparsable"


def heuristic(body: dict[str, Any], reason: str) -> Classification:
    """The built-in heuristic's answer, marked with why the model was not used."""
    result = heuristic_classify(body)
    return dataclasses.replace(result, signals=(*result.signals, f"llm:deferred:{reason}"))
