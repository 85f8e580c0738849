"""The built-in PII and secrets guard's cost per request, in microseconds, in-process.

Runs the default ``guard_request`` (both categories on, ``mask``) over chat bodies: ordinary
prompts with nothing to find (short, long, with numbers, code) and one with findings; and the
guard step when guardrails are off (what every request pays then). Prints a table and writes
nothing. ``python bench/guard_cost.py [--rounds N]``

The machine is shared: each figure is the best of several rounds (the least disturbed).
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

from omni_proxy.config import Config, GuardrailSettings
from omni_proxy.defaults import guard
from omni_proxy.types import CallContext, Principal

ARTICLE = (
    "The Roman Republic gave way to the Empire after decades of civil war. Augustus kept the "
    "forms of the old offices while holding the power that mattered, and his successors "
    "ruled for centuries from Rome and later from Constantinople. "
)
CODE = (
    "def merge(a, b):\n    out = []\n    i = j = 0\n    while i < len(a) and j < len(b):\n"
    "        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n"
    "            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]\n"
)
PROMPTS = {
    "short question (60 chars)": "What is the capital of Australia, and why was it chosen?",
    "article, 1 KB": "Summarize this article in three bullet points:\n" + ARTICLE * 5,
    "article with numbers, 1 KB": (
        "In 2024 revenue grew 12% to $4.2 million across 3 regions; Q3 was up 7.5 points. "
        + ARTICLE * 4
    ),
    "code, 2 KB": "Review this function for bugs:\n" + CODE * 6,
    "chat, 8 messages, 4 KB": None,  # built below
    "with findings (e-mail, phone, card, key)": (
        "Contact jane.doe@example.com or +1 415-555-2671, card 4111 1111 1111 1111, "
        "key sk-proj-" + "Ab3" * 12 + ". " + ARTICLE
    ),
}


def body_for(name: str, text: str | None) -> dict[str, Any]:
    if text is None:
        messages = [
            {"role": "user" if i % 2 == 0 else "assistant", "content": ARTICLE * 2}
            for i in range(8)
        ]
        return {"model": "auto", "messages": messages}
    return {"model": "auto", "messages": [{"role": "user", "content": text}]}


def best_us(fn: Any, n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    on = Config(
        guardrails=GuardrailSettings.model_validate(
            {"pii": {"mode": "mask"}, "secrets": {"mode": "mask"}}
        )
    )
    principal = Principal(org_id="org")
    print("| prompt | chars | guard on, µs | findings |")
    print("|---|---:|---:|---|")
    for name, text in PROMPTS.items():
        template = body_for(name, text)
        chars = sum(len(m["content"]) for m in template["messages"])
        best = float("inf")
        findings = None
        for _ in range(args.rounds):
            bodies = [copy.deepcopy(template) for _ in range(args.n)]
            ctxs = [CallContext("r", "/v1/chat/completions", guard={}) for _ in range(args.n)]
            t0 = time.perf_counter()
            for body, ctx in zip(bodies, ctxs, strict=True):
                guard.guard_request(body, principal, on, ctx)
            best = min(best, (time.perf_counter() - t0) / args.n * 1e6)
            findings = ctxs[0].findings
        print(f"| {name} | {chars} | {best:.1f} | {findings or '-'} |")

    off = Config()
    from omni_proxy.guardrails.steps import GuardSteps
    from omni_proxy.plugins import get_plugin_manager

    pm = get_plugin_manager(load_entry_points=False)
    steps = GuardSteps(pm, off, pm.hook)
    ctx = CallContext("r", "/v1/chat/completions", principal=principal)

    def off_step() -> bool:  # what the pipeline asks before guarding, when guardrails are off
        return steps.wanted(ctx)

    cost = best_us(off_step, 100_000, args.rounds)
    print(f"\nguardrails off: the guard step's test costs {cost:.2f} µs a request")


if __name__ == "__main__":
    main()
