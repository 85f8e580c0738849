"""Rendering ``bench/run.py`` results as markdown, and reading py-spy's collapsed stacks."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

Row = list[Any]


# -- profiles ------------------------------------------------------------------------------
IDLE_LEAVES = (
    # py-spy counts a pool thread blocked in ``work_queue.get`` (in C, no Python frame) as
    # active; it is idle. So are threads parked on a condition, an event or a join.
    "_worker (concurrent/futures/thread.py)",
    "Condition.wait (",
    "Event.wait (",
    "Thread.join (",
    "_flush (sitecustomize.py)",  # bench/gcprobe's log writer, asleep
)
FRAMEWORK = (
    "<module>",
    "main (",
    "run (",
    "Runner.run",
    "asyncio_run",
    "Server.run",
    "Server.serve",
    "cmd_serve",
    "Thread.",
    "_bootstrap",
    "_run_once",
    "run_forever",
)


def analyze_profile(path: Path) -> dict[str, Any]:
    """Top functions by own and by inclusive time, and own time by package, from py-spy raw."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkg: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
        if not frames:
            continue
        count = int(n)
        if frames[-1].startswith(IDLE_LEAVES):
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
        m = re.search(r"\(([^()]*)\)$", frames[-1])
        where = m.group(1) if m else "?"
        pkg[where.split("/")[0]] += count
    if not total:
        return {"samples": 0, "idle_samples": idle}

    def top(items: list[tuple[str, int]]) -> list[dict[str, Any]]:
        return [{"function": k, "share": round(v / total, 4), "samples": v} for k, v in items]

    inclusive = [(k, v) for k, v in incl.most_common(100) if not k.startswith(FRAMEWORK)]
    return {
        "samples": total,
        "idle_samples": idle,
        "top_self": top(own.most_common(25)),
        "top_inclusive": top(inclusive[:30]),
        "by_package_self": top(pkg.most_common(15)),
    }


# -- formatting ----------------------------------------------------------------------------
def num(v: Any, nd: int = 2) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ms(v: Any) -> str:
    return num(v, 3)


def pair(a: Any, b: Any, nd: int = 3) -> str:
    return f"{num(a, nd)} / {num(b, nd)}"


def pct(v: Any) -> str:
    return f"{v:.0%}" if isinstance(v, float) and v == v else "?"


def check(cond: bool | None) -> str:
    return "-" if cond is None else ("yes" if cond else "**no**")


def table(header: list[str], rows: list[Row]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k, d.get(str(k)))
    return d


def noisy(meta: dict[str, Any]) -> bool:
    values = (meta.get("machine_busy_before"), meta.get("machine_busy_after"))
    return any(isinstance(v, float) and v > 0.1 for v in values)


def memory_ok(mem: dict[str, Any]) -> bool | None:
    if mem.get("rss_100k_mb") is None:
        return None if mem.get("rss_10k_mb") is None else mem["rss_10k_mb"] <= 100
    return mem["rss_100k_mb"] <= 100 and abs(mem.get("growth_10k_to_100k_mb") or 0) <= 5


# -- the report ----------------------------------------------------------------------------
def render(r: dict[str, Any]) -> str:
    m = r["meta"]
    out: list[str] = []
    add = out.extend
    dirty = " (uncommitted changes in the tree)" if m.get("dirty_tree") else ""
    add([f"# omni-proxy benchmark: {m['date'][:10]}, commit `{m['commit']}`{dirty}", ""])
    cmd = "python bench/run.py" + (" --quick" if m.get("quick") else "")
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    add(
        [
            f"`{cmd}` ran {m.get('runtime_s', '?')} s on {m['cpus']} CPUs ({m['cpu_model']}). "
            f"Proxy pinned to CPU {m['proxy_cpus']}; upstream and load driver on CPU "
            f"{m['upstream_and_driver_cpus']}; `--workers 2` unpinned. Driver: {m['driver']}. "
            f"Python {m['python']}; {versions}.",
            "",
            "Other load on the machine (all CPUs, bench idle): "
            f"{pct(m.get('machine_busy_before'))} busy before, "
            f"{pct(m.get('machine_busy_after'))} after"
            + (
                f" (waited {m['waited_for_quiet_s']} s for quiet first)"
                if (m.get("waited_for_quiet_s") or 0) > 5
                else ""
            )
            + (": **noisy neighbours, read the tails with care**." if noisy(m) else ".")
            + (f" The bench ran at niceness {m['niceness']}." if m.get("niceness") else ""),
            "",
            "*Added* = omni-proxy minus the direct upstream, measured in the same run. "
            "*Passthrough* = `model: m1` (auth, validate, call, record). "
            "*Pipeline* = `model: auto` (auth, classify, route, call, record). "
            "SQLite unless stated.",
            "",
        ]
    )
    if m.get("aborted"):
        add([f"**The run stopped early: {m['aborted']}**", ""])
    add(headline(r))
    add(latency_section(r))
    add(throughput_section(r))
    add(streaming_section(r))
    add(backends_section(r))
    add(startup_memory_section(r))
    if r.get("profile"):
        add(profile_section(r["profile"]))
    return "\n".join(out) + "\n"


