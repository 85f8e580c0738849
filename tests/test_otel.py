"""OpenTelemetry export, end to end: the openai SDK with a caller's traceparent → a real proxy
process → a fake OpenAI upstream whose first answer fails; a fake OTLP collector on
127.0.0.1 receives the request span and one child span per upstream attempt."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

pytest.importorskip("opentelemetry.sdk")

from omni_proxy.config import TracingSettings
from omni_proxy.server.otel import endpoint_from
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_spans_reach_the_collector(tmp_path: Path) -> None:
    with FakeCollector() as collector, FakeOpenAI(api_key="sk-up") as fake:
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-up"}
            },
            "models": [
                {
                    "name": "first",
                    "provider": "up",
                    "model": "gpt-4o-mini",
                    "cost_input": 1,
                    "cost_output": 2,
                },
                {
                    "name": "second",
                    "provider": "up",
                    "model": "gpt-4o",
                    "cost_input": 3,
                    "cost_output": 4,
                },
            ],
            "routing": {"fallback_model": "second", "max_attempts": 2},
            "tracing": {"otlp_endpoint": collector.endpoint, "service_name": "omni-test"},
        }
        env = {"OTEL_BSP_SCHEDULE_DELAY": "50"}
        with ProxyProcess(tmp_path, config, env=env) as proxy:
            fake.fail_next("status", status=500, model="gpt-4o-mini")
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            done = client.chat.completions.create(
                model="first",
                messages=[{"role": "user", "content": "trace me"}],
                extra_headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
            )
            assert done.model == "second"
            sent = fake.requests[-1]["headers"]["traceparent"]
            spans = collector.wait_for(3)
    assert len(spans) >= 3, spans
    request = next(s for s in spans if s["kind"] == 2)  # SERVER
    assert request["name"] == "chat first"
    assert request["trace_id"] == CALLER_TRACE and request["parent_span_id"] == CALLER_SPAN
    # The span id the upstream was told is the request span's own.
    assert sent.split("-")[1] == CALLER_TRACE and sent.split("-")[2] == request["span_id"]
    attrs = request["attributes"]
    assert attrs["gen_ai.request.model"] == "first"
    assert attrs["gen_ai.response.model"] == "second"
    assert attrs["gen_ai.usage.input_tokens"] == done.usage.prompt_tokens  # type: ignore[union-attr]
    assert attrs["omni.cost_usd"] == pytest.approx(done.model_extra["omni"]["cost"])
    assert attrs["omni.fallback_count"] == 1
    assert request["resource"]["service.name"] == "omni-test"
    attempts = [s for s in spans if s["parent_span_id"] == request["span_id"]]
    assert [a["attributes"]["omni.model"] for a in attempts] == ["first", "second"]
    assert [a["status"] for a in attempts] == [2, 0]  # ERROR, then UNSET
    assert all(a["trace_id"] == CALLER_TRACE for a in attempts)
    assert request["start"] <= attempts[0]["start"] <= attempts[1]["end"] <= request["end"]


def test_endpoint_comes_from_config_or_the_standard_variables() -> None:
    assert endpoint_from(TracingSettings(), {}) is None
    assert endpoint_from(TracingSettings(otlp_endpoint="http://c:4318"), {}) == (
        "http://c:4318/v1/traces"
    )
    assert endpoint_from(TracingSettings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318/"}) == (
        "http://e:4318/v1/traces"
    )
