"""SIGKILL loses at most the records of the last flush interval (issue 15): the records
still queued in memory, i.e. requests that finished within about ``flush_interval_s``
(0.2 s) of the kill, plus the requests in flight. Measured: provider calls against rows."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import sqlite_rows

CLIENTS = 6
#: The recorder's flush interval plus one batch write, with room for a busy machine.
WINDOW_S = 1.0


def test_sigkill_loses_only_the_last_flush_interval(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        config: dict[str, Any] = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [{"name": "m", "provider": "up", "model": "gpt-4o-mini"}],
        }
        proxy = ProxyProcess(tmp_path, config).start()
        assert proxy.proc is not None
        done: list[float] = []
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(base_url=proxy.base_url, timeout=10) as http:
                while not stop.is_set():
                    try:
                        r = http.post(
                            "/chat/completions",
                            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
                            headers={"Authorization": f"Bearer {MASTER_KEY}"},
                        )
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        done.append(time.monotonic())

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)
        killed_at = time.monotonic()
        proxy.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(15)
        calls = len(fake.requests_to("/chat/completions"))
        stored = len(sqlite_rows(proxy))
        recent = sum(1 for t in done if killed_at - WINDOW_S <= t <= killed_at)
    lost = calls - stored
    print(
        f"\nSIGKILL: {calls} provider calls, {stored} records, {lost} lost; "
        f"{recent} answered in the last {WINDOW_S} s, {CLIENTS} in flight at most"
    )
    assert calls > 50
    assert 0 <= lost <= recent + CLIENTS, (calls, stored, recent)
