"""Expected answer quality per model, as a share of the premium model's.

The router asks ``QualityModel.estimate`` for the candidates of one request and keeps the
cheapest whose expected quality clears ``routing.quality_floor`` (or weighs quality into the
hybrid score when no floor is set). A model is loaded once at start-up (``load``): the one
the package ships, or a file made by ``omni-proxy router train``; estimating is pure Python
on the request path.

The learned model is item-response shaped: a prompt has a difficulty ``b`` (a linear model
on word n-grams, length, numbers, choices and task type, ``features``), a model has an
ability ``a``, and the chance it answers well is ``sigmoid(a - b)``. Abilities come from
heads learned by ``router train``, else from the public figures of known model families
(``families``), else from price relative to the premium model.

Expected quality has two readings. A file with a ``reference`` (the shipped model: quantiles
of its training prompts' difficulty) gives the share of premium quality that traffic like the
reference keeps when every prompt at most this difficult goes to that model; a floor of 0.98
then keeps about 98% over the traffic, sending the easiest prompts cheap; with several
weaker candidates the lost 2% is shared between them, as each takes its own easiest
prompts. (A per-prompt ratio almost never reaches 0.98 between a GPT-4-class and a
Mixtral-class model, so a per-prompt floor saved nothing.) Without a reference (files from
``router train``, whose heads make a per-prompt ratio sharp enough) expected quality is
that chance over the premium model's on this prompt.

INTERFACE (fixed): ``load(path)`` -> ``QualityModel``;
``QualityModel.estimate(text, task_type, models, premium)`` -> ``{model name:
QualityEstimate}``; ``QualityModel.source`` names what was loaded.
"""

from __future__ import annotations

import bisect
import functools
import gzip
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from ..types import ModelInfo
from .families import family_accuracy
from .features import features

__all__ = [
    "FORMAT",
    "QualityEstimate",
    "QualityModel",
    "QualityModelError",
    "choose",
    "from_db_rows",
    "load",
]

FORMAT = "omni-proxy-quality/1"
SHIPPED = "shipped.json.gz"
#: Accuracy assumed for a model nothing is known about when there is no premium to compare.
_DEFAULT_ACCURACY = 0.65
_MIN_PRICE = 1e-4
_CACHE_LIMIT = 4096


class QualityModelError(ValueError):
    """A quality model file that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class QualityEstimate:
    """One model's predicted quality for one prompt."""

    model: str
    #: Predicted share of the premium model's quality (1.0 for the premium model itself;
    #: may exceed 1.0 when a model is expected to beat the premium one).
    expected: float
    #: What the number is made of, for ``/v1/router/debug`` (e.g. difficulty, base quality).
    parts: dict[str, float] = field(default_factory=dict)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _price(m: ModelInfo) -> float:
    return max(float(m.cost_input + m.cost_output), _MIN_PRICE)


