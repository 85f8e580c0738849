"""Train the quality model the package ships (numpy; offline only, never on the request path).

Reads ``mmlupro_rows.jsonl.gz`` from build_data.py: MMLU-Pro questions (ori_mmlu dropped)
with the right/wrong of ~30 open and closed models. Fits, by full-batch Adam on the log
loss over every (question, model) pair,

    P(model m right on x) = sigmoid(a_m - b(x)),   b(x) = bias + w . features(x)

then maps abilities to the public-figure scale (a = alpha + beta * logit(MMLU-Pro accuracy))
by least squares over the models with a family entry, so any registry model with a known
family gets an ability. First reports a fit on held-out subjects, then trains on all rows.

    python bench/quality/train_shipped.py /tmp/qdata/built/mmlupro_rows.jsonl.gz \
        --out omni_proxy/quality/shipped.json.gz --l2 1e-4 --heldout-out /tmp/qdata/heldout
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from omni_proxy.classifier import heuristic_classify
from omni_proxy.quality import FORMAT
from omni_proxy.quality.families import family_accuracy
from omni_proxy.quality.features import features

HELD_OUT = ("psychology", "economics", "biology")


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
        r["task"] = task.task_type
        out.append(features(r["text"], task.task_type))
    return out


def fit(rows, feats, models, vocab, *, l2: float, iters: int, lr: float = 0.05):
    """Adam on the mean log loss; returns (bias, w, a)."""
    col = {f: j for j, f in enumerate(vocab)}
    ri, ci, vals = [], [], []
    for i, fs in enumerate(feats):
        idx = [col[f] for f in fs if f in col]
        if not idx:
            continue
        v = 1.0 / math.sqrt(len(fs))
        ri += [i] * len(idx)
        ci += idx
        vals += [v] * len(idx)
    ri, ci, vals = np.array(ri), np.array(ci), np.array(vals)
    n, m_count = len(rows), len(models)
    y = np.full((n, m_count), np.nan)
    mi = {m: k for k, m in enumerate(models)}
    for i, r in enumerate(rows):
        for m, v in r["correct"].items():
            if m in mi:
                y[i, mi[m]] = v
    mask = ~np.isnan(y)
    y0 = np.nan_to_num(y)
    count = mask.sum()
    theta = {"bias": np.zeros(1), "w": np.zeros(len(vocab)), "a": np.zeros(m_count)}
    mom = {k: np.zeros_like(v) for k, v in theta.items()}
    vel = {k: np.zeros_like(v) for k, v in theta.items()}
    for t in range(1, iters + 1):
        b = theta["bias"][0] + np.bincount(ri, weights=theta["w"][ci] * vals, minlength=n)
        z = theta["a"][None, :] - b[:, None]
        p = 1.0 / (1.0 + np.exp(-z))
        r_ = np.where(mask, p - y0, 0.0) / count
        gb = -r_.sum(axis=1)
        grads = {
            "bias": np.array([gb.sum()]),
            "w": np.bincount(ci, weights=gb[ri] * vals, minlength=len(vocab)) + l2 * theta["w"],
            "a": r_.sum(axis=0),
        }
        for k in theta:
            mom[k] = 0.9 * mom[k] + 0.1 * grads[k]
            vel[k] = 0.999 * vel[k] + 0.001 * grads[k] ** 2
            theta[k] -= lr * (mom[k] / (1 - 0.9**t)) / (np.sqrt(vel[k] / (1 - 0.999**t)) + 1e-8)
    return float(theta["bias"][0]), theta["w"], theta["a"]


def predict(rows, feats, vocab, bias, w, a, models):
    col = {f: j for j, f in enumerate(vocab)}
    mi = {m: k for k, m in enumerate(models)}
    loss = base = cnt = 0.0
    mean = {m: np.mean([r["correct"][m] for r in rows if m in r["correct"]]) for m in models}
    for r, fs in zip(rows, feats, strict=True):
        idx = [col[f] for f in fs if f in col]
        b = bias + (w[idx].sum() / math.sqrt(len(fs)) if idx else 0.0)
        for m, v in r["correct"].items():
            if m not in mi:
                continue
            p = min(max(1 / (1 + math.exp(-(a[mi[m]] - b))), 1e-6), 1 - 1e-6)
            q = min(max(mean[m], 1e-6), 1 - 1e-6)
            loss -= v * math.log(p) + (1 - v) * math.log(1 - p)
            base -= v * math.log(q) + (1 - v) * math.log(1 - q)
            cnt += 1
    return loss / cnt, base / cnt


def pair_curve(rows, feats, vocab, bias, w, strong, weak):
    """Quality kept at each cheap share when the easiest-predicted go to the weak model."""
    col = {f: j for j, f in enumerate(vocab)}
    pts = []
    for r, fs in zip(rows, feats, strict=True):
        if strong in r["correct"] and weak in r["correct"]:
            idx = [col[f] for f in fs if f in col]
            b = bias + (w[idx].sum() / math.sqrt(len(fs)) if idx else 0.0)
            pts.append((b, r["correct"][strong], r["correct"][weak]))
    pts.sort()
    total = sum(s for _, s, _ in pts)
    out = []
    for share in (0.1, 0.2, 0.3, 0.5):
        k = int(len(pts) * share)
        q = sum(wk for _, _, wk in pts[:k]) + sum(s for _, s, _ in pts[k:])
        rnd = share * sum(wk for _, _, wk in pts) + (1 - share) * total
        out.append((share, q / total, rnd / total))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rows", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path("omni_proxy/quality/shipped.json.gz"))
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--heldout-out", type=Path, help="also write the held-out variant and rows")
    a = p.parse_args()
    t0 = time.time()
    rows = load_rows(a.rows)
    feats = featurise(rows)
    models = sorted({m for r in rows for m in r["correct"]})
    print(f"{len(rows)} questions, {len(models)} models, featurised in {time.time() - t0:.1f}s")

    def vocab_of(fs_list):
        counts: dict[str, int] = {}
        for fs in fs_list:
            for f in fs:
                counts[f] = counts.get(f, 0) + 1
        return sorted(f for f, c in counts.items() if c >= a.min_count)

    train = [i for i, r in enumerate(rows) if r["category"] not in HELD_OUT]
    test = [i for i, r in enumerate(rows) if r["category"] in HELD_OUT]
    tr_rows, tr_feats = [rows[i] for i in train], [feats[i] for i in train]
    te_rows, te_feats = [rows[i] for i in test], [feats[i] for i in test]
    vocab = vocab_of(tr_feats)
    bias, w, ab = fit(tr_rows, tr_feats, models, vocab, l2=a.l2, iters=a.iters)
    loss, base = predict(te_rows, te_feats, vocab, bias, w, ab, models)
    print(
        f"held-out subjects {HELD_OUT}: {len(te_rows)} questions; log loss {loss:.4f} "
        f"(abilities only {base:.4f})"
    )
    for strong, weak in (
        ("gemini-1.5-pro-002", "gemini-1.5-flash-002"),
        ("Meta-Llama-3_1-70B-Instruct", "Meta-Llama-3_1-8B-Instruct"),
    ):
        for share, q, rnd in pair_curve(te_rows, te_feats, vocab, bias, w, strong, weak):
            print(
                f"  {strong} / {weak}: {share:.0%} cheap -> {q:.3f} of premium (random {rnd:.3f})"
            )

    if a.heldout_out:
        a.heldout_out.mkdir(parents=True, exist_ok=True)
        held = params_for(tr_rows, models, vocab, bias, w, ab, "MMLU-Pro minus held-out subjects")
        write(held, a.heldout_out / "heldout-model.json.gz")
        pairs = (
            "gemini-1.5-pro-002",
            "gemini-1.5-flash-002",
            "Meta-Llama-3_1-70B-Instruct",
            "Meta-Llama-3_1-8B-Instruct",
        )
        with open(a.heldout_out / "mmlupro_heldout.jsonl", "w") as f:
            for r in te_rows:
                scores = {m: r["correct"][m] for m in pairs if m in r["correct"]}
                msg = [{"role": "user", "content": r["text"]}]
                f.write(json.dumps({"messages": msg, "scores": scores}) + "\n")
        print(f"wrote the held-out variant and {len(te_rows)} held-out rows to {a.heldout_out}")

    vocab = vocab_of(feats)
    bias, w, ab = fit(rows, feats, models, vocab, l2=a.l2, iters=a.iters)
    params = params_for(
        rows,
        models,
        vocab,
        bias,
        w,
        ab,
        "TIGER-AI-Lab/MMLU-Pro eval_results (Apache-2.0, ori_mmlu dropped) and "
        "ulab-uiuc/LLMRouter dcrouter_preprocessed (MIT, GSM8K/MMLU/RouterBench items dropped)",
    )
    write(params, a.out)
    print(
        f"wrote {a.out}: {len(params['weights'])} weights, {a.out.stat().st_size} bytes "
        f"({time.time() - t0:.0f}s)"
    )


def write(params: dict, path: Path) -> None:
    data = json.dumps(params, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(gzip.compress(data, mtime=0))


def params_for(rows, models, vocab, bias, w, ab, source: str) -> dict:
    """The file's parameters; abilities mapped to the public-figure scale."""
    xs, ys = [], []
    for m, ability in zip(models, ab, strict=True):
        acc = family_accuracy(m)
        if acc is not None:
            xs.append(math.log(acc / (1 - acc)))
            ys.append(ability)
    beta, alpha = np.polyfit(xs, ys, 1)
    resid = np.array(ys) - (alpha + beta * np.array(xs))
    print(
        f"ability = {alpha:.3f} + {beta:.3f} * logit(acc) over {len(xs)} models, "
        f"residual sd {resid.std():.3f}"
    )
    for m, ability in sorted(zip(models, ab, strict=True), key=lambda t: -t[1]):
        print(f"  {m:32s} ability {ability:+.3f}  family acc {family_accuracy(m)}")
    weights = {f: round(float(v), 4) for f, v in zip(vocab, w, strict=True) if abs(v) >= 0.002}
    params = {
        "format": FORMAT,
        "trained_on": f"{source}; {len(rows)} prompts x {len(models)} models",
        "bias": round(bias, 4),
        "weights": weights,
        "alpha": round(float(alpha), 4),
        "beta": round(float(beta), 4),
        "price_slope": 0.3,
        "strength_bonus": 0.15,
        "spread": 0.0,
        "abilities": {},
        "model_weights": {},
    }
    return params


if __name__ == "__main__":
    main()
