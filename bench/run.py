"""omni-proxy benchmark: one command, one session, the direct upstream measured alongside.

    python bench/run.py            # full run, about 5 minutes
    python bench/run.py --quick    # about 1.5 minutes, no 100k memory step
    python bench/run.py --profile  # also py-spy the 1-worker proxy under load

Starts ``bench/upstream.py`` and ``omni-proxy serve`` as subprocesses on free 127.0.0.1 ports
(stopped by pid), drives them with ``wrk`` and ``bench/post.lua`` (or ``bench/loadgen.py`` when
wrk is missing, and for runs that stop after N requests), and writes
``bench/results/<date>-<commit>[-quick].md`` and ``.json``. On two CPUs the 1-worker proxy is
pinned to the first and the upstream and load driver to the second; ``--workers 2`` runs
unpinned. bench/README.md says how to read the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
MASTER_KEY = "sk-bench-" + "x" * 24
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
PROMPT = "Say hello to the benchmark in one short sentence."
STREAM_CHUNKS = 20
STREAM_GAP_MS = 10.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/15"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def body_for(model: str, stream: bool = False) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinner(cpus: set[int] | None) -> Any:
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, cpus)


# -- processes -----------------------------------------------------------------------------
class Proc:
    """A subprocess this run started, in a session of its own, stopped by its pid."""

    live: list[Proc] = []

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        cpus: set[int] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.p = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=pinner(cpus),
        )
        self.pid = self.p.pid
        Proc.live.append(self)

    def alive(self) -> bool:
        return self.p.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
        # uvicorn's worker processes share the session we created; none may outlive it.
        for pid in session_members(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()
        if self in Proc.live:
            Proc.live.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for p in list(cls.live):
            with contextlib.suppress(Exception):
                p.stop(5)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[3])


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in _pids():
        st = _stat(p)
        if st:
            children.setdefault(st[0], []).append(p)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def session_members(sid: int) -> list[int]:
    return [p for p in _pids() if p != sid and (_stat(p) or (0, 0))[1] == sid]


def rss_mb(pid: int) -> float:
    """VmRSS of a process and all its descendants, in MB."""
    kb = 0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kb += int(line.split()[1])
    return round(kb / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants, in seconds."""
    ticks = 0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = Path(f"/proc/{p}/stat").read_text()
            fields = raw[raw.rfind(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds all CPUs have spent busy since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds used by this run: this process, its finished children, its live ones."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return total + sum(cpu_seconds(p.pid) for p in Proc.live)


class OtherLoad:
    """Share of all CPUs that processes not of this run kept busy, from now until read()."""

    def __init__(self) -> None:
        self.t0, self.busy0, self.own0 = time.monotonic(), _busy_seconds(), _own_seconds()

    def read(self) -> float | None:
        try:
            wall = (time.monotonic() - self.t0) * (os.cpu_count() or 1)
            other = (_busy_seconds() - self.busy0) - (_own_seconds() - self.own0)
        except (OSError, ValueError, IndexError):
            return None
        return round(min(1.0, max(0.0, other / wall)), 3) if wall > 0 else None


def machine_busy(seconds: float = 2.0) -> float:
    """Share of all CPUs busy over ``seconds``, from /proc/stat: other load on the machine."""

    def snap() -> tuple[int, int]:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
        fields = [int(x) for x in first.split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]

    try:
        total1, idle1 = snap()
        time.sleep(seconds)
        total2, idle2 = snap()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return round(1 - (idle2 - idle1) / max(1, total2 - total1), 3)


# -- a tiny blocking HTTP client: readiness and start-up time ------------------------------
def http_once(
    port: int, body: bytes, headers: dict[str, str], timeout: float = 5.0
) -> tuple[int, bytes]:
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    raw = b"".join(chunks)
    status = raw.split(b"\r\n", 1)[0].split()
    return (int(status[1]) if len(status) > 1 else 0), raw.partition(b"\r\n\r\n")[2]


def wait_ready(port: int, proc: Proc, *, timeout: float = 60.0) -> float:
    """Seconds from the process's start until it answers a chat completion with 200."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            status, content = http_once(port, body_for("m1"), AUTH, timeout=10)
            if status == 200:
                return time.monotonic() - proc.started
            last = f"HTTP {status}: {content[:300]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.005)
    raise RuntimeError(f"{proc.name} did not answer within {timeout}s ({last}):\n{proc.tail()}")


# -- the load driver -----------------------------------------------------------------------
class Driver:
    """wrk (with bench/post.lua) or bench/loadgen.py; both print one ``BENCHJSON`` line."""

    def __init__(self, kind: str, cpus: set[int] | None) -> None:
        self.kind = kind
        self.cpus = cpus

    def describe(self) -> str:
        if self.kind == "wrk":
            out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
            return (out.stdout or out.stderr).strip().splitlines()[0].split(" Copyright")[0]
        return "bench/loadgen.py (asyncio + uvloop, raw sockets)"

    def command(
        self,
        port: int,
        body: bytes,
        conns: int,
        duration: float,
        auth: bool,
        histogram: bool = False,
        max_requests: int | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        # wrk cannot stop after N requests (thread:stop() still waits out -d), so counted
        # runs use the asyncio driver, which can.
        if self.kind == "wrk" and not max_requests:
            env = {
                **os.environ,
                "BENCH_BODY": body.decode(),
                "BENCH_AUTH": AUTH["Authorization"] if auth else "",
                "BENCH_HISTOGRAM": "1" if histogram else "0",
            }
            seconds = f"{max(1, round(duration))}s"
            argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}", "--timeout", "10s"]
            return [*argv, "-s", str(BENCH / "post.lua"), url], env
        argv = [sys.executable, str(BENCH / "loadgen.py"), "--url", url, "--body", body.decode()]
        argv += ["-c", str(conns), "-d", str(duration)]
        if auth:
            argv += ["--header", f"Authorization: {AUTH['Authorization']}"]
        if max_requests:
            argv += ["--max-requests", str(max_requests)]
        return argv, dict(os.environ)

    def run(
        self,
        port: int,
        body: bytes,
        *,
        conns: int,
        duration: float,
        auth: bool,
        histogram: bool = False,
        max_requests: int | None = None,
    ) -> dict[str, Any]:
        argv, env = self.command(port, body, conns, duration, auth, histogram, max_requests)
        out = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            preexec_fn=pinner(self.cpus),
            timeout=duration + 60,
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"load driver failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
        res: dict[str, Any] = json.loads(line.split(" ", 1)[1])
        seconds = res["duration_us"] / 1e6
        res["rps"] = round(res["requests"] / seconds, 1) if seconds else 0.0
        res["error_count"] = sum(res["errors"].values())
        res["conns"] = conns
        if not histogram:
            res.pop("histogram", None)
        return res


def slim(res: dict[str, Any]) -> dict[str, Any]:
    lat = res["latency"]
    return {
        "rps": res["rps"],
        "requests": res["requests"],
        "errors": res["error_count"],
        "p50_ms": lat["p50"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "conns": res["conns"],
        "other_load": res.get("other_load"),
    }


def hist_percentiles(hist: Counter[int]) -> dict[str, float]:
    """Percentiles (ms) of a histogram of microsecond latencies."""
    total = sum(hist.values())
    if not total:
        return {}
    items = sorted(hist.items())
    out: dict[str, float] = {}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        want, seen = p / 100 * total, 0
        for v, c in items:
            seen += c
            if seen >= want:
                out[name] = v / 1000
                break
    out["mean"] = sum(v * c for v, c in items) / total / 1000
    out["min"], out["max"], out["n"] = items[0][0] / 1000, items[-1][0] / 1000, total
    return {k: round(v, 3) for k, v in out.items()}


def quantile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def r3(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


# -- the streaming client ------------------------------------------------------------------
TOKEN = re.compile(rb"tok(\d+)@(\d+)")


async def stream_once(port: int, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """One streamed request; every SSE event timestamped when its bytes arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head_lines = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Accept: text/event-stream",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    events: list[tuple[int, bytes]] = []
    pending = b""

    def take(piece: bytes, t: int) -> None:
        nonlocal pending
        pending += piece
        while (cut := pending.find(b"\n\n")) >= 0:
            event, pending = pending[:cut], pending[cut + 2 :]
            events.extend((t, x[5:].strip()) for x in event.split(b"\n") if x.startswith(b"data:"))

    t0 = time.monotonic_ns()
    writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode() + body)
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        chunked = b"transfer-encoding: chunked" in head.lower()
        while True:
            if chunked:
                size = int((await reader.readline()).strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    break
                piece = (await reader.readexactly(size + 2))[:-2]
            else:
                piece = await reader.read(65536)
                if not piece:
                    break
            take(piece, time.monotonic_ns())
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    content = []  # (index, upstream write time, client receive time)
    for t, data in events:
        if m := TOKEN.search(data):
            content.append((int(m.group(1)), int(m.group(2)), t))
    pairs = list(itertools.pairwise(content))
    return {
        "status": status,
        "ttft_ms": (content[0][2] - t0) / 1e6 if content else None,
        "gaps_ms": [(b[2] - a[2]) / 1e6 for a, b in pairs],
        "lags_ms": [(t - sent) / 1e6 for _, sent, t in content],
        # A chunk held back until the next one came reaches the client only after the upstream
        # wrote that next chunk; a chunk passed straight through arrives before.
        "before_next_sent": sum(1 for a, b in pairs if a[2] < b[1]),
        "checkable": len(pairs),
        "late_ms": [round((a[2] - b[1]) / 1e6, 3) for a, b in pairs if a[2] >= b[1]],
        "chunks": len(content),
        "in_order": [i for i, _, _ in content] == list(range(len(content))),
        "usage": any(b'"usage":{' in d for _, d in events),
        "done": any(d == b"[DONE]" for _, d in events),
        "timeline": [(round((s - t0) / 1e6, 3), round((t - t0) / 1e6, 3)) for _, s, t in content],
    }


def summarize_streams(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ttft = [r["ttft_ms"] for r in runs if r["ttft_ms"] is not None]
    gaps = [g for r in runs for g in r["gaps_ms"]]
    lags = [g for r in runs for g in r["lags_ms"]]
    complete = [
        r["status"] == 200
        and r["done"]
        and r["usage"]
        and r["in_order"]
        and r["chunks"] == STREAM_CHUNKS
        for r in runs
    ]
    return {
        "streams": len(runs),
        "ok": sum(complete),
        "ttft_p50_ms": r3(statistics.median(ttft)) if ttft else None,
        "ttft_p99_ms": r3(quantile(ttft, 99)),
        "gap_p50_ms": r3(statistics.median(gaps)) if gaps else None,
        "gap_p99_ms": r3(quantile(gaps, 99)),
        "gap_max_ms": r3(max(gaps)) if gaps else None,
        "lag_p50_ms": r3(statistics.median(lags)) if lags else None,
        "lag_p99_ms": r3(quantile(lags, 99)),
        "lag_max_ms": r3(max(lags)) if lags else None,
        "chunks_before_next_sent": sum(r["before_next_sent"] for r in runs),
        "chunks_checked": sum(r["checkable"] for r in runs),
        # For chunks that came in after the next was written: by how much (CPU starvation
        # shows as a few scattered ones; a relay that holds chunks back shows as all of them).
        "late_ms": sorted(x for r in runs for x in r["late_ms"]),
        "example_timeline_ms": runs[len(runs) // 2]["timeline"] if runs else [],
    }


# -- the benchmark -------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = bool(args.quick)
        self.tmp = Path(tempfile.mkdtemp(prefix="omni-bench-"))
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        two = len(self.cpus) >= 2
        self.proxy_cpus = {self.cpus[0]} if two else None
        self.load_cpus = {self.cpus[-1]} if two else None
        kind = args.driver
        if kind == "auto":
            kind = "wrk" if shutil.which("wrk") else "python"
        self.driver = Driver(kind, self.load_cpus)
        self.results: dict[str, Any] = {}
        self.stamp = ""
        self.up_port = self.up_pid = 0
        cli = Path(sys.executable).parent / "omni-proxy"
        self.proxy_cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "omni_proxy.cli"]
        q = self.quick
        self.d_lat = 1.0 if q else 2.0  # seconds per target per c=1 round
        self.rounds = 3 if q else 6
        self.d_tp = 2.0 if q else 5.0  # seconds per throughput run
        self.streams = 6 if q else 20  # streams per target
        self.starts = 3 if q else 5
        self.mem_steps = [1_000, 10_000] if q else [1_000, 10_000, 100_000]
        self.mem_cap_s = 90.0 if q else 330.0

    # -- processes --
    def start_upstream(self) -> None:
        port = free_port()
        argv = [sys.executable, str(BENCH / "upstream.py"), "--port", str(port)]
        argv += ["--chunks", str(STREAM_CHUNKS), "--gap-ms", str(STREAM_GAP_MS)]
        up = Proc("upstream", argv, cpus=self.load_cpus, log_dir=self.tmp)
        self.up_pid, self.up_port = up.pid, port
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if http_once(port, body_for("m1"), {})[0] == 200:
                    return
            time.sleep(0.02)
        raise RuntimeError("the upstream did not start:\n" + up.tail())

    def write_config(self, name: str) -> Path:
        path = self.tmp / f"{name}.yaml"
        url = f"http://127.0.0.1:{self.up_port}/v1"
        path.write_text(
            "providers:\n"
            f"  up: {{plugin: openai, base_url: '{url}', api_key: sk-x}}\n"
            "models:\n"
            "  - {name: m1, provider: up, model: m1, cost_input: 0.15, cost_output: 0.6,\n"
            "     avg_latency_ms: 400, strengths: [chat, summarization]}\n"
            "  - {name: m2, provider: up, model: m2, cost_input: 1.0, cost_output: 4.0,\n"
            "     avg_latency_ms: 700, strengths: [coding, agent_step]}\n"
            "  - {name: m3, provider: up, model: m3, cost_input: 3.0, cost_output: 15.0,\n"
            "     avg_latency_ms: 1200, strengths: [reasoning, coding]}\n"
        )
        return path

    def start_proxy(
        self,
        name: str,
        *,
        workers: int = 1,
        database_url: str | None = None,
        redis_url: str | None = None,
        pinned: bool = True,
        gc_log: Path | None = None,
    ) -> tuple[Proc, int, float]:
        port = free_port()
        argv = [*self.proxy_cmd, "serve", "--config", str(self.write_config(name))]
        argv += ["--port", str(port)]
        if workers > 1:
            argv += ["--workers", str(workers)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
        env.update(
            OMNI_MASTER_KEY=MASTER_KEY,
            OMNI_DATABASE_URL=database_url or f"sqlite:///{self.tmp / (name + '.db')}",
            OMNI_LOG_LEVEL="warning",
            OMNI_KEY_SECRET="bench-key-secret-" + "y" * 16,
        )
        if redis_url:
            env["OMNI_REDIS_URL"] = redis_url
        if gc_log is not None:
            env["BENCH_GC_LOG"] = str(gc_log)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(BENCH / "gcprobe"), env.get("PYTHONPATH")) if p
            )
        cpus = self.proxy_cpus if pinned else None
        proc = Proc(name, argv, env=env, cwd=self.tmp, cpus=cpus, log_dir=self.tmp)
        return proc, port, wait_ready(port, proc)

    # -- measurements --
    def load(
        self,
        port: int,
        model: str,
        conns: int,
        duration: float,
        *,
        direct: bool = False,
        histogram: bool = False,
        max_requests: int | None = None,
    ) -> dict[str, Any]:
        meter = OtherLoad()
        res = self.driver.run(
            port,
            body_for(model),
            conns=conns,
            duration=duration,
            auth=not direct,
            histogram=histogram,
            max_requests=max_requests,
        )
        res["other_load"] = meter.read()
        return res

    def warm(self, port: int) -> None:
        for model in ("m1", "auto"):
            self.load(port, model, 16, 1.0)

    def latency_c1(self, port: int, rounds: int, label: str) -> dict[str, Any]:
        """Interleaved rounds at one connection: direct, proxy, direct, proxy, ..."""
        targets = {
            "direct": (self.up_port, "m1", True),
            "passthrough": (port, "m1", False),
            "pipeline": (port, "auto", False),
        }
        hists: dict[str, Counter[int]] = {k: Counter() for k in targets}
        p50s: dict[str, list[float]] = {k: [] for k in targets}
        errors = dict.fromkeys(targets, 0)
        other: dict[str, list[float]] = {k: [] for k in targets}
        for r in range(rounds):
            order = ["direct", "passthrough", "pipeline"]
            if r % 2:
                order = ["direct", "pipeline", "passthrough"]
            for name in order:
                p, model, direct = targets[name]
                res = self.load(p, model, 1, self.d_lat, direct=direct, histogram=True)
                for v, c in res.get("histogram", []):
                    hists[name][int(v)] += int(c)
                p50s[name].append(res["latency"]["p50"] / 1000)
                errors[name] += res["error_count"]
                other[name].append(res.get("other_load") or 0.0)
        out: dict[str, Any] = {"rounds": rounds, "seconds_per_round": self.d_lat}
        for name in targets:
            out[name] = {**hist_percentiles(hists[name]), "errors": errors[name]}
            out[name]["round_p50s"] = [round(x, 3) for x in p50s[name]]
            out[name]["other_load_max"] = max(other[name], default=None)
        d = out["direct"]
        for name in ("passthrough", "pipeline"):
            o = out[name]
            if not o.get("n") or not d.get("n"):
                continue
            o["added_p50_ms"] = minus(o["p50"], d["p50"])
            o["added_p99_ms"] = minus(o["p99"], d["p99"])
            o["added_mean_ms"] = minus(o["mean"], d["mean"])
            o["ratio_p50_vs_direct"] = round(o["p50"] / d["p50"], 2) if d["p50"] else None
            diffs = zip(p50s[name], p50s["direct"], strict=True)
            o["added_p50_per_round_ms"] = [round(a - b, 3) for a, b in diffs]
        pt, pl = out["passthrough"], out["pipeline"]
        log(
            f"  c=1 {label}: direct p50 {d.get('p50')} ms; added p50/p99: passthrough "
            f"{pt.get('added_p50_ms')}/{pt.get('added_p99_ms')} ms, pipeline "
            f"{pl.get('added_p50_ms')}/{pl.get('added_p99_ms')} ms"
        )
        return out

    def throughput(
        self, port: int, conns_list: list[int], label: str, pid: int, gc_log: Path | None = None
    ) -> dict[str, Any]:
        """req/s, and the proxy's CPU time per request (which other load barely changes)."""
        direct = self.results.get("direct_by_conns", {})
        out: dict[str, Any] = {}
        for conns in conns_list:
            row: dict[str, Any] = {}
            for name, model in (("passthrough", "m1"), ("pipeline", "auto")):
                cpu0, t0 = cpu_seconds(pid), time.time()
                row[name] = slim(self.load(port, model, conns, self.d_tp))
                cpu, t1 = cpu_seconds(pid) - cpu0, time.time()
                if gc_log is not None:
                    time.sleep(0.6)  # the probe writes every 0.5 s
                    row[name]["gc"] = gc_stats(gc_log, t0, t1)
                if cpu > 0 and row[name]["requests"]:
                    row[name]["cpu_ms_per_req"] = round(cpu * 1000 / row[name]["requests"], 3)
                    row[name]["req_per_cpu_s"] = round(row[name]["requests"] / cpu, 1)
                base = direct.get(conns, {}).get("rps")
                if base:
                    row[name]["ratio_vs_direct"] = round(row[name]["rps"] / base, 4)
            out[f"c{conns}"] = row
            log(
                f"  {label} c={conns}: passthrough {row['passthrough']['rps']} req/s, "
                f"pipeline {row['pipeline']['rps']} req/s "
                f"({row['pipeline'].get('req_per_cpu_s')} per proxy CPU-second)"
            )
        return out

    def streaming(self, port: int) -> dict[str, Any]:
        runs: dict[str, list[dict[str, Any]]] = {"direct": [], "passthrough": [], "pipeline": []}

        async def go() -> None:
            for _ in range(self.streams):
                for name, p, model, headers in (
                    ("direct", self.up_port, "m1", {}),
                    ("passthrough", port, "m1", AUTH),
                    ("pipeline", port, "auto", AUTH),
                ):
                    runs[name].append(await stream_once(p, body_for(model, True), headers))

        meter = OtherLoad()
        asyncio.run(go())
        out: dict[str, Any] = {"upstream_chunks": STREAM_CHUNKS, "upstream_gap_ms": STREAM_GAP_MS}
        out["other_load"] = meter.read()
        for name, rs in runs.items():
            out[name] = summarize_streams(rs)
        d = out["direct"]
        for name in ("passthrough", "pipeline"):
            o = out[name]
            for key in ("ttft_p50_ms", "ttft_p99_ms", "gap_p50_ms", "gap_p99_ms", "lag_p50_ms"):
                o["added_" + key] = minus(o[key], d[key])
            checked = o["chunks_checked"]
            o["no_chunk_held"] = bool(checked) and o["chunks_before_next_sent"] == checked
            o["no_chunk_held"] = o["no_chunk_held"] and o["ok"] == o["streams"]
        p = out["pipeline"]
        log(
            f"  streaming: TTFT direct {d['ttft_p50_ms']} ms, pipeline added "
            f"{p['added_ttft_p50_ms']} ms; gap p50 {p['gap_p50_ms']} ms (upstream "
            f"{STREAM_GAP_MS}); {p['chunks_before_next_sent']}/{p['chunks_checked']} chunks in "
            "before the next was written"
        )
        return out

    def startup(self) -> dict[str, Any]:
        times, rss = [], []
        meter = OtherLoad()
        for i in range(self.starts):
            proc, _, seconds = self.start_proxy("startup")
            times.append(seconds)
            rss.append(rss_mb(proc.pid))
            proc.stop()
            fresh = " (fresh database: migrations included)" if i == 0 else ""
            log(f"  start-up #{i + 1}: {seconds * 1000:.0f} ms{fresh}")
        return {
            "runs_s": [round(t, 3) for t in times],
            "first_fresh_db_s": round(times[0], 3),
            "median_s": round(statistics.median(times), 3),
            "median_warm_db_s": round(statistics.median(times[1:]), 3) if times[1:] else None,
            "rss_at_first_request_mb": rss,
            "other_load": meter.read(),
        }

    def memory(self) -> dict[str, Any]:
        proc, port, _ = self.start_proxy("memory")
        steps: list[dict[str, Any]] = [{"requests": 0, "rss_mb": rss_mb(proc.pid)}]
        done = 0
        t_end = time.monotonic() + self.mem_cap_s
        try:
            for target in self.mem_steps:
                remaining = t_end - time.monotonic()
                if remaining < 2:
                    break
                want = target - done
                res = self.load(port, "auto", 16, remaining, max_requests=want)
                done += res["requests"]
                time.sleep(0.5)  # the recorder's batch
                steps.append(
                    {
                        "requests": done,
                        "rss_mb": rss_mb(proc.pid),
                        "rps": res["rps"],
                        "errors": res["error_count"],
                        "other_load": res.get("other_load"),
                    }
                )
                log(f"  memory: {done:,} requests -> RSS {steps[-1]['rss_mb']} MB")
                if res["requests"] < want:
                    break  # the time cap
        finally:
            proc.stop()
        out: dict[str, Any] = {"steps": steps, "time_cap_s": self.mem_cap_s}
        out["recorded_rows"] = sqlite_rows(self.tmp / "memory.db")
        out["rss_start_mb"] = steps[0]["rss_mb"]
        ten = next((s for s in steps if s["requests"] >= 10_000), None)
        hundred = next((s for s in steps if s["requests"] >= 100_000), None)
        if ten:
            out["rss_10k_mb"] = ten["rss_mb"]
        if hundred:
            out["rss_100k_mb"] = hundred["rss_mb"]
        if ten and hundred:
            out["growth_10k_to_100k_mb"] = round(hundred["rss_mb"] - ten["rss_mb"], 1)
        return out

    def pg_redis(self) -> dict[str, Any]:
        try:
            import psycopg
        except ImportError:
            return {"skipped": "psycopg is not installed"}
        name = f"omni_bench_{os.getpid()}"
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"CREATE DATABASE {name}")
        except Exception as exc:
            return {"skipped": f"PostgreSQL unavailable: {exc}"}
        redis_url = REDIS_URL if redis_ping() else None
        out: dict[str, Any] = {"database": "postgresql", "redis": redis_url or "unavailable"}
        proc = None
        try:
            proc, port, startup = self.start_proxy("pg", database_url=url, redis_url=redis_url)
            out["startup_s"] = round(startup, 3)
            self.warm(port)
            out["latency_c1"] = self.latency_c1(port, self.rounds // 2 + 1, "pg+redis")
            out["throughput"] = self.throughput(port, [16], "pg+redis w1", proc.pid)
            out["rss_mb"] = rss_mb(proc.pid)
        finally:
            if proc:
                proc.stop()
            try:
                with psycopg.connect(url, connect_timeout=5) as conn:
                    row = conn.execute("SELECT count(*) FROM requests").fetchone()
                    out["recorded_rows"] = row[0] if row else 0
            except Exception as exc:
                out["recorded_rows"] = f"unknown ({type(exc).__name__})"
            with contextlib.suppress(Exception), psycopg.connect(PG_ADMIN, autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return out

    def profile(self, pid: int, port: int) -> dict[str, Any]:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            return {"skipped": "py-spy is not installed (pip install py-spy)"}
        RESULTS.mkdir(exist_ok=True)
        svg = RESULTS / f"profile-{self.stamp}.svg"
        raw = RESULTS / f"profile-{self.stamp}.txt"
        seconds = 5 if self.quick else 10
        for fmt, path in (("raw", raw), ("flamegraph", svg)):
            argv, env = self.driver.command(port, body_for("auto"), 16, seconds + 4, True)
            load = subprocess.Popen(
                argv,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=pinner(self.load_cpus),
            )
            try:
                time.sleep(1)
                spy_argv = [spy, "record", "-r", "100", "-d", str(seconds), "-f", fmt]
                res = subprocess.run(
                    [*spy_argv, "-o", str(path), "--pid", str(pid)],
                    capture_output=True,
                    text=True,
                    timeout=seconds + 60,
                )
                if res.returncode != 0:
                    return {"skipped": f"py-spy failed: {res.stderr.strip()[-500:]}"}
            finally:
                load.wait(timeout=seconds + 30)
        return {
            "load": "c=16, model auto (full pipeline), 1 worker",
            "seconds": seconds,
            "svg": str(svg.relative_to(ROOT)),
            "collapsed": str(raw.relative_to(ROOT)),
            **report.analyze_profile(raw),
        }

    def wait_quiet(self) -> float:
        """Other load on the machine; waits (up to --wait-quiet s) for it to drop under 15%."""
        busy = machine_busy()
        deadline = time.monotonic() + self.args.wait_quiet
        while busy > 0.15 and time.monotonic() < deadline:
            log(f"other processes keep {busy:.0%} of the CPUs busy; waiting for quiet")
            time.sleep(3)
            busy = machine_busy()
        return busy

    # -- the whole run --
    def run(self) -> None:
        commit, dirty = git_state()
        now = dt.datetime.now()
        self.stamp = f"{now:%Y-%m-%d}-{commit}{'-quick' if self.quick else ''}"
        t_start = time.monotonic()
        r = self.results
        r["meta"] = {
            "date": now.isoformat(timespec="seconds"),
            "commit": commit,
            "dirty_tree": dirty,
            "quick": self.quick,
            "driver": self.driver.describe(),
            "cpus": len(self.cpus),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "versions": versions(),
            "proxy_cpus": sorted(self.proxy_cpus or []),
            "upstream_and_driver_cpus": sorted(self.load_cpus or []),
            "loadavg_start": os.getloadavg(),
            "niceness": os.getpriority(os.PRIO_PROCESS, 0),
            "machine_busy_before": self.wait_quiet(),
        }
        r["meta"]["waited_for_quiet_s"] = round(time.monotonic() - t_start, 1)
        t_start = time.monotonic()
        log(
            f"omni-proxy bench: commit {commit}{' (dirty tree)' if dirty else ''}, "
            f"{'quick' if self.quick else 'full'} run, driver {r['meta']['driver']}, "
            f"other load {r['meta']['machine_busy_before']:.0%}, tmp {self.tmp}"
        )
        self.start_upstream()
        log(f"upstream on :{self.up_port}")

        log("driver check: the load driver against the direct upstream")
        direct: dict[int, dict[str, Any]] = {}
        for conns in (16, 64):
            cpu0 = cpu_seconds(self.up_pid)
            direct[conns] = slim(self.load(self.up_port, "m1", conns, self.d_tp, direct=True))
            cpu = cpu_seconds(self.up_pid) - cpu0
            if cpu > 0:
                direct[conns]["req_per_cpu_s"] = round(direct[conns]["requests"] / cpu, 1)
                direct[conns]["cpu_ms_per_req"] = round(cpu * 1000 / direct[conns]["requests"], 4)
            log(f"  direct c={conns}: {direct[conns]['rps']} req/s")
        r["direct_by_conns"] = direct

        log("start-up time (process start -> first answered chat completion)")
        r["startup"] = self.startup()

        log("one worker, SQLite, pinned to one CPU")
        gc_log = self.tmp / "gc-w1.log"
        proc, port, _ = self.start_proxy("w1", gc_log=gc_log)
        try:
            self.warm(port)
            r["latency_c1"] = self.latency_c1(port, self.rounds, "sqlite")
            r["throughput_w1"] = self.throughput(port, [16, 64], "w1", proc.pid, gc_log)
            r["streaming"] = self.streaming(port)
            r["rss_w1_after_bench_mb"] = rss_mb(proc.pid)
            if self.args.profile:
                log("profiling the 1-worker proxy under load with py-spy")
                r["profile"] = self.profile(proc.pid, port)
                for row in r["profile"].get("top_self", [])[:8]:
                    log(f"    {row['share']:6.1%} {row['function']}")
        finally:
            proc.stop()
        r["recorded_rows_w1"] = sqlite_rows(self.tmp / "w1.db")

        log("two workers, SQLite, unpinned (both CPUs, shared with the upstream and driver)")
        proc, port, _ = self.start_proxy("w2", workers=2, pinned=False)
        try:
            time.sleep(1.0)  # the second worker may still be importing
            self.warm(port)
            r["throughput_w2"] = self.throughput(port, [16, 64], "w2", proc.pid)
            r["rss_w2_total_mb"] = rss_mb(proc.pid)
            r["w2_processes"] = 1 + len(descendants(proc.pid))
        finally:
            proc.stop()

        if self.args.skip_pg:
            r["pg_redis"] = {"skipped": "--skip-pg"}
        else:
            log("one worker, PostgreSQL + Redis")
            r["pg_redis"] = self.pg_redis()

        steps = ", ".join(f"{n:,}" for n in self.mem_steps)
        log(f"memory: RSS after {steps} requests (model auto, c=16, fresh proxy)")
        r["memory"] = self.memory()

        r["meta"]["runtime_s"] = round(time.monotonic() - t_start, 1)
        r["meta"]["loadavg_end"] = os.getloadavg()
        Proc.stop_all()
        r["meta"]["machine_busy_after"] = machine_busy()

    def cleanup(self) -> None:
        Proc.stop_all()
        if not self.args.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def gc_stats(path: Path, t0: float, t1: float) -> dict[str, Any]:
    """The proxy's garbage collections between t0 and t1 (wall clock), from the gc probe."""
    by_gen: dict[int, list[float]] = {0: [], 1: [], 2: []}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            _, gen, start, ms = line.split()
            if t0 <= float(start) <= t1:
                by_gen.setdefault(int(gen), []).append(float(ms))
    wall_ms = (t1 - t0) * 1000
    out: dict[str, Any] = {"seconds": round(t1 - t0, 2)}
    for gen, pauses in by_gen.items():
        pauses.sort()
        out[f"gen{gen}"] = {
            "count": len(pauses),
            "p50_ms": r3(pauses[len(pauses) // 2]) if pauses else None,
            "max_ms": r3(pauses[-1]) if pauses else None,
            "share_of_time": round(sum(pauses) / wall_ms, 4) if wall_ms else None,
        }
    out["share_of_time"] = round(sum(sum(p) for p in by_gen.values()) / wall_ms, 4)
    return out


def sqlite_rows(path: Path) -> int | str:
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def redis_ping() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def git_state() -> tuple[str, bool]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD"), bool(git("status", "--porcelain", "-uno"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "omni-proxy", "uvicorn", "uvloop", "httptools", "starlette", "httpx", "httpcore",
        "orjson", "pydantic", "psycopg",
    ):  # fmt: skip
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark omni-proxy against the direct upstream.")
    p.add_argument("--quick", action="store_true", help="short run (~2 min), no 100k step")
    p.add_argument("--profile", action="store_true", help="py-spy the 1-worker proxy under load")
    p.add_argument("--skip-pg", action="store_true", help="skip PostgreSQL + Redis")
    p.add_argument(
        "--driver", choices=("auto", "wrk", "python"), default="auto",
        help="load driver (auto: wrk if installed, else bench/loadgen.py)",
    )  # fmt: skip
    p.add_argument(
        "--wait-quiet", type=float, default=60.0,
        help="wait up to this many s for other load to drop under 15%% first (default 60)",
    )  # fmt: skip
    p.add_argument(
        "--nice", type=int, default=0,
        help="run the bench (and so the proxy, upstream and driver) at this niceness, e.g. -10 "
        "on a machine shared with other work (negative needs root)",
    )  # fmt: skip
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, databases)")
    p.add_argument("--max-runtime", type=float, help="hard stop, s (default 240 quick, 900 full)")
    args = p.parse_args(argv)

    if args.nice:
        try:
            os.nice(args.nice)  # inherited by every process the bench starts
        except OSError as exc:
            log(f"--nice {args.nice} refused ({exc}); running at the default priority")
            args.nice = 0
    bench = Bench(args)
    limit = int(args.max_runtime or (240 if args.quick else 900))

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the benchmark ran past its {limit} s limit")

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(limit)
    status = 0
    try:
        bench.run()
    except (Exception, KeyboardInterrupt) as exc:  # report what was measured
        log(f"benchmark stopped: {type(exc).__name__}: {exc}")
        bench.results.setdefault("meta", {})["aborted"] = f"{type(exc).__name__}: {exc}"
        status = 1
    finally:
        signal.alarm(0)
        bench.cleanup()
    if bench.stamp:
        RESULTS.mkdir(exist_ok=True)
        md = report.render(bench.results)
        data = json.dumps(bench.results, indent=2, default=str)
        (RESULTS / f"{bench.stamp}.json").write_text(data + "\n")
        (RESULTS / f"{bench.stamp}.md").write_text(md)
        log(f"wrote bench/results/{bench.stamp}.md and .json")
        print("\n" + md)
    return status


if __name__ == "__main__":
    sys.exit(main())
