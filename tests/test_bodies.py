"""Body logging (``logging.bodies``): off by default, nothing of a prompt is kept; on, the
prompt and the answer (streamed or not) are stored through the recorder and shown on the
dashboard's request page; stored bodies expire after ``logging.bodies_retention_days``.

Against a real ``serve --demo`` with the openai SDK, read back from the SQLite file it writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from omni_proxy.config import ConfigError, load_config
from omni_proxy.storage import open_database
from omni_proxy.storage.bodies import BodyRetention, answer_of, prompt_of
from omni_proxy.types import RequestRecord
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_dashboard_support import sign_in
from tests.test_storage_support import DIALECTS, database_url

PROMPT = "Name three rivers of Europe, please"


def rows(db: Path, sql: str, want: int = 1, timeout: float = 10.0) -> list[tuple[Any, ...]]:
    """Poll until the recorder has written ``want`` rows (it batches in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            found = conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            found = []
        finally:
            conn.close()
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def recorded(db: Path, request_id: str) -> None:
    assert rows(db, f"SELECT id FROM requests WHERE id = '{request_id}'"), "never recorded"


@pytest.fixture(scope="module")
def on(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    tmp = tmp_path_factory.mktemp("bodies-on")
    config = {"logging": {"bodies": True, "bodies_retention_days": 7}}
    with ProxyProcess(tmp, config, args=["--demo"]) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("bodies-off"), args=["--demo"]) as proxy:
        yield proxy


def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def test_bodies_are_off_by_default_and_no_prompt_text_is_kept(off: ProxyProcess) -> None:
    assert load_config(env={}).logging.bodies is False
    assert load_config(env={}).logging.bodies_retention_days == 30
    done = client(off).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": PROMPT}]
    )
    rid = done.model_extra["omni"]["request_id"]  # type: ignore[index]
    db = off.tmp / "proxy.db"
    recorded(db, rid)
    # The routing log is there, without the prompt the router used to keep for training.
    assert rows(db, f"SELECT prompt_text FROM routing_logs WHERE request_id = '{rid}'") == [(None,)]
    assert rows(db, "SELECT request_id FROM request_bodies", want=0) == []


def test_non_streamed_prompt_and_answer_are_stored(on: ProxyProcess) -> None:
    done = client(on).chat.completions.create(
        model="auto",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": PROMPT},
        ],
    )
    rid = done.model_extra["omni"]["request_id"]  # type: ignore[index]
    db = on.tmp / "proxy.db"
    (row,) = rows(db, f"SELECT prompt, answer FROM request_bodies WHERE request_id = '{rid}'")
    prompt, answer = row
    assert PROMPT in prompt and "Be brief." in prompt
    assert answer == done.choices[0].message.content and answer
    # With bodies on, the router's prompt excerpt is kept too (router train --from-db).
    assert rows(db, f"SELECT prompt_text FROM routing_logs WHERE request_id = '{rid}'") == [
        (PROMPT,)
    ]


def test_streamed_answer_is_stored_whole(on: ProxyProcess) -> None:
    stream = client(on).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Tell me a short story about a lighthouse"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, rid = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        omni = (chunk.model_extra or {}).get("omni")
        if omni:
            rid = omni["request_id"]
    assert rid and text
    (row,) = rows(
        on.tmp / "proxy.db", f"SELECT prompt, answer FROM request_bodies WHERE request_id = '{rid}'"
    )
    assert "lighthouse" in row[0]
    assert row[1] == text


def test_detail_page_shows_prompt_and_answer(on: ProxyProcess, off: ProxyProcess) -> None:
    done = client(on).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Say <b>hello</b> & goodbye"}]
    )
    rid = done.model_extra["omni"]["request_id"]  # type: ignore[index]
    rows(on.tmp / "proxy.db", f"SELECT 1 FROM request_bodies WHERE request_id = '{rid}'")
    with httpx.Client(base_url=on.root, timeout=10) as web:
        assert sign_in(web, MASTER_KEY).status_code == 303
        page = web.get(f"/dashboard/requests/{rid}")
    assert page.status_code == 200, page.text[:500]
    assert 'data-testid="body-prompt"' in page.text
    assert "Say &lt;b&gt;hello&lt;/b&gt; &amp; goodbye" in page.text  # escaped, never markup
    assert "body logging is off" not in page.text.lower()

    other = client(off).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": PROMPT}]
    )
    rid = other.model_extra["omni"]["request_id"]  # type: ignore[index]
    recorded(off.tmp / "proxy.db", rid)
    with httpx.Client(base_url=off.root, timeout=10) as web:
        assert sign_in(web, MASTER_KEY).status_code == 303
        page = web.get(f"/dashboard/requests/{rid}")
    assert page.status_code == 200
    assert "Body logging is off" in page.text and PROMPT not in page.text


