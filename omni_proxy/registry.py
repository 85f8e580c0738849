"""The model registry and the live provider instances, built once at start-up.

Lookups happen on every request, so they are dict reads; nothing here touches the network
or the database on the request path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import httpx

from .config import Config, ConfigError, ModelSettings, ProviderSettings
from .provider import Provider
from .routing.deployments import deployments_of
from .types import ModelInfo
from .upstream import prices
from .upstream.h1 import H1Pool
from .upstream.pool import UpstreamPool

log = logging.getLogger("omni_proxy")


class Registry:
    """Models by public name, in config order."""

    def __init__(self, models: Iterable[ModelInfo], config: Config) -> None:
        self._models: dict[str, ModelInfo] = {m.name: m for m in models}
        self.config = config
        routing = config.routing
        self.premium = self._pick(routing.premium_model, "premium_model", max)
        self.fallback = self._pick(routing.fallback_model, "fallback_model", min)
        self.default = self._pick(routing.default_model, "default_model", None)

    def _pick(self, name: str | None, key: str, by: Any) -> ModelInfo | None:
        if name:
            if name not in self._models:
                raise ConfigError(
                    f"invalid config: routing.{key}: {name!r} is not a model in the registry "
                    f"(models: {', '.join(self._models) or 'none'})"
                )
            return self._models[name]
        chat = [m for m in self._models.values() if m.kind == "chat"]
        if not chat or by is None:
            return None
        picked: ModelInfo = by(chat, key=lambda m: (m.cost_input + m.cost_output, m.avg_latency_ms))
        return picked

    def get(self, name: str) -> ModelInfo | None:
        return self._models.get(name)

    def subset(self, names: frozenset[str]) -> Registry:
        """The models named, in order, for a key limited to them: the premium baseline
        stays; the fallback and default stay only when allowed."""
        view = Registry.__new__(Registry)
        view._models = {n: m for n, m in self._models.items() if n in names}
        view.config = self.config
        view.premium = self.premium
        view.fallback = self.fallback if self.fallback and self.fallback.name in names else None
        view.default = self.default if self.default and self.default.name in names else None
        return view

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models


def model_info(
    m: ModelSettings | dict[str, Any],
    owned_by: str | None = None,
    provider: ProviderSettings | None = None,
    source: str = "config",
) -> ModelInfo:
    """A registry row; prices the config leaves out come from the built-in table."""
    s = m if isinstance(m, ModelSettings) else ModelSettings.model_validate(m)
    deployments = deployments_of(s)
    upstream = deployments[0].model if deployments else (s.model or s.name)
    cost_input, cost_output = s.cost_input, s.cost_output
    cached, reasoning = s.cost_cached_input, s.cost_reasoning
    # The table is read only for a price the entry leaves out (an embedding has no output).
    if cost_input is None or (cost_output is None and s.kind == "chat"):
        names = (provider.preset, provider.name, provider.plugin) if provider else (s.provider,)
        table = prices.lookup(upstream, names) if _priced_upstream(provider) else None
        if table is not None:
            source = "table" if cost_input is None and cost_output is None else "config+table"
            cost_input = table.cost_input if cost_input is None else cost_input
            cost_output = table.cost_output if cost_output is None else cost_output
            cached = table.cost_cached_input if cached is None else cached
            reasoning = table.cost_reasoning if reasoning is None else reasoning
    if cost_input is None and cost_output is None:
        source = "unknown"
    return ModelInfo(
        name=s.name,
        provider=deployments[0].provider if deployments else str(s.provider),
        model=upstream,
        deployments=deployments,
        cost_input=Decimal(cost_input or 0),
        cost_output=Decimal(cost_output or 0),
        cost_cached_input=cached,
        cost_reasoning=reasoning,
        price_source=source,
        avg_latency_ms=s.avg_latency_ms,
        strengths=tuple(s.strengths),
        supports_functions=s.supports_functions,
        supports_vision=s.supports_vision,
        max_tokens=s.max_tokens,
        kind=s.kind,
        owned_by=owned_by,
    )


def provider_settings(config: Config) -> dict[str, ProviderSettings]:
    providers = dict(config.providers)
    if config.demo and "demo" not in providers:
        providers["demo"] = ProviderSettings(name="demo", plugin="demo")
    return providers


def build_registry(config: Config, provider_classes: dict[str, type[Provider]]) -> Registry:
    """Config models first; a provider with none listed contributes its plugin's defaults."""
    providers = provider_settings(config)
    for name, settings in providers.items():
        if settings.plugin not in provider_classes:
            raise ConfigError(
                f"invalid config: providers.{name}.plugin: no installed plugin provides "
                f"{settings.plugin!r} (installed: {', '.join(sorted(provider_classes)) or 'none'};"
                f" try `pip install omni-proxy-{settings.plugin}`)"
            )
    models = []
    for m in config.models:
        first = providers[m.provider or (m.deployments or [])[0].provider]
        models.append(model_info(m, owned_by=_owner(first), provider=first))
    listed = {m.provider for m in models}
    for name, settings in providers.items():
        if name in listed:
            continue
        cls = provider_classes[settings.plugin]
        for row in cls.default_models(settings):
            row = {**row, "provider": name}
            if not any(m.name == row["name"] for m in models):
                models.append(
                    model_info(row, owned_by=_owner(settings), provider=settings, source="plugin")
                )
    registry = Registry(models, config)
    unknown = [m.name for m in registry if m.price_source == "unknown"]
    if unknown:
        log.warning(
            "no price for %s: set cost_input/cost_output (costs and savings of these models"
            " are reported as 0)",
            ", ".join(unknown),
        )
    return registry


