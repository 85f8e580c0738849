"""Expected answer quality per model, as a share of the premium model's.

The router asks ``QualityModel.estimate`` for the candidates of one request and keeps the
cheapest whose expected quality clears ``routing.quality_floor`` (or weighs quality into the
hybrid score when no floor is set). A model is loaded once at start-up (``load``): the one
the package ships, or a file made by ``omni-proxy router train``; estimating is pure Python
on the request path.

INTERFACE (fixed; the learned internals replace the placeholder prior below):
``load(path)`` -> ``QualityModel``; ``QualityModel.estimate(text, task_type, models, premium)``
-> ``{model name: QualityEstimate}``; ``QualityModel.source`` names what was loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..types import ModelInfo

__all__ = ["QualityEstimate", "QualityModel", "load"]


@dataclass(frozen=True, slots=True)
class QualityEstimate:
    """One model's predicted quality for one prompt."""

    model: str
    #: Predicted share of the premium model's quality (1.0 for the premium model itself;
    #: may exceed 1.0 when a model is expected to beat the premium one).
    expected: float
    #: What the number is made of, for ``/v1/router/debug`` (e.g. difficulty, base quality).
    parts: dict[str, float] = field(default_factory=dict)


class QualityModel:
    """Placeholder prior until the learned model lands: strengths only, no difficulty."""

    source = "prior"

    def estimate(
        self,
        text: str,
        task_type: str,
        models: Sequence[ModelInfo],
        premium: ModelInfo | None,
    ) -> dict[str, QualityEstimate]:
        """Each of ``models``' expected quality on ``text`` relative to ``premium``."""
        out: dict[str, QualityEstimate] = {}
        for m in models:
            if premium is not None and m.name == premium.name:
                base = 1.0
            else:
                base = 0.9 if task_type in m.strengths else 0.8
            out[m.name] = QualityEstimate(m.name, base, {"base": base, "difficulty": 1.0})
        return out


def load(path: str | None = None) -> QualityModel:
    """The quality model at ``path`` (from ``router train``), or the shipped one."""
    return QualityModel()