def record(rid: str, created: float, bodies: dict[str, str] | None) -> RequestRecord:
    return RequestRecord(
        request_id=rid,
        endpoint="/v1/chat/completions",
        org_id=None,
        key_id=None,
        task_type="chat",
        model_requested="auto",
        model_used="m",
        provider="p",
        prompt_tokens=1,
        completion_tokens=1,
        cost=Decimal(0),
        premium_cost=Decimal(0),
        savings=Decimal(0),
        latency_ms=1.0,
        ttft_ms=None,
        stream=False,
        status=200,
        error=None,
        fallback_count=0,
        created_at=created,
        bodies=bodies,
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_retention_deletes_only_expired_bodies(dialect: str, tmp_path: Path) -> None:
    async def go(url: str) -> tuple[int, list[str], dict[str, Any] | None]:
        db = await open_database(url)
        try:
            await db.migrate()
            org = (await db.create_org("acme"))["id"]
            now = time.time()
            batch = [
                record("old", now - 8 * 86400, {"prompt": "p-old", "answer": "a-old"}),
                # A NUL (PostgreSQL text refuses it) must not cost the request its record.
                record("new", now - 6 * 86400, {"prompt": "p-new\x00", "answer": "a-new"}),
                record("none", now, None),
            ]
            for r in batch:
                r.org_id = org
            await db.write_records(batch)
            deleted = await BodyRetention(7).sweep(db)
            left = [r[0] for r in await db.fetch("SELECT request_id FROM request_bodies")]
            return deleted, left, await db.request_body(org, "new")
        finally:
            await db.close()

    with database_url(dialect, tmp_path) as url:
        deleted, left, kept = asyncio.run(go(url))
    assert deleted == 1 and left == ["new"]
    assert kept is not None and kept["prompt"] == "p-new\ufffd" and kept["answer"] == "a-new"


def test_old_schema_without_the_bodies_table_still_records(tmp_path: Path) -> None:
    """A database migrated only up to 0008 (an upgrade not yet applied) takes records with
    bodies: they are dropped, the request rows are written."""

    async def go() -> list[tuple[Any, ...]]:
        db = await open_database(f"sqlite:///{tmp_path / 'o.db'}")
        await db.migrate()
        await db.fetch("DROP TABLE request_bodies")
        await db.migrate()  # applies nothing (0009 is marked done) and learns the table is gone
        await db.write_records([record("x", time.time(), {"prompt": "p", "answer": "a"})])
        got = await db.fetch("SELECT id FROM requests")
        await db.close()
        return got

    assert asyncio.run(go()) == [("x",)]


def test_prompt_and_answer_extraction() -> None:
    assert prompt_of({"messages": [{"role": "user", "content": "hi"}]}) == (
        '[{"role":"user","content":"hi"}]'
    )
    assert prompt_of({"input": "responses text"}) == "responses text"
    assert prompt_of({"prompt": "legacy"}) == "legacy"
    assert prompt_of({"model": "x"}) is None
    chat = {
        "choices": [
            {
                "message": {
                    "content": None,
                    "tool_calls": [{"function": {"name": "get", "arguments": '{"a":1}'}}],
                }
            }
        ]
    }
    assert answer_of(chat) == '[tool call] get({"a":1})'
    responses = {
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "ok"}]}]
    }
    assert answer_of(responses) == "ok"
    assert answer_of({"data": [{"embedding": [0.1]}]}) is None


def test_retention_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("logging:\n  bodies: true\n  bodies_retention_days: 0\n")
    with pytest.raises(ConfigError):
        load_config(str(path), env={})
