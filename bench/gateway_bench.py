"""What the gateway features cost on the hot path: a response-cache miss's lookup, a hit's
time in the proxy, and choosing a deployment.

    python bench/gateway_bench.py            # about 15 seconds

1. The miss path's added work, in-process: ``cache_key`` (canonical JSON + BLAKE2b) and a
   memory-store lookup for a typical chat body, timed over many rounds (median of 5 runs).
2. A hit end to end: a real ``omni-proxy serve`` (memory cache, SQLite) in front of the fake
   OpenAI upstream of tests/fakes; one miss stores the answer, then N identical requests
   are hits. Reported: the proxy's own ``omni.latency_ms`` for a hit (median, p99) and the
   client's round trip.

3. Deployments, in-process: ``Balancer.pick`` + ``begin``/``end`` + ``served`` for a model
   with three deployments, per strategy.

Everything runs on 127.0.0.1; the proxy and fake upstream stop by themselves.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from omni_proxy.routing.deployments import Balancer, Deployment  # noqa: E402
from omni_proxy.storage.cache import MemoryStore, cache_key  # noqa: E402
from omni_proxy.types import ModelInfo  # noqa: E402
from tests.conftest import MASTER_KEY, ProxyProcess  # noqa: E402
from tests.fakes.openai_upstream import FakeOpenAI  # noqa: E402

BODY = {
    "model": "cheap",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 10},
        {"role": "user", "content": "Summarise the following text in two lines. " * 20},
    ],
    "temperature": 0,
    "max_tokens": 200,
}


def miss_cost(rounds: int = 20_000) -> float:
    """Microseconds per miss: key + lookup in a store holding 10,000 entries."""
    store = MemoryStore(10_000)

    async def fill() -> None:
        for i in range(10_000):
            await store.put(f"o:{i}", b"x", 600)

    async def run() -> float:
        t0 = time.perf_counter()
        for _ in range(rounds):
            await store.get(cache_key("org_1", "/v1/chat/completions", BODY, {}))
        return (time.perf_counter() - t0) / rounds * 1e6

    asyncio.run(fill())
    return statistics.median(asyncio.run(run()) for _ in range(5))


def hit_latency(n: int = 300) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(api_key="sk-up") as fake:
        config = {
            "providers": {
                "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-up"}
            },
            "models": [{"name": "cheap", "provider": "up", "model": "gpt-4o-mini"}],
            "cache": {"mode": "exact"},
        }
        with ProxyProcess(Path(tmp), config) as proxy, httpx.Client() as client:
            headers = {"authorization": f"Bearer {MASTER_KEY}"}
            url = proxy.base_url + "/chat/completions"
            client.post(url, json=BODY, headers=headers).raise_for_status()
            inside, outside = [], []
            for _ in range(n):
                t0 = time.perf_counter()
                r = client.post(url, json=BODY, headers=headers)
                outside.append((time.perf_counter() - t0) * 1000)
                assert r.headers["x-omni-cache"] == "hit"
                inside.append(r.json()["omni"]["latency_ms"])
            inside.sort()
            return (
                statistics.median(inside),
                inside[int(len(inside) * 0.99) - 1],
                statistics.median(outside),
            )


def deployment_cost(strategy: str, rounds: int = 50_000) -> float:
    """Microseconds per request to choose, account for and resolve a deployment."""
    deps = tuple(Deployment(f"d{i}", f"p{i}", "m", weight=i + 1, rpm=10**9) for i in range(3))
    model = ModelInfo("m", "p0", "m", deployments=deps)
    balancer = Balancer(strategy)
    t0 = time.perf_counter()
    for _ in range(rounds):
        dep = balancer.pick(model, set())
        assert dep is not None
        balancer.begin(dep)
        balancer.served(model, dep)
        balancer.end(dep, 1.0, None)
    return (time.perf_counter() - t0) / rounds * 1e6


if __name__ == "__main__":
    for strategy in ("weighted", "least_busy", "latency", "usage"):
        print(f"deployments ({strategy}): {deployment_cost(strategy):.1f} µs per request")
    print(f"miss: key + memory lookup adds {miss_cost():.1f} µs (median of 5 runs)")
    med, p99, rtt = hit_latency()
    print(f"hit: {med:.3f} ms in the proxy (p99 {p99:.3f} ms); client round trip {rtt:.2f} ms")
