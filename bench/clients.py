"""Upstream HTTP clients compared: CPU time per request against bench/upstream.py.

The proxy's profile is dominated by its upstream call (see bench/README.md), so this measures
that call alone, in one process pinned to one CPU (the upstream on the other), at 1 and 16
(and 64) concurrent requests: requests/s, and CPU microseconds per request (user + system of
this process, threads included), which other load on the machine barely moves.

    python bench/clients.py [--seconds 3] [--extra-path DIR]

Variants: httpx's ``AsyncClient`` (limits as omni-proxy sizes them), httpx with limits sized
to the load, httpx2, httpx over the ``httpx-aiohttp`` transport, aiohttp directly,
omni-proxy's own ``Provider.post`` over httpx (``transport: httpx``, what a proxy in the
environment chooses) and over its own HTTP/1.1 pool (``upstream_h1``, the default), and a
bare asyncio-streams client (the floor). Libraries that are not importable are skipped;
``--extra-path`` adds a directory (e.g. ``pip install --target DIR aiohttp httpx-aiohttp``)
to the end of ``sys.path`` so nothing has to be installed into the venv.
Writes ``bench/results/clients-<date>-<commit>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BODY = orjson.dumps(
    {"model": "m1", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}
)
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-x"}

Call = Callable[[], Awaitable[dict[str, Any]]]


async def httpx_client(url: str, conns: int, sized: bool) -> tuple[Call, Callable[[], Any]]:
    import httpx

    n = conns if sized else 512
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=60)
    timeout = httpx.Timeout(60, connect=5)
    client = httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=False)

    async def call() -> dict[str, Any]:
        r = await client.post(url, content=BODY, headers=HEADERS)
        return orjson.loads(r.content)  # type: ignore[no-any-return]

    return call, client.aclose


async def httpx2_client(url: str, conns: int) -> tuple[Call, Callable[[], Any]]:
    import httpx2

    limits = httpx2.Limits(max_connections=512, max_keepalive_connections=512)
    client = httpx2.AsyncClient(limits=limits, timeout=60)

    async def call() -> dict[str, Any]:
        r = await client.post(url, content=BODY, headers=HEADERS)
        return orjson.loads(r.content)  # type: ignore[no-any-return]

    return call, client.aclose


async def httpx_aiohttp_client(url: str, conns: int) -> tuple[Call, Callable[[], Any]]:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512, keepalive_expiry=60)
    client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=60)

    async def call() -> dict[str, Any]:
        r = await client.post(url, content=BODY, headers=HEADERS)
        return orjson.loads(r.content)  # type: ignore[no-any-return]

    return call, client.aclose


async def aiohttp_client(url: str, conns: int) -> tuple[Call, Callable[[], Any]]:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=60),
    )

    async def call() -> dict[str, Any]:
        async with session.post(url, data=BODY, headers=HEADERS) as r:
            return orjson.loads(await r.read())  # type: ignore[no-any-return]

    return call, session.close


async def omni_provider_post(
    url: str, conns: int, transport: str
) -> tuple[Call, Callable[[], Any]]:
    """What omni-proxy's providers do: ``Provider.post`` on the ``transport`` pool."""
    from omni_proxy.config import ProviderSettings
    from omni_proxy.provider import Provider
    from omni_proxy.registry import Providers

    settings = ProviderSettings(
        name="up", plugin="openai", base_url=url, max_connections=512, transport=transport
    )
    client, pool = Providers._client_for(settings, env={})
    provider = Provider(settings, client)
    provider.http = pool

    async def call() -> dict[str, Any]:
        r = await provider.post(url, BODY, HEADERS)
        return orjson.loads(r.content)  # type: ignore[no-any-return]

    async def close() -> None:
        await client.aclose()
        if pool is not None:
            await pool.aclose()

    return call, close


