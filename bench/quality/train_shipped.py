"""Train the quality model the package ships (numpy; offline only, never on the request path).

Reads the rows of build_data.py: MMLU-Pro questions (ori_mmlu dropped) with the right/wrong
of ~30 models, and LLMRouter prompts with 0..1 scores of 9 open models. Fits, by full-batch
Adam on the log loss over every (prompt, model) pair, an item-response model

    P(model m right on x) = sigmoid(a_m - b(x)),   b(x) = bias + w . features(x)

Abilities are then mapped to the public-figure scale (a = alpha + beta * logit(MMLU-Pro
accuracy)) by least squares over the models with a family entry, so any registry model with
a known family gets an ability. A tenth of the training prompts is kept out of each fit:
on them the difficulty is stretched to its best log loss, the predicted loss of sending
easy prompts to weaker models is scaled to the observed one (``loss_scale``), and their
difficulty quantiles become the ``reference`` traffic expected quality is read against.

Before the shipped fit it reports, with the same recipe, held-out figures for a strong/weak
pair close to GPT-4 / Mixtral (abilities from the family table, as at run time):
questions held out at random (a tenth more held out to pick the L2 strength), and whole
subjects held out. ``--heldout-out`` writes the held-out-subject variant and its rows for
``router eval``.

    python bench/quality/train_shipped.py /tmp/qdata/built/mmlupro_rows.jsonl.gz \
        /tmp/qdata/built/llmrouter_rows.jsonl.gz --out omni_proxy/quality/shipped.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from omni_proxy.classifier import heuristic_classify
from omni_proxy.quality import FORMAT
from omni_proxy.quality.families import family_accuracy
from omni_proxy.quality.features import features

HELD_OUT = ("psychology", "economics", "biology")
PAIRS = (
    ("gemini-1.5-pro-002", "Mixtral-8x7B-Instruct-v0.1"),
    ("Meta-Llama-3_1-70B-Instruct", "Mixtral-8x7B-Instruct-v0.1"),
    ("gemini-1.5-pro-002", "gemini-1.5-flash-002"),
)
FLOORS = (0.90, 0.95, 0.98)


def load_rows(paths: list[Path]) -> list[dict]:
    out = []
    for path in paths:
        with gzip.open(path, "rt") as f:
            out += [json.loads(line) for line in f]
    return out


def featurise(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        task = heuristic_classify({"messages": [{"role": "user", "content": r["text"]}]})
        out.append(features(r["text"], task.task_type))
    return out


class Data:
    """Rows as sparse design (row, column, value) and a label matrix with a mask."""

    def __init__(self, rows, feats, models, vocab):
        col = {f: j for j, f in enumerate(vocab)}
        ri, ci, vals = [], [], []
        for i, fs in enumerate(feats):
            idx = [col[f] for f in fs if f in col]
            v = 1.0 / math.sqrt(max(len(fs), 1))
            ri += [i] * len(idx)
            ci += idx
            vals += [v] * len(idx)
        self.ri, self.ci, self.vals = np.array(ri, int), np.array(ci, int), np.array(vals)
        self.n, self.vocab = len(rows), vocab
        mi = {m: k for k, m in enumerate(models)}
        y = np.full((self.n, len(models)), np.nan)
        for i, r in enumerate(rows):
            for m, v in r["correct"].items():
                if m in mi:
                    y[i, mi[m]] = v
        self.mask = ~np.isnan(y)
        self.y = np.nan_to_num(y)

    def lin(self, w: np.ndarray) -> np.ndarray:
        return np.bincount(self.ri, weights=w[self.ci] * self.vals, minlength=self.n)

    def back(self, g: np.ndarray) -> np.ndarray:
        return np.bincount(self.ci, weights=g[self.ri] * self.vals, minlength=len(self.vocab))


def fit(
    data: Data, n_models: int, *, l2: float, l2d: float, iters: int, lr: float = 0.05, rasch=False
):
    """Adam on the mean log loss; returns the parameter dict."""
    nv = len(data.vocab)
    th = {
        "bias": np.zeros(1),
        "w": np.zeros(nv),
        "u0": np.zeros(1),
        "v": np.zeros(nv),
        "a": np.zeros(n_models),
    }
    mom = {k: np.zeros_like(x) for k, x in th.items()}
    vel = {k: np.zeros_like(x) for k, x in th.items()}
    count = data.mask.sum()
    for t in range(1, iters + 1):
        b = th["bias"][0] + data.lin(th["w"])
        d = np.exp(np.clip(th["u0"][0] + data.lin(th["v"]), -3, 3))
        diff = th["a"][None, :] - b[:, None]
        z = d[:, None] * diff
        p = 1.0 / (1.0 + np.exp(-z))
        r = np.where(data.mask, p - data.y, 0.0) / count
        gb = -(r * d[:, None]).sum(axis=1)
        gu = (r * z).sum(axis=1)
        grads = {
            "bias": np.array([gb.sum()]),
            "w": data.back(gb) + l2 * th["w"],
            "u0": np.array([gu.sum()]),
            "v": data.back(gu) + l2d * th["v"],
            "a": (r * d[:, None]).sum(axis=0),
        }
        for k in th:
            if rasch and k in ("u0", "v"):  # the one-parameter model of the first version
                continue
            mom[k] = 0.9 * mom[k] + 0.1 * grads[k]
            vel[k] = 0.999 * vel[k] + 0.001 * grads[k] ** 2
            th[k] -= lr * (mom[k] / (1 - 0.9**t)) / (np.sqrt(vel[k] / (1 - 0.999**t)) + 1e-8)
    return th


def predict_bd(th, data: Data) -> tuple[np.ndarray, np.ndarray]:
    b = th["bias"][0] + data.lin(th["w"])
    d = np.exp(np.clip(th["u0"][0] + data.lin(th["v"]), -3, 3))
    return b, d


def chance(th, a, b):
    """P(right) for abilities a against difficulties b (broadcast)."""
    return 1 / (1 + np.exp(-(a - b)))


def log_loss(th, data: Data) -> float:
    b, _ = predict_bd(th, data)
    p = chance(th, th["a"][None, :], b[:, None])
    p = np.clip(p, 1e-6, 1 - 1e-6)
    ll = -(data.y * np.log(p) + (1 - data.y) * np.log(1 - p))
    return float(ll[data.mask].mean())


def scale(th, models) -> tuple[float, float]:
    """ability = alpha + beta * logit(family accuracy), least squares over known families."""
    xs, ys = [], []
    for m, ability in zip(models, th["a"], strict=True):
        acc = family_accuracy(m)
        if acc is not None:
            xs.append(math.log(acc / (1 - acc)))
            ys.append(ability)
    beta, alpha = np.polyfit(xs, ys, 1)
    return float(alpha), float(beta)


def family_ability(name: str, alpha: float, beta: float) -> float:
    acc = family_accuracy(name)
    assert acc is not None, name
    return alpha + beta * math.log(acc / (1 - acc))


def stretch(th, held: Data) -> float:
    """Widen the difficulty to what unseen prompts support (L2 and unseen n-grams shrink it):
    the factor on ``w`` with the best log loss on prompts kept out of the fit."""
    w = th["w"].copy()
    best = (log_loss(th, held), 1.0)
    for k in (1.25, 1.5, 1.75, 2.0, 2.5, 3.0):
        th["w"] = w * k
        best = min(best, (log_loss(th, held), k))
    th["w"] = w * best[1]
    print(f"difficulty stretched x{best[1]} (held-out log loss {best[0]:.4f})")
    return best[1]


def loss_scale(th, held: Data, models) -> float:
    """How much of the quality loss the model predicts for sending the easiest prompts to a
    weaker model actually happens, on prompts kept out of the fit: every pair of training
    models with family figures (abilities from the figures, as at run time), the easiest
    10/20/30% each."""
    alpha, beta = scale(th, models)
    b, _ = predict_bd(th, held)
    order = np.argsort(b, kind="stable")
    known = [
        (k, family_ability(m, alpha, beta)) for k, m in enumerate(models) if family_accuracy(m)
    ]
    obs = pred = 0.0
    for s, a_s in known:
        for w, a_w in known:
            if a_s - a_w < 0.3:
                continue
            ok = order[held.mask[order, s] & held.mask[order, w]]
            if len(ok) < 50:
                continue
            ys, yw, bb = held.y[ok, s], held.y[ok, w], b[ok]
            ps, pw = chance(th, a_s, bb), chance(th, a_w, bb)
            for share in (0.1, 0.2, 0.3):
                k = int(len(ok) * share)
                obs += (ys[:k] - yw[:k]).sum() / max(ys.sum(), 1)
                pred += (ps[:k] - pw[:k]).sum() / ps.sum()
    kappa = min(max(obs / pred, 0.1), 1.0)
    print(f"loss scale {kappa:.3f} (observed {obs:.2f} / predicted {pred:.2f} over pairs)")
    return kappa


def reference(th, data: Data, k: int) -> np.ndarray:
    """Quantiles of the training prompts' difficulty: the traffic a floor is calibrated on."""
    b, _ = predict_bd(th, data)
    return np.quantile(b, (np.arange(k) + 0.5) / k)


