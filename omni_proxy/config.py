"""Configuration: the YAML file of CONTRACT.md, ``${VAR}`` expansion and environment overrides.

Loading fails early with a ``ConfigError`` that names the key and what was expected, so a
bad config stops ``serve`` before it binds a port rather than surfacing on the first call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .types import TASK_TYPES
from .wire.models import MAX_MESSAGES, Strategy

DEFAULT_DATABASE_URL = "sqlite:///omni-proxy.db"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

#: Provider name -> (key variable, plugin, settings): the providers a key in the environment
#: switches on. Declared by the provider classes (``Provider.key_env_var``, ``env_keys``).
EnvKeys = Mapping[str, tuple[str, str, Mapping[str, Any]]]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A config that cannot be used, with the offending key in the message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(BaseModel):
    """How to reach one provider. Unknown keys are kept: they are the plugin's options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = ""
    plugin: str
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    preset: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=512, ge=1)
    headers: dict[str, str] = Field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        """A plugin-specific option from this provider's config block."""
        return (self.model_extra or {}).get(key, default)


class DeploymentSettings(_Strict):
    """One upstream behind a public model name (LiteLLM: a ``model_list`` entry)."""

    provider: str
    #: Upstream model id (default: the model entry's ``model``, else its name).
    model: str | None = None
    weight: float = Field(default=1.0, gt=0)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    #: Whole-call limit for this deployment (default: its provider's ``timeout_s``).
    timeout_s: float | None = Field(default=None, gt=0)
    #: Seconds a failing deployment is left out (its siblings answer meanwhile).
    cooldown_s: float = Field(default=30.0, ge=0)
    #: Price override for this deployment (default: the model entry's).
    cost_input: Decimal | None = Field(default=None, ge=0)
    cost_output: Decimal | None = Field(default=None, ge=0)
    #: An id for logs, metrics and ``omni.deployment`` (default: ``provider/model``).
    id: str | None = None


class ModelSettings(_Strict):
    name: str = Field(min_length=1)
    #: Required unless ``deployments`` lists the upstreams.
    provider: str | None = None
    model: str | None = None
    #: USD per million tokens. Left out: the built-in price table's list price for the
    #: upstream model (``omni_proxy.upstream.prices``), else unknown.
    cost_input: Decimal | None = Field(default=None, ge=0)
    cost_output: Decimal | None = Field(default=None, ge=0)
    #: Prompt tokens read from the upstream's prompt cache, and reasoning tokens, where
    #: billed apart (left out: the table's, else the input / output price).
    cost_cached_input: Decimal | None = Field(default=None, ge=0)
    cost_reasoning: Decimal | None = Field(default=None, ge=0)
    avg_latency_ms: int = Field(default=1000, ge=0)
    strengths: list[str] = Field(default_factory=list)
    supports_functions: bool = True
    supports_vision: bool = False
    max_tokens: int = Field(default=128_000, gt=0)
    kind: Literal["chat", "embedding"] = "chat"
    #: Several upstreams behind this one public name, balanced per ``routing.load_balancing``.
    deployments: list[DeploymentSettings] | None = Field(default=None, min_length=1)

    @field_validator("strengths")
    @classmethod
    def _known_tasks(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in TASK_TYPES]
        if unknown:
            raise ValueError(f"unknown task type {unknown[0]!r}; expected one of {TASK_TYPES}")
        return value


class RoutingWeights(_Strict):
    cost: float = Field(default=0.4, ge=0)
    latency: float = Field(default=0.3, ge=0)
    task: float = Field(default=0.3, ge=0)


class RoutingSettings(_Strict):
    strategy: Strategy = "hybrid"
    weights: RoutingWeights = RoutingWeights()
    premium_model: str | None = None
    fallback_model: str | None = None
    default_model: str | None = None
    #: Registered classifiers (``register_classifiers``) to ask first, in order.
    classifiers: list[str] = Field(default_factory=list)
    #: Ask those classifiers (and the classifier-llm plugin) only when the heuristic's
    #: calibrated confidence is below this; unset, they are asked on every request.
    llm_classifier_below: float | None = Field(default=None, ge=0, le=1)
    max_attempts: int = Field(default=3, ge=1, le=10)
    #: Budget for an answer: the whole answer, or a stream's first chunk.
    deadline_s: float = Field(default=120.0, gt=0)
    #: Longest silence allowed between a stream's chunks once it has started.
    stream_idle_s: float = Field(default=60.0, gt=0)
    #: Longest a stream may run in all: an upstream trickling forever is cut (504).
    stream_max_s: float = Field(default=3600.0, gt=0)
    #: How a model's ``deployments`` share its requests (omni_proxy/routing/deployments.py).
    load_balancing: Literal["weighted", "least_busy", "latency", "usage"] = "weighted"
    #: Keep at least this share of the premium model's expected quality: the cheapest
    #: candidate that clears it answers (None: quality is a term of the score instead).
    quality_floor: float | None = Field(default=None, ge=0, le=1)
    #: A quality model written by ``omni-proxy router train`` (None: the shipped one).
    quality_model: str | None = None
    #: Cascade self-consistency: ask the cheap model this many times in all when its answer
    #: is short and closed (a number, a word, yes/no) and escalate when the samples disagree
    #: (1: off).
    cascade_samples: int = Field(default=1, ge=1, le=5)

    #: A model named in the request is never replaced by another (retries of it only);
    #: per request: ``strict_model`` / ``x-omni-strict-model`` (LiteLLM's
    #: ``disable_fallbacks`` too). Routed (``auto``) requests still fall back.
    strict_model: bool = False


