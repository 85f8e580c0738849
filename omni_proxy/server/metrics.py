"""Prometheus metrics, fed from the ``record`` hook so the request path only counts.

With ``--workers N`` each worker writes to ``PROMETHEUS_MULTIPROC_DIR`` (``serve`` sets it)
and ``/metrics`` merges them, so any worker answers for all of them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from starlette.requests import Request
from starlette.responses import Response

from ..errors import permission_denied
from ..plugins import hookimpl
from ..services import services
from ..types import RequestRecord
from .http import api_key_of

# ``*_created`` samples (one per counter and histogram series) doubled the series count
# for a timestamp Prometheus itself does not use.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

REQUESTS = Counter(
    "omni_requests_total", "Requests answered.", ["route", "status", "provider", "model", "task"]
)
LATENCY = Histogram(
    "omni_request_duration_seconds",
    "Total time to answer (last byte for streams).",
    ["route"],
    buckets=_LATENCY,
)
UPSTREAM_LATENCY = Histogram(
    "omni_upstream_duration_seconds",
    "Time spent waiting for the provider (non-streaming).",
    ["provider", "model"],
    buckets=_LATENCY,
)
OVERHEAD = Histogram(
    "omni_proxy_overhead_seconds",
    "Time the proxy itself added (non-streaming).",
    ["route"],
    buckets=_OVERHEAD,
)
TTFT = Histogram(
    "omni_time_to_first_token_seconds",
    "Time to the first streamed chunk.",
    ["model"],
    buckets=_LATENCY,
)
UPSTREAM_ERRORS = Counter(
    "omni_upstream_errors_total", "Failed upstream attempts.", ["provider", "model", "kind"]
)
FALLBACKS = Counter("omni_fallbacks_total", "Requests that needed another model.", ["model"])
RETRIES = Counter("omni_retries_total", "Extra upstream attempts made.", ["model"])
# ``org`` is "" (no label) unless ``metrics.org_labels`` is on: series grow with orgs.
TOKENS = Counter("omni_tokens_total", "Tokens by model and org.", ["model", "org", "direction"])
COST = Counter("omni_cost_usd_total", "Spend in USD by model and org.", ["model", "org"])
SAVINGS = Counter("omni_savings_usd_total", "Saved against the premium model, USD.", ["org"])
REJECTIONS = Counter("omni_rejections_total", "Requests refused by limits.", ["reason"])
SOFT_BUDGET_ALERTS = Counter(
    "omni_soft_budget_alerts_total", "Orgs whose monthly spend reached their soft budget."
)
CACHE_LOOKUPS = Counter(
    "omni_cache_lookups_total", "Response cache lookups: hit, miss or bypass.", ["result"]
)
DISCONNECTS = Counter("omni_client_disconnects_total", "Clients that left mid-stream.", [])
RECORDER_DEPTH = Gauge(
    "omni_recorder_queue_depth", "Records waiting to be written.", multiprocess_mode="livesum"
)
RECORDER_LAG = Gauge(
    "omni_recorder_lag_seconds", "Age of the oldest record waiting.", multiprocess_mode="max"
)
RECORDER_BATCH = Histogram(
    "omni_recorder_batch_seconds", "Time to write one batch of records.", buckets=_LATENCY
)
RECORDER_SPILLED = Counter("omni_recorder_spilled_total", "Records spilled to the local file.")
GUARD_FINDINGS = Counter(
    "omni_guardrail_findings_total",
    "What guardrails found in requests, by type (blocked: the request was refused).",
    ["type", "outcome"],
)
ALERTS = Counter("omni_alerts_total", "Alert webhook deliveries.", ["kind", "outcome"])
RECORDER_QUARANTINED = Counter(
    "omni_recorder_quarantined_total",
    "Records a database refused as they were: written sanitised, or dead-lettered.",
    ["outcome"],
)
COOLDOWNS = Gauge(
    "omni_cooldowns_active", "Models cooling down after failures.", multiprocess_mode="max"
)


_children: dict[tuple[Any, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, remembered: prometheus_client validates and locks on
    every ``labels`` call, a measurable share of a proxied request's CPU. The label sets
    are the ones prometheus_client keeps anyway (client-chosen names are mapped to
    "unknown" first), so this grows no further than it does."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        if len(_children) >= 10_000:  # e.g. a client sending many unknown model names
            _children.clear()
        found = _children[key] = metric.labels(*labels)
    return found


#: Gauges are also set at every scrape; per request they need only be roughly current.
GAUGES_EVERY_S = 1.0


class MetricsPlugin:
    """Default ``record``: turns each finished request into counters and histograms."""

    def __init__(self, services: Any = None) -> None:
        #: The app's ``Services`` (None in tests that only count): config, recorder, pipeline.
        self.services = services
        self._gauges_at = 0.0
        self._org_labels: bool | None = None

    def _org(self, event: RequestRecord) -> str:
        """The org label: the org id only with ``metrics.org_labels`` (else one series)."""
        if self._org_labels is None:
            config = getattr(self.services, "config", None)
            settings = getattr(config, "metrics", None)
            self._org_labels = bool(getattr(settings, "org_labels", False))
        return (event.org_id or "") if self._org_labels else ""

    def _model_label(self, name: str | None) -> str:
        """A model name clients chose becomes a label only if the registry knows it: label
        sets are kept for the process's life, so free text would grow them without bound."""
        if not name or name == "auto":
            return name or ""
        registry = getattr(self.services, "registry", None)
        return name if registry is None or name in registry else "unknown"

    @hookimpl(trylast=True)
    def record(self, event: RequestRecord) -> None:
        model = event.model_used or self._model_label(event.model_requested)
        provider = event.provider or ""
        org = self._org(event)
        child(
            REQUESTS, event.endpoint, str(event.status), provider, model, event.task_type or ""
        ).inc()
        child(LATENCY, event.endpoint).observe(event.latency_ms / 1000)
        if event.upstream_ms is not None and not event.stream:
            child(UPSTREAM_LATENCY, provider, model).observe(event.upstream_ms / 1000)
            child(OVERHEAD, event.endpoint).observe(
                max(0.0, event.latency_ms - event.upstream_ms) / 1000
            )
        if event.ttft_ms is not None:
            child(TTFT, model).observe(event.ttft_ms / 1000)
        if event.prompt_tokens or event.completion_tokens:
            child(TOKENS, model, org, "input").inc(event.prompt_tokens)
            child(TOKENS, model, org, "output").inc(event.completion_tokens)
        if event.cost:
            child(COST, model, org).inc(float(event.cost))
        if event.savings > 0:
            child(SAVINGS, org).inc(float(event.savings))
        tried: set[str] = set()
        for attempt in event.attempts:
            kind = attempt.get("code") or str(attempt.get("status"))
            child(UPSTREAM_ERRORS, attempt.get("provider") or "", attempt["model"], kind).inc()
            if attempt["model"] in tried:
                child(RETRIES, attempt["model"]).inc()
            tried.add(attempt["model"])
        if event.attempts and event.status < 400:
            child(FALLBACKS, model).inc()
        if event.status == 429 and event.error_code in (
            "rate_limit_exceeded",
            "insufficient_quota",
        ):
            reason = "budget" if event.error_code == "insufficient_quota" else "rate_limit"
            if not event.attempts:  # refused here, not by an upstream
                child(REJECTIONS, reason).inc()
        if event.guardrails:
            blocked = event.status == 400 and (event.error_code or "").endswith("_detected")
            outcome = "blocked" if blocked else "passed"
            for kind, n in event.guardrails.items():
                child(GUARD_FINDINGS, kind, outcome).inc(n)
        if event.client_disconnected:
            DISCONNECTS.inc()
        now = time.monotonic()
        if now - self._gauges_at >= GAUGES_EVERY_S:
            self._gauges_at = now
            self._gauges()

    def _gauges(self) -> None:
        state = self.services
        if state is None:
            return
        recorder = getattr(state, "recorder", None)
        if recorder is not None:
            RECORDER_DEPTH.set(recorder.depth)
            RECORDER_LAG.set(recorder.lag_s)
        pipeline = getattr(state, "pipeline", None)
        if pipeline is not None:
            COOLDOWNS.set(len(pipeline.health.active_cooldowns()))


async def metrics_endpoint(request: Request) -> Response:
    pipeline = services(request).pipeline
    if not pipeline.config.metrics_public:
        principal = await pipeline.authenticate(request, api_key_of(request), "admin")
        if principal.key_id is not None:  # an org's admin key: not every org's spend
            raise permission_denied("Only a global admin key (the master key) may read /metrics.")
    plugin = services(request).metrics
    if plugin is not None:
        plugin._gauges()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
