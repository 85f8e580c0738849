"""Failing infrastructure: the database stops under load, Redis disappears and comes back.

Both services are private instances this module starts in a temporary directory on free
ports (``initdb`` + ``pg_ctl``; ``redis-server``) and stops again, so the machine's own
servers are never touched. Where the binaries are missing the tests skip, and fail in CI.

* PostgreSQL stops (``pg_ctl stop -m immediate``, i.e. a crash) for ``OMNI_OUTAGE_SECONDS``
  (default 12 s, to keep CI within minutes; the issue's 30 s works the same, set the
  variable) while clients keep sending plain and streaming requests: every one is answered
  200, ``/ready`` says 503 while the database is down and 200 after, and once it is back
  every request id a client saw is in ``requests`` exactly once.
* Redis is killed (SIGKILL) under two proxy instances sharing a per-key limit: requests keep
  being answered, ``/ready`` reports ``degraded``, limits fall back to each instance's memory
  (still enforced), and once Redis is back the limit is shared across instances again.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import IN_CI, MASTER_KEY, ProxyProcess, free_port
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import AUTH, UPSTREAM_KEY, chat_body, eventually, sse_events

#: Long-running (outage, soak, many processes, 1M rows): `-m "not slow"` skips them.
pytestmark = pytest.mark.slow

OUTAGE_S = float(os.environ.get("OMNI_OUTAGE_SECONDS") or 12)


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} — CI must have it installed")
    pytest.skip(what)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        _missing(f"PostgreSQL's {name} is not installed")
    return str(found)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust auth, no fsync) in a temp dir on a free port.

    ``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
    (``runuser``), which must exist."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="omni-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            try:
                import pwd

                owner = pwd.getpwnam("postgres")
            except KeyError:
                owner = None
            if runuser is None or owner is None:
                _missing("running as root without runuser and a postgres user")
            assert owner is not None and runuser is not None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.prefix = [runuser, "-u", "postgres", "--"]

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}\n{done.stderr}\n{self.logs()}")

    def logs(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text()[-3000:]
        return ""

    def init(self) -> None:
        self._run(
            self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        self._run(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.cleanup()


class PrivateRedis:
    """``redis-server`` on a free port, in memory only; killed and restarted at will."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            _missing("redis-server is not installed")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not eventually(self._up, timeout=10):
            raise RuntimeError("redis-server did not start")

    def _up(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def config_for(fake: FakeOpenAI) -> dict[str, Any]:
    return {
        "providers": {
            "up": {
                "plugin": "openai",
                "base_url": fake.base_url,
                "api_key": UPSTREAM_KEY,
                "timeout_s": 5,
            }
        },
        "models": [
            {
                "name": "cheap",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.6,
                "strengths": ["chat"],
            },
            {
                "name": "smart",
                "provider": "up",
                "model": "gpt-4o",
                "cost_input": 2.5,
                "cost_output": 10,
                "strengths": ["coding", "reasoning"],
            },
        ],
        "routing": {"fallback_model": "cheap", "deadline_s": 20},
    }


class Load:
    """Background clients sending plain and streaming requests until stopped."""

    def __init__(self, url: str, keys: list[str], clients: int = 3) -> None:
        self.url = url
        self.keys = keys
        self.clients = clients
        self.results: list[tuple[str, int, str]] = []  # (request id, status, phase)
        self.errors: list[str] = []
        self.phase = "before"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=20) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                key = self.keys[(n + i) % len(self.keys)]
                stream = i % 2 == 0
                phase = self.phase
                try:
                    r = client.post(
                        self.url + "/chat/completions",
                        headers={"authorization": f"Bearer {key}"},
                        json=chat_body("cheap", f"load {n} {i}", stream=stream),
                    )
                    if r.status_code == 200 and stream:
                        assert sse_events(r.text)[-1] == "[DONE]", r.text[-200:]
                    with self._lock:
                        self.results.append((r.headers["x-request-id"], r.status_code, phase))
                except Exception as exc:
                    with self._lock:
                        self.errors.append(f"{phase}: {exc!r}")
                time.sleep(0.02)

    def __enter__(self) -> Load:
        for n in range(self.clients):
            t = threading.Thread(target=self._run, args=(n,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def _ready(proxy: ProxyProcess) -> tuple[int, dict[str, Any]]:
    r = httpx.get(proxy.root + "/ready", timeout=10)
    return r.status_code, r.json()


def test_database_outage_under_load_loses_nothing(
    postgres: PrivatePostgres, fake: FakeOpenAI, tmp_path: Path
) -> None:
    db_url = postgres.create_database("omni_" + uuid.uuid4().hex[:8])
    env = {
        "OMNI_DATABASE_URL": db_url,
        "OMNI_SPILL_PATH": str(tmp_path / "spill.jsonl"),
        "OMNI_KEY_SECRET": "infra-" + uuid.uuid4().hex,
    }
    proxy = ProxyProcess(tmp_path, config_for(fake), env=env).start()
    try:
        assert _ready(proxy)[0] == 200
        created = httpx.post(
            proxy.base_url + "/api-keys", headers=AUTH, json={"org": "acme", "name": "load"}
        )
        assert created.status_code == 201, created.text
        org_key = created.json()["key"]  # checked from the in-memory key cache while PG is down
        ready_down: list[int] = []
        with Load(proxy.base_url, [MASTER_KEY, org_key]) as load:
            time.sleep(2)
            load.phase = "outage"
            postgres.stop("immediate")
            outage_started = time.monotonic()
            while time.monotonic() - outage_started < OUTAGE_S:
                ready_down.append(_ready(proxy)[0])
                time.sleep(0.5)
            postgres.start()
            load.phase = "recovery"
            assert eventually(lambda: _ready(proxy)[0] == 200, timeout=20), proxy.read_log()[-2000:]
            recovered_after = time.monotonic() - outage_started - OUTAGE_S
            time.sleep(2)
            load.phase = "after"
            time.sleep(1)
        assert not load.errors, load.errors[:5]
        statuses = {status for _, status, _ in load.results}
        assert statuses == {200}, [r for r in load.results if r[1] != 200][:5]
        by_phase = {p: sum(1 for r in load.results if r[2] == p) for p in ("before", "outage")}
        assert by_phase["outage"] >= 20, by_phase  # the proxy kept answering while PG was down
        # /ready told the truth: 503 while down (after the first probe noticed), 200 after.
        assert ready_down.count(503) >= len(ready_down) - 2, ready_down
        ids = [rid for rid, _, _ in load.results]
        assert len(set(ids)) == len(ids)

        def recorded() -> dict[str, int]:
            with psycopg.connect(db_url) as conn:
                rows = conn.execute(
                    "SELECT id, count(*) FROM requests WHERE id = ANY(%s) GROUP BY id", (ids,)
                ).fetchall()
            return {r[0]: r[1] for r in rows}

        assert eventually(lambda: len(recorded()) == len(ids), timeout=40, step=0.5), (
            f"{len(recorded())} of {len(ids)} recorded\n{proxy.read_log()[-2000:]}"
        )
        counts = recorded()
        assert set(counts) == set(ids) and set(counts.values()) == {1}
        with psycopg.connect(db_url) as conn:
            total = conn.execute("SELECT count(*) FROM requests").fetchone()
        assert total is not None and total[0] == len(ids)  # nothing extra, nothing twice
        print(
            f"\ndatabase outage: {OUTAGE_S:.0f}s, {len(ids)} requests sent "
            f"({by_phase['outage']} during the outage), {total[0]} recorded, 0 non-200; "
            f"/ready 503 x{ready_down.count(503)}, ready again {recovered_after:.1f}s after restart"
        )
    finally:
        proxy.stop()


def _chat(proxy: ProxyProcess, key: str) -> int:
    r = httpx.post(
        proxy.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json=chat_body("cheap", "hi"),
        timeout=20,
    )
    return r.status_code


def test_redis_outage_falls_back_to_memory_and_shares_limits_again(
    private_redis: PrivateRedis, fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = {
        "OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "OMNI_REDIS_URL": private_redis.url,
        "OMNI_KEY_SECRET": "redis-" + uuid.uuid4().hex,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ProxyProcess(tmp_path / "a", config_for(fake), env=env).start()
    b = ProxyProcess(tmp_path / "b", config_for(fake), env=env).start()
    try:

        def new_key(rpm: int) -> str:
            r = httpx.post(
                a.base_url + "/api-keys",
                headers=AUTH,
                json={"org": "acme", "name": f"rpm{rpm}", "rpm_limit": rpm},
            )
            assert r.status_code == 201, r.text
            key = str(r.json()["key"])
            # B learns keys from the shared database within its 2 s reload.
            assert eventually(
                lambda: (
                    httpx.get(
                        b.base_url + "/models", headers={"authorization": f"Bearer {key}"}
                    ).status_code
                    == 200
                )
            )
            return key

        def alternate(key: str, n: int) -> list[int]:
            return [_chat(a if i % 2 else b, key) for i in range(n)]

        # Shared: 5 per minute across both instances.
        assert alternate(new_key(5), 7) == [200] * 5 + [429] * 2
        for proxy in (a, b):
            status, body = _ready(proxy)
            assert status == 200 and body["status"] == "ready" and body["redis"] == "ok"

        private_redis.kill()
        load_a, load_b = Load(a.base_url, [MASTER_KEY], 2), Load(b.base_url, [MASTER_KEY], 2)
        with load_a, load_b:
            # Each instance notices (on its next Redis call or probe) and says so.
            for proxy in (a, b):
                assert eventually(lambda p=proxy: _ready(p)[1]["status"] == "degraded", 10)
                status, body = _ready(proxy)
                assert status == 200 and body["redis"].startswith("down")
            # Limits still hold, per instance: 4 per minute on A and 4 on B.
            key = new_key(4)
            statuses = [_chat(a, key) for _ in range(5)] + [_chat(b, key) for _ in range(5)]
            assert statuses == ([200] * 4 + [429]) * 2, statuses
            time.sleep(1)
            private_redis.start()  # same port
            for proxy in (a, b):
                assert eventually(lambda p=proxy: _ready(p)[1]["status"] == "ready", 15)
        for load in (load_a, load_b):
            assert not load.errors and {s for _, s, _ in load.results} == {200}, load.errors[:3]
        # Shared again. Stale pooled connections to the old process used to send one
        # instance back to memory for a probe interval (1 run in ~20; now fixed, see
        # test_after_a_redis_restart_no_stale_pooled_connection_is_used); any other failed
        # Redis call still does, until the next probe 2 s later, so allow a few attempts,
        # each with a fresh key.
        attempts: list[list[int]] = []

        def shared_again() -> bool:
            attempts.append(alternate(new_key(5), 7))
            return attempts[-1] == [200] * 5 + [429] * 2

        assert eventually(shared_again, timeout=20, step=0.5), (
            attempts,
            a.read_log()[-3000:],
            b.read_log()[-3000:],
        )
        logs = a.read_log() + b.read_log()
        assert "falling back to in-memory rate limits" in logs
        assert "rate limits are shared again" in logs
        sent = len(load_a.results) + len(load_b.results)
        print(f"\nredis outage: {sent} requests on A and B while it was down or returning, all 200")
    finally:
        a.stop()
        b.stop()


async def test_after_a_redis_restart_no_stale_pooled_connection_is_used(
    private_redis: PrivateRedis,
) -> None:
    """The limiter's probes drop the pool's idle connections while Redis is away, so the
    requests right after it returns all count in Redis: none stumbles on a socket to the
    old process and sends this instance back to memory limits."""
    import asyncio

    from omni_proxy.accounts.limits import Limiter
    from omni_proxy.types import CallContext, Principal

    limiter = Limiter(redis_url=private_redis.url, prefix=f"omni-t-{uuid.uuid4().hex[:8]}:")
    await limiter.start()
    try:
        assert limiter.redis_ok
        principal = Principal(org_id="org", key_id="key", limits={"key_rpm": 1000})

        async def admit_many(n: int) -> None:
            await asyncio.gather(
                *(
                    limiter.admit(
                        principal, CallContext(request_id=f"r{i}", endpoint="/v1/chat/completions")
                    )
                    for i in range(n)
                )
            )

        await admit_many(8)  # several pooled connections now exist
        private_redis.kill()
        await limiter._probe_redis()
        assert not limiter.redis_ok
        private_redis.start()  # same port, a new process
        await limiter._probe_redis()
        assert limiter.redis_ok
        await admit_many(8)  # concurrent: each needs a connection of its own
        assert limiter.redis_ok, "a stale pooled connection sent the limiter back to memory"
        counted = await limiter.redis.keys(f"{limiter.prefix}rl:k:key:rpm:*")
        assert counted  # the counting happened in Redis (a new process), not in memory
    finally:
        await limiter.stop()


def test_database_down_gives_503_on_usage_and_keys(
    postgres: PrivatePostgres, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """Admin and usage calls need the database: while it is down they get a prompt 503
    ``database_unavailable`` in the documented shape, not a bare 500 (issue 15)."""
    db_url = postgres.create_database("omni_" + uuid.uuid4().hex[:8])
    env = {"OMNI_DATABASE_URL": db_url, "OMNI_SPILL_PATH": str(tmp_path / "spill.jsonl")}
    proxy = ProxyProcess(tmp_path, config_for(fake), env=env).start()
    try:
        postgres.stop("immediate")
        try:
            for path in ("/usage", "/api-keys", "/organizations"):
                r = httpx.get(proxy.base_url + path, headers=AUTH, timeout=30)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.json()["error"]["code"] == "database_unavailable"
                assert r.json()["request_id"] == r.headers["x-request-id"]
        finally:
            postgres.start()
        assert eventually(
            lambda: (
                httpx.get(proxy.base_url + "/usage", headers=AUTH, timeout=30).status_code == 200
            ),
            90,
        ), proxy.read_log()[-2000:]
        assert "Traceback" not in proxy.read_log()
    finally:
        proxy.stop()
