"""``router train``: fit difficulty and per-model heads to a team's own labelled prompts.

The same model the router serves (``QualityModel``), fitted by full-batch Adam with numpy
(sparse products as one gather and one ``reduceat`` each, so a few thousand rows take
seconds). It starts from the loaded model (shipped or configured), so a few thousand rows
adjust it rather than replace it, and each model seen in the data gets its own head (an
ability and n-gram weights of its own). A tenth of the rows (by a hash of the text) is held
out: the fit stops at its best log loss there, and reports it.

A trained file reads expected quality per prompt (a model's chance over the premium's), not
against reference traffic: a reading by rank over the user's rows was tried and dropped, as a
prompt predicted to lose half the premium's quality could clear a 0.9 floor when it fell
between the rows' clusters.
"""

from __future__ import annotations

import math
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from ..classifier import heuristic_classify
from ..types import ModelInfo
from . import FORMAT, QualityModel
from .data import Example
from .features import features

__all__ = ["Fit", "train"]

_ITERS = 300
#: Iterations without a better held-out log loss before the fit stops.
_PATIENCE = 40
_LR = 0.05
#: L2 per feature weight (towards the starting model's), per head weight, per ability.
_L2 = 1e-4
_OWN_L2 = 3e-4
_HEAD_L2 = 1e-4


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
    #: CPU seconds of this process (on a busy machine far below the wall time).
    cpu_seconds: float = 0.0


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


def _task(messages: list[Any]) -> str:
    return heuristic_classify({"messages": messages}).task_type


class _Design:
    """Rows as a sparse (row, column, value) design over ``vocab`` and a label matrix."""

    def __init__(self, feats: Sequence[Sequence[str]], col: Mapping[str, int], n_cols: int):
        ri: list[int] = []
        ci: list[int] = []
        vals: list[float] = []
        for i, fs in enumerate(feats):
            idx = [col[f] for f in fs if f in col]
            v = 1.0 / math.sqrt(max(len(fs), 1))
            ri += [i] * len(idx)
            ci += idx
            vals += [v] * len(idx)
        self.n = len(feats)
        self.n_cols = n_cols
        self.ri = np.array(ri, dtype=np.int64)
        self.ci = np.array(ci, dtype=np.int64)
        self.vals = np.array(vals, dtype=np.float64)
        # Products as one gather and one reduceat over runs of equal row (or column): every
        # row has a feature in the vocabulary (its task and length buckets), as has every
        # column, except for held-out rows, whose empty rows are zeroed.
        self.row_starts, self.row_has = _runs(self.ri, self.n)
        order = np.argsort(self.ci, kind="stable")
        self.c_ri, self.c_vals = self.ri[order], self.vals[order]
        self.col_starts, self.col_has = _runs(self.ci[order], n_cols)

    def many(self, w: Any) -> Any:
        """X @ w.T for a (k, columns) matrix: (rows, k)."""
        out = np.zeros((self.n, len(w)))
        if len(self.ci):
            out[self.row_has] = np.add.reduceat(w[:, self.ci] * self.vals, self.row_starts, 1).T
        return out

    def back_many(self, g: Any) -> Any:
        """X.T @ g for a (rows, k) matrix: (k, columns)."""
        out = np.zeros((g.shape[1], self.n_cols))
        if len(self.ci):
            part = g[self.c_ri].T * self.c_vals
            out[:, self.col_has] = np.add.reduceat(part, self.col_starts, 1)
        return out


def _runs(keys: Any, size: int) -> tuple[Any, Any]:
    """Where each run of equal (sorted) keys starts, and which of ``size`` keys occur."""
    has = np.zeros(size, dtype=bool)
    if not len(keys):
        return np.zeros(0, dtype=np.int64), has
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    has[keys[starts]] = True
    return starts, has


def _labels(rows: Sequence[_Prepared], names: Sequence[str]) -> tuple[Any, Any]:
    y = np.zeros((len(rows), len(names)))
    mask = np.zeros((len(rows), len(names)), dtype=bool)
    index = {n: k for k, n in enumerate(names)}
    for i, r in enumerate(rows):
        for name, score in r.scores.items():
            y[i, index[name]] = score
            mask[i, index[name]] = True
    return y, mask


@dataclass(slots=True)
class _Prepared:
    feats: list[str]
    task: str
    scores: Mapping[str, float]
    held: bool