def traffic_quality(th, ref: np.ndarray, a_w: float, a_s: float, b: np.ndarray) -> np.ndarray:
    """Premium quality kept on the reference traffic if every prompt at most b's difficulty
    went to the weaker model (as ``QualityModel.estimate`` computes it)."""
    p_s = chance(th, a_s, ref)
    p_w = chance(th, a_w, ref)
    cum = 1 - th["kappa"] * np.cumsum(p_s - p_w) / p_s.sum()
    i = np.searchsorted(ref, b, side="right")
    return np.where(i > 0, cum[np.maximum(i - 1, 0)], 1.0)


def routing_table(th, data: Data, models, alpha, beta, ref=None) -> list[str]:
    """Per pair: floor policy (family abilities) and the ranking against random."""
    b, _ = predict_bd(th, data)
    mi = {m: k for k, m in enumerate(models)}
    lines = []
    for strong, weak in PAIRS:
        s, w = mi[strong], mi[weak]
        ok = data.mask[:, s] & data.mask[:, w]
        ys, yw = data.y[ok, s], data.y[ok, w]
        bb = b[ok]
        a_s, a_w = family_ability(strong, alpha, beta), family_ability(weak, alpha, beta)
        ratio = chance(th, a_w, bb) / chance(th, a_s, bb)
        if ref is not None:
            ratio = traffic_quality(th, ref, a_w, a_s, bb)
        total, gap = ys.sum(), 1 - yw.sum() / ys.sum()
        lines.append(
            f"  {strong} / {weak}: {ok.sum()} prompts, weak keeps {1 - gap:.3f} overall; "
            f"expected quality p10/p50/p90 {np.percentile(ratio, 10):.3f}/"
            f"{np.percentile(ratio, 50):.3f}/{np.percentile(ratio, 90):.3f}"
        )
        for floor in FLOORS:
            cheap = ratio >= floor
            share = cheap.mean()
            q = (yw[cheap].sum() + ys[~cheap].sum()) / total
            lines.append(
                f"    floor {floor:.2f}: cheap {share:6.1%}  quality {q:.3f}  "
                f"random {1 - share * gap:.3f}  beats {q - (1 - share * gap):+.3f}"
            )
        order = np.argsort(-ratio, kind="stable")
        for share in (0.1, 0.2, 0.3):
            k = int(len(order) * share)
            q = (yw[order[:k]].sum() + ys[order[k:]].sum()) / total
            lines.append(
                f"    easiest {share:.0%} to the weak model: quality {q:.3f} "
                f"(random {1 - share * gap:.3f})"
            )
    return lines


