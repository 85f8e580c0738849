"""Hostile upstreams are contained (issue 15): a 200 whose choices or usage are malformed is
a retryable upstream failure (fallen back from and recorded), never a bare 500."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import assert_contract_error, eventually, rss_kb, sqlite_rows

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


class _Hostile(http.server.BaseHTTPRequestHandler):
    """An upstream that answers a chat request with a gzip bomb, or a stream with one
    endless line."""

    bomb = gzip.compress(b"\0" * (100 << 20), 9)

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            try:
                self.wfile.write(b"data: ")
                for _ in range(200):  # until the proxy hangs up
                    self.wfile.write(b"a" * (1 << 20))
            except OSError:
                pass  # the proxy hung up: as it should
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(self.bomb)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(self.bomb)


def test_gzip_bomb_and_endless_event_are_refused(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        config: dict[str, Any] = {
            "providers": {"evil": {"plugin": "openai", "base_url": base, "api_key": "sk-x-1234"}},
            "models": [{"name": "evil", "provider": "evil", "model": "gpt-4o-mini"}],
            "routing": {"max_attempts": 1},
        }
        env = {"OMNI_MAX_UPSTREAM_BODY_BYTES": str(8 << 20)}
        with ProxyProcess(tmp_path, config, env=env) as proxy:
            assert proxy.proc is not None
            before = rss_kb(proxy.proc.pid)
            body = {"model": "evil", "messages": [{"role": "user", "content": "hi"}]}
            r = httpx.post(proxy.base_url + "/chat/completions", json=body, headers=AUTH)
            assert r.status_code == 502, r.text[:300]
            assert_contract_error(502, r.json(), r.headers["x-request-id"])
            assert "larger than 8388608 bytes" in r.json()["error"]["message"]
            grown_mb = (rss_kb(proxy.proc.pid) - before) / 1024
            assert grown_mb < 100, grown_mb  # decoded at most 8 MB of the 100 MB (was 2 GB)
            r = httpx.post(
                proxy.base_url + "/chat/completions",
                json={**body, "stream": True},
                headers=AUTH,
                timeout=30,
            )
            assert r.status_code == 502, r.text[:300]
            assert r.json()["error"]["code"] == "upstream_malformed", r.json()
            assert httpx.get(proxy.root + "/health").status_code == 200
            assert "Traceback" not in proxy.read_log()
    finally:
        server.shutdown()
        server.server_close()


def test_a_stream_that_trickles_forever_is_cut(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        config: dict[str, Any] = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [{"name": "m", "provider": "up", "model": "gpt-4o-mini"}],
            "routing": {"stream_max_s": 1, "stream_idle_s": 5},
        }
        # Never idle for long, but 60 chunks 0.1 s apart: longer than stream_max_s.
        fake.set_behaviour("gpt-4o-mini", "ok", content="word " * 60, chunk_delay_s=0.1)
        with ProxyProcess(tmp_path, config) as proxy:
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
            r = httpx.post(
                proxy.base_url + "/chat/completions", json=body, headers=AUTH, timeout=30
            )
            assert r.status_code == 200
            events = [line[6:] for line in r.text.split("\n") if line.startswith("data: {")]
            last = json.loads(events[-1])
            assert last["error"]["code"] == "timeout", last
            assert 1 < len(events) < 60
            rid = r.headers["x-request-id"]
            assert eventually(lambda: rid in sqlite_rows(proxy, [rid]), 10)
            assert sqlite_rows(proxy, [rid])[rid]["status"] == 504


def test_impossible_usage_is_a_malformed_answer_fallen_back_from(tmp_path: Path) -> None:
    """Negative usage would refund spend and 2**64 tokens bill thousands of dollars: both
    are an upstream failure (fallen back from and recorded), never charged."""
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
        with ProxyProcess(tmp_path, config) as proxy:
            body = {"model": "bad", "messages": [{"role": "user", "content": "hi"}]}
            for count in (-5, 2**64):
                fake.set_behaviour("gpt-4o", "bad_usage", usage_count=count)
                r = httpx.post(proxy.base_url + "/chat/completions", json=body, headers=AUTH)
                assert r.status_code == 200, r.text
                omni = r.json()["omni"]
                assert omni["model_used"] == "good", count
                assert omni["fallbacks"][0]["code"] == "upstream_malformed"
                assert 0 <= r.json()["usage"]["completion_tokens"] < 1000
            fake.clear_behaviour()
            r = httpx.post(proxy.base_url + "/chat/completions", json=body, headers=AUTH)
            assert r.json()["omni"]["model_used"] == "bad"  # a sane answer is kept
