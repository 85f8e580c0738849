"""``router train``: fit difficulty and per-model heads to a team's own labelled prompts.

Pure Python SGD on the same model the router serves (``QualityModel``): it starts from the
loaded model (shipped or configured), so a few thousand rows adjust it rather than
replace it, and each model seen in the data gets its own head (an ability and a few
n-gram weights of its own). A tenth of the rows (by a hash of the text) is held out to
report the fit.
"""

from __future__ import annotations

import math
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from ..classifier import heuristic_classify
from ..types import ModelInfo
from . import FORMAT, QualityModel, _sigmoid
from .data import Example
from .features import features

__all__ = ["Fit", "train"]

_EPOCHS = 8
_LR = 1.0
_L2 = 1e-4
_HEAD_L2 = 1e-4
#: Below this error a model's own n-gram weights are not touched (saves most of the time).
_SKIP = 0.05


@dataclass(frozen=True, slots=True)
class Fit:
    """What ``train`` learned, for the CLI to print."""

    model: QualityModel
    items: int
    held_out: int
    models: dict[str, int]
    loss_before: float
    loss_after: float
    seconds: float


class Progress:
    """A small progress bar on stderr (no dependency for it)."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "training") -> None:
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.last = -1

    def update(self, done: int) -> None:
        pct = min(100, done * 100 // self.total)
        if pct == self.last:
            return
        self.last = pct
        bar = "#" * (pct // 4)
        self.stream.write(f"\r{self.label} [{bar:<25}] {pct:3d}%")
        if pct == 100:
            self.stream.write("\n")
        self.stream.flush()


def _held_out(text: str) -> bool:
    return zlib.crc32(text.encode("utf-8", "replace")) % 10 == 0


def _log_loss(p: float, y: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


class _State:
    """The parameters being fitted, starting from ``base``."""

    def __init__(
        self, base: QualityModel, registry: Mapping[str, ModelInfo], premium: ModelInfo | None
    ):
        self.base = base
        self.bias = base.bias
        self.w0 = base.weights
        self.w: dict[str, float] = dict(base.weights)
        self.registry = registry
        self.premium = premium
        self.heads0 = {n: base.ability(m, premium) for n, m in registry.items()}
        self.heads = dict(self.heads0)
        self.own: dict[str, dict[str, float]] = {
            n: dict(base.model_weights.get(n, {})) for n in registry
        }

    def chance(self, name: str, feats: Sequence[str], task: str, b: float) -> float:
        table = self.own[name]
        own = sum([table.get(f, 0.0) for f in feats]) / math.sqrt(len(feats))
        a = self.heads[name] + self.base._strength(self.registry[name], task) + own
        return _sigmoid((a - b) * self.base._squash)

    def difficulty(self, feats: Sequence[str]) -> float:
        get = self.w.get
        return self.bias + sum([get(f, 0.0) for f in feats]) / math.sqrt(len(feats))

    def step(self, feats: Sequence[str], task: str, scores: Mapping[str, float], lr: float) -> None:
        b = self.difficulty(feats)
        v = 1.0 / math.sqrt(len(feats))
        decay = 1.0 - lr * _L2
        gb = 0.0
        for name, y in scores.items():
            g = self.chance(name, feats, task, b) - y
            gb -= g
            self.heads[name] -= lr * (g + _HEAD_L2 * (self.heads[name] - self.heads0[name]))
            if abs(g) < _SKIP:  # already right about this model here: leave its weights
                continue
            table = self.own[name]
            get = table.get
            delta = lr * g * v
            for f in feats:
                table[f] = get(f, 0.0) * decay - delta
        gb /= len(scores)
        w, w0 = self.w, self.w0
        delta = lr * gb * v
        for f in feats:
            old = w.get(f, 0.0)
            w[f] = old - delta - lr * _L2 * (old - w0.get(f, 0.0))
        self.bias -= lr * 0.1 * gb

    def model(self, source: str, extra: Mapping[str, Any]) -> QualityModel:
        params = dict(self.base.params)
        # Per-model heads make the per-prompt ratio sharp: serve that, not the shipped
        # model's reference-traffic reading (see ``QualityModel``).
        params.pop("reference", None)
        params.pop("loss_scale", None)
        params.update(
            {
                "format": FORMAT,
                "bias": round(self.bias, 5),
                "weights": {f: round(x, 4) for f, x in self.w.items() if abs(x) >= 1e-3},
                "abilities": {n: round(a, 5) for n, a in self.heads.items()},
                "model_weights": {
                    n: {f: round(x, 4) for f, x in t.items() if abs(x) >= 1e-3}
                    for n, t in self.own.items()
                    if t
                },
                **extra,
            }
        )
        return QualityModel(params, source=source)


def _task(messages: list[Any]) -> str:
    return heuristic_classify({"messages": messages}).task_type


def train(
    examples: Sequence[Example],
    registry: Mapping[str, ModelInfo],
    premium: ModelInfo | None,
    base: QualityModel,
    *,
    progress: Callable[[int], None] | None = None,
    epochs: int = _EPOCHS,
) -> Fit:
    """A model fitted to ``examples`` (scores keyed by registry names in ``registry``)."""
    start = time.monotonic()
    prepared = []
    for ex in examples:
        task = _task(ex.messages)
        prepared.append((features(ex.text, task), task, ex.scores, _held_out(ex.text)))
    train_rows = [r for r in prepared if not r[3]] or prepared
    test_rows = [r for r in prepared if r[3]]
    seen = sorted({n for r in prepared for n in r[2]})
    state = _State(base, {n: registry[n] for n in seen}, premium)

    def loss(rows: Sequence[tuple[list[str], str, Mapping[str, float], bool]]) -> float:
        total = count = 0.0
        for feats, task, scores, _ in rows:
            b = state.difficulty(feats)
            for name, y in scores.items():
                total += _log_loss(state.chance(name, feats, task, b), y)
                count += 1
        return total / count if count else float("nan")

    before = loss(test_rows)
    steps = epochs * len(train_rows)
    done = 0
    order = sorted(range(len(train_rows)), key=lambda i: zlib.crc32(str(i).encode()))
    for epoch in range(epochs):
        lr = _LR / (1 + epoch)
        for i in order:
            feats, task, scores, _ = train_rows[i]
            state.step(feats, task, scores, lr)
            done += 1
            if progress is not None and done % 50 == 0:
                progress(done * 100 // steps)
    if progress is not None:
        progress(100)
    after = loss(test_rows)
    counts = {n: sum(1 for r in prepared if n in r[2]) for n in seen}
    model = state.model(
        "trained",
        {"trained_rows": len(prepared), "trained_models": counts},
    )
    return Fit(
        model, len(prepared), len(test_rows), counts, before, after, time.monotonic() - start
    )
