"""``/metrics``: Prometheus text with the request, upstream, money and recorder series."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(data: dict, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, lab), v in data.items()
        if n == name and all(dict(lab).get(k) == x for k, x in labels.items())
    )


def test_metrics_count_requests_errors_fallbacks_tokens_and_cost(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        fake.set_behaviour("bad-model", "status", status=500)
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
                {"name": "bad", "provider": "up", "model": "bad-model"},
            ],
            "routing": {"fallback_model": "m"},
        }
        proxy = ProxyProcess(tmp_path, config).start()
        try:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            for _ in range(3):
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "a b c"}]
                )
            client.chat.completions.create(model="bad", messages=[{"role": "user", "content": "x"}])
            list(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "s"}], stream=True
                )
            )
            for i in range(3):  # names nobody configured must not become label values
                with pytest.raises(openai.NotFoundError):
                    client.chat.completions.create(
                        model=f"no-such-model-{i}", messages=[{"role": "user", "content": "x"}]
                    )
            assert httpx.get(proxy.root + "/metrics").status_code == 401  # spend is private
            made = httpx.post(
                proxy.base_url + "/api-keys",
                json={"org": "acme", "permissions": ["admin"]},
                headers={"authorization": f"Bearer {MASTER_KEY}"},
            )
            assert made.status_code == 201, made.text
            org_admin = {"authorization": f"Bearer {made.json()['key']}"}
            denied = httpx.get(proxy.root + "/metrics", headers=org_admin)
            assert denied.status_code == 403  # one org's admin sees no other org's spend
            assert denied.json()["error"]["code"] == "permission_denied"
            r = httpx.get(
                proxy.root + "/metrics", headers={"authorization": f"Bearer {MASTER_KEY}"}
            )
        finally:
            proxy.stop()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    data = samples(r.text)
    route = "/v1/chat/completions"
    assert value(data, "omni_requests_total", route=route, status="200", model="m") == 5
    assert value(data, "omni_upstream_errors_total", model="bad") == 1
    assert value(data, "omni_fallbacks_total", model="m") == 1
    assert value(data, "omni_tokens_total", model="m", direction="input") > 0
    # Per-org series only with metrics.org_labels (off here): one series for all orgs.
    assert value(data, "omni_cost_usd_total", model="m", org="") > 0
    assert not any(dict(labels).get("org") for _, labels in data)
    assert value(data, "omni_request_duration_seconds_count", route=route) == 8  # 404s too
    assert value(data, "omni_proxy_overhead_seconds_count", route=route) == 4
    assert value(data, "omni_time_to_first_token_seconds_count", model="m") == 1
    assert value(data, "omni_requests_total", status="404", model="unknown") == 3
    assert not any("no-such-model" in str(labels) for _, labels in data)
    assert ("omni_recorder_queue_depth", ()) in data
    assert ("omni_cooldowns_active", ()) in data
    assert not any(name.endswith("_created") for name, _ in data)  # no doubled series


def test_docs_and_dashboard_name_only_real_metrics() -> None:
    import json
    import re

    from omni_proxy.server import metrics

    root = Path(__file__).resolve().parent.parent
    defined = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    documented = set(re.findall(r"`(omni_[a-z_]+)`", (root / "docs/metrics.md").read_text()))
    assert {d.removesuffix("_total") for d in documented} == defined
    dashboard = json.loads((root / "examples/grafana-dashboard.json").read_text())
    used = set(re.findall(r"omni_[a-z_]+", json.dumps(dashboard)))
    known = {d for d in documented} | {f"{d}_bucket" for d in documented}
    assert used <= known, used - known


def test_org_label_off_by_default_so_series_do_not_grow_with_orgs(tmp_path: Path) -> None:
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    with ProxyProcess(tmp_path, args=["--demo"]) as proxy:
        for name in ("org-a", "org-b", "org-c"):
            org = httpx.post(proxy.base_url + "/organizations", headers=admin, json={"name": name})
            key = httpx.post(
                proxy.base_url + "/api-keys", headers=admin, json={"org_id": org.json()["id"]}
            ).json()["key"]
            openai.OpenAI(
                base_url=proxy.base_url, api_key=key, max_retries=0
            ).chat.completions.create(
                model="demo-mini", messages=[{"role": "user", "content": "hi"}]
            )
        data = samples(httpx.get(proxy.root + "/metrics", headers=admin).text)
    token_series = [lab for name, lab in data if name == "omni_tokens_total"]
    assert token_series and all(dict(lab).get("org", "") == "" for lab in token_series)
    assert len(token_series) == 2  # demo-mini in and out, whatever the number of orgs
    assert value(data, "omni_cost_usd_total", model="demo-mini") > 0
    assert not any(name.endswith("_created") for name, _ in data)


def test_org_labels_only_when_configured(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [{"name": "m", "provider": "up", "model": "gpt-4o-mini", "cost_input": 1}],
            "metrics": {"org_labels": True},
        }
        with ProxyProcess(tmp_path, config) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
            r = httpx.get(
                proxy.root + "/metrics", headers={"authorization": f"Bearer {MASTER_KEY}"}
            )
    assert r.status_code == 200
    assert value(samples(r.text), "omni_cost_usd_total", model="m", org="default") > 0
