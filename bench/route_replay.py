"""Replay the labelled evaluation set through the router, without calling any provider.

For every prompt: classify it, plan its route with the default registry (every standard
provider's default models, as `omni-proxy models` shows them with keys set), and price the
answer on the chosen model and on the premium baseline. Prints the projected cost against
always-premium, the choices per task type, and what classify + route cost in time.

    python bench/route_replay.py [--priority cheap|balanced|best] [--output-tokens N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter, defaultdict
from decimal import Decimal

from omni_proxy.app import provider_classes
from omni_proxy.classifier import heuristic_classify
from omni_proxy.config import load_config
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.registry import build_registry
from omni_proxy.routing.evaluate import load_rows
from omni_proxy.routing.plan import estimate_prompt_tokens, plan_route

KEYS = {
    "OPENAI_API_KEY": "sk-bench",
    "ANTHROPIC_API_KEY": "sk-bench",
    "GEMINI_API_KEY": "bench",
    "GROQ_API_KEY": "bench",
    "MISTRAL_API_KEY": "bench",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--priority", choices=["cheap", "balanced", "best"], default=None)
    parser.add_argument(
        "--output-tokens",
        type=int,
        default=400,
        help="assumed answer length per request (default 400)",
    )
    parser.add_argument(
        "--premium", default="gpt-4o", help="the always-premium baseline (default gpt-4o)"
    )
    args = parser.parse_args()
    config = load_config(None, env=KEYS)
    registry = build_registry(config, provider_classes(get_plugin_manager()))
    premium = registry.get(args.premium) or registry.premium
    assert premium is not None
    rows = load_rows()
    cost = premium_cost = Decimal(0)
    picks: dict[str, Counter[str]] = defaultdict(Counter)
    timings = []
    for row in rows:
        body = {**row["body"], "model": "auto"}
        if args.priority:
            body["priority"] = args.priority
        started = time.perf_counter()
        classification = heuristic_classify(body)
        plan = plan_route(body, classification, registry, config, configured=lambda _: True)
        timings.append((time.perf_counter() - started) * 1000)
        chosen = plan.primary.model
        prompt = estimate_prompt_tokens(body)
        cost += chosen.cost(prompt, args.output_tokens)
        premium_cost += premium.cost(prompt, args.output_tokens)
        picks[classification.task_type][chosen.name] += 1
    timings.sort()
    saved = premium_cost - cost
    print(f"registry: {len(registry)} models; premium baseline: {premium.name}")
    print(f"prompts replayed: {len(rows)}  (assumed {args.output_tokens} output tokens each)")
    print(f"projected cost:   ${cost:.4f}")
    print(f"always-premium:   ${premium_cost:.4f}")
    print(f"saved:            ${saved:.4f} ({100 * saved / premium_cost:.1f}%)")
    print(
        f"classify+route:   p50 {statistics.median(timings):.3f} ms, "
        f"p95 {timings[int(len(timings) * 0.95)]:.3f} ms, max {timings[-1]:.3f} ms"
    )
    print("\nchosen models per task type:")
    for task, counter in sorted(picks.items()):
        top = ", ".join(f"{name} x{n}" for name, n in counter.most_common(3))
        print(f"  {task:<14} {top}")


if __name__ == "__main__":
    main()
