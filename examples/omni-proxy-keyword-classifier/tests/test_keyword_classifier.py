"""The keyword classifier through the proxy's routing, in-process (omni_proxy.testing)."""

from __future__ import annotations

import omni_proxy_keyword_classifier as keyword
import pytest

from omni_proxy.testing import STUB_CONFIG, route, stub_plugin

# The stub provider gives the router models to pick from; the classifier is the test's.


def test_a_keyword_decides_the_task(omni_proxy):
    client = omni_proxy(STUB_CONFIG, plugins=[stub_plugin, keyword])
    decision = route(client, "Please translate this into German")
    assert decision["task_type"] == "translation"
    assert decision["selected_model"] == "stub-small"  # the cheap model good at translation
    assert decision["classification"] == {
        "confidence": 0.9,
        "signals": ["kw:translate"],
        "classifier": "keyword",
    }


def test_no_keyword_leaves_it_to_the_next_classifier(omni_proxy):
    client = omni_proxy(STUB_CONFIG, plugins=[stub_plugin, keyword])
    assert route(client, "hello there")["classification"]["classifier"] == "heuristic"


def test_rules_in_code(omni_proxy):
    rules = keyword.KeywordClassifier({"invoice": "summarization"})
    client = omni_proxy(STUB_CONFIG, plugins=[stub_plugin, rules])
    assert route(client, "Here is an INVOICE.")["task_type"] == "summarization"


def test_rules_from_the_environment_are_checked():
    assert keyword.parse_rules("invoice=summarization, stacktrace=coding") == {
        "invoice": "summarization",
        "stacktrace": "coding",
    }
    with pytest.raises(ValueError, match="keyword=task"):
        keyword.parse_rules("invoice=accounting")
