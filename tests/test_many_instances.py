"""Two proxy processes sharing one PostgreSQL and one Redis behave as one proxy."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import MASTER_KEY, ProxyProcess, need_service
from tests.fakes.openai_upstream import FakeOpenAI
from tests.test_storage_support import postgres_database

_TODAY = datetime.date.today()
YESTERDAY = str(_TODAY - datetime.timedelta(days=1))
TOMORROW = str(_TODAY + datetime.timedelta(days=1))

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def eventually(check: Callable[[], bool], timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def chat(proxy: ProxyProcess, key: str, model: str = "good") -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        timeout=20,
    )


def test_limits_revocation_cooldowns_and_usage_are_shared(tmp_path: Path) -> None:
    need_service("127.0.0.1", 6379, "Redis")
    redis_db = 13
    prefix_check = redis.Redis(host="127.0.0.1", port=6379, db=redis_db)
    prefix_check.flushdb()
    with postgres_database() as db_url, FakeOpenAI() as fake:
        fake.set_behaviour("bad-model", "status", status=500)
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
            },
            "models": [
                {
                    "name": "good",
                    "provider": "up",
                    "model": "gpt-4o-mini",
                    "cost_input": 1,
                    "cost_output": 2,
                    "strengths": ["chat"],
                },
                {
                    "name": "bad",
                    "provider": "up",
                    "model": "bad-model",
                    "cost_input": 0.1,
                    "cost_output": 0.1,
                    "strengths": ["chat"],
                },
            ],
            "routing": {"fallback_model": "good"},
        }
        env = {
            "OMNI_DATABASE_URL": db_url,
            "OMNI_REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "OMNI_KEY_SECRET": "shared-" + uuid.uuid4().hex,
        }
        a = ProxyProcess(
            tmp_path / "a" if (tmp_path / "a").mkdir() is None else tmp_path, config, env=env
        ).start()
        b = ProxyProcess(
            tmp_path / "b" if (tmp_path / "b").mkdir() is None else tmp_path, config, env=env
        ).start()
        try:
            admin = {"authorization": f"Bearer {MASTER_KEY}"}
            created = httpx.post(
                a.base_url + "/api-keys",
                headers=admin,
                json={"org": "acme", "name": "limited", "rpm_limit": 5},
            )
            assert created.status_code == 201, created.text
            key, org_id = created.json()["key"], created.json()["org_id"]
            assert eventually(lambda: chat(b, key).status_code == 200)  # B learned the key
            # One limit across both instances: 5 per minute in total (B already used one).
            statuses = [chat(a if i % 2 else b, key).status_code for i in range(6)]
            assert statuses.count(200) == 4 and statuses[-2:] == [429, 429], statuses
            limited = chat(a, key)
            assert limited.status_code == 429 and limited.headers.get("retry-after")
            assert limited.json()["error"]["code"] == "rate_limit_exceeded"
            # Revoked through A, refused by B within seconds.
            other = httpx.post(
                a.base_url + "/api-keys", headers=admin, json={"org": "acme", "name": "short-lived"}
            ).json()
            assert eventually(lambda: chat(b, other["key"]).status_code == 200)
            assert (
                httpx.delete(a.base_url + f"/api-keys/{other['id']}", headers=admin).status_code
                == 200
            )
            assert eventually(lambda: chat(b, other["key"]).status_code == 401, timeout=6)
            # A cooldown started on A keeps B away from the failing model too.
            for _ in range(3):
                assert chat(a, MASTER_KEY, "bad").status_code == 200  # answered by fallback
            fake.requests.clear()

            def b_skips_bad() -> bool:
                fake.requests.clear()
                chat(b, MASTER_KEY, "bad")
                return all(r["json"]["model"] != "bad-model" for r in fake.requests)

            assert eventually(b_skips_bad, timeout=6)

            # Usage agrees from either side (after both recorders flushed).
            def same_usage() -> bool:
                params = {"org_id": org_id, "from": YESTERDAY, "to": TOMORROW}
                ua = httpx.get(a.base_url + "/usage", headers=admin, params=params)
                ub = httpx.get(b.base_url + "/usage", headers=admin, params=params)
                return (
                    ua.status_code == ub.status_code == 200
                    and ua.json() == ub.json()
                    and ua.json()["total_requests"] >= 5
                )

            if not eventually(same_usage):
                params = {"org_id": org_id, "from": YESTERDAY, "to": TOMORROW}
                ua = httpx.get(a.base_url + "/usage", headers=admin, params=params)
                ub = httpx.get(b.base_url + "/usage", headers=admin, params=params)
                raise AssertionError(f"{ua.status_code} {ua.text}\n{ub.status_code} {ub.text}")
        finally:
            a.stop()
            b.stop()
            prefix_check.flushdb()
