"""Structured request logs without secrets; request ids and trace context passed upstream."""

from __future__ import annotations

import re
from pathlib import Path

import openai
import orjson

from omni_proxy.server.tracing import child_traceparent
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI


def test_child_traceparent_continues_or_starts_a_trace() -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    child = child_traceparent(incoming)
    assert child.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and child.endswith("-01")
    assert child.split("-")[2] != "00f067aa0ba902b7"
    fresh = child_traceparent("garbage")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", fresh)


def test_one_json_line_per_request_and_no_secrets(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [
                {
                    "name": "m",
                    "provider": "up",
                    "model": "gpt-4o-mini",
                    "cost_input": 1,
                    "cost_output": 2,
                },
                {"name": "broken", "provider": "up", "model": "broken-model"},
            ],
            "routing": {"fallback_model": "m"},
        }
        fake.set_behaviour("broken-model", "status", status=500)
        proxy = ProxyProcess(tmp_path, config, env={"OMNI_LOG_FORMAT": "json"}).start()
        try:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            prompt = "SECRET-PROMPT-4242 tell me things"
            raw = client.chat.completions.with_raw_response.create(
                model="m",
                messages=[{"role": "user", "content": prompt}],
                extra_headers={
                    "x-request-id": "trace-me-1",
                    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                },
            )
            # The proxy's own id always; the client's is echoed apart (CONTRACT.md).
            rid = raw.headers["x-request-id"]
            assert rid.startswith("req_") and raw.headers["x-client-request-id"] == "trace-me-1"
            sent = fake.last_request["headers"]
            assert sent["x-request-id"] == rid
            assert sent["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
            client.chat.completions.create(
                model="broken", messages=[{"role": "user", "content": prompt}]
            )
        finally:
            proxy.stop()
    log = proxy.read_log()
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("msg") == "request"]
    assert len(requests) == 2
    first = next(r for r in requests if r["request_id"] == rid)
    assert first["client_request_id"] == "trace-me-1"
    assert first["model"] == "m" and first["status"] == 200 and first["prompt_tokens"] > 0
    assert isinstance(first["cost"], float) and first["cost"] > 0  # numbers as numbers
    failures = [line for line in lines if line.get("msg") == "upstream failure"]
    assert failures and failures[0]["model"] == "broken" and failures[0]["status"] == 502
    assert "SECRET-PROMPT-4242" not in log  # neither the prompt …
    assert "Echo:" not in log  # … nor the completion …
    assert MASTER_KEY not in log and "sk-upstream-test" not in log  # … nor any key
