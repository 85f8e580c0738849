"""``POST /v1/feedback`` end to end on SQLite and PostgreSQL: a real proxy process with the
demo provider, the openai SDK for the request, httpx for the feedback, and the stored
``feedback`` row read back from the database (what ``router train --from-db`` reads)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import psycopg
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_storage_support import DIALECTS, database_url

PROMPT = "Summarise the plot of Hamlet in two sentences."


def admin(proxy: ProxyProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        proxy.base_url + path,
        json=body,
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def new_key(proxy: ProxyProcess, org: str, permissions: list[str]) -> str:
    org_id = admin(proxy, "/organizations", {"name": org})["id"]
    key = admin(proxy, "/api-keys", {"org_id": org_id, "permissions": permissions})["key"]
    return str(key)


def feedback(proxy: ProxyProcess, key: str, body: Any) -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/feedback",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return pg.execute(sql).fetchall()  # type: ignore[arg-type]


@pytest.fixture(params=DIALECTS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ProxyProcess, str]]:
    with (
        database_url(request.param, tmp_path) as url,
        # Bodies on: the feedback row keeps the prompt (router train --from-db learns from it).
        ProxyProcess(
            tmp_path, {"logging": {"bodies": True}}, args=["--demo"], env={"OMNI_DATABASE_URL": url}
        ) as proxy,
    ):
        yield proxy, url


def test_feedback_round_trip_own_org_only(served: tuple[ProxyProcess, str]) -> None:
    proxy, url = served
    mine = new_key(proxy, "acme", ["read", "write"])
    theirs = new_key(proxy, "globex", ["read", "write"])
    client = openai.OpenAI(base_url=proxy.base_url, api_key=mine, max_retries=0)
    completion = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": PROMPT}]
    )
    omni = completion.model_extra["omni"]  # type: ignore[index]
    rid = omni["request_id"]

    # Sent at once: the record may still be queued in the recorder; the score waits for it.
    r = feedback(proxy, mine, {"request_id": rid, "score": 0.25, "comment": "too long"})
    assert r.status_code == 204, r.text
    assert r.content == b""

    r = feedback(proxy, theirs, {"request_id": rid, "score": 1})
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error["code"] == "request_not_found" and error["param"] == "request_id"
    assert set(error) == {"message", "type", "param", "code"}

    r = feedback(proxy, mine, {"request_id": "req_does_not_exist", "score": 1})
    assert r.status_code == 404 and r.json()["error"]["code"] == "request_not_found"

    stored = rows(
        url,
        "SELECT request_id, model, task_type, prompt_text, score, comment, source"
        " FROM feedback ORDER BY id",
    )
    assert stored == [
        (rid, omni["model_used"], omni["task_type"], PROMPT, 0.25, "too long", "feedback")
    ]
    quality = rows(url, f"SELECT expected_quality FROM requests WHERE id = '{rid}'")
    assert quality[0][0] == pytest.approx(omni["expected_quality"])

    usage = httpx.get(
        proxy.base_url + "/usage", headers={"authorization": f"Bearer {mine}"}, timeout=10
    ).json()
    assert usage["measured_quality"] == 0.25
    assert usage["expected_quality"] == pytest.approx(omni["expected_quality"], abs=1e-4)
    (by_model,) = usage["by_model"]
    assert by_model["model"] == omni["model_used"] and by_model["measured_quality"] == 0.25
    other = httpx.get(
        proxy.base_url + "/usage", headers={"authorization": f"Bearer {theirs}"}, timeout=10
    ).json()
    assert other["measured_quality"] is None and other["expected_quality"] is None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("feedback"), None, args=["--demo"]) as proxy:
        yield proxy


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"score": 1}, "request_id"),
        ({"request_id": "", "score": 1}, "request_id"),
        ({"request_id": 7, "score": 1}, "request_id"),
        ({"request_id": "req_x"}, "score"),
        ({"request_id": "req_x", "score": 1.5}, "score"),
        ({"request_id": "req_x", "score": -0.1}, "score"),
        ({"request_id": "req_x", "score": "good"}, "score"),
        ({"request_id": "req_x", "score": True}, "score"),
        ({"request_id": "req_x", "score": 1, "comment": 5}, "comment"),
        ({"request_id": "req_x", "score": 1, "comment": "x" * 5000}, "comment"),
        (["not", "an", "object"], None),
    ],
)
def test_bad_feedback_bodies_are_400s(demo: ProxyProcess, body: Any, param: str | None) -> None:
    r = feedback(demo, MASTER_KEY, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["param"] == param


def test_feedback_needs_a_write_key(demo: ProxyProcess) -> None:
    reader = new_key(demo, "readers", ["read"])
    assert feedback(demo, reader, {"request_id": "req_x", "score": 1}).status_code == 403
    assert feedback(demo, "sk-nope", {"request_id": "req_x", "score": 1}).status_code == 401