def vocab_of(feats, min_count: int) -> list[str]:
    counts: dict[str, int] = {}
    for fs in feats:
        for f in fs:
            counts[f] = counts.get(f, 0) + 1
    return sorted(f for f, c in counts.items() if c >= min_count)


def bucket(r: dict) -> int:
    return zlib.crc32(str(r["id"]).encode()) % 10


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rows", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path("omni_proxy/quality/shipped.json.gz"))
    p.add_argument("--l2", type=float, nargs="+", default=[1e-5, 1e-4, 1e-3])
    p.add_argument("--iters", type=int, default=400)
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--keep", type=float, default=0.004, help="drop smaller weights when shipping")
    p.add_argument("--reference", type=int, default=256, help="difficulty quantiles kept")
    p.add_argument("--heldout-out", type=Path, help="also write the held-out variant and rows")
    a = p.parse_args()
    t0 = time.time()
    rows = load_rows(a.rows)
    feats = featurise(rows)
    models = sorted({m for r in rows for m in r["correct"]})
    print(f"{len(rows)} prompts, {len(models)} models, featurised in {time.time() - t0:.1f}s")
    mmlu = [r.get("src") != "llmrouter" for r in rows]

    def subset(idx):
        return [rows[i] for i in idx], [feats[i] for i in idx]

    def train_on(idx, l2):
        # A tenth of the training prompts is kept out of the fit: the reference traffic is
        # their predicted difficulty, which is narrower than that of fitted prompts.
        fit_idx = [i for i in idx if bucket(rows[i]) != 9]
        ref_rows, ref_feats = subset([i for i in idx if bucket(rows[i]) == 9])
        tr_rows, tr_feats = subset(fit_idx)
        vocab = vocab_of(tr_feats, a.min_count)
        th = fit(
            Data(tr_rows, tr_feats, models, vocab),
            len(models),
            l2=l2,
            l2d=l2 * 10,
            iters=a.iters,
            rasch=True,
        )
        held = Data(ref_rows, ref_feats, models, vocab)
        stretch(th, held)
        th["kappa"] = loss_scale(th, held, models)
        ref = reference(th, held, a.reference)
        return th, vocab, ref

    def tables(th, te, ref) -> None:
        alpha, beta = scale(th, models)
        print("per-prompt ratio P(weak)/P(strong) (the first version's expected quality):")
        print("\n".join(routing_table(th, te, models, alpha, beta)))
        print("quality kept on the reference traffic (the shipped expected quality):")
        print("\n".join(routing_table(th, te, models, alpha, beta, ref)))

    # 1. questions held out at random: pick the L2 strength on a validation tenth
    test = [i for i, r in enumerate(rows) if mmlu[i] and bucket(r) < 2]
    val = [i for i, r in enumerate(rows) if mmlu[i] and bucket(r) == 2]
    train = [i for i, r in enumerate(rows) if not (mmlu[i] and bucket(r) < 3)]
    best = None
    for l2 in a.l2:
        th, vocab, ref = train_on(train, l2)
        loss = log_loss(th, Data(*subset(val), models, vocab))
        print(f"L2 {l2:g}: validation log loss {loss:.4f} ({time.time() - t0:.0f}s)")
        if best is None or loss < best[0]:
            best = (loss, l2, th, vocab, ref)
    _, l2, th, vocab, ref = best
    te = Data(*subset(test), models, vocab)
    print(
        f"\nMMLU-Pro questions held out at random (L2 {l2:g}): {te.n} questions, "
        f"log loss {log_loss(th, te):.4f}"
    )
    tables(th, te, ref)

    # 2. whole subjects held out
    train = [i for i, r in enumerate(rows) if r["category"] not in HELD_OUT]
    test = [i for i, r in enumerate(rows) if r["category"] in HELD_OUT]
    th, vocab, ref = train_on(train, l2)
    te = Data(*subset(test), models, vocab)
    print(
        f"\nMMLU-Pro subjects held out {HELD_OUT}: {te.n} questions, "
        f"log loss {log_loss(th, te):.4f}"
    )
    tables(th, te, ref)
    if a.heldout_out:
        a.heldout_out.mkdir(parents=True, exist_ok=True)
        held = params_for(th, models, vocab, ref, "MMLU-Pro minus held-out subjects", a.keep)
        write(held, a.heldout_out / "heldout-model.json.gz")
        names = sorted({m for pair in PAIRS for m in pair} | {"Meta-Llama-3_1-8B-Instruct"})
        with open(a.heldout_out / "mmlupro_heldout.jsonl", "w") as f:
            for r in subset(test)[0]:
                scores = {m: r["correct"][m] for m in names if m in r["correct"]}
                msg = [{"role": "user", "content": r["text"]}]
                f.write(json.dumps({"messages": msg, "scores": scores}) + "\n")
        print(f"wrote the held-out variant and {te.n} held-out rows to {a.heldout_out}")

    # 3. the shipped model: every row
    th, vocab, ref = train_on(list(range(len(rows))), l2)
    params = params_for(
        th,
        models,
        vocab,
        ref,
        "TIGER-AI-Lab/MMLU-Pro eval_results (Apache-2.0, ori_mmlu dropped) and "
        f"ulab-uiuc/LLMRouter dcrouter_preprocessed (MIT, GSM8K/MMLU/RouterBench items "
        f"dropped); {len(rows)} prompts x {len(models)} models; L2 {l2:g}",
        a.keep,
    )
    write(params, a.out)
    print(
        f"\nwrote {a.out}: {len(params['weights'])} weights, {a.out.stat().st_size} bytes "
        f"({time.time() - t0:.0f}s)"
    )