def headline(r: dict[str, Any]) -> list[str]:
    pipe = get(r, "latency_c1", "pipeline") or {}
    w1 = get(r, "throughput_w1", "c16", "pipeline", "rps")
    w2 = get(r, "throughput_w2", "c16", "pipeline", "rps")
    w1cpu = get(r, "throughput_w1", "c16", "pipeline", "req_per_cpu_s")
    sp = get(r, "streaming", "pipeline") or {}
    su = r.get("startup") or {}
    mem = r.get("memory") or {}
    a50, a99, ttft = pipe.get("added_p50_ms"), pipe.get("added_p99_ms"), sp.get("added_ttft_p50_ms")
    scale = f" (x{w2 / w1:.2f} of 1 worker)" if w1 and w2 else ""
    held = (
        f"{num(sp.get('chunks_before_next_sent'))}/{num(sp.get('chunks_checked'))} chunks reached "
        f"the client before the upstream sent the next; {sp.get('ok', '?')}/"
        f"{sp.get('streams', '?')} streams complete"
    )
    rows: list[Row] = [
        ["added latency p50, c=1", f"{ms(a50)} ms", "<= 0.5 ms", check(_le(a50, 0.5))],
        ["added latency p99, c=1", f"{ms(a99)} ms", "<= 2 ms", check(_le(a99, 2))],
        ["req/s at c=16, 1 worker", num(w1, 0), ">= 2,000", check(_ge(w1, 2000))],
        ["req/s at c=16, `--workers 2`", num(w2, 0) + scale, "near-linear", "-"],
        [
            "requests per proxy CPU-second, c=16, 1 worker",
            num(w1cpu, 0),
            ">= 2,000",
            check(_ge(w1cpu, 2000)),
        ],
        ["streaming: added TTFT p50", f"{ms(ttft)} ms", "<= 1 ms", check(_le(ttft, 1))],
        ["streaming: no chunk held back", held, "none held", check(sp.get("no_chunk_held"))],
        [
            "start-up, median",
            f"{num(su.get('median_s'), 3)} s",
            "<= 1 s",
            check(_le(su.get("median_s"), 1)),
        ],
        [
            "RSS after 10k / 100k requests",
            f"{num(mem.get('rss_10k_mb'), 1)} / {num(mem.get('rss_100k_mb'), 1)} MB",
            "<= 100 MB, flat",
            check(memory_ok(mem)),
        ],
    ]
    return [
        "## Headline: one worker, full pipeline, against the issue's targets",
        "",
        *table(["measure", "result", "target", "met"], rows),
        "",
    ]


def _le(v: Any, limit: float) -> bool | None:
    return None if v is None else v <= limit


def _ge(v: Any, limit: float) -> bool | None:
    return None if v is None else v >= limit


