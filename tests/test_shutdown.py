"""SIGTERM during a burst of streams: every started stream completes, every request is recorded."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path

import openai

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI


def test_sigterm_lets_streams_finish_and_flushes_the_recorder(tmp_path: Path) -> None:
    with FakeOpenAI(chunk_delay_s=0.15) as fake:
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [{"name": "m", "provider": "up", "model": "gpt-4o-mini"}],
        }
        proxy = ProxyProcess(tmp_path, config).start()
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        started = threading.Barrier(9)
        results: list[str] = []
        errors: list[BaseException] = []

        def stream(i: int) -> None:
            try:
                text = ""
                chunks = client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": f"one two three four {i}"}],
                    stream=True,
                )
                for n, chunk in enumerate(chunks):
                    if n == 1:
                        started.wait(10)
                    if chunk.choices:
                        text += chunk.choices[0].delta.content or ""
                results.append(text)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        started.wait(10)  # every stream has its first chunks: now stop the server
        code = proxy.stop(signal.SIGTERM, timeout=30)
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert sorted(results) == sorted(f"Echo: one two three four {i}" for i in range(8))
    assert code == 0, proxy.read_log()
    db = Path(proxy.env["OMNI_DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, stream FROM requests").fetchall()
    assert len(rows) == 8 and all(r == (200, 1) for r in rows)
