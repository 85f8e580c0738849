"""The calibrated confidence: a logistic fit of the decision's score lead."""

from __future__ import annotations

import math

from .params import THRESHOLD
from .score import Scores

#: Logistic calibration of the confidence, ``P(right) = 1 / (1 + exp(-(a + b * x)))``, one
#: (a, b) per kind of decision. For a task, x is its score's lead over the runner-up (chat's
#: own score and 0 included); for chat, x is how far the best task stays below
#: ``THRESHOLD`` or below chat's own cues, whichever is more. Fitted by
#: ``tests/data/fit_confidence.py`` on the training rows (the main evaluation set and the
#: development batch), never on the held-out or fresh batches.
CALIBRATION: dict[str, tuple[float, float]] = {
    "task": (0.586, 1.144),
    "chat": (0.873, 1.077),
}


def lead(acc: Scores, task: str, overruled: str = "") -> float:
    """The decision's feature for :data:`CALIBRATION` (see there); an ``overruled`` verb
    (summarizing code is coding) is no rival."""
    score = acc.score
    if task == "chat":
        best = max(s for t, s in score.items() if t != "chat")
        return max(THRESHOLD - best, score["chat"] - best)
    rivals = [s for t, s in score.items() if t not in (task, overruled)]
    return score[task] - max(0.0, *rivals)


def calibrated(kind: str, x: float) -> float:
    """The calibrated probability that the decision is right, to two decimals."""
    a, b = CALIBRATION[kind]
    z = max(-30.0, min(30.0, a + b * x))
    return round(min(0.99, 1.0 / (1.0 + math.exp(-z))), 2)
