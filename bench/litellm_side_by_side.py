"""omni-proxy and LiteLLM's proxy, side by side, against the same instant upstream.

LiteLLM runs from its own virtual environment (nothing of it is in this repository):

    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
    python bench/litellm_side_by_side.py --litellm /tmp/litellm-venv/bin/litellm

Both proxies run one worker pinned to the first CPU; ``bench/upstream.py`` and wrk share
the second. LiteLLM runs as its docs' minimal proxy (a model list and a master key, no
database); omni-proxy runs its full pipeline (``model: auto``: auth, classify, route, record to
SQLite) and its passthrough (``model: m1``). Each is measured for start-up (process start to
the first answered chat completion), added latency at one connection (p50, p99 minus the
direct upstream's, same run), requests/s at 16 connections, and resident memory after.
Prints a markdown table and writes it to ``bench/results/litellm-<date>-<commit>.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (bench/run.py: processes, the wrk driver, readiness)


def litellm_config(path: Path, upstream: int) -> Path:
    models = "".join(
        f"  - model_name: {name}\n"
        "    litellm_params:\n"
        f"      model: openai/{name}\n"
        f"      api_base: http://127.0.0.1:{upstream}/v1\n"
        "      api_key: sk-x\n"
        for name in ("m1", "m2", "m3")
    )
    path.write_text("model_list:\n" + models)
    return path


def measure(bench: run.Bench, port: int, model: str, *, direct: bool = False) -> dict[str, Any]:
    c1 = bench.load(port, model, 1, 5.0, direct=direct, histogram=True)
    c16 = bench.load(port, model, 16, 5.0, direct=direct)
    hist: Counter[int] = Counter()
    for value, count in c1.get("histogram") or []:
        hist[int(value)] += int(count)
    pct = run.hist_percentiles(hist)
    errors = c1["error_count"] + c16["error_count"]
    return {"p50_ms": pct["p50"], "p99_ms": pct["p99"], "rps16": c16["rps"], "errors": errors}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--litellm", required=True, help="the litellm command of its own venv")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="omni-vs-litellm-"))
    bench = run.Bench(
        argparse.Namespace(
            quick=True, profile=False, skip_pg=True, driver="auto", wait_quiet=0.0,
            nice=None, keep_tmp=False, max_runtime=600,
        )
    )  # fmt: skip
    rows: dict[str, dict[str, Any]] = {}
    try:
        bench.start_upstream()
        rows["direct upstream"] = measure(bench, bench.up_port, "m1", direct=True)
        proc, port, startup = bench.start_proxy("omni")
        bench.warm(port)
        for label, model in (("omni-proxy, pipeline", "auto"), ("omni-proxy, passthrough", "m1")):
            rows[label] = {**measure(bench, port, model), "startup_s": startup}
            rows[label]["rss_mb"] = run.rss_mb(proc.pid)
        proc.stop()
        lport = run.free_port()
        config = litellm_config(tmp / "litellm.yaml", bench.up_port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNI_", "LITELLM"))}
        env["LITELLM_LOG"] = "ERROR"
        env["LITELLM_MASTER_KEY"] = run.MASTER_KEY  # it refuses to start without one
        argv_ = [args.litellm, "--config", str(config), "--port", str(lport), "--num_workers", "1"]
        lite = run.Proc("litellm", argv_, env=env, cwd=tmp, cpus=bench.proxy_cpus, log_dir=tmp)
        lstart = run.wait_ready(lport, lite, timeout=180)
        bench.load(lport, "m1", 16, 2.0)  # warm-up
        rows["LiteLLM proxy"] = {**measure(bench, lport, "m1"), "startup_s": lstart}
        rows["LiteLLM proxy"]["rss_mb"] = run.rss_mb(lite.pid)
        lite.stop()
    finally:
        run.Proc.stop_all()
    version = subprocess.run(
        [str(Path(args.litellm).parent / "python"), "-c",
         "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    direct = rows["direct upstream"]
    lite = rows["LiteLLM proxy"]
    lines = [
        f"# omni-proxy and LiteLLM {version} side by side ({dt.date.today()})",
        "",
        "One worker each, pinned to one CPU; upstream and wrk on the other. Added = proxied -"
        " direct, same run. x LiteLLM = requests/s at 16 connections over LiteLLM's.",
        "",
        "| target | start-up s | added p50 ms, c=1 | added p99 ms, c=1 | req/s, c=16 |"
        " x LiteLLM | RSS MB | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        if label == "direct upstream":
            lines.append(f"| {label} | - | ({r['p50_ms']:.3f}) | ({r['p99_ms']:.3f}) |"
                         f" {r['rps16']:,.0f} | - | - | {r['errors']} |")  # fmt: skip
            continue
        added50 = r["p50_ms"] - direct["p50_ms"]
        added99 = r["p99_ms"] - direct["p99_ms"]
        ratio = r["rps16"] / lite["rps16"] if lite["rps16"] else float("nan")
        lines.append(
            f"| {label} | {r['startup_s']:.2f} | {added50:.3f} | {added99:.3f} |"
            f" {r['rps16']:,.0f} | {ratio:.1f} | {r['rss_mb']:.0f} | {r['errors']} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH
    ).stdout.strip()
    out = BENCH / "results" / f"litellm-{dt.date.today():%Y-%m-%d}-{commit or 'unknown'}.md"
    out.write_text(text)
    print(f"wrote {out.relative_to(BENCH.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
