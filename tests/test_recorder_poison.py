"""One unwritable record never stops recording (issue 15): the batch is split, the good rows
written, the bad one written sanitised or dead-lettered, and a spill replay skips it."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from omni_proxy.storage.recorder import Recorder, SpillFile
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import eventually
from tests.test_storage_support import count, db, db_url, make_record, postgres_database

__all__ = ["db", "db_url"]


def poison() -> list[Any]:
    """Records each database refuses as they are (NUL: PostgreSQL; 2^64: both)."""
    return [
        dataclasses.replace(make_record(), model_requested="gpt\x00-4o", error="a\x00b"),
        dataclasses.replace(make_record(), prompt_tokens=2**64, completion_tokens=2**70),
        dataclasses.replace(
            make_record(), routing={"reason": "x\x00y", "plan": [], "candidates": []}
        ),
    ]


async def test_bad_rows_are_isolated_and_the_good_ones_written(db, tmp_path: Path) -> None:
    rec = Recorder(db, flush_interval_s=10, batch_size=50, spill_path=tmp_path / "s.jsonl")
    good = [make_record() for _ in range(40)]
    bad = poison()
    for r in good[:20] + bad + good[20:]:
        rec.put(r)
    assert await rec.flush() is True
    assert rec.depth == 0
    assert await count(db, "requests") == 43  # every record in, the bad ones sanitised
    assert rec.quarantined >= 1 and rec.dead_lettered == 0
    huge = bad[1].request_id
    rows = await db.fetch(
        "SELECT prompt_tokens, completion_tokens FROM requests WHERE id = "
        + ("?" if db.dialect == "sqlite" else "%s"),
        (huge,),
    )
    assert rows[0][0] == 2**31 - 1 and rows[0][1] == 2**31 - 1
    # Recording carries on: a later batch goes straight in.
    rec.put(make_record())
    assert await rec.flush() is True
    assert await count(db, "requests") == 44


async def test_unstorable_row_is_dead_lettered_once_and_replay_skips_it(db, tmp_path: Path) -> None:
    spill = tmp_path / "s.jsonl"
    rec = Recorder(db, flush_interval_s=10, batch_size=10, spill_path=spill)
    # A timestamp no database holds, which sanitising cannot fix: dead-lettered.
    dead = dataclasses.replace(make_record(), created_at=float("nan"))
    good = [make_record() for _ in range(5)]
    SpillFile(spill).append([good[0], dead, *good[1:]])
    assert await rec.replay() is True
    assert not SpillFile(spill).pending()  # the replay finished: nothing replayed twice
    assert await count(db, "requests") == 5
    assert rec.dead_lettered == 1
    lines = (tmp_path / "s.jsonl.dead").read_bytes().splitlines()
    assert len(lines) == 1
    entry = orjson.loads(lines[0])
    assert entry["record"]["request_id"] == dead.request_id and entry["reason"]
    assert await rec.replay() is True  # nothing pending: no second dead letter
    assert len((tmp_path / "s.jsonl.dead").read_bytes().splitlines()) == 1


async def test_negative_usage_never_subtracts_spend(db, tmp_path: Path) -> None:
    rec = Recorder(db, flush_interval_s=10, spill_path=tmp_path / "s.jsonl")
    r = dataclasses.replace(make_record(), prompt_tokens=-5, cost=Decimal("-3"))
    from omni_proxy.storage.storable import sanitize

    clean = sanitize(r)
    assert clean.prompt_tokens == 0 and clean.cost == 0
    rec.put(r)
    assert await rec.flush() is True
    assert await count(db, "requests") == 1


async def test_stuck_recorder_turns_ready_red(tmp_path: Path) -> None:
    """A database that answers pings but never takes a batch: /ready says so."""
    from omni_proxy.storage import open_database

    inner = await open_database(f"sqlite:///{tmp_path / 'x.db'}")
    await inner.migrate()

    class Refusing:
        dialect = "sqlite"
        path = None

        async def write_records(self, records: list[Any]) -> None:
            raise ConnectionError("write path refused")

        async def ping(self) -> None:
            await inner.ping()

    rec = Recorder(Refusing(), spill_path=tmp_path / "s.jsonl", stuck_after_s=0.2)  # type: ignore[arg-type]
    rec.put(make_record())
    assert await rec.flush() is False
    assert rec.depth == 1  # an outage keeps the record
    time.sleep(0.3)
    assert rec.stuck
    await inner.close()


@pytest.mark.postgres
def test_nul_in_model_on_postgres_does_not_stop_recording(tmp_path: Path) -> None:
    """End to end: a tenant's NUL in ``model`` reaches PostgreSQL; every other record still
    arrives, the NUL one too (sanitised), and /ready stays green."""
    with postgres_database() as url, FakeOpenAI() as fake:
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [{"name": "cheap", "provider": "up", "model": "gpt-4o-mini"}],
        }
        env = {"OMNI_DATABASE_URL": url, "OMNI_SPILL_PATH": str(tmp_path / "spill.jsonl")}
        with ProxyProcess(tmp_path, config, env=env) as proxy:
            auth = {"Authorization": f"Bearer {MASTER_KEY}"}
            body = {"messages": [{"role": "user", "content": "hi"}]}
            ids = []
            with httpx.Client(base_url=proxy.base_url, headers=auth, timeout=10) as client:
                bad = client.post("/chat/completions", json={**body, "model": "cheap\u0000x"})
                assert bad.status_code == 404
                ids.append(bad.headers["x-request-id"])
                for _ in range(5):
                    ok = client.post("/chat/completions", json={**body, "model": "cheap"})
                    assert ok.status_code == 200
                    ids.append(ok.headers["x-request-id"])

            import psycopg

            def stored() -> int:
                with psycopg.connect(url) as conn:
                    row = conn.execute(
                        "SELECT COUNT(*) FROM requests WHERE id = ANY(%s)", (ids,)
                    ).fetchone()
                    return int(row[0]) if row else 0

            assert eventually(lambda: stored() == len(ids), timeout=15), proxy.read_log()[-2000:]
            with psycopg.connect(url) as conn:
                row = conn.execute(
                    "SELECT model_requested FROM requests WHERE id = %s", (ids[0],)
                ).fetchone()
            assert row is not None and row[0] == "cheapx"
            assert httpx.get(proxy.root + "/ready", timeout=5).status_code == 200
            assert "written sanitised" in proxy.read_log()
