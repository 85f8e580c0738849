"""``/v1/embeddings`` and legacy ``/v1/completions`` through the openai SDK."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.openai_schema import validate


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(embedding_dim=8) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config: dict[str, Any] = {
        "providers": {
            "up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-upstream-test"}
        },
        "models": [
            {
                "name": "chatty",
                "provider": "up",
                "model": "gpt-4o-mini",
                "cost_input": 0.15,
                "cost_output": 0.6,
                "strengths": ["chat"],
            },
            {
                "name": "embed-small",
                "provider": "up",
                "model": "text-embedding-3-small",
                "cost_input": 0.02,
                "kind": "embedding",
            },
            {
                "name": "embed-large",
                "provider": "up",
                "model": "text-embedding-3-large",
                "cost_input": 0.13,
                "kind": "embedding",
            },
        ],
    }
    with ProxyProcess(tmp_path_factory.mktemp("p"), config) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(fake: FakeOpenAI) -> None:
    fake.clear_behaviour()
    fake.requests.clear()


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def test_auto_embeddings_use_the_cheapest_embedding_model(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    result = client.embeddings.create(
        model="auto", input=["alpha", "beta"], encoding_format="float"
    )
    assert result.model == "embed-small"
    assert [d.index for d in result.data] == [0, 1] and len(result.data[0].embedding) == 8
    assert fake.last_request["json"]["model"] == "text-embedding-3-small"
    assert result.usage.prompt_tokens > 0
    omni = result.model_extra["omni"]
    assert omni["cost"] == pytest.approx(result.usage.prompt_tokens * 0.02 / 1e6)


def test_embeddings_base64_dimensions_and_schema(
    client: openai.OpenAI, proxy: ProxyProcess, fake: FakeOpenAI
) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="embed-large", input="hello", encoding_format="base64", dimensions=8
    )
    body = raw.http_response.json()
    vector = struct.unpack("<8f", base64.b64decode(body["data"][0]["embedding"]))
    assert len(vector) == 8
    assert fake.last_request["json"]["dimensions"] == 8
    # The SDK decodes base64 itself when it asked for floats by default.
    floats = client.embeddings.with_raw_response.create(
        model="embed-large", input="hello", encoding_format="float"
    )
    as_json = floats.http_response.json()
    as_json.pop("omni")
    validate(as_json, "CreateEmbeddingResponse")  # the spec describes the float form
    assert as_json["data"][0]["embedding"] == pytest.approx(list(vector), rel=1e-5)


def test_models_list_every_kind(client: openai.OpenAI) -> None:
    kinds = {m.id: m.model_extra.get("kind") for m in client.models.list().data}
    assert kinds["embed-small"] == "embedding" and kinds["chatty"] == "chat"


def test_embeddings_errors(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as chat_model:
        client.embeddings.create(model="chatty", input="x")
    assert chat_model.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nope", input="x")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="auto", input="")
    # Embeddings never fall back to another model (other vector space): same model, retried.
    fake.set_behaviour("text-embedding-3-small", "status", status=503)
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="embed-small", input="x")
    models = {r["json"]["model"] for r in fake.requests}
    assert models == {"text-embedding-3-small"} and len(fake.requests) == 3


def test_legacy_completions_plain_list_and_stream(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    completion = client.completions.create(model="chatty", prompt="Say this is a test")
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "Echo: Say this is a test"
    assert fake.last_request["json"]["max_tokens"] == 16
    assert fake.last_request["json"]["messages"] == [
        {"role": "user", "content": "Say this is a test"}
    ]
    dumped = completion.model_dump(exclude_unset=True)
    dumped.pop("omni", None)
    validate(dumped, "CreateCompletionResponse")
    many = client.completions.create(model="auto", prompt=["one", "two"], n=2)
    assert [c.index for c in many.choices] == [0, 1, 2, 3]
    assert [c.text for c in many.choices] == ["Echo: one"] * 2 + ["Echo: two"] * 2
    chunks = list(client.completions.create(model="chatty", prompt="stream it", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Echo: stream it"
    assert all(c.object == "text_completion" for c in chunks)
    assert chunks[-1].model_extra["omni"]["model_used"] == "chatty"
    with pytest.raises(openai.BadRequestError) as echo:
        client.completions.create(model="chatty", prompt="x", echo=True)
    assert echo.value.param == "echo"


def test_a_429_is_retried_after_its_retry_after(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.fail_next("status", count=1, status=429, retry_after=1)
    started = time.monotonic()
    result = client.embeddings.create(model="embed-small", input="again")
    elapsed = time.monotonic() - started
    assert len(result.data) == 1
    assert [r["json"]["model"] for r in fake.requests] == ["text-embedding-3-small"] * 2
    assert elapsed >= 0.9  # waited for the upstream's retry-after before trying again
    assert result.model_extra["omni"]["fallbacks"][0]["status"] == 429
