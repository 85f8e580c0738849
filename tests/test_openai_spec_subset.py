"""The in-repo subset of the OpenAI spec matches the official document it was cut from.

A fresh clone validates against ``tests/spec/openai-openapi-subset.json``; this keeps that
file honest. Where the full document is available it must hold every subset schema
unchanged; in CI (``CI=true``) the full document is required, so a stale subset fails.
"""

from __future__ import annotations

import os

import pytest

from tests import openai_schema
from tests.spec.extract_subset import closure


def test_subset_holds_the_roots_and_their_refs() -> None:
    subset = openai_schema.raw_spec(openai_schema.SUBSET_PATH)["components"]["schemas"]
    assert set(openai_schema.ROOTS) <= set(subset)
    assert closure(subset, openai_schema.ROOTS) == subset, "a referenced schema is missing"


def test_subset_matches_the_full_spec() -> None:
    path = openai_schema.full_spec_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs the full OpenAI spec (../shared/spec or OMNI_OPENAI_SPEC)")
        pytest.skip("full OpenAI spec absent (no ../shared/spec, no OMNI_OPENAI_SPEC)")
    full = openai_schema.raw_spec(path)["components"]["schemas"]
    subset = openai_schema.raw_spec(openai_schema.SUBSET_PATH)["components"]["schemas"]
    stale = sorted(name for name in subset if full.get(name) != subset[name])
    assert not stale, f"run tests/spec/extract_subset.py: {stale[:10]}"
    assert closure(full, openai_schema.ROOTS) == subset


def test_schemas_outside_the_subset_are_refused() -> None:
    with pytest.raises(KeyError):
        openai_schema.validator("CreateImageRequest")