def write(params: dict, path: Path) -> None:
    data = json.dumps(params, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(gzip.compress(data, mtime=0))


def params_for(th, models, vocab, ref, source: str, keep: float) -> dict:
    """The file's parameters; abilities mapped to the public-figure scale."""
    alpha, beta = scale(th, models)
    xs = [(m, float(x), family_accuracy(m)) for m, x in zip(models, th["a"], strict=True)]
    print(f"ability = {alpha:.3f} + {beta:.3f} * logit(acc)")
    for m, ability, acc in sorted(xs, key=lambda t: -t[1]):
        fam = "" if acc is None else f"  family {alpha + beta * math.log(acc / (1 - acc)):+.3f}"
        print(f"  {m:32s} ability {ability:+.3f}{fam}")
    w = {f: round(float(x), 4) for f, x in zip(vocab, th["w"], strict=True) if abs(x) >= keep}
    return {
        "format": FORMAT,
        "trained_on": source,
        "bias": round(float(th["bias"][0]), 4),
        "weights": w,
        "reference": [round(float(x), 4) for x in ref],
        "loss_scale": round(float(th["kappa"]), 4),
        "alpha": round(alpha, 4),
        "beta": round(beta, 4),
        "price_slope": 0.3,
        "strength_bonus": 0.15,
        "spread": 0.0,
        "abilities": {},
        "model_weights": {},
    }


if __name__ == "__main__":
    main()