def train(
    examples: Sequence[Example],
    registry: Mapping[str, ModelInfo],
    premium: ModelInfo | None,
    base: QualityModel,
    *,
    progress: Callable[[int], None] | None = None,
    iters: int = _ITERS,
) -> Fit:
    """A model fitted to ``examples`` (scores keyed by registry names in ``registry``)."""
    start, cpu = time.monotonic(), time.process_time()
    prepared = []
    for ex in examples:
        task = _task(ex.messages)
        prepared.append(_Prepared(features(ex.text, task), task, ex.scores, _held_out(ex.text)))
    train_rows = [r for r in prepared if not r.held] or prepared
    test_rows = [r for r in prepared if r.held]
    names = sorted({n for r in prepared for n in r.scores})
    infos = [registry[n] for n in names]
    vocab = sorted({f for r in train_rows for f in r.feats})
    col = {f: j for j, f in enumerate(vocab)}
    x_train = _Design([r.feats for r in train_rows], col, len(vocab))
    x_test = _Design([r.feats for r in test_rows], col, len(vocab))
    y, mask = _labels(train_rows, names)
    y_test, mask_test = _labels(test_rows, names)
    squash = base._squash

    def offsets(rows: Sequence[_Prepared]) -> Any:
        """The model-by-task strength bonus, per row and model."""
        return np.array(
            [[base._strength(m, r.task) for m in infos] for r in rows], dtype=np.float64
        ).reshape(len(rows), len(infos))

    s_train, s_test = offsets(train_rows), offsets(test_rows)

    # Outside the vocabulary (features only held-out rows have) the starting weights apply.
    def rest(rows: Sequence[_Prepared], table: Mapping[str, float]) -> Any:
        return np.array(
            [
                sum(table.get(f, 0.0) for f in r.feats if f not in col)
                / math.sqrt(max(len(r.feats), 1))
                for r in rows
            ]
        )

    w0 = np.array([base.weights.get(f, 0.0) for f in vocab])
    u0 = np.array([[base.model_weights.get(n, {}).get(f, 0.0) for f in vocab] for n in names])
    u0 = u0.reshape(len(names), len(vocab))
    a0 = np.array([base.ability(m, premium) for m in infos])
    rest_w = rest(test_rows, base.weights)
    rest_u = np.stack(
        [rest(test_rows, base.model_weights.get(n, {})) for n in names], axis=1
    ).reshape(len(test_rows), len(names))
    # Row 0 of "wu" is the shared difficulty's weights, rows 1.. each model's own.
    th = {"bias": np.array([base.bias]), "wu": np.vstack([w0, u0]), "a": a0.copy()}
    start_wu = th["wu"].copy()
    l2 = np.array([_L2] + [_OWN_L2] * len(names))[:, None]

    def chances(t: Mapping[str, Any], x: _Design, s: Any, extra_w: Any, extra_u: Any) -> Any:
        lin = x.many(t["wu"])
        b = t["bias"][0] + lin[:, 0] + extra_w
        own = lin[:, 1:] + extra_u
        z = (t["a"][None, :] + s + own - b[:, None]) * squash
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def loss(t: Mapping[str, Any], x: _Design, s: Any, yy: Any, mm: Any, ew: Any, eu: Any) -> float:
        if not mm.any():
            return float("nan")
        p = np.clip(chances(t, x, s, ew, eu), 1e-6, 1 - 1e-6)
        ll = -(yy * np.log(p) + (1 - yy) * np.log(1 - p))
        return float(ll[mm].mean())

    def test_loss(t: Mapping[str, Any]) -> float:
        return loss(t, x_test, s_test, y_test, mask_test, rest_w, rest_u)

    before = test_loss(th)
    count = max(int(mask.sum()), 1)
    zeros_w, zeros_u = np.zeros(len(train_rows)), np.zeros((len(train_rows), len(names)))
    mom = {k: np.zeros_like(v) for k, v in th.items()}
    vel = {k: np.zeros_like(v) for k, v in th.items()}
    best = (before, {k: v.copy() for k, v in th.items()})
    best_at = 0
    for t in range(1, iters + 1):
        p = chances(th, x_train, s_train, zeros_w, zeros_u)
        r = np.where(mask, p - y, 0.0) * (squash / count)
        gb = -r.sum(axis=1)
        # Difficulty weights pulled towards the starting model's, each model's own to zero.
        reg = l2 * (th["wu"] - start_wu)
        reg[1:] = l2[1:] * th["wu"][1:]
        grads = {
            "bias": np.array([gb.sum()]),
            "wu": x_train.back_many(np.column_stack([gb, r])) + reg,
            "a": r.sum(axis=0) + _HEAD_L2 * (th["a"] - a0),
        }
        for k, g in grads.items():
            mom[k] = 0.9 * mom[k] + 0.1 * g
            vel[k] = 0.999 * vel[k] + 0.001 * g * g
            th[k] = th[k] - _LR * (mom[k] / (1 - 0.9**t)) / (
                np.sqrt(vel[k] / (1 - 0.999**t)) + 1e-8
            )
        if t % 10 == 0 or t == iters:
            if test_rows:
                held = test_loss(th)
                if held < best[0]:
                    best, best_at = (held, {k: v.copy() for k, v in th.items()}), t
                elif t - best_at >= _PATIENCE:  # no better for a while: done
                    break
            if progress is not None:
                progress(t * 100 // iters)
    if not test_rows:
        best = (float("nan"), th)
    after, th = best
    if progress is not None:
        progress(100)
    counts = {n: sum(1 for r in prepared if n in r.scores) for n in names}
    weights = dict(base.weights)
    weights.update({f: float(x) for f, x in zip(vocab, th["wu"][0], strict=True)})
    own = {n: dict(base.model_weights.get(n, {})) for n in names}
    for i, n in enumerate(names):
        own[n].update({f: float(x) for f, x in zip(vocab, th["wu"][i + 1], strict=True)})
    params = dict(base.params)
    params.pop("reference", None)
    params.pop("loss_scale", None)
    params.update(
        {
            "format": FORMAT,
            "bias": round(float(th["bias"][0]), 5),
            "weights": {f: round(x, 4) for f, x in weights.items() if abs(x) >= 1e-3},
            "abilities": {n: round(float(a), 5) for n, a in zip(names, th["a"], strict=True)},
            "model_weights": {
                n: {f: round(x, 4) for f, x in t.items() if abs(x) >= 1e-3}
                for n, t in own.items()
                if t
            },
            "trained_rows": len(prepared),
            "trained_models": counts,
        }
    )
    model = QualityModel(params, source="trained")
    seconds = time.monotonic() - start
    return Fit(
        model,
        len(prepared),
        len(test_rows),
        counts,
        before,
        after,
        seconds,
        time.process_time() - cpu,
    )
