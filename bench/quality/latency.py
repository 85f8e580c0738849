"""Quality estimate latency as routing pays it (``prompt_text`` of the request, then
``estimate``): p50/p95 for short and ~3 KB prompts, 6 candidates.

python bench/quality/latency.py [--quality-model PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from decimal import Decimal

from omni_proxy.quality import load
from omni_proxy.text import prompt_text
from omni_proxy.types import ModelInfo

MODELS = [
    ModelInfo(n, "p", n, Decimal(i), Decimal(o))
    for n, i, o in (
        ("gpt-4o", "2.5", "10"),
        ("gpt-4o-mini", "0.15", "0.6"),
        ("claude-3-5-sonnet-20241022", "3", "15"),
        ("claude-3-haiku-20240307", "0.25", "1.25"),
        ("gemini-1.5-flash", "0.075", "0.3"),
        ("house-model", "0.5", "1"),
    )
]
WORDS = [
    "the",
    "a",
    "of",
    "to",
    "compute",
    "prove",
    "explain",
    "function",
    "error",
    "value",
    "system",
    "write",
    "code",
    "integral",
    "matrix",
    "summary",
    "translate",
    "please",
    "data",
    "model",
    "table",
    "query",
    "performance",
    "result",
    "question",
]


def prompt(rng: random.Random, size: int) -> str:
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < size:
        out.append(rng.choice(WORDS) + (str(rng.randint(0, 99)) if rng.random() < 0.1 else ""))
    return " ".join(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quality-model")
    p.add_argument("-n", type=int, default=3000)
    a = p.parse_args()
    model = load(a.quality_model)
    rng = random.Random(7)
    premium = MODELS[0]
    for label, size in (("short (~60 B)", 60), ("~3 KB", 3000)):
        bodies = [
            {"messages": [{"role": "user", "content": prompt(rng, size)}]} for _ in range(200)
        ]
        for body in bodies[:50]:
            model.estimate(prompt_text(body), "chat", MODELS, premium)
        times, cpu = [], []
        for i in range(a.n):
            body = bodies[i % len(bodies)]
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            model.estimate(prompt_text(body), "chat", MODELS, premium)
            cpu.append((time.thread_time_ns() - start_cpu) / 1000)
            times.append((time.perf_counter_ns() - start) / 1000)
        times.sort()
        cpu.sort()
        p95 = times[int(len(times) * 0.95)]
        # CPU time leaves out the waits for a core a busy (shared) machine adds to wall time.
        print(
            f"{model.source} {label}: wall p50 {statistics.median(times):.0f} us, p95 {p95:.0f} "
            f"us; CPU p50 {statistics.median(cpu):.0f} us, p95 {cpu[int(len(cpu) * 0.95)]:.0f} us "
            f"({len(MODELS)} candidates, n={a.n}, load average {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