class QualityModel:
    """Prompt difficulty against model ability; with no parameters, a name/price prior."""

    source = "prior"

    def __init__(self, params: Mapping[str, Any] | None = None, source: str | None = None):
        p = dict(params or {})
        self.params = p
        self.bias = float(p.get("bias", 0.0))
        self.weights: dict[str, float] = dict(p.get("weights", {}))
        #: ability = alpha + beta * logit(public accuracy)
        self.alpha = float(p.get("alpha", 0.0))
        self.beta = float(p.get("beta", 1.0))
        self.price_slope = float(p.get("price_slope", 0.3))
        self.strength_bonus = float(p.get("strength_bonus", 0.15))
        self.spread = float(p.get("spread", 0.0))
        self.heads: dict[str, float] = {k: float(v) for k, v in p.get("abilities", {}).items()}
        self.model_weights: dict[str, dict[str, float]] = {
            k: dict(v) for k, v in p.get("model_weights", {}).items()
        }
        self._squash = 1.0 / math.sqrt(1.0 + math.pi * self.spread**2 / 8.0)
        #: Difficulty quantiles of the traffic a floor is calibrated on (ascending).
        self.reference: list[float] = sorted(float(x) for x in p.get("reference", ()))
        #: Share of the predicted loss that happened on prompts kept out of training.
        self.loss_scale = float(p.get("loss_scale", 1.0))
        self._cache: dict[tuple[int, int], tuple[ModelInfo, ModelInfo | None, float]] = {}
        self._known: dict[str, float] = {}
        self._curves: dict[tuple[float, float], list[float]] = {}
        if source is not None:
            self.source = source

    # -- abilities ------------------------------------------------------------------------
    def known_ability(self, m: ModelInfo) -> float | None:
        """A learned head, else the family figure for the public or upstream name."""
        head = self.heads.get(m.name)
        if head is not None:
            return head
        acc = family_accuracy(m.name)
        if acc is None and m.model != m.name:
            acc = family_accuracy(m.model)
        return None if acc is None else self.alpha + self.beta * _logit(acc)

    def _measured(self, m: ModelInfo) -> float:
        """1.0 when ``m``'s ability is known (not guessed from price); cached by name."""
        known = self._known.get(m.name)
        if known is None:
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            known = self._known[m.name] = 1.0 if self.known_ability(m) is not None else 0.0
        return known

    def ability(self, m: ModelInfo, premium: ModelInfo | None) -> float:
        """``m``'s ability; unknown models are priced against the premium model."""
        # Keyed by identity (the registry's objects live as long as it does; hashing a
        # ModelInfo field by field cost more than the rest of an estimate).
        key = (id(m), id(premium))
        hit = self._cache.get(key)
        if hit is not None and hit[0] is m and hit[1] is premium:
            return hit[2]
        a = self._ability(m, premium)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (m, premium, a)
        return a

    def _ability(self, m: ModelInfo, premium: ModelInfo | None) -> float:
        a = self.known_ability(m)
        if a is None:
            default = self.alpha + self.beta * _logit(_DEFAULT_ACCURACY)
            if premium is None or premium.name == m.name:
                a = default
            else:
                ref = self.known_ability(premium)
                ref = default if ref is None else ref
                delta = self.price_slope * math.log(_price(m) / _price(premium))
                a = ref + min(max(delta, -4.0), 0.2)
        return a

    def _strength(self, m: ModelInfo, task_type: str) -> float:
        if not m.strengths:
            return 0.0
        return self.strength_bonus if task_type in m.strengths else -self.strength_bonus

    # -- estimate -------------------------------------------------------------------------
    def difficulty(self, feats: Sequence[str]) -> float:
        """The prompt's difficulty ``b`` on the ability scale."""
        if not self.weights or not feats:
            return self.bias
        get = self.weights.get
        return self.bias + sum([get(f, 0.0) for f in feats]) / math.sqrt(len(feats))

    def p_right(self, a: float, b: float) -> float:
        """Chance a model of ability ``a`` answers a prompt of difficulty ``b`` well."""
        return _sigmoid((a - b) * self._squash)

    def _curve(self, a: float, a_ref: float) -> list[float]:
        """Quality kept on the reference traffic when its k+1 easiest prompts go to ``a``."""
        key = (a, a_ref)
        cum = self._curves.get(key)
        if cum is None:
            ref = [self.p_right(a_ref, b) for b in self.reference]
            total = max(sum(ref), 1e-9)
            run = 0.0
            cum = []
            for b, p_ref in zip(self.reference, ref, strict=True):
                run += p_ref - self.p_right(a, b)
                cum.append(1.0 - self.loss_scale * run / total)
            if len(self._curves) >= _CACHE_LIMIT:
                self._curves.clear()
            self._curves[key] = cum
        return cum

    def traffic_quality(self, a: float, a_ref: float, b: float) -> float:
        """Share of premium quality kept over the reference traffic if every prompt at most
        ``b`` difficult went to a model of ability ``a`` (the premium's is ``a_ref``)."""
        i = bisect.bisect_right(self.reference, b)
        return 1.0 if i == 0 else self._curve(a, a_ref)[i - 1]

    def _own(self, name: str, feats: Sequence[str]) -> float:
        table = self.model_weights.get(name)
        if not table or not feats:
            return 0.0
        get = table.get
        return sum([get(f, 0.0) for f in feats]) / math.sqrt(len(feats))

    def estimate(
        self,
        text: str,
        task_type: str,
        models: Sequence[ModelInfo],
        premium: ModelInfo | None,
    ) -> dict[str, QualityEstimate]:
        """Each of ``models``' expected quality on ``text`` relative to ``premium``."""
        feats = features(text, task_type)
        b = self.difficulty(feats)
        squash = self._squash

        def chance(m: ModelInfo) -> tuple[float, float]:
            a = self.ability(m, premium) + self._strength(m, task_type) + self._own(m.name, feats)
            return a, self.p_right(a, b)

        chances = [chance(m) for m in models]
        if premium is not None:
            a_ref, p_ref = chance(premium)
        else:
            a_ref, p_ref = max(chances, key=lambda t: t[1], default=(0.0, 1.0))
        p_ref = max(p_ref, 1e-6)
        traffic = bool(self.reference)
        # Each weaker candidate takes the easiest prompts up to its own threshold, so their
        # losses add up: the floor's loss budget is shared between them.
        top = premium.name if premium is not None else None
        weaker = sum(
            1 for m, c in zip(models, chances, strict=True) if c[0] < a_ref and m.name != top
        )
        weaker = max(weaker, 1)
        # Parts unrounded: whoever shows them rounds (rounding here was a third of the cost).
        shown = _sigmoid((b - self.alpha) * squash)
        out: dict[str, QualityEstimate] = {}
        for m, (a, p) in zip(models, chances, strict=True):
            parts = {
                "difficulty": shown,
                "ability": a,
                "p_correct": p,
                "p_premium": p_ref,
                # 1: the ability is measured (public figures or a trained head); 0: guessed
                # from price, which the hybrid score weighs less (routing.GUESSED_QUALITY_WEIGHT).
                "measured": self._measured(m),
            }
            if premium is not None and m.name == premium.name:
                expected = 1.0
            elif traffic:
                parts["ratio"] = p / p_ref
                expected = 1.0 - weaker * (1.0 - self.traffic_quality(a, a_ref, b))
            else:
                expected = p / p_ref
            out[m.name] = QualityEstimate(m.name, round(expected, 4), parts)
        return out

    # -- persistence ----------------------------------------------------------------------
    def dump(self, path: str | Path) -> Path:
        """Write the parameters (gzip JSON when the name ends in .gz); a folder gets a file."""
        target = Path(path)
        if target.is_dir():
            target = target / "quality-model.json.gz"
        data = orjson.dumps({**self.params, "format": FORMAT})
        if target.suffix == ".gz":
            data = gzip.compress(data, mtime=0)
        target.write_bytes(data)
        return target


