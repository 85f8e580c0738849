"""``omni-proxy serve --demo``: the README quickstart, with the openai SDK, no keys anywhere."""

from __future__ import annotations

import re
import time
from pathlib import Path

import openai

from tests.conftest import ProxyProcess


def test_demo_mode_answers_the_sdk_plain_and_streaming(tmp_path: Path) -> None:
    proxy = ProxyProcess(tmp_path, args=["--demo"], master_key=None).start()
    try:
        deadline = time.monotonic() + 5
        while "API key for this run" not in proxy.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        found = re.search(r"API key for this run: (\S+)", proxy.read_log())
        assert found, proxy.read_log()
        client = openai.OpenAI(base_url=proxy.base_url, api_key=found.group(1), max_retries=0)
        models = [m.id for m in client.models.list().data]
        assert "auto" in models and "demo-mini" in models
        owned = {m.id: m.owned_by for m in client.models.list().data}
        assert "simulation" in owned["demo-mini"]  # labelled as a simulation where it shows up
        completion = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Say hello"}]
        )
        text = completion.choices[0].message.content or ""
        assert text.startswith("[simulated by omni-proxy demo]")
        assert completion.model.startswith("demo-")
        assert completion.model_extra["omni"]["savings_estimate"] >= 0
        chunks = list(
            client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "stream hello"}], stream=True
            )
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed.startswith("[simulated by omni-proxy demo]")
        assert chunks[-1].model_extra["omni"]["provider"] == "demo"
        wrong = openai.OpenAI(base_url=proxy.base_url, api_key="nope", max_retries=0)
        try:
            wrong.models.list()
            raise AssertionError("demo mode must not be an open proxy")
        except openai.AuthenticationError:
            pass
    finally:
        proxy.stop()


def test_serve_with_two_workers(tmp_path: Path) -> None:
    proxy = ProxyProcess(tmp_path, args=["--demo", "--workers", "2"]).start()
    try:
        client = openai.OpenAI(
            base_url=proxy.base_url, api_key=proxy.env["OMNI_MASTER_KEY"], max_retries=0
        )
        answers = {
            client.chat.completions.create(
                model="demo-fast", messages=[{"role": "user", "content": f"n{i}"}]
            )
            .choices[0]
            .message.content
            for i in range(6)
        }
        assert len(answers) == 6
        import subprocess

        children = subprocess.run(
            ["pgrep", "-P", str(proxy.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 2  # uvicorn's supervisor runs two worker processes
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        # Whichever worker answers /metrics, it reports the requests of both.
        for _ in range(4):
            text = httpx.get(
                proxy.root + "/metrics",
                headers={"authorization": f"Bearer {proxy.env['OMNI_MASTER_KEY']}"},
            ).text
            total = sum(
                s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
                if s.name == "omni_requests_total"
            )
            assert total == 6
    finally:
        assert proxy.stop() is not None


def _printed_key(proxy: ProxyProcess) -> str:
    deadline = time.monotonic() + 5
    while "API key for this run" not in proxy.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    found = re.search(r"API key for this run: (\S+)", proxy.read_log())
    assert found, proxy.read_log()
    return found.group(1)


def test_demo_prints_a_working_key_even_when_the_database_holds_keys(tmp_path: Path) -> None:
    """A second ``serve --demo`` in the same folder (the database now holds a key) prints a
    key that works, and the first run's key still works too."""
    keys = []
    for _ in range(2):
        with ProxyProcess(tmp_path, args=["--demo"], master_key=None) as proxy:
            key = _printed_key(proxy)
            assert "org 'demo'" in proxy.read_log()
            for earlier in [*keys, key]:
                client = openai.OpenAI(base_url=proxy.base_url, api_key=earlier, max_retries=0)
                assert "demo-mini" in [m.id for m in client.models.list().data]
            keys.append(key)
    assert keys[0] != keys[1]


def test_demo_key_with_a_master_key_set(tmp_path: Path) -> None:
    with ProxyProcess(tmp_path, args=["--demo"]) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=_printed_key(proxy), max_retries=0)
        assert (
            client.chat.completions.create(
                model="demo-mini", messages=[{"role": "user", "content": "hi"}]
            )
            .choices[0]
            .message.content
        )


def test_serve_with_workers_removes_its_metrics_directory(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    proxy = ProxyProcess(tmp_path, args=["--demo", "--workers", "2"], env={"TMPDIR": str(temp)})
    proxy.start()
    try:
        assert [p.name for p in temp.iterdir() if p.name.startswith("omni-metrics-")]
    finally:
        assert proxy.stop() == 0
    assert not [p for p in temp.iterdir() if p.name.startswith("omni-metrics-")]