def latency_section(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency_c1") or {}
    rows: list[Row] = []
    for label, key in (
        ("direct upstream", "direct"),
        ("omni-proxy passthrough", "passthrough"),
        ("omni-proxy pipeline", "pipeline"),
    ):
        x = lat.get(key) or {}
        rows.append(
            [
                label,
                num(x.get("n")),
                ms(x.get("p50")),
                ms(x.get("p90")),
                ms(x.get("p99")),
                ms(x.get("mean")),
                ms(x.get("added_p50_ms")),
                ms(x.get("added_p99_ms")),
                num(x.get("ratio_p50_vs_direct"), 1),
                pct(x.get("other_load_max")),
            ]
        )
    out = [
        "## Added latency at concurrency 1 (interleaved rounds)",
        "",
        f"{lat.get('rounds')} rounds of {lat.get('seconds_per_round')} s per target, order "
        "direct, passthrough, pipeline, then direct, pipeline, passthrough, ...; percentiles over "
        "every request of every round (wrk's microsecond histograms merged).",
        "",
        *table(
            [
                "target",
                "requests",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "mean ms",
                "added p50",
                "added p99",
                "p50 / direct p50",
                "other load, worst round",
            ],
            rows,
        ),
    ]
    per_round = get(lat, "pipeline", "added_p50_per_round_ms")
    if per_round:
        out += ["", f"Added p50 in each round (pipeline), ms: {per_round}."]
    return [*out, ""]


def throughput_section(r: dict[str, Any]) -> list[str]:
    direct = r.get("direct_by_conns") or {}

    def cells(x: dict[str, Any] | None) -> Row:
        x = x or {}
        return [
            num(x.get("rps"), 0),
            num(x.get("ratio_vs_direct"), 4),
            pair(x.get("p50_ms"), x.get("p99_ms"), 2),
            num(x.get("req_per_cpu_s"), 0),
            pct(x.get("other_load")),
            num(x.get("errors")),
        ]

    rows: list[Row] = [
        [
            "direct upstream (driver check)",
            *cells({**(get(direct, 16) or {}), "ratio_vs_direct": 1.0}),
            *cells({**(get(direct, 64) or {}), "ratio_vs_direct": 1.0}),
        ]
    ]
    for label, key in (("1 worker", "throughput_w1"), ("`--workers 2`", "throughput_w2")):
        for kind in ("passthrough", "pipeline"):
            rows.append(
                [
                    f"omni-proxy {label}, {kind}",
                    *cells(get(r, key, "c16", kind)),
                    *cells(get(r, key, "c64", kind)),
                ]
            )
    return [
        "## Throughput",
        "",
        "`x direct` is the share of the direct upstream's requests/s at the same concurrency "
        "(the direct rows also show the load driver keeps up). `req per CPU-s` is requests "
        "served per second of CPU the proxy's processes used (the upstream's, for the direct "
        "rows): what one fully available core would serve, a figure other load on the "
        "machine barely moves. `other load` is the share of all CPUs that processes not of "
        "this run kept busy during that measurement (from /proc/stat, less this run's own CPU "
        "time).",
        "",
        *table(
            [
                "target",
                "c=16 req/s",
                "x direct",
                "p50 / p99 ms",
                "req per CPU-s",
                "other load",
                "errors",
                "c=64 req/s",
                "x direct",
                "p50 / p99 ms",
                "req per CPU-s",
                "other load",
                "errors",
            ],
            rows,
        ),
        "",
        *gc_lines(r),
        f"RSS after the 1-worker runs: {num(r.get('rss_w1_after_bench_mb'), 1)} MB; "
        f"`--workers 2`: {num(r.get('rss_w2_total_mb'), 1)} MB over "
        f"{r.get('w2_processes', '?')} processes. Rows the 1-worker proxy recorded: "
        f"{num(r.get('recorded_rows_w1'))}.",
        "",
    ]


def gc_lines(r: dict[str, Any]) -> list[str]:
    """Garbage collection in the 1-worker proxy during its throughput runs (bench/gcprobe)."""
    rows: list[Row] = []
    for conns in (16, 64):
        for kind in ("passthrough", "pipeline"):
            g = get(r, "throughput_w1", f"c{conns}", kind, "gc")
            if not g:
                continue
            cells = [
                f"{num(get(g, f'gen{n}', 'count'))}: {ms(get(g, f'gen{n}', 'p50_ms'))} / "
                f"{ms(get(g, f'gen{n}', 'max_ms'))}"
                for n in (0, 1, 2)
            ]
            rows.append(
                [f"c={conns} {kind}", g.get("seconds"), *cells, f"{g.get('share_of_time', 0):.1%}"]
            )
    if not rows:
        return []
    return [
        "Garbage collection in the 1-worker proxy during those runs (gc callbacks logged by "
        "`bench/gcprobe`): collections, and median / longest pause in ms per generation. A "
        "pause stalls every request in flight.",
        "",
        *table(["run", "s", "gen 0", "gen 1", "gen 2", "share of wall time"], rows),
        "",
    ]


def streaming_section(r: dict[str, Any]) -> list[str]:
    st = r.get("streaming") or {}
    if not st:
        return []
    rows: list[Row] = []
    for key in ("direct", "passthrough", "pipeline"):
        s = st.get(key) or {}
        rows.append(
            [
                key,
                f"{s.get('ok')}/{s.get('streams')}",
                pair(s.get("ttft_p50_ms"), s.get("ttft_p99_ms")),
                pair(s.get("added_ttft_p50_ms"), s.get("added_ttft_p99_ms")),
                f"{pair(s.get('gap_p50_ms'), s.get('gap_p99_ms'))} / {ms(s.get('gap_max_ms'))}",
                ms(s.get("added_gap_p50_ms")),
                f"{pair(s.get('lag_p50_ms'), s.get('lag_p99_ms'))} / {ms(s.get('lag_max_ms'))}",
                f"{num(s.get('chunks_before_next_sent'))}/{num(s.get('chunks_checked'))}",
            ]
        )
    out = [
        "## Streaming",
        "",
        f"The upstream sends {st.get('upstream_chunks')} content chunks "
        f"{st.get('upstream_gap_ms')} ms apart, each stamped with the time it was written, then "
        "finish, usage and `[DONE]`; the client asks for usage. Lag = when the client got a chunk "
        "minus when the upstream wrote it. A chunk held back until the next one came would reach "
        "the client only after the upstream wrote that next chunk: the last column counts chunks "
        f"that arrived before it. Other load during the streams: {pct(st.get('other_load'))}.",
        "",
        *table(
            [
                "target",
                "streams ok",
                "TTFT p50 / p99 ms",
                "added TTFT p50 / p99",
                "gap p50 / p99 / max ms",
                "added gap p50",
                "lag p50 / p99 / max ms",
                "in before next written",
            ],
            rows,
        ),
    ]
    tl = get(st, "pipeline", "example_timeline_ms") or []
    if tl:
        pts = ", ".join(f"{a:.1f}->{b:.1f}" for a, b in tl[:10])
        out += [
            "",
            "One pipeline stream, ms after the request (upstream wrote -> client got): "
            + pts
            + (", ..." if len(tl) > 10 else "."),
        ]
    return [*out, ""]


def backends_section(r: dict[str, Any]) -> list[str]:
    pg = r.get("pg_redis") or {}
    out = ["## Full pipeline vs passthrough: SQLite, and PostgreSQL + Redis", ""]
    if pg.get("skipped"):
        return [*out, f"PostgreSQL + Redis skipped: {pg['skipped']}", ""]
    rows: list[Row] = []
    for label, lat, tp, recorded in (
        ("SQLite", r.get("latency_c1"), r.get("throughput_w1"), r.get("recorded_rows_w1")),
        (
            f"PostgreSQL + Redis ({pg.get('redis')})",
            pg.get("latency_c1"),
            pg.get("throughput"),
            pg.get("recorded_rows"),
        ),
    ):
        a, b = get(tp, "c16", "passthrough", "rps"), get(tp, "c16", "pipeline", "rps")
        rows.append(
            [
                label,
                pair(
                    get(lat, "passthrough", "added_p50_ms"), get(lat, "passthrough", "added_p99_ms")
                ),
                pair(get(lat, "pipeline", "added_p50_ms"), get(lat, "pipeline", "added_p99_ms")),
                num(a, 0),
                num(b, 0),
                num(b / a if a and b else None, 3),
                num(recorded),
            ]
        )
    return [
        *out,
        *table(
            [
                "backend",
                "passthrough added p50 / p99 ms",
                "pipeline added p50 / p99 ms",
                "c=16 passthrough req/s",
                "c=16 pipeline req/s",
                "pipeline / passthrough",
                "rows recorded",
            ],
            rows,
        ),
        "",
    ]


def startup_memory_section(r: dict[str, Any]) -> list[str]:
    su = r.get("startup") or {}
    mem = r.get("memory") or {}
    rows: list[Row] = [
        [num(s["requests"]), s["rss_mb"], num(s.get("rps"), 0), pct(s.get("other_load"))]
        for s in mem.get("steps", [])
    ]
    return [
        "## Start-up and memory",
        "",
        f"Start-up (process start to the first answered chat completion), runs: "
        f"{su.get('runs_s')} s; median {num(su.get('median_s'), 3)} s. The first run starts on a "
        f"fresh database (migrations included): {num(su.get('first_fresh_db_s'), 3)} s; median "
        f"of the rest {num(su.get('median_warm_db_s'), 3)} s. RSS at the first answer: "
        f"{su.get('rss_at_first_request_mb')} MB. Other load meanwhile: "
        f"{pct(su.get('other_load'))}.",
        "",
        *table(
            ["requests served (model auto, c=16)", "RSS MB", "req/s in the step", "other load"],
            rows,
        ),
        "",
        f"Growth from 10k to 100k requests: {num(mem.get('growth_10k_to_100k_mb'), 1)} MB. "
        f"Rows recorded: {num(mem.get('recorded_rows'))}.",
        "",
    ]


def profile_section(prof: dict[str, Any]) -> list[str]:
    out = ["## Profile: py-spy, one worker under load", ""]
    if prof.get("skipped"):
        return [*out, f"Skipped: {prof['skipped']}", ""]

    def rows(key: str, n: int) -> list[Row]:
        return [[f"{x['share']:.1%}", f"`{x['function']}`"] for x in prof.get(key, [])[:n]]

    return [
        *out,
        f"{prof['load']}, {prof['seconds']} s at 100 Hz: {prof['samples']} active samples "
        f"({prof.get('idle_samples', 0)} samples of idle pool threads left out). Flame graph "
        f"`{prof.get('svg')}`, collapsed stacks `{prof.get('collapsed')}`. A leaf "
        "`Runner.run (asyncio/runners.py)` is time inside uvloop's C loop (socket I/O, "
        "callbacks, epoll) with no Python frame above it.",
        "",
        *table(["own time", "function"], rows("top_self", 15)),
        "",
        *table(["inclusive", "function"], rows("top_inclusive", 20)),
        "",
        *table(["own time", "package"], rows("by_package_self", 10)),
        "",
    ]
