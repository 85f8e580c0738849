"""The built-in task classifier, one job per module.

``params`` (the tunable numbers), ``cues`` (the cue data), ``lexicon`` (tokens -> cues),
``request`` (reading a request), ``ask`` (the ask against pasted material), ``score`` (lexical
and multi-token cues, word problems), ``code`` (code recognised by its shape), ``confidence``
(the calibrated probability) and ``heuristic`` (the decision). ``omni_proxy.classifier``
re-exports the public names, so older imports keep working.
"""

from __future__ import annotations

from .confidence import CALIBRATION
from .heuristic import decision_feature, heuristic_classify
from .params import CLASSIFIER_NAME

__all__ = ["CALIBRATION", "CLASSIFIER_NAME", "decision_feature", "heuristic_classify"]