def _read(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    params = orjson.loads(raw)
    if not isinstance(params, dict) or params.get("format") != FORMAT:
        raise QualityModelError(f"{path}: not a quality model file ({FORMAT})")
    return params


def load(path: str | None = None) -> QualityModel:
    """The quality model at ``path`` (from ``router train``), or the shipped one (read once)."""
    if path:
        target = Path(path)
        if target.is_dir():
            target = target / "quality-model.json.gz"
        try:
            params = _read(target)
        except OSError as exc:
            raise QualityModelError(f"cannot read quality model {target}: {exc}") from exc
        except orjson.JSONDecodeError as exc:
            raise QualityModelError(f"{target}: not a quality model file ({exc})") from exc
        return QualityModel(params, source=f"trained:{target.name}")
    return _shipped()


@functools.cache
def _shipped() -> QualityModel:
    shipped = resources.files(__name__).joinpath(SHIPPED)
    if not shipped.is_file():
        return QualityModel()
    params = orjson.loads(gzip.decompress(shipped.read_bytes()))
    return QualityModel(params, source="shipped")


def choose(
    estimates: Mapping[str, QualityEstimate],
    costs: Mapping[str, Decimal | float],
    floor: float,
    premium: str | None = None,
) -> str:
    """The model ``plan_route`` puts first under ``floor`` (``routing.floor_rank``): the
    cheapest whose expected quality clears it, else the best expected. Only models present in
    both mappings are considered."""
    from ..routing.plan import floor_rank

    names = [n for n in estimates if n in costs]
    if not names:
        raise ValueError("no model has both an estimate and a cost")
    return min(
        names, key=lambda n: floor_rank(estimates[n].expected, costs[n], floor, n == premium)
    )


def from_db_rows(config: Any, org: str | None = None) -> list[dict[str, Any]]:
    """Recorded outcomes as training rows; see ``omni_proxy.quality.db``."""
    from .db import from_db_rows as _rows

    return _rows(config, org)
