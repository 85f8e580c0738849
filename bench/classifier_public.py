"""The task classifier on public, real prompts: just-eval's tags (Re-Align/just-eval, MIT).

just-eval tags 800 prompts (AlpacaEval and LIMA, plus MT-Bench rows, which are reserved for
evaluating routing and are dropped here) with, among others, ``coding`` and ``math``. Our
labels are finer (seven types), so only three are compared: ``coding`` -> coding, ``math``
-> reasoning, anything else -> "other" (a prediction other than coding or reasoning). The
"other" rows hold Fermi estimates and proofs that our rules call reasoning, so its false
positives overstate the errors. No data is stored in this repository (AlpacaEval's prompts
are CC BY-NC): point the script at a checkout.

    git clone https://github.com/Re-Align/just-eval /tmp/just-eval
    python bench/classifier_public.py /tmp/just-eval
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from omni_proxy.classifier import heuristic_classify


def main(root: str) -> None:
    base = Path(root) / "example_data"
    tags = json.loads((base / "eval_outputs" / "tags.json").read_text(encoding="utf-8"))
    data = json.loads((base / "example_data.json").read_text(encoding="utf-8"))
    source = {row["id"]: row["source_id"] for row in data}
    counts: Counter[tuple[str, str]] = Counter()
    for row in tags:
        if source.get(row["id"], "mt").split("-")[0] not in ("alpaca_eval", "lima"):
            continue
        gold = "coding" if row["coding"] else "reasoning" if row["math"] else "other"
        body = {"messages": [{"role": "user", "content": row["instruction"]}]}
        predicted = heuristic_classify(body).task_type
        counts[gold, predicted if predicted in ("coding", "reasoning") else "other"] += 1
    for gold in ("coding", "reasoning", "other"):
        n = sum(v for (g, _), v in counts.items() if g == gold)
        print(
            f"{gold:<10} {n:>4} rows: "
            + ", ".join(f"{p} {counts[gold, p]}" for p in ("coding", "reasoning", "other"))
            + f"  (recall {counts[gold, gold] / n:.2f})"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/just-eval")
