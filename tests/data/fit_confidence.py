"""Fit the heuristic classifier's confidence calibration (``classify/confidence.py``).

A one-feature logistic regression per kind of decision ("task", "chat"): the probability
that the heuristic is right given its score lead. Fitted on the TRAINING rows only: the
main evaluation set (rows without ``split``) and the development batch
(``task_dev.jsonl``). The held-out batches (``holdout``, ``holdout2``) and the fresh batch
(``task_eval_fresh.jsonl``) are only scored with the result, never fitted on. Pure Python,
deterministic. Prints the table to paste into
``omni_proxy/routing/classify/confidence.py`` and the Brier score and reliability on each set.

    python tests/data/fit_confidence.py
"""

from __future__ import annotations

import math
from pathlib import Path

from omni_proxy.classifier import CALIBRATION, decision_feature, heuristic_classify
from omni_proxy.routing.evaluate import load_rows

HERE = Path(__file__).resolve().parent
#: L2 penalty: the training rows are the ones the rules were tuned on, so they are right
#: more often than new prompts will be; the penalty keeps the fit from running to certainty.
L2 = 0.05
GATES = (0.8, 0.9, 0.95)
BINS = ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01))


def points(rows: list[dict]) -> dict[str, list[tuple[float, int]]]:
    out: dict[str, list[tuple[float, int]]] = {"task": [], "chat": []}
    for row in rows:
        decided = decision_feature(row["body"])
        if decided is None:
            continue
        task, kind, x = decided
        out[kind].append((x, int(task == row["label"])))
    return out


def fit(data: list[tuple[float, int]], steps: int = 3000, lr: float = 0.5) -> tuple[float, float]:
    a = b = 0.0
    n = len(data)
    for _ in range(steps):
        ga = gb = 0.0
        for x, y in data:
            p = 1 / (1 + math.exp(-(a + b * x)))
            ga += p - y
            gb += (p - y) * x
        a -= lr * (ga / n + L2 * a)
        b -= lr * (gb / n + L2 * b)
    return round(a, 3), round(b, 3)


def brier(rows: list[dict]) -> tuple[float, float, float, int]:
    """Brier score, mean confidence and accuracy over rows the text decides."""
    total = conf = right = 0.0
    n = 0
    for row in rows:
        if decision_feature(row["body"]) is None:
            continue
        c = heuristic_classify(row["body"])
        y = float(c.task_type == row["label"])
        total += (c.confidence - y) ** 2
        conf += c.confidence
        right += y
        n += 1
    return total / n, conf / n, right / n, n


def main() -> None:
    main_rows = load_rows(HERE / "task_eval.jsonl")
    train = [r for r in main_rows if "split" not in r] + load_rows(HERE / "task_dev.jsonl")
    data = points(train)
    table = {kind: fit(pts) for kind, pts in data.items()}
    print("CALIBRATION = {")
    for kind, (a, b) in table.items():
        print(f'    "{kind}": ({a}, {b}),  # {len(data[kind])} training rows')
    print("}")
    CALIBRATION.update(table)
    sets = {
        "training (main + dev)": train,
        "holdout + holdout2": [r for r in main_rows if "split" in r],
        "fresh": load_rows(HERE / "task_eval_fresh.jsonl"),
    }
    print(f"\n{'set':<24} {'rows':>5} {'brier':>6} {'mean conf':>9} {'accuracy':>8}")
    for name, rows in sets.items():
        score, conf, acc, n = brier(rows)
        print(f"{name:<24} {n:>5} {score:>6.3f} {conf:>9.3f} {acc:>8.3f}")
    print("\nreliability: confidence bin -> rows, accuracy (training | held out | fresh)")
    for lo, hi in BINS:
        cells = []
        for rows in sets.values():
            got = [
                c.task_type == r["label"]
                for r in rows
                if decision_feature(r["body"]) is not None
                for c in (heuristic_classify(r["body"]),)
                if lo <= c.confidence < hi
            ]
            cells.append(f"{len(got):>4} {sum(got) / len(got) if got else 0:.2f}")
        print(f"  [{lo:.2f}, {hi:.2f})  " + " | ".join(cells))
    print("\nconfidence gate: share of all rows asked | heuristic right on them | macro if the")
    print("LLM were right on every asked row (an upper bound, no LLM was run)")
    for below in GATES:
        cells = [gate(rows, below) for rows in sets.values()]
        print(f"  below {below:.2f}  " + " | ".join(cells))


def gate(rows: list[dict], below: float) -> str:
    right: dict[str, list[bool]] = {}
    asked = asked_right = 0
    for row in rows:
        c = heuristic_classify(row["body"])
        ok = c.task_type == row["label"]
        if c.confidence < below:
            asked += 1
            asked_right += ok
            ok = True
        right.setdefault(row["label"], []).append(ok)
    macro = sum(sum(v) / len(v) for v in right.values()) / len(right)
    return f"{asked / len(rows):>4.0%} {asked_right / asked if asked else 0:.2f} {macro:.3f}"


if __name__ == "__main__":
    main()
