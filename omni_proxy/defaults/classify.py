"""Default ``classify``: the classifiers named in ``routing.classifiers``, in order, then the
built-in heuristic (which costs well under a millisecond and always answers). With
``routing.llm_classifier_below`` set, the heuristic answers first and the (slower) named
classifiers are asked only when its confidence is below that."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..classifier import heuristic_classify
from ..plugins import await_me_maybe, hookimpl
from ..types import Classification

Classifier = tuple[str, Callable[[dict[str, Any]], Any]]


def confidence_gate(config: Any) -> float | None:
    """``routing.llm_classifier_below`` of ``config``, or None when unset (always ask)."""
    routing = getattr(config, "routing", None)
    below = getattr(routing, "llm_classifier_below", None)
    return float(below) if isinstance(below, int | float) else None


@hookimpl(trylast=True)
def classify(
    body: dict[str, Any], classifiers: Sequence[Classifier] = (), config: Any = None
) -> Any:
    if not classifiers:
        return heuristic_classify(body)
    below = confidence_gate(config)
    if below is None:
        return _chain(body, classifiers, None)
    first = heuristic_classify(body)
    if first.confidence >= below:
        return first
    return _chain(body, classifiers, first)


async def _chain(
    body: dict[str, Any], classifiers: Sequence[Classifier], heuristic: Classification | None
) -> Classification:
    for _, fn in classifiers:
        answer = await await_me_maybe(fn(body))
        if answer is not None:
            return answer  # type: ignore[no-any-return]
    return heuristic if heuristic is not None else heuristic_classify(body)


@hookimpl(trylast=True)
def register_classifiers(register: Any) -> None:
    register("heuristic", heuristic_classify)
