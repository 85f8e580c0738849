"""Default ``classify``: the classifiers named in ``routing.classifiers``, in order, then the
built-in heuristic (which costs well under a millisecond and always answers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..classifier import heuristic_classify
from ..plugins import await_me_maybe, hookimpl
from ..types import Classification

Classifier = tuple[str, Callable[[dict[str, Any]], Any]]


@hookimpl(trylast=True)
def classify(body: dict[str, Any], classifiers: Sequence[Classifier] = ()) -> Any:
    if not classifiers:
        return heuristic_classify(body)
    return _chain(body, classifiers)


async def _chain(body: dict[str, Any], classifiers: Sequence[Classifier]) -> Classification:
    for _, fn in classifiers:
        answer = await await_me_maybe(fn(body))
        if answer is not None:
            return answer  # type: ignore[no-any-return]
    return heuristic_classify(body)


@hookimpl(trylast=True)
def register_classifiers(register: Any) -> None:
    register("heuristic", heuristic_classify)
