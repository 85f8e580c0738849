"""Alerts: signed webhook POSTs to a real HTTP receiver on 127.0.0.1, sent in the background
with retries, deduplicated; budget crossings and cooldowns from a running proxy."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from omni_proxy import ProxyError, hookimpl
from omni_proxy.config import AlertSettings
from omni_proxy.routing.health import Health
from omni_proxy.server.alerts import Alerter, Watcher
from omni_proxy.testing import STUB_CONFIG, chat, proxy_app, stub_plugin

SECRET = "whsec-test"


class Receiver:
    """A webhook receiver: records each POST; answers the queued statuses first, then 204."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.posts.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.posts) >= count, f"got {len(self.posts)} POSTs, expected {count}"
        return self.posts

    def kinds(self) -> list[str]:
        return [orjson.loads(p["body"])["kind"] for p in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def verified(post: dict[str, Any]) -> dict[str, Any]:
    """The alert, after checking its signature as a receiver would."""
    stamp = post["headers"]["x-omni-timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + post["body"], hashlib.sha256)
    assert post["headers"]["x-omni-signature"] == "sha256=" + mac.hexdigest()
    assert post["headers"]["content-type"] == "application/json"
    alert: dict[str, Any] = orjson.loads(post["body"])
    return alert


def settings(url: str, **kw: Any) -> AlertSettings:
    return AlertSettings(webhook_url=url, secret=SECRET, **kw)


async def test_delivery_is_signed_retried_and_deduplicated(receiver: Receiver) -> None:
    receiver.statuses = [503, 500]  # two failures, then accepted
    alerter = Alerter(settings(receiver.url, max_attempts=4), wait_max_s=0.05)
    await alerter.start()
    try:
        assert alerter.emit("model.cooldown", "m1", {"model": "m1"})
        assert not alerter.emit("model.cooldown", "m1", {"model": "m1"})  # within dedupe_s
        assert alerter.emit("model.cooldown", "m2", {"model": "m2"})
        await asyncio.to_thread(receiver.wait_for, 4)
    finally:
        await alerter.stop()
    alerts = [verified(p) for p in receiver.posts]
    assert [a["subject"] for a in alerts] == ["m1", "m1", "m1", "m2"]
    assert len({a["id"] for a in alerts[:3]}) == 1  # the same alert, retried
    assert alerts[0]["data"] == {"model": "m1"}


async def test_a_refused_alert_is_not_retried_and_the_sender_carries_on(
    receiver: Receiver,
) -> None:
    receiver.statuses = [400]
    alerter = Alerter(settings(receiver.url), wait_max_s=0.05)
    await alerter.start()
    try:
        alerter.emit("recording.stuck", "recorder")
        alerter.emit("recording.recovered", "recorder")
        await asyncio.to_thread(receiver.wait_for, 2)
    finally:
        await alerter.stop()
    assert receiver.kinds() == ["recording.stuck", "recording.recovered"]


async def test_watcher_reports_cooldowns_and_a_stuck_recorder_both_ways(
    receiver: Receiver,
) -> None:
    clock = [0.0]
    health = Health(lambda provider: True, threshold=1, cooldown_s=10, clock=lambda: clock[0])
    recorder = types.SimpleNamespace(lag_s=0.0, depth=0)
    state = types.SimpleNamespace(
        pipeline=types.SimpleNamespace(
            health=health, registry={"m": types.SimpleNamespace(provider="up")}
        ),
        recorder=recorder,
        limiter=None,
        keys=None,
    )
    alerter = Alerter(settings(receiver.url, stuck_after_s=5))
    watcher = Watcher(state, alerter)  # type: ignore[arg-type]  # the parts it reads
    await alerter.start()
    try:
        watcher.check()  # the starting state: nothing to report
        health.failed("m")
        recorder.lag_s, recorder.depth = 9.0, 120
        watcher.check()
        clock[0] = 11.0
        recorder.lag_s = 0.0
        watcher.check()
        await asyncio.to_thread(receiver.wait_for, 4)
    finally:
        await alerter.stop()
    alerts = [verified(p) for p in receiver.posts]
    assert [a["kind"] for a in alerts] == [
        "model.cooldown",
        "recording.stuck",
        "model.recovered",
        "recording.recovered",
    ]
    assert alerts[1]["data"] == {"lag_s": 9.0, "queued": 120}


def test_a_running_proxy_reports_budget_crossings_and_a_cooldown(
    receiver: Receiver, tmp_path: Path
) -> None:
    class Flaky:
        @hookimpl
        def call_provider(self, route: Any) -> None:
            if route.model.name == "stub-coder":
                raise ProxyError(503, "down", type="server_error")

    config = {
        **STUB_CONFIG,
        "database_url": f"sqlite:///{tmp_path}/a.db",
        "alerts": {"webhook_url": receiver.url, "secret": SECRET},
    }
    master = {"authorization": "Bearer sk-test-master"}
    with proxy_app(config, plugins=[stub_plugin, Flaky()], master_key="sk-test-master") as client:
        org = client.post(
            "/v1/organizations",
            json={"name": "small", "monthly_budget_usd": 0.000002},
            headers=master,
        ).json()
        key = client.post("/v1/api-keys", json={"org_id": org["id"]}, headers=master).json()
        user = {"authorization": f"Bearer {key['key']}"}
        # Each answer costs 0.1 USD/M tokens on stub-small: a few crossing 80% of 2e-6.
        for _ in range(30):
            answer = client.post(
                "/v1/chat/completions",
                headers=user,
                json={"model": "stub-small", "messages": [{"role": "user", "content": "a b c d"}]},
            )
            if answer.status_code == 429:
                break
        for _ in range(3):  # the health's threshold: three failures in a row
            chat(client, "hi", model="stub-coder")
        receiver.wait_for(3)
        kinds = receiver.kinds()
        assert kinds.count("budget.soft_crossed") == 1 and kinds.count("model.cooldown") == 1
        assert kinds.count("budget.spent") == 1
    alerts = {a["kind"]: a for a in (verified(p) for p in receiver.posts)}
    soft = alerts["budget.soft_crossed"]["data"]
    assert soft["org_id"] == org["id"] and soft["budget_usd"] == "0.00000200"
    assert alerts["model.cooldown"]["data"] == {"model": "stub-coder", "provider": "stub"}
