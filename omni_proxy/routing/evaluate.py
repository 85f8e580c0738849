"""Measure a task classifier against the labelled evaluation set.

``omni-proxy eval-classifier`` runs this. Any classifier can be measured: the built-in
heuristic by default, or ``--classifier module:function`` for a plugin's function that
returns a ``Classification`` (or an awaitable of one, or None to abstain). The report has
per-type precision, recall and F1, macro accuracy (the mean of the per-type recalls, so a
large class cannot hide a weak one), overall accuracy, a confusion matrix and the time per
classification.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..types import TASK_TYPES, Classification

__all__ = [
    "DEFAULT_DATA",
    "EvalReport",
    "TypeStats",
    "aevaluate",
    "evaluate",
    "load_classifier",
    "load_rows",
    "main",
    "select_split",
]

#: The evaluation set in a source checkout: ``tests/data/task_eval.jsonl`` beside the package.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "task_eval.jsonl"
NONE_LABEL = "(none)"

ClassifyFn = Callable[[Any], "Classification | Awaitable[Classification | None] | None"]


@dataclass(slots=True, frozen=True)
class TypeStats:
    """Precision, recall and F1 of one task type."""

    label: str
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class EvalReport:
    """The outcome of one evaluation run."""

    labels: tuple[str, ...]
    total: int
    correct: int
    per_type: dict[str, TypeStats]
    #: gold label -> predicted label -> count
    confusion: dict[str, dict[str, int]]
    timings_ms: list[float] = field(default_factory=list)
    #: (row id, gold, predicted) for every miss, in file order
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    #: how many rows the classifier answered with an awaitable
    awaited: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def macro_accuracy(self) -> float:
        """Mean per-type recall over the types present in the gold labels."""
        present = [s.recall for s in self.per_type.values() if s.support]
        return sum(present) / len(present) if present else 0.0

    @property
    def macro_f1(self) -> float:
        present = [s.f1 for s in self.per_type.values() if s.support]
        return sum(present) / len(present) if present else 0.0

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0..100) of the per-row classification time, nearest rank."""
        if not self.timings_ms:
            return 0.0
        ordered = sorted(self.timings_ms)
        k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[k]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "macro_accuracy": self.macro_accuracy,
            "macro_f1": self.macro_f1,
            "per_type": {
                k: {
                    "support": s.support,
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                }
                for k, s in self.per_type.items()
            },
            "confusion": self.confusion,
            "p50_ms": self.percentile_ms(50),
            "p99_ms": self.percentile_ms(99),
            "errors": [{"id": i, "gold": g, "predicted": p} for i, g, p in self.errors],
        }

    def format(self, show_errors: int = 0) -> str:
        """The report as text tables, for a terminal."""
        lines = [
            f"{'type':<14} {'support':>7} {'precision':>9} {'recall':>7} {'f1':>6}",
        ]
        for label in self.labels:
            s = self.per_type[label]
            lines.append(
                f"{label:<14} {s.support:>7} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f}"
            )
        lines.append("")
        lines.append(f"macro accuracy (mean recall): {self.macro_accuracy:.3f}")
        lines.append(f"macro F1:                     {self.macro_f1:.3f}")
        lines.append(
            f"overall accuracy:             {self.accuracy:.3f} ({self.correct}/{self.total})"
        )
        lines.append(
            f"classify time per row:        p50 {self.percentile_ms(50):.3f} ms, "
            f"p99 {self.percentile_ms(99):.3f} ms"
        )
        lines.append("")
        lines.append("confusion matrix (rows: gold, columns: predicted)")
        columns = list(self.labels)
        extra = sorted({p for row in self.confusion.values() for p in row} - set(columns))
        columns += extra
        short = {c: _abbrev(c) for c in columns}
        width = max(6, *(len(v) for v in short.values()))
        lines.append(" " * 14 + "".join(f"{short[c]:>{width + 1}}" for c in columns))
        for gold in self.labels:
            row = self.confusion.get(gold, {})
            cells = "".join(f"{row.get(c, 0) or '.':>{width + 1}}" for c in columns)
            lines.append(f"{gold:<14}{cells}")
        if show_errors and self.errors:
            lines.append("")
            lines.append(f"misclassified (first {min(show_errors, len(self.errors))}):")
            for row_id, gold, predicted in self.errors[:show_errors]:
                lines.append(f"  {row_id:<22} gold={gold:<14} predicted={predicted}")
        return "\n".join(lines)