class CacheSettings(_Strict):
    """The exact-match response cache (omni_proxy/storage/cache.py)."""

    mode: Literal["none", "exact"] = "none"
    ttl_s: float = Field(default=3600.0, gt=0)
    #: Entries kept in memory (the Redis store is bounded by Redis's own memory policy).
    max_entries: int = Field(default=10_000, ge=1)
    #: Skip sampled requests (``n > 1``, or temperature > 0 without a ``seed``). LiteLLM
    #: caches them; so does omni-proxy unless this is set.
    skip_sampled: bool = False


class TracingSettings(_Strict):
    """OpenTelemetry export (omni_proxy/server/otel.py; ``pip install 'omni-proxy[otel]'``)."""

    #: OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (``/v1/traces`` is added). Unset:
    #: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else no export.
    otlp_endpoint: str | None = None
    service_name: str = "omni-proxy"
    #: Sent with each export (e.g. an API key of a hosted tracing service).
    headers: dict[str, str] = Field(default_factory=dict)


GuardMode = Literal["none", "mask", "block"]


class GuardCategory(_Strict):
    """One kind of finding: leave it, mask it with typed placeholders, or refuse the request."""

    mode: GuardMode = "none"
    #: Put the masked values back into the answer the client receives.
    restore: bool = False


class PIISettings(GuardCategory):
    #: Where a phone number without a country code is read as local (ISO 3166 code).
    phone_region: str = Field(default="US", min_length=2, max_length=2)

    @field_validator("phone_region")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class GuardrailSettings(_Strict):
    """``guardrails``: the built-in PII and secrets guard (an org may override it)."""

    pii: PIISettings = PIISettings()
    secrets: GuardCategory = GuardCategory()
    #: The most content a stream guard may hold back at once, in characters.
    stream_window_chars: int = Field(default=64, ge=0, le=65536)

    def active(self) -> bool:
        return self.pii.mode != "none" or self.secrets.mode != "none"


