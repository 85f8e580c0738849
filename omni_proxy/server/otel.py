"""OpenTelemetry export: one span per request, a child span per upstream attempt, over OTLP.

Optional (``pip install 'omni-proxy[otel]'``) and off unless ``tracing.otlp_endpoint`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``) is set. Spans are
built when a request is recorded, from what the pipeline already measured, and handed to
the SDK's batch processor, which sends them from its own thread: nothing on the request
path waits on the collector, and with tracing off the pipeline does no tracing work.

The request span continues the caller's ``traceparent`` and its span id is the one sent
upstream in ``traceparent``, so an upstream that traces sees the proxy's span as its parent.
Attributes follow the GenAI semantic conventions (``gen_ai.*``) plus ``omni.*`` for cost,
savings and routing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ..types import CallContext, RequestRecord

log = logging.getLogger("omni_proxy.otel")

_OPERATIONS = {
    "/v1/chat/completions": "chat",
    "/v1/chat": "chat",
    "/v1/agent-step": "chat",
    "/v1/messages": "chat",
    "/v1/responses": "chat",
    "/v1/completions": "text_completion",
    "/v1/embeddings": "embeddings",
}


def endpoint_from(settings: Any, env: Mapping[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL: the config's, else OpenTelemetry's standard variables."""
    env = os.environ if env is None else env
    if settings.otlp_endpoint:
        url = str(settings.otlp_endpoint).rstrip("/")
        return url if url.endswith("/v1/traces") else url + "/v1/traces"
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    return None


def _ids(traceparent: str | None) -> tuple[int, int] | None:
    parts = traceparent.split("-") if traceparent else []
    if len(parts) != 4:
        return None
    try:
        return int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None


class SpanExporter:
    """A tracer provider with an OTLP/HTTP batch exporter, and the spans of each request."""

    def __init__(self, endpoint: str, service_name: str, headers: Mapping[str, str]) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class _Ids(RandomIdGenerator):
            """Random ids, except the request span's: the ones already sent upstream."""

            forced: tuple[int, int] | None = None

            def generate_span_id(self) -> int:
                if self.forced is not None:
                    return self.forced[1]
                return super().generate_span_id()

            def generate_trace_id(self) -> int:
                if self.forced is not None:
                    return self.forced[0]
                return super().generate_trace_id()

        self._id_generator = _Ids()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            id_generator=self._id_generator,
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, headers=dict(headers)))
        )
        self.tracer = self.provider.get_tracer("omni_proxy")
        self.endpoint = endpoint

    def export(self, ctx: CallContext, event: RequestRecord) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        incoming, outgoing = ctx.trace or (None, None)
        parent = (
            TraceContextTextMapPropagator().extract({"traceparent": incoming}) if incoming else None
        )

        def ns(perf: float) -> int:
            return int((ctx.started_at + (perf - ctx.started)) * 1e9)

        start = int(ctx.started_at * 1e9)
        operation = _OPERATIONS.get(event.endpoint, "chat")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": event.model_requested or "",
            "gen_ai.usage.input_tokens": event.prompt_tokens,
            "gen_ai.usage.output_tokens": event.completion_tokens,
            "http.route": event.endpoint,
            "http.response.status_code": event.status,
            "omni.request_id": event.request_id,
            "omni.cost_usd": float(event.cost),
            "omni.premium_cost_usd": float(event.premium_cost),
            "omni.savings_usd": float(event.savings),
            "omni.fallback_count": event.fallback_count,
            "omni.cache_hit": ctx.cache_state == "hit",
            "omni.stream": event.stream,
        }
        if event.model_used:
            attributes["gen_ai.response.model"] = event.model_used
        if event.provider:
            attributes["gen_ai.provider.name"] = event.provider
        if event.task_type:
            attributes["omni.task_type"] = event.task_type
        if event.org_id:
            attributes["omni.org_id"] = event.org_id
        # The upstream's traceparent carries the caller's trace id (or a new one) and this
        # span's id: used as they are, so the upstream's own spans nest under this one.
        self._id_generator.forced = _ids(outgoing)
        try:
            span = self.tracer.start_span(
                f"{operation} {event.model_requested or ''}".strip(),
                context=parent,
                kind=SpanKind.SERVER,
                attributes=attributes,
                start_time=start,
            )
        finally:
            self._id_generator.forced = None
        if event.status >= 400:
            span.set_status(Status(StatusCode.ERROR, event.error or ""))
            span.set_attribute("error.type", event.error_code or str(event.status))
        inside = trace.set_span_in_context(span)
        for model, t0, t1, error in ctx.spans or ():
            child = self.tracer.start_span(
                f"{operation} {model.model}",
                context=inside,
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": operation,
                    "gen_ai.request.model": model.model,
                    "gen_ai.provider.name": model.provider,
                    "omni.model": model.name,
                },
                start_time=ns(t0),
            )
            if error is not None:
                child.set_status(Status(StatusCode.ERROR, error[:200]))
                child.set_attribute("error.type", "upstream_error")
            child.end(end_time=ns(t1))
        span.end(end_time=start + int(event.latency_ms * 1e6))

    def shutdown(self) -> None:
        """Send what is still queued (on shutdown)."""
        self.provider.shutdown()


def build_exporter(settings: Any) -> SpanExporter | None:
    """The exporter the config (or the environment) asks for; None when off or the
    optional packages are missing (logged)."""
    endpoint = endpoint_from(settings)
    if endpoint is None:
        return None
    try:
        exporter = SpanExporter(endpoint, settings.service_name, settings.headers)
    except ImportError:
        log.warning(
            "tracing.otlp_endpoint is set but OpenTelemetry is not installed: "
            "pip install 'omni-proxy[otel]'; no spans are exported"
        )
        return None
    log.info("exporting spans over OTLP/HTTP to %s", endpoint)
    return exporter
