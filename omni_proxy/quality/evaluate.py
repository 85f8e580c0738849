"""``router eval``: the router on labelled prompts, without calling anyone.

Each prompt goes through the real selection: the task classifier, ``plan_route`` with the
quality model (which models may serve it, what each would cost, its expected quality), and
``choose`` at each quality floor (``routing.floor_rank``, the one floor decision
``plan_route`` makes too). Quality is the sum of the chosen models' scores over the premium
model's; cost likewise. Random routing that sends the same share of prompts to each model is the
baseline a floor must beat; APGR (average performance gap recovered, as RouteLLM defines
it) sums the whole curve up: 0 is no better than the cheapest model, 1 the premium
model's quality at any cost, 0.5 what random routing reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ..classifier import heuristic_classify
from ..config import Config
from ..registry import Registry
from ..routing.plan import plan_route
from . import QualityEstimate, QualityModel, choose
from .data import Example

__all__ = ["FLOORS", "evaluate", "format_report"]

FLOORS = (0.80, 0.85, 0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 1.00)
_SWEEP = (*(i / 200 for i in range(201)), 1.01, 1.05, 1.2)


@dataclass(slots=True)
class _Row:
    scores: dict[str, float]
    costs: dict[str, float]
    estimates: dict[str, QualityEstimate]
    routed: str


def _prepare(
    examples: Sequence[Example], registry: Registry, config: Config, model: QualityModel
) -> tuple[list[_Row], int]:
    premium = registry.premium
    assert premium is not None
    rows: list[_Row] = []
    skipped = 0
    for ex in examples:
        if premium.name not in ex.scores:
            skipped += 1
            continue
        body: dict[str, Any] = {"model": "auto", "messages": ex.messages}
        cls = heuristic_classify(body)
        # The router's own plan, estimates included: eval sees what serving would.
        plan = plan_route(body, cls, registry, config, configured=lambda _name: True, quality=model)
        costs: dict[str, float] = {}
        estimates: dict[str, QualityEstimate] = {}
        for c in plan.candidates:
            name = c["model"]
            if (c["eligible"] or name == premium.name) and name in ex.scores:
                costs[name] = float(Decimal(c["estimated_cost"]))
                if c["expected_quality"] is not None:
                    estimates[name] = QualityEstimate(name, c["expected_quality"])
        if premium.name not in costs:
            skipped += 1
            continue
        routed = next((r.model.name for r in plan.routes if r.model.name in costs), premium.name)
        rows.append(_Row(ex.scores, costs, estimates, routed))
    return rows, skipped


def _cheapest(row: _Row) -> str:
    return min(row.costs, key=lambda m: (row.costs[m], -row.scores[m]))


def _point(rows: Sequence[_Row], picks: Sequence[str], premium: str) -> dict[str, float]:
    quality = sum(r.scores[p] for r, p in zip(rows, picks, strict=True))
    cost = sum(r.costs[p] for r, p in zip(rows, picks, strict=True))
    top_q = sum(r.scores[premium] for r in rows) or 1e-12
    top_c = sum(r.costs[premium] for r in rows) or 1e-12
    shares: dict[str, float] = {}
    for p in picks:
        shares[p] = shares.get(p, 0.0) + 1.0 / len(picks)
    # Random routing with the same share per model: each prompt gets model m with
    # probability share[m] (the premium's score stands in where m was not labelled).
    rnd_q = sum(
        share * sum(r.scores.get(m, r.scores[premium]) for r in rows) for m, share in shares.items()
    )
    rnd_c = sum(
        share * sum(r.costs.get(m, r.costs[premium]) for r in rows) for m, share in shares.items()
    )
    return {
        "quality": quality / top_q,
        "cost": cost / top_c,
        "savings": 1 - cost / top_c,
        "cheap_share": 1 - shares.get(premium, 0.0),
        "random_quality": rnd_q / top_q,
        "random_cost": rnd_c / top_c,
    }


def _apgr(points: Sequence[tuple[float, float]], weak: tuple[float, float]) -> float:
    """Area under performance-gap-recovered against normalised cost, in [0, 1]."""
    cost_w, q_w = weak
    gap_q = 1.0 - q_w
    gap_c = 1.0 - cost_w
    if gap_q <= 0 or gap_c <= 0:
        return 0.0
    curve = sorted(
        [(0.0, 0.0), (1.0, 1.0)]
        + [(min(max((c - cost_w) / gap_c, 0.0), 1.0), (q - q_w) / gap_q) for c, q in points]
    )
    best: list[tuple[float, float]] = []
    top = float("-inf")
    for x, y in curve:  # a router can always spend more: keep the best PGR so far
        top = max(top, y)
        best.append((x, top))
    area = 0.0
    for (x0, y0), (x1, y1) in pairwise(best):
        area += (x1 - x0) * (y0 + y1) / 2
    return area


def evaluate(
    examples: Sequence[Example],
    registry: Registry,
    config: Config,
    model: QualityModel,
    floors: Sequence[float] = FLOORS,
) -> dict[str, Any]:
    """The cost/quality table, APGR and baselines for ``examples``."""
    premium = registry.premium
    if premium is None:
        raise ValueError("router eval needs a premium model (routing.premium_model)")
    rows, skipped = _prepare(examples, registry, config, model)
    if not rows:
        raise ValueError(
            f"none of the {len(examples)} prompts has a score for the premium model "
            f"{premium.name!r} and another eligible model"
        )
    name = premium.name

    def at(floor: float) -> list[str]:
        return [choose(r.estimates, r.costs, floor, name) for r in rows]

    cheapest = [_cheapest(r) for r in rows]
    weak = _point(rows, cheapest, name)
    table = [{"floor": f, **_point(rows, at(f), name)} for f in floors]
    sweep = [_point(rows, at(f), name) for f in _SWEEP]
    apgr = _apgr([(p["cost"], p["quality"]) for p in sweep], (weak["cost"], weak["quality"]))
    models = sorted({m for r in rows for m in r.costs})
    means = {
        m: sum(r.scores[m] for r in rows if m in r.scores)
        / max(1, sum(m in r.scores for r in rows))
        for m in models
    }
    return {
        "items": len(rows),
        "skipped": skipped,
        "premium": name,
        "quality_model": model.source,
        "models": {m: round(v, 4) for m, v in means.items()},
        "all_premium": _point(rows, [name] * len(rows), name),
        "all_cheapest": weak,
        "router_no_floor": _point(rows, [r.routed for r in rows], name),
        "floors": table,
        "apgr": apgr,
        "apgr_random": 0.5,
    }


def format_report(result: Mapping[str, Any]) -> str:
    """The evaluation as a table for a terminal."""
    header = ["floor", "cheap share", "savings", "quality", "random (same share)", "beats random"]
    lines: list[list[str]] = []

    def pct(x: float, sign: str = "") -> str:
        return f"{0.0 if abs(x) < 5e-4 else x:{sign}.1%}"

    def row(label: str, p: Mapping[str, float]) -> list[str]:
        beat = p["quality"] - p["random_quality"]
        return [
            label,
            pct(p["cheap_share"]),
            pct(p["savings"]),
            pct(p["quality"]),
            pct(p["random_quality"]),
            pct(beat, "+"),
        ]

    for p in result["floors"]:
        lines.append(row(f"{p['floor']:.2f}", p))
    lines.append(row("no floor", result["router_no_floor"]))
    lines.append(row("all cheapest", result["all_cheapest"]))
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    text = [
        f"{result['items']} labelled prompts ({result['skipped']} skipped), premium "
        f"{result['premium']}, quality model: {result['quality_model']}",
        "mean score per model: " + ", ".join(f"{m} {v:.3f}" for m, v in result["models"].items()),
    ]
    if result.get("ignored_models"):
        text.append("ignored (not in the registry): " + ", ".join(result["ignored_models"]))
    text.append("")
    text += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *lines]
    ]
    text += [
        "",
        f"APGR {result['apgr']:.3f} (random routing 0.500; 1.0 = premium quality at any cost)",
        "quality and savings are relative to sending every prompt to the premium model",
    ]
    return "\n".join(text)
