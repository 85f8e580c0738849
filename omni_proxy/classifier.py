"""The built-in task classifier's public names; the code is in :mod:`omni_proxy.routing.classify`.

Kept so ``from omni_proxy.classifier import heuristic_classify`` (and the
``omni_proxy.classifier:heuristic_classify`` spelling in configs) keeps working.
"""

from __future__ import annotations

from .routing.classify import CALIBRATION, CLASSIFIER_NAME, decision_feature, heuristic_classify

__all__ = ["CALIBRATION", "CLASSIFIER_NAME", "decision_feature", "heuristic_classify"]