class AlertSettings(_Strict):
    """``alerts``: signed webhook POSTs. Operator config only: no user can choose the URL."""

    webhook_url: str | None = None
    #: HMAC-SHA256 key for the ``x-omni-signature`` header (unsigned when unset).
    secret: str | None = Field(default=None, repr=False)
    #: The same alert (kind and subject) is sent at most once in this many seconds.
    dedupe_s: float = Field(default=300.0, ge=0)
    timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    #: Recording counts as stuck when its oldest waiting record is this old.
    stuck_after_s: float = Field(default=60.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class MetricsSettings(_Strict):
    #: Label the token, cost and savings series by org id: every org's spend in one scrape,
    #: and one series per org, so off unless asked for.
    org_labels: bool = False


class LoggingSettings(_Strict):
    """What is kept of each request beyond its numbers. Prompts and answers are personal data,
    so none are stored unless ``bodies`` is on; ``router train --from-db`` learns from the
    prompts kept this way (with bodies off, feedback rows carry no prompt text)."""

    #: Store each request's prompt and answer (streamed ones too), shown on the dashboard's
    #: request page; also keeps the prompt with the routing log and feedback rows.
    bodies: bool = False
    #: Stored prompts and answers older than this are deleted (checked hourly).
    bodies_retention_days: int = Field(default=30, gt=0)


class Config(_Strict):
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    master_key: str | None = Field(default=None, repr=False)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    models: list[ModelSettings] = Field(default_factory=list)
    routing: RoutingSettings = RoutingSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    alerts: AlertSettings = AlertSettings()
    cache: CacheSettings = CacheSettings()
    tracing: TracingSettings = TracingSettings()
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    #: Messages per request at most (400 beyond): bounds the work one body makes.
    max_messages: int = Field(default=MAX_MESSAGES, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    demo: bool = False
    #: /metrics needs a global admin key (the master key) unless this is set.
    metrics_public: bool = False
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    #: Addresses of reverse proxies whose ``X-Forwarded-Proto`` is believed (the dashboard's
    #: cookies are ``Secure`` when the browser's side is TLS).
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Browser origins allowed by CORS; empty (the default) means CORS stays closed.
    cors_origins: list[str] = Field(default_factory=list)
    source: str | None = None

    def model_named(self, name: str) -> ModelSettings | None:
        return next((m for m in self.models if m.name == name), None)


def expand_vars(value: Any, env: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a YAML tree.

    A value that is nothing but an unset variable becomes ``None`` (so an absent key reads as
    "not configured" rather than as an empty key).
    """
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and whole.group(1) not in env and whole.group(2) is None:
            return None
        return _VAR.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: expand_vars(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_vars(v, env) for v in value]
    return value


def _apply_env(raw: dict[str, Any], env: Mapping[str, str], env_keys: EnvKeys) -> dict[str, Any]:
    """Environment values override the file (CONTRACT.md)."""
    for key, var in (
        ("database_url", "OMNI_DATABASE_URL"),
        ("redis_url", "OMNI_REDIS_URL"),
        ("master_key", "OMNI_MASTER_KEY"),
        ("log_level", "OMNI_LOG_LEVEL"),
    ):
        if env.get(var):
            raw[key] = env[var]
    providers = raw.setdefault("providers", {})
    if not isinstance(providers, dict):
        return raw
    for name, (var, plugin, settings) in env_keys.items():
        if not env.get(var):
            continue
        block = providers.get(name)
        if block is None:
            # No config file entry: the key alone configures the provider.
            if raw.get("_from_file"):
                continue
            providers[name] = {**settings, "plugin": plugin, "api_key": env[var]}
        elif isinstance(block, dict):
            block["api_key"] = env[var]
    return raw


def _describe(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        got = e.get("input")
        got_text = "" if isinstance(got, dict | list) else f" (got {got!r})"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {loc}: {msg}{got_text}")
    return f"invalid config in {source}:\n" + "\n".join(lines)


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    demo: bool = False,
    env_keys: EnvKeys | None = None,
) -> Config:
    """Read the config file (``path``, else ``$OMNI_CONFIG``, else none) and the environment.

    ``env_keys`` (default: what the installed provider plugins declare) says which key
    variables switch providers on."""
    env = os.environ if env is None else env
    if env_keys is None:
        from .plugins import provider_env_keys

        env_keys = provider_env_keys(env)
    path = path or env.get("OMNI_CONFIG") or None
    raw: dict[str, Any] = {}
    source = "environment"
    if path:
        file = Path(path)
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {source}: {exc.strerror}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {source} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {source} must hold a mapping at the top level")
        raw = expand_vars(loaded, env)
        raw["_from_file"] = True
    raw = _apply_env(raw, env, env_keys)
    raw.pop("_from_file", None)
    if demo or env.get("OMNI_DEMO") in ("1", "true", "yes"):
        raw["demo"] = True
    raw["source"] = source
    providers = raw.get("providers")
    if isinstance(providers, dict):
        for name, block in providers.items():
            if isinstance(block, dict):
                block["name"] = name
                block.setdefault("plugin", name)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    _check_references(config, source)
    return config


def _check_references(config: Config, source: str) -> None:
    names: set[str] = set()
    for i, m in enumerate(config.models):
        if m.name in names:
            raise ConfigError(f"invalid config in {source}: models[{i}].name: duplicate {m.name!r}")
        names.add(m.name)
        if m.name == "auto":
            raise ConfigError(
                f"invalid config in {source}: models[{i}].name: 'auto' is reserved for routing"
            )
        if m.provider is None and not m.deployments:
            raise ConfigError(
                f"invalid config in {source}: models[{i}]: needs a provider or deployments"
            )
        refs = [(f"models[{i}].provider", m.provider)] if m.provider else []
        ids: set[str] = set()
        for j, d in enumerate(m.deployments or ()):
            refs.append((f"models[{i}].deployments[{j}].provider", d.provider))
            ident = d.id or f"{d.provider}/{d.model or m.model or m.name}"
            if ident in ids:
                raise ConfigError(
                    f"invalid config in {source}: models[{i}].deployments[{j}]: duplicate "
                    f"deployment {ident!r} (give each an id)"
                )
            ids.add(ident)
        for where, provider in refs:
            if provider not in config.providers and not (config.demo and provider == "demo"):
                raise ConfigError(
                    f"invalid config in {source}: {where}: {provider!r} is not "
                    f"defined under providers (defined: {sorted(config.providers) or 'none'})"
                )
