"""The built-in task classifier: structure first, then language cues, in well under a millisecond.

It runs on every routed request, so it must cost next to nothing. Regex alternations are slow
in CPython (a few hundred microseconds per pattern over a few kilobytes), so the text is split
into lower-case tokens once and the tokens are looked up in a lexicon built at import.
Multi-word cues are matched token by token, cues with gaps ("translate ... into French") are
assembled from token positions, and code is recognised from cheap ``str.count`` checks. Only
a bounded part of each message is read (its first and last short paragraphs, where the ask
sits, and a sample of what lies between), so a megabyte prompt costs what a page costs.

The rules are the ones ``tests/data/README.md`` labels the evaluation set with: structure
decides first (a tool result last -> agent_step, an image in the latest user turn -> image,
tools on offer -> agent_step); then cues in the latest user message, the system prompt
counting half, and the previous turn when the message is a short follow-up.

The ask outweighs pasted material: a short first or last paragraph is read as the ask and
the rest counts lightly and never up to a decision on its own. Prompts without cue words
still give shapes to go by (several numbers and a question, a logic puzzle's phrasing,
camelCase or snake_case identifiers). The confidence is a probability, calibrated on
training rows, so a slower classifier can be asked only when it is low.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...types import Classification
from .ask import ask_regions, is_follow_up
from .code import code_evidence
from .confidence import CALIBRATION, calibrated, lead
from .params import (
    CLASSIFIER_NAME,
    LONG_TEXT,
    MATERIAL_CAP,
    MAX_MESSAGES,
    PREV_ASSISTANT_WEIGHT,
    PREV_USER_WEIGHT,
    SYSTEM_CHARS,
    SYSTEM_WEIGHT,
    THRESHOLD,
)
from .request import message_text, non_empty_list, other_shapes, role_of
from .score import Scores, score_region

__all__ = ["CALIBRATION", "decision_feature", "heuristic_classify"]


def _score_text(text: str, weight: float, acc: Scores, prefix: str = "") -> float:
    """All cues of one message; returns its code evidence (fence, trace, syntax)."""
    regions = ask_regions(text)
    scanned = text if len(regions) == 1 else "\n".join(part for part, _ in regions)
    code = code_evidence(scanned, acc, weight, prefix)
    long = len(text) > LONG_TEXT
    for part, w in regions:
        if not part:
            continue
        if w == 1.0 or long:
            score_region(part, w * weight, acc, prefix, ask=w == 1.0)
            continue
        # Pasted material beside a short ask: its cues count, but never up to a decision.
        pasted = Scores()
        score_region(part, w * weight, pasted, prefix, ask=False)
        for task, score in pasted.score.items():
            if score:
                acc.add(task, min(score, MATERIAL_CAP * weight), prefix + "pasted:" + task)
    if long and len(regions) > 1:
        acc.add("summarization", 1.0 * weight, prefix + "long_paste")
    return code


def _score_previous(tail: Sequence[Any], user_idx: int, acc: Scores) -> None:
    """Score the turn before a follow-up: the previous user message and the reply to it."""
    for i in range(user_idx - 1, -1, -1):
        role = role_of(tail[i])
        if role == "assistant":
            _score_text(message_text(tail[i])[0], PREV_ASSISTANT_WEIGHT, acc, "prev:")
        elif role == "user":
            _score_text(message_text(tail[i])[0], PREV_USER_WEIGHT, acc, "prev:")
            return


def decision_feature(body: Mapping[str, Any]) -> tuple[str, str, float] | None:
    """(task, kind, x) of a request the text decides, None when its structure decides.

    For ``tests/data/fit_confidence.py``; the same path :func:`heuristic_classify` takes.
    """
    decided = _decide(body)
    return None if isinstance(decided, Classification) else decided[:3]


def _result(task: str, confidence: float, signals: Sequence[str]) -> Classification:
    return Classification(task, confidence, tuple(signals[:8]), CLASSIFIER_NAME)


def heuristic_classify(body: Mapping[str, Any]) -> Classification:
    """Classify an OpenAI chat-completions request into one of the seven task types.

    Pure and cheap: no I/O, bounded reading. Structure decides first (tool results, images,
    tools), then cues in the latest user message, the system prompt counting half. The
    confidence is a calibrated probability of being right (see :data:`CALIBRATION`).
    """
    decided = _decide(body)
    if isinstance(decided, Classification):
        return decided
    task, kind, x, signals = decided
    return _result(task, calibrated(kind, x), signals)


def _decide(
    body: Mapping[str, Any],
) -> Classification | tuple[str, str, float, Sequence[str]]:
    """A structural classification, or (task, calibration kind, feature, signals)."""
    if not isinstance(body, Mapping):
        return _result("chat", 0.3, ("no_messages",))
    messages: Any = body.get("messages")
    if not isinstance(messages, list) or not messages:
        messages = other_shapes(body)
    if not messages:
        return _result("chat", 0.3, ("no_messages",))
    tail: Sequence[Any] = messages[-MAX_MESSAGES:]

    # 1. A tool result is the last message: the model is mid-way through an agent loop.
    if role_of(tail[-1]) in ("tool", "function"):
        return _result("agent_step", 0.98, ("last_tool_result",))
    user_idx = -1
    for i in range(len(tail) - 1, -1, -1):
        if role_of(tail[i]) == "user":
            user_idx = i
            break
    user_text, user_image = message_text(tail[user_idx]) if user_idx >= 0 else ("", False)
    # 2. An image in the latest user turn needs a vision model, whatever the text asks.
    if user_image:
        return _result("image", 0.97, ("image_part",))
    # 3. Tools on offer: the model acts as an agent and must be able to call them.
    if non_empty_list(body.get("tools")) or non_empty_list(body.get("functions")):
        return _result("agent_step", 0.9, ("tools",))

    acc = Scores()
    code = _score_text(user_text, 1.0, acc)
    for message in messages[:3]:
        if role_of(message) in ("system", "developer"):
            _score_text(message_text(message)[0][:SYSTEM_CHARS], SYSTEM_WEIGHT, acc, "sys:")
    if acc.best()[1] < THRESHOLD and user_idx > 0 and is_follow_up(user_text):
        _score_previous(tail, user_idx, acc)
    task, score, _ = acc.best()
    # The object decides over the verb: summarizing or translating code is coding.
    overruled = ""
    if task in ("summarization", "translation") and code >= 2.0:
        overruled, task, score = task, "coding", acc.score["coding"]
    if score < THRESHOLD or acc.score["chat"] >= score:
        signals = acc.signals.get("chat") or ["no_task_cues" if score < 0.75 else "weak_cues"]
        return "chat", "chat", lead(acc, "chat"), signals
    return task, "task", lead(acc, task, overruled), acc.signals.get(task, [])