def _priced_upstream(provider: ProviderSettings | None) -> bool:
    """Simulated models have no list price (their names may match real ones)."""
    return provider is None or provider.plugin != "demo"


def _owner(settings: ProviderSettings) -> str:
    if settings.plugin == "demo":
        return "omni-proxy-demo (simulation)"
    return settings.name


class Providers:
    """One provider instance, and one pooled HTTP client, per configured provider."""

    def __init__(self, config: Config, provider_classes: dict[str, type[Provider]]) -> None:
        self._by_name: dict[str, Provider] = {}
        self._clients: list[httpx.AsyncClient] = []
        self._pools: list[UpstreamPool] = []
        for name, settings in provider_settings(config).items():
            cls = provider_classes[settings.plugin]
            client, pool = self._client_for(settings)
            self._clients.append(client)
            provider = cls(settings, client)
            if pool is not None:
                self._pools.append(pool)
                provider.http = pool
            self._by_name[name] = provider

    @staticmethod
    def _client_for(
        settings: ProviderSettings, env: Mapping[str, str] | None = None
    ) -> tuple[httpx.AsyncClient, UpstreamPool | None]:
        """The provider's httpx client and, unless ``transport: httpx``, the pool that
        ``Provider.post`` uses directly on the hot path (``h1`` by default)."""
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            keepalive_expiry=60,
        )
        timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        pool = _pool(settings, limits, timeout, os.environ if env is None else env)
        client = httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=False)
        return client, pool

    def get(self, name: str) -> Provider | None:
        return self._by_name.get(name)

    def configured(self, name: str) -> bool:
        p = self._by_name.get(name)
        return p is not None and (bool(p.settings.api_key) or not p.requires_api_key)

    def names(self) -> list[str]:
        return list(self._by_name)

    async def aclose(self) -> None:
        # Pools first: a stream still finishing in the background needs its session open.
        for pool in self._pools:
            await pool.aclose()
        for client in self._clients:
            await client.aclose()


#: The values of a provider's ``transport`` option.
TRANSPORTS = ("h1", "httpx")
#: Variables that send HTTP through a proxy: httpx honours them (and ``NO_PROXY``); the
#: h1 pool connects directly, so it is not the default while any of them is set.
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")

log = logging.getLogger("omni_proxy.registry")


def proxy_in(env: Mapping[str, str]) -> str | None:
    """The first proxy variable set in ``env`` (either case), if any."""
    for var in PROXY_VARS:
        for name in (var, var.lower()):
            if env.get(name):
                return name
    return None


def _pool(
    settings: ProviderSettings,
    limits: httpx.Limits,
    timeout: httpx.Timeout,
    env: Mapping[str, str],
) -> UpstreamPool | None:
    """The connection pool ``Provider.post`` uses: ``transport`` says which.

    ``h1`` (upstream_h1, the default) costs a fraction of httpx's CPU per call
    (bench/clients.py); ``httpx`` is no pool: calls go through httpx and httpcore, whose
    pool costs O(connections) per request (bench/README.md), but which honour the proxy
    variables. With a proxy variable set and no ``transport`` given, ``httpx`` is chosen.
    """
    proxy = proxy_in(env)
    kind = settings.option("transport")
    if kind == "aiohttp":  # removed (issue 20); the fastest pool stands in for it
        log.warning("provider %r: transport aiohttp is gone; using h1", settings.name)
        kind = "h1"
    if kind is None:
        kind = "httpx" if proxy else "h1"
    if kind not in TRANSPORTS:
        raise ConfigError(
            f"provider {settings.name!r}: transport must be one of {', '.join(TRANSPORTS)},"
            f" not {kind!r}"
        )
    if kind == "httpx":
        return None
    if proxy:
        log.warning(
            "provider %r: transport h1 connects directly and ignores %s", settings.name, proxy
        )
    return H1Pool(limits, timeout)
