"""omni-proxy-keyword-classifier: a task classifier plugin driven by keyword rules.

The tutorial is docs/writing-a-classifier-plugin.md. Each rule maps a keyword to a task
type; the first keyword found (as a whole word, any case) in the last user message decides.
When none is found the classifier answers ``None`` and the next one decides — in the end the
built-in heuristic — so the plugin only ever overrides what it is sure about.

Rules come from ``OMNI_KEYWORD_RULES`` (``keyword=task,keyword=task``), read once at
start-up, or ``DEFAULT_RULES``. For other rules in code, register a ``KeywordClassifier``
instance instead of the module: it is a plugin too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from omni_proxy import TASK_TYPES, Classification, hookimpl

NAME = "keyword"
ENV_RULES = "OMNI_KEYWORD_RULES"
CONFIDENCE = 0.9
DEFAULT_RULES: dict[str, str] = {
    "translate": "translation",
    "tl;dr": "summarization",
    "summarize": "summarization",
    "traceback": "coding",
    "prove": "reasoning",
}


def parse_rules(text: str) -> dict[str, str]:
    """``"invoice=summarization, stacktrace=coding"`` → ``{"invoice": "summarization", …}``."""
    rules: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        keyword, sep, task = item.partition("=")
        keyword, task = keyword.strip().lower(), task.strip()
        if not sep or not keyword or task not in TASK_TYPES:
            raise ValueError(
                f"{ENV_RULES}: {item!r} is not keyword=task (tasks: {', '.join(TASK_TYPES)})"
            )
        rules[keyword] = task
    return rules


def _last_user_text(body: Mapping[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class KeywordClassifier:
    """Call it with a request body; register it with a plugin manager to use its hooks."""

    def __init__(self, rules: Mapping[str, str]) -> None:
        self.rules = {k.lower(): v for k, v in rules.items()}
        words = sorted(self.rules, key=len, reverse=True)  # longest keyword wins a tie
        alternatives = "|".join(re.escape(w) for w in words) or r"(?!)"
        self._pattern = re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)

    def __call__(self, body: Mapping[str, Any]) -> Classification | None:
        match = self._pattern.search(_last_user_text(body))
        if match is None:
            return None  # not sure: let the next classifier decide
        keyword = match.group(1).lower()
        return Classification(self.rules[keyword], CONFIDENCE, (f"kw:{keyword}",), classifier=NAME)

    # The same hooks as the module's, so an instance is a plugin of its own.
    @hookimpl
    def classify(self, body: dict[str, Any]) -> Classification | None:
        return self(body)

    @hookimpl
    def register_classifiers(self, register: Any) -> None:
        register(NAME, self)


def _from_environment() -> KeywordClassifier:
    text = os.environ.get(ENV_RULES)
    return KeywordClassifier(parse_rules(text) if text else DEFAULT_RULES)


classifier = _from_environment()


@hookimpl
def classify(body: dict[str, Any]) -> Classification | None:
    return classifier(body)


@hookimpl
def register_classifiers(register: Any) -> None:
    register(NAME, classifier)
