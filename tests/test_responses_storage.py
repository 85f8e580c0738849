"""Stored responses on both dialects: save, read per org, delete, retention and purging."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from omni_proxy.routes.responses import ResponseStore, retention_days
from omni_proxy.storage import Database
from omni_proxy.storage.common import utcnow
from tests.test_storage_support import db, db_url  # noqa: F401 - fixtures

CONVERSATION = [
    {"type": "message", "role": "user", "content": "héllo ✓ \x00 nul"},
    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
    {"type": "function_call_output", "call_id": "c1", "output": "42"},
]
OUTPUT = [
    {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "ok", "annotations": [], "logprobs": []}],
    }
]


async def save(database: Database, rid: str, org: str = "org_a", **kw: Any) -> None:
    await database.save_response(
        response_id=rid,
        org_id=org,
        model="small",
        input_items=CONVERSATION,
        output_items=OUTPUT,
        body={"id": rid, "object": "response", "output": OUTPUT, "metadata": {"k": "v"}},
        **kw,
    )


async def test_save_get_delete_per_org(db: Database) -> None:  # noqa: F811
    await save(db, "resp_1")
    row = await db.get_response("resp_1", "org_a")
    assert row is not None
    assert row["input"] == CONVERSATION and row["output"] == OUTPUT
    assert row["body"]["metadata"] == {"k": "v"} and row["model"] == "small"
    assert row["org_id"] == "org_a" and row["created_at"].endswith("Z")
    assert await db.get_response("resp_1", "org_b") is None
    assert await db.get_response("resp_nope", "org_a") is None
    assert not await db.delete_response("resp_1", "org_b")
    assert await db.delete_response("resp_1", "org_a")
    assert await db.get_response("resp_1", "org_a") is None
    assert not await db.delete_response("resp_1", "org_a")


async def test_retention_hides_and_purges_old_rows(db: Database) -> None:  # noqa: F811
    now = utcnow()
    await save(db, "resp_old", created_at=now - timedelta(days=40))
    await save(db, "resp_new", created_at=now - timedelta(days=1))
    cutoff = now - timedelta(days=30)
    assert await db.get_response("resp_old", "org_a") is not None
    assert await db.get_response("resp_old", "org_a", newer_than=cutoff) is None
    assert await db.get_response("resp_new", "org_a", newer_than=cutoff) is not None
    assert await db.purge_responses(cutoff) == 1
    assert await db.get_response("resp_old", "org_a") is None
    assert await db.get_response("resp_new", "org_a") is not None


async def test_store_purges_at_most_once_a_minute(db: Database) -> None:  # noqa: F811
    store = ResponseStore(db, 30)
    await save(db, "resp_old", created_at=utcnow() - timedelta(days=31))
    assert await store.load("resp_old", "org_a") is None  # expired, even before the purge
    await store.save("org_a", CONVERSATION, {"id": "resp_a", "model": "m", "output": OUTPUT})
    await asyncio.gather(*store.tasks)
    assert await db.get_response("resp_old", "org_a") is None
    assert (await store.load("resp_a", "org_a")) is not None
    await save(db, "resp_old2", created_at=utcnow() - timedelta(days=31))
    await store.save("org_a", CONVERSATION, {"id": "resp_b", "model": "m", "output": OUTPUT})
    assert not store.tasks  # purged less than a minute ago
    assert await db.get_response("resp_old2", "org_a") is not None
    forever = ResponseStore(db, 0)
    assert await forever.load("resp_old2", "org_a") is not None
    await forever.save("org_a", CONVERSATION, {"id": "resp_c", "model": "m", "output": OUTPUT})
    assert not forever.tasks


async def test_a_failed_write_is_logged_not_raised(
    db: Database,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = ResponseStore(db, 30)
    await store.save("org_a", CONVERSATION, {"id": "resp_x", "model": "m", "output": OUTPUT})
    await store.save("org_a", CONVERSATION, {"id": "resp_x", "model": "m", "output": OUTPUT})
    assert "storing response resp_x failed" in caplog.text


def test_retention_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNI_RESPONSES_RETENTION_DAYS", raising=False)
    assert retention_days() == 30
    monkeypatch.setenv("OMNI_RESPONSES_RETENTION_DAYS", "7")
    assert retention_days() == 7
    monkeypatch.setenv("OMNI_RESPONSES_RETENTION_DAYS", "0")
    assert retention_days() == 0
    monkeypatch.setenv("OMNI_RESPONSES_RETENTION_DAYS", "soon")
    assert retention_days() == 30


async def test_chained_responses_store_new_items_and_read_whole(db: Database) -> None:  # noqa: F811
    """``previous_id``: each row keeps its own new input; reading expands the chain (one
    recursive query, the org's rows only) into the whole conversation (issue 15)."""
    conversation: list[dict] = []
    previous = None
    for n in range(4):
        new = [{"type": "message", "role": "user", "content": f"q{n}"}]
        output = [{"type": "message", "role": "assistant", "content": f"a{n}"}]
        await db.save_response(
            response_id=f"resp_c{n}",
            org_id="org_a",
            model="m",
            input_items=new,
            output_items=output,
            body={"id": f"resp_c{n}"},
            previous_id=previous,
        )
        row = await db.get_response(f"resp_c{n}", "org_a")
        assert row["input"] == conversation + new
        conversation += new + output
        previous = f"resp_c{n}"
    assert await db.get_response("resp_c3", "org_b") is None
