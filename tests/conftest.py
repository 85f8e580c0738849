"""Shared fixtures: free ports, a real proxy process, service checks that fail loudly in CI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
import yaml
from hypothesis import settings

if TYPE_CHECKING:
    from omni_proxy.provider import Provider

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# In CI every property-based test uses fixed examples, so a red run can be reproduced.
settings.register_profile("ci", derandomize=True, database=None)
if IN_CI:
    settings.load_profile("ci")
MASTER_KEY = "sk-omni-test-master-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_service(host: str, port: int, what: str) -> None:
    """Skip with a reason on a laptop; fail loudly in CI, where the service must be there."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        message = f"{what} is not reachable at {host}:{port} ({exc})"
        if IN_CI:
            pytest.fail(message + " — CI must have it running")
        pytest.skip(message)


class ProxyProcess:
    """``omni-proxy serve`` in a child process on a free port, stopped by its pid."""

    def __init__(
        self,
        tmp: Path,
        config: dict[str, Any] | None = None,
        *,
        args: list[str] = (),  # type: ignore[assignment]
        env: dict[str, str] | None = None,
        master_key: str | None = MASTER_KEY,
    ) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.config_path: Path | None = None
        self.args = list(args)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
        for var in (
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "GROQ_API_KEY",
            "OPENROUTER_API_KEY",
            "MISTRAL_API_KEY",
        ):
            self.env.pop(var, None)
        self.env["OMNI_DATABASE_URL"] = f"sqlite:///{tmp / 'proxy.db'}"
        if master_key:
            self.env["OMNI_MASTER_KEY"] = master_key
        self.env.update(env or {})
        if config is not None:
            self.config_path = tmp / "omni.yaml"
            self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> ProxyProcess:
        cmd = [sys.executable, "-m", "omni_proxy.cli", "serve", "--port", str(self.port)]
        if self.config_path:
            cmd += ["--config", str(self.config_path)]
        cmd += self.args
        self.log_path = self.tmp / f"proxy-{self.port}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, text=True, cwd=self.tmp
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                if httpx.get(self.root + "/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"proxy did not become healthy:\n{self.read_log()}")

    def read_log(self) -> str:
        return self.log_path.read_text() if hasattr(self, "log_path") else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def make_proxy(tmp_path: Path) -> Iterator[Any]:
    started: list[ProxyProcess] = []

    def make(config: dict[str, Any] | None = None, **kw: Any) -> ProxyProcess:
        proxy = ProxyProcess(tmp_path, config, **kw).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


# -- the Responses API end-to-end tests' upstreams (one module's worth each) ------------------
@pytest.fixture(scope="module")
def native_up() -> Iterator[Any]:
    """A fake OpenAI that serves the Responses API itself (the ``openai`` preset's kind)."""
    from tests.fakes.openai_upstream import FakeOpenAI

    with FakeOpenAI(model_suffix="-2024-07-18") as server:
        yield server


@pytest.fixture(scope="module")
def compat_up() -> Iterator[Any]:
    """A fake OpenAI-compatible upstream that the proxy translates Responses requests for."""
    from tests.fakes.openai_upstream import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


P = TypeVar("P", bound="Provider")


class PooledClient(httpx.AsyncClient):
    """A provider's httpx client that also carries the pool ``Provider.post`` uses (the
    h1 pool, as in production), or none (the httpx path: proxies, tests' transports)."""

    pool: Any = None


#: The two ways ``Provider.post`` reaches an upstream; provider tests run over both.
UPSTREAM_TRANSPORTS = ["h1", "httpx"]


@pytest.fixture(params=UPSTREAM_TRANSPORTS)
async def upstream_client(request: pytest.FixtureRequest) -> Any:
    from omni_proxy.upstream.h1 import H1Pool

    async with PooledClient(timeout=10) as client:
        if request.param == "h1":
            client.pool = H1Pool(httpx.Limits(max_connections=32), httpx.Timeout(10))
        try:
            yield client
        finally:
            if client.pool is not None:
                await client.pool.aclose()


def over(provider: P, client: httpx.AsyncClient) -> P:
    """``provider`` with the pool of ``client`` (a ``PooledClient``), as the core wires it."""
    provider.http = getattr(client, "pool", None)
    return provider