async def raw_client(url: str, conns: int) -> tuple[Call, Callable[[], Any]]:
    """The floor: keep-alive asyncio streams, one per worker, content-length bodies only."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host_port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-x\r\ncontent-length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call() -> dict[str, Any]:
        pair = idle.pop() if idle else await asyncio.open_connection(host, int(port))
        reader, writer = pair
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        at = head.lower().find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at)])
        body = await reader.readexactly(length)
        idle.append(pair)
        return orjson.loads(body)  # type: ignore[no-any-return]

    async def close() -> None:
        for _, w in idle:
            w.close()

    return call, close


VARIANTS: dict[str, Callable[[str, int], Awaitable[tuple[Call, Callable[[], Any]]]]] = {
    "httpx AsyncClient (as omni-proxy: limits 512)": lambda u, c: httpx_client(u, c, False),
    "httpx AsyncClient, limits = concurrency": lambda u, c: httpx_client(u, c, True),
    "httpx2 AsyncClient": httpx2_client,
    "httpx + httpx-aiohttp transport": httpx_aiohttp_client,
    "aiohttp ClientSession": aiohttp_client,
    "omni-proxy Provider.post (transport: httpx, as with a proxy set)": partial(
        omni_provider_post, transport="httpx"
    ),
    "omni-proxy Provider.post (h1 pool: upstream_h1, the default)": partial(
        omni_provider_post, transport="h1"
    ),
    "raw asyncio streams (floor)": raw_client,
}


async def measure(make: Any, url: str, conns: int, seconds: float) -> dict[str, Any]:
    call, close = await make(url, conns)
    try:
        for _ in range(conns * 5):  # open the connections, warm the code paths
            await call()
        done = 0
        stop = time.monotonic() + seconds
        latencies: list[float] = []

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < stop:
                t = time.perf_counter()
                data = await call()
                latencies.append(time.perf_counter() - t)
                assert data["object"] == "chat.completion"
                done += 1

        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.gather(*(worker() for _ in range(conns)))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    finally:
        result = close()
        if asyncio.iscoroutine(result):
            await result
    latencies.sort()
    return {
        "rps": round(done / wall, 1),
        "cpu_us_per_req": round(cpu / done * 1e6, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "requests": done,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--conns", default="1,16,64")
    p.add_argument("--extra-path", action="append", default=[])
    args = p.parse_args(argv)
    sys.path.extend(args.extra_path)
    cpus = sorted(os.sched_getaffinity(0))
    up = subprocess.Popen(
        [sys.executable, str(BENCH / "upstream.py"), "--port", "0", "--cpu", str(cpus[-1])],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert up.stdout is not None
        port = int(up.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[0]})
        conns_list = [int(c) for c in args.conns.split(",")]
        results: dict[str, Any] = {}
        try:
            import uvloop

            factory: Any = uvloop.new_event_loop
        except ImportError:
            factory = None
        for name, make in VARIANTS.items():
            row: dict[str, Any] = {}
            for conns in conns_list:
                try:
                    with asyncio.Runner(loop_factory=factory) as runner:
                        row[conns] = runner.run(measure(make, url, conns, args.seconds))
                except ImportError as exc:
                    row = {"skipped": f"not importable: {exc.name}"}
                    break
                print(f"{name:48s} c={conns:<3d} {row[conns]}", flush=True)
            results[name] = row
    finally:
        up.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.wait(5)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH
    ).stdout.strip()
    stamp = f"{dt.date.today():%Y-%m-%d}-{commit or 'unknown'}"
    header = "| client | " + " | ".join(
        f"c={c} req/s | c={c} CPU us/req | c={c} p50 ms" for c in conns_list
    )
    lines = [
        f"# Upstream clients against bench/upstream.py ({stamp})",
        "",
        "One process pinned to one CPU, the upstream on the other; uvloop. CPU us/req = this "
        "process's user + system time per request.",
        "",
        header + " |",
        "|---|" + "---|---|---|" * len(conns_list),
    ]
    for name, row in results.items():
        if "skipped" in row:
            lines.append(f"| {name} | {row['skipped']} |")
            continue
        cells = [
            f"{row[c]['rps']:,.0f} | {row[c]['cpu_us_per_req']:,.0f} | {row[c]['p50_ms']}"
            for c in conns_list
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    md = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"clients-{stamp}.md").write_text(md)
    (RESULTS / f"clients-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n" + md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