def _abbrev(label: str) -> str:
    return {"summarization": "summ", "translation": "transl", "agent_step": "agent"}.get(
        label, label[:6]
    )


def load_rows(path: str | Path = DEFAULT_DATA) -> list[dict[str, Any]]:
    """Rows of a JSON-lines evaluation file: ``{"id", "label", "body", ...}`` each."""
    rows: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or "label" not in row or "body" not in row:
                raise ValueError(f"{path}:{n}: each line needs 'label' and 'body'")
            row.setdefault("id", f"row-{n}")
            rows.append(row)
    return rows


def select_split(rows: Sequence[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Rows whose ``split`` starts with ``name``; ``main`` picks the rows without one (the
    set the rules were written from), so held-out batches can be reported on their own."""
    if name == "main":
        return [r for r in rows if "split" not in r]
    return [r for r in rows if str(r.get("split", "")).startswith(name)]


def load_classifier(spec: str) -> ClassifyFn:
    """Import ``module:function`` (or ``module.function``) and return the function."""
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"expected module:function, got {spec!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec} is not callable")
    fn: ClassifyFn = obj
    return fn


def _label_of(result: Any) -> str:
    if result is None:
        return NONE_LABEL
    task = getattr(result, "task_type", None)
    if isinstance(task, str):
        return task
    if isinstance(result, str):
        return result
    return NONE_LABEL


class _Tally:
    """Counts built up row by row, shared by the sync and async runners."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self.confusion: dict[str, dict[str, int]] = {}
        self.timings: list[float] = []
        self.errors: list[tuple[str, str, str]] = []
        self.total = 0
        self.correct = 0
        self.awaited = 0

    def add(self, row: dict[str, Any], predicted: str, elapsed_ms: float) -> None:
        gold = str(row["label"])
        self.total += 1
        self.timings.append(elapsed_ms)
        cell = self.confusion.setdefault(gold, {})
        cell[predicted] = cell.get(predicted, 0) + 1
        if predicted == gold:
            self.correct += 1
        else:
            self.errors.append((str(row.get("id", "")), gold, predicted))

    def report(self) -> EvalReport:
        golds = {g for g in self.confusion}
        labels = [lab for lab in self.labels if lab in golds]
        labels += sorted(golds - set(labels))
        per_type: dict[str, TypeStats] = {}
        for label in labels:
            support = sum(self.confusion.get(label, {}).values())
            predicted = sum(row.get(label, 0) for row in self.confusion.values())
            correct = self.confusion.get(label, {}).get(label, 0)
            per_type[label] = TypeStats(label, support, predicted, correct)
        return EvalReport(
            labels=tuple(labels),
            total=self.total,
            correct=self.correct,
            per_type=per_type,
            confusion=self.confusion,
            timings_ms=self.timings,
            errors=self.errors,
            awaited=self.awaited,
        )


def evaluate(
    classify_fn: ClassifyFn,
    rows: Iterable[dict[str, Any]],
    labels: Sequence[str] = TASK_TYPES,
) -> EvalReport:
    """Run ``classify_fn`` on every row's body and compare with its label.

    The whole run happens inside one event loop, so a classifier that returns awaitables
    (or needs a running loop, as network-backed plugins do) is measured as it runs in the
    proxy. Inside an already running loop, use :func:`aevaluate`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(aevaluate(classify_fn, rows, labels))
    raise RuntimeError("evaluate() cannot run inside an event loop; use `await aevaluate(...)`")


async def aevaluate(
    classify_fn: ClassifyFn,
    rows: Iterable[dict[str, Any]],
    labels: Sequence[str] = TASK_TYPES,
) -> EvalReport:
    """:func:`evaluate` for callers already inside an event loop."""
    tally = _Tally(labels)
    for row in rows:
        start = time.perf_counter()
        result: Any = classify_fn(row["body"])
        if inspect.isawaitable(result):
            tally.awaited += 1
            result = await result
        tally.add(row, _label_of(result), (time.perf_counter() - start) * 1000)
    return tally.report()


def long_prompt_body(rows: Sequence[dict[str, Any]], target_chars: int = 16_000) -> dict[str, Any]:
    """A ~4k-token request (about 16k characters) built from the eval set's own texts."""
    pieces: list[str] = []
    size = 0
    for row in rows:
        for message in row["body"].get("messages", ()):
            content = message.get("content")
            if isinstance(content, str) and content:
                pieces.append(content)
                size += len(content) + 2
        if size >= target_chars:
            break
    text = "\n\n".join(pieces)[:target_chars]
    ask = "Summarize the text above in five bullet points."
    return {"messages": [{"role": "user", "content": text + "\n\n" + ask}]}


def time_one(
    classify_fn: Callable[[Any], Any], body: dict[str, Any], runs: int = 300
) -> tuple[float, float]:
    """p50 and p99 in milliseconds of classifying ``body``; for synchronous classifiers."""
    timings: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        classify_fn(body)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return timings[len(timings) // 2], timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    """``omni-proxy eval-classifier``: print the report; exit 1 under ``--fail-under``."""
    parser = argparse.ArgumentParser(
        prog="omni-proxy eval-classifier",
        description="Measure a task classifier against a labelled JSON-lines set.",
    )
    parser.add_argument(
        "data",
        nargs="?",
        default=None,
        help=f"evaluation file (default: {DEFAULT_DATA})",
    )
    parser.add_argument("--data", dest="data_opt", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--classifier",
        default="omni_proxy.classifier:heuristic_classify",
        help="module:function returning a Classification (or an awaitable of one)",
    )
    parser.add_argument(
        "--errors", type=int, default=0, metavar="N", help="list the first N misclassified rows"
    )
    parser.add_argument(
        "--split",
        default=None,
        metavar="NAME",
        help="only rows whose 'split' starts with NAME ('main': rows without a split)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--fail-under",
        type=float,
        default=None,
        metavar="MACRO",
        help="exit with status 1 when macro accuracy is below this (0..1)",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `omni-proxy eval-classifier -- --json` passes the "--" through
        argv = argv[1:]
    args = parser.parse_args(argv)
    path = Path(args.data or args.data_opt or DEFAULT_DATA)
    if not path.exists():
        print(f"error: evaluation file not found: {path}", file=sys.stderr)
        return 2
    try:
        classify_fn = load_classifier(args.classifier)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        print(f"error: cannot load classifier {args.classifier!r}: {exc}", file=sys.stderr)
        return 2
    rows = load_rows(path)
    if args.split is not None:
        rows = select_split(rows, args.split)
        if not rows:
            print(f"error: no rows of split {args.split!r} in {path}", file=sys.stderr)
            return 2
    report = evaluate(classify_fn, rows)
    # A synchronous classifier is also timed on a ~4k-token prompt; an asynchronous one
    # (a network call) is not hammered with hundreds of extra requests.
    long = time_one(classify_fn, long_prompt_body(rows)) if not report.awaited else None
    if args.json:
        out = report.as_dict()
        if long is not None:
            out["long_prompt_p50_ms"], out["long_prompt_p99_ms"] = long
        print(json.dumps(out, indent=2))
    else:
        print(f"{path} — {report.total} rows, classifier {args.classifier}\n")
        print(report.format(show_errors=args.errors))
        if long is not None:
            print(f"~4k-token prompt:             p50 {long[0]:.3f} ms, p99 {long[1]:.3f} ms")
    if args.fail_under is not None and report.macro_accuracy < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
