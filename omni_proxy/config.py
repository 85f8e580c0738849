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

DEFAULT_DATABASE_URL = "sqlite:///omni-proxy.db"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

# Provider keys CONTRACT.md reads from the environment: provider name -> (variable, plugin).
ENV_PROVIDER_KEYS: dict[str, tuple[str, str]] = {
    "openai": ("OPENAI_API_KEY", "openai"),
    "anthropic": ("ANTHROPIC_API_KEY", "anthropic"),
    "gemini": ("GEMINI_API_KEY", "gemini"),
    "openrouter": ("OPENROUTER_API_KEY", "openai"),
    "groq": ("GROQ_API_KEY", "openai"),
    "mistral": ("MISTRAL_API_KEY", "openai"),
}

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


class ModelSettings(_Strict):
    name: str = Field(min_length=1)
    provider: str
    model: str | None = None
    cost_input: Decimal = Field(default=Decimal(0), ge=0)
    cost_output: Decimal = Field(default=Decimal(0), ge=0)
    avg_latency_ms: int = Field(default=1000, ge=0)
    strengths: list[str] = Field(default_factory=list)
    supports_functions: bool = True
    supports_vision: bool = False
    max_tokens: int = Field(default=128_000, gt=0)
    kind: Literal["chat", "embedding"] = "chat"

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
    strategy: Literal["hybrid", "cost", "quality", "latency", "cascade"] = "hybrid"
    weights: RoutingWeights = RoutingWeights()
    premium_model: str | None = None
    fallback_model: str | None = None
    default_model: str | None = None
    #: Registered classifiers (``register_classifiers``) to ask first, in order.
    classifiers: list[str] = Field(default_factory=list)
    max_attempts: int = Field(default=3, ge=1, le=10)
    #: Budget for an answer: the whole answer, or a stream's first chunk.
    deadline_s: float = Field(default=120.0, gt=0)
    #: Longest silence allowed between a stream's chunks once it has started.
    stream_idle_s: float = Field(default=60.0, gt=0)
    #: Longest a stream may run in all: an upstream trickling forever is cut (504).
    stream_max_s: float = Field(default=3600.0, gt=0)


class MetricsSettings(_Strict):
    #: Label the token, cost and savings series by org id: every org's spend in one scrape,
    #: and one series per org, so off unless asked for.
    org_labels: bool = False


class Config(_Strict):
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    master_key: str | None = Field(default=None, repr=False)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    models: list[ModelSettings] = Field(default_factory=list)
    routing: RoutingSettings = RoutingSettings()
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    #: Messages per request at most (400 beyond): bounds the work one body makes.
    max_messages: int = Field(default=10_000, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    demo: bool = False
    #: /metrics needs a global admin key (the master key) unless this is set.
    metrics_public: bool = False
    metrics: MetricsSettings = MetricsSettings()
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


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
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
    for name, (var, plugin) in ENV_PROVIDER_KEYS.items():
        if not env.get(var):
            continue
        block = providers.get(name)
        if block is None:
            # No config file entry: the key alone configures the provider.
            if raw.get("_from_file"):
                continue
            providers[name] = {"plugin": plugin, "api_key": env[var]}
            if plugin == "openai" and name != "openai":
                providers[name]["preset"] = name
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
) -> Config:
    """Read the config file (``path``, else ``$OMNI_CONFIG``, else none) and the environment."""
    env = os.environ if env is None else env
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
    raw = _apply_env(raw, env)
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
        if m.provider not in config.providers and not (config.demo and m.provider == "demo"):
            raise ConfigError(
                f"invalid config in {source}: models[{i}].provider: {m.provider!r} is not "
                f"defined under providers (defined: {sorted(config.providers) or 'none'})"
            )
