"""Hostile upstreams are contained (issue 15): a 200 whose choices or usage are malformed is
a retryable upstream failure (fallen back from and recorded), never a bare 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import assert_contract_error, eventually, sqlite_rows

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


def test_malformed_200_falls_back_and_is_recorded(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        config: dict[str, Any] = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [
                {"name": "bad", "provider": "up", "model": "gpt-4o", "cost_input": 1},
                {"name": "good", "provider": "up", "model": "gpt-4o-mini", "cost_input": 1},
            ],
            "routing": {"fallback_model": "good", "max_attempts": 2},
        }
        fake.set_behaviour("gpt-4o", "malformed")
        with ProxyProcess(tmp_path, config) as proxy:
            body = {"model": "bad", "messages": [{"role": "user", "content": "hi"}]}
            r = httpx.post(proxy.base_url + "/chat/completions", json=body, headers=AUTH)
            assert r.status_code == 200, r.text
            omni = r.json()["omni"]
            assert omni["model_used"] == "good"
            assert omni["fallbacks"][0]["code"] == "upstream_malformed"
            rid_ok = r.headers["x-request-id"]
            # With nothing to fall back to: a 502 in the documented shape, recorded.
            fake.set_behaviour("gpt-4o-mini", "malformed")
            r = httpx.post(
                proxy.base_url + "/chat/completions",
                json={**body, "model": "good"},
                headers=AUTH,
            )
            assert r.status_code == 502, r.text
            assert_contract_error(502, r.json(), r.headers["x-request-id"])
            rid_bad = r.headers["x-request-id"]
            assert eventually(lambda: len(sqlite_rows(proxy, [rid_ok, rid_bad])) == 2, 10)
            rows = sqlite_rows(proxy, [rid_ok, rid_bad])
            assert rows[rid_ok]["status"] == 200 and rows[rid_ok]["fallback_count"] == 1
            assert rows[rid_bad]["status"] == 502
            assert "Traceback" not in proxy.read_log()
