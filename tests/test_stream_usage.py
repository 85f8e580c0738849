"""Streaming usage wherever the upstream puts it: one usage chunk for clients that asked,
none for those that did not, ``omni`` on the final chunk, tokens counted once.

The openai SDK streams through a real proxy process from a fake upstream that places usage
the way servers seen in the wild do (OpenAI's separate chunk, LiteLLM's finishing chunk,
the last content chunk, a separate chunk sent unasked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI

PLACEMENTS = ["separate", "finish", "last_content", "unasked"]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def client(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    config = {
        "providers": {
            "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
        },
        "models": [
            {
                "name": "m",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 1,
                "cost_output": 2,
            }
        ],
    }
    tmp: Path = tmp_path_factory.mktemp("usage")
    with ProxyProcess(tmp, config) as proxy:
        yield openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0, timeout=10)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("asked", [True, False])
def test_usage_once_and_omni_last(
    client: openai.OpenAI, fake: FakeOpenAI, placement: str, asked: bool
) -> None:
    fake.usage_placement = placement
    extra = {"stream_options": {"include_usage": True}} if asked else {}
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            **extra,  # type: ignore[arg-type]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: one two three"
    with_usage = [c for c in chunks if c.usage is not None]
    final = chunks[-1].model_dump()
    assert "omni" in final, f"no omni on the final chunk ({placement}, asked={asked})"
    assert final["omni"]["model_used"] == "m"
    if asked:
        assert len(with_usage) == 1, [c.usage for c in with_usage]
        assert with_usage[0] is chunks[-1] and chunks[-1].choices == []
        # the fake counts words: 3 words in, "Echo:" + 3 words out
        assert chunks[-1].usage.prompt_tokens == 3  # type: ignore[union-attr]
        assert chunks[-1].usage.completion_tokens == 4  # type: ignore[union-attr]
        # a client summing usage per chunk (LangChain, pydantic-ai) counts once
        assert sum(c.usage.total_tokens for c in with_usage) == 7  # type: ignore[union-attr]
    else:
        assert with_usage == []
        assert all(c.choices for c in chunks)  # no empty-choices chunk for naive clients
        assert chunks[-1].choices[0].finish_reason == "stop"
    assert final["omni"]["cost"] > 0


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_langchain_counts_tokens_once(
    client: openai.OpenAI, fake: FakeOpenAI, placement: str
) -> None:
    """LangChain adds up ``usage`` over a stream's chunks: a second usage chunk (or usage
    left on the finishing chunk) doubled its token counts."""
    chat_openai = pytest.importorskip("langchain_openai").ChatOpenAI
    fake.usage_placement = placement
    model = chat_openai(
        model="m",
        base_url=str(client.base_url),
        api_key=MASTER_KEY,
        stream_usage=True,
        max_retries=0,
        timeout=10,
    )
    final = None
    for chunk in model.stream("one two three"):
        final = chunk if final is None else final + chunk
    assert final is not None and final.content == "Echo: one two three"
    assert final.usage_metadata is not None
    assert final.usage_metadata["input_tokens"] == 3
    assert final.usage_metadata["output_tokens"] == 4
    assert final.usage_metadata["total_tokens"] == 7
