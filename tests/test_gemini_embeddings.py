"""Gemini embeddings: ``embedContent`` for one input, ``batchEmbedContents`` for a list.

The pure translation, the provider against the fake Gemini upstream over real sockets, and
the official openai SDK through a real proxy process.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import orjson
import pytest
from omni_proxy_gemini import GeminiProvider
from omni_proxy_gemini.embed import (
    MAX_BATCH,
    batches,
    embed_request,
    embedding_inputs,
    encode_base64,
    usage_tokens,
)
from omni_proxy_gemini.provider import DEFAULT_MODELS

from omni_proxy.config import ProviderSettings
from omni_proxy.errors import ProxyError
from omni_proxy.types import ModelInfo
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.gemini_upstream import DEFAULT_API_KEY, EMBEDDING_DIM, FakeGemini
from tests.fakes.openai_upstream import embedding_vector
from tests.openai_schema import validate

EMBED = ModelInfo(
    name="gem-embed", provider="gemini", model="gemini-embedding-001", kind="embedding"
)


def expected(text: str, dims: int | None = None, task: str = "") -> list[float]:
    """What the fake answers for ``text`` (its vectors are deterministic)."""
    vector = embedding_vector([task, text], EMBEDDING_DIM)
    return vector[:dims] if dims else vector


def floats(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


# --------------------------------------------------------------------------- pure


def test_one_input_is_an_embed_content_request() -> None:
    body = {"model": "m", "input": "hello", "dimensions": 256, "task_type": "RETRIEVAL_QUERY"}
    assert embed_request("hello", body) == {
        "content": {"parts": [{"text": "hello"}]},
        "taskType": "RETRIEVAL_QUERY",
        "outputDimensionality": 256,
    }
    assert "taskType" not in embed_request("x", {"input": "x"})
    assert embed_request("x", {}, task_type="CLUSTERING")["taskType"] == "CLUSTERING"


def test_a_list_becomes_batches_of_at_most_100_naming_the_model() -> None:
    texts = [f"t{i}" for i in range(MAX_BATCH * 2 + 5)]
    out = batches(texts, {"input": texts}, "models/gemini-embedding-001")
    assert [len(b["requests"]) for b in out] == [MAX_BATCH, MAX_BATCH, 5]
    first = out[0]["requests"][0]
    assert first == {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "t0"}]}}
    assert out[2]["requests"][-1]["content"]["parts"][0]["text"] == texts[-1]


def test_inputs_must_be_text() -> None:
    assert embedding_inputs({"input": "a"}) == ["a"]
    assert embedding_inputs({"input": ["a", "b"]}) == ["a", "b"]
    for bad in ([1, 2, 3], [[1, 2]], None, []):
        with pytest.raises(ProxyError) as info:
            embedding_inputs({"input": bad})
        assert info.value.status == 400 and info.value.param == "input"


def test_base64_is_little_endian_float32() -> None:
    values = [0.5, -1.0, 0.25]
    assert floats(encode_base64(values)) == values
    assert base64.b64decode(encode_base64([1.0])) == struct.pack("<f", 1.0)


def test_usage_from_usage_metadata_or_estimated() -> None:
    assert usage_tokens([{"usageMetadata": {"promptTokenCount": 7}}], ["whatever"]) == 7
    assert usage_tokens([{"embedding": {}}], ["abcd", "abcdefgh", "a"]) == 1 + 2 + 1


def test_default_models_include_the_embedding_model_with_its_price() -> None:
    rows = GeminiProvider.default_models(ProviderSettings(name="g", plugin="gemini"))
    [row] = [r for r in rows if r["name"] == "gemini-embedding-001"]
    assert row["kind"] == "embedding" and row["cost_input"] == "0.15"
    assert rows == DEFAULT_MODELS


# --------------------------------------------------------------------------- provider


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture
async def provider(fake: FakeGemini) -> AsyncIterator[GeminiProvider]:
    async with httpx.AsyncClient(timeout=10) as client:
        settings = ProviderSettings(
            name="gemini", plugin="gemini", base_url=fake.base_url, api_key=DEFAULT_API_KEY
        )
        yield GeminiProvider(settings, client)


async def test_one_string_uses_embed_content(provider: GeminiProvider, fake: FakeGemini) -> None:
    out = await provider.embed({"model": EMBED.model, "input": "hello world"}, EMBED)
    validate(out, "CreateEmbeddingResponse")
    assert out["model"] == "gem-embed"
    assert out["data"][0]["embedding"] == expected("hello world")
    assert len(out["data"][0]["embedding"]) == EMBEDDING_DIM
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    sent = fake.last
    assert sent["path"] == "/v1beta/models/gemini-embedding-001:embedContent"
    assert sent["json"] == {"content": {"parts": [{"text": "hello world"}]}}
    assert sent["headers"]["x-goog-api-key"] == DEFAULT_API_KEY and not sent["query"]


async def test_a_list_uses_batch_embed_contents_with_dimensions(
    provider: GeminiProvider, fake: FakeGemini
) -> None:
    texts = ["alpha", "beta", "gamma"]
    out = await provider.embed(
        {"model": EMBED.model, "input": texts, "dimensions": 256, "task_type": "CLUSTERING"},
        EMBED,
    )
    validate(out, "CreateEmbeddingResponse")
    assert [d["index"] for d in out["data"]] == [0, 1, 2]
    for text, item in zip(texts, out["data"], strict=True):
        assert item["embedding"] == expected(text, 256, "CLUSTERING")
    [sent] = fake.requests
    assert sent["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent["json"]["requests"][1] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "beta"}]},
        "taskType": "CLUSTERING",
        "outputDimensionality": 256,
    }


async def test_more_than_100_inputs_are_split_and_kept_in_order(
    provider: GeminiProvider, fake: FakeGemini
) -> None:
    texts = [f"text number {i}" for i in range(MAX_BATCH + 30)]
    out = await provider.embed({"model": EMBED.model, "input": texts, "dimensions": 8}, EMBED)
    assert len(fake.requests) == 2
    assert sorted(len(r["json"]["requests"]) for r in fake.requests) == [30, MAX_BATCH]
    assert [d["embedding"] for d in out["data"]] == [expected(t, 8) for t in texts]


async def test_base64_is_encoded_locally(provider: GeminiProvider, fake: FakeGemini) -> None:
    out = await provider.embed(
        {"model": EMBED.model, "input": ["x", "y"], "encoding_format": "base64", "dimensions": 16},
        EMBED,
    )
    # (The spec's schema only knows float arrays; base64 strings are what OpenAI sends.)
    assert all(isinstance(d["embedding"], str) for d in out["data"])
    assert [floats(d["embedding"]) for d in out["data"]] == [
        expected("x", 16),
        expected("y", 16),
    ]
    assert "encoding_format" not in orjson.dumps(fake.last["json"]).decode()


async def test_task_type_option_applies_when_the_request_names_none(
    fake: FakeGemini,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        settings = ProviderSettings(
            name="gemini",
            plugin="gemini",
            base_url=fake.base_url,
            api_key=DEFAULT_API_KEY,
            embedding_task_type="RETRIEVAL_DOCUMENT",
        )
        provider = GeminiProvider(settings, client)
        out = await provider.embed({"model": EMBED.model, "input": "doc", "dimensions": 4}, EMBED)
    assert fake.last["json"]["taskType"] == "RETRIEVAL_DOCUMENT"
    assert out["data"][0]["embedding"] == expected("doc", 4, "RETRIEVAL_DOCUMENT")


async def test_upstream_errors_map_to_contract_errors(
    provider: GeminiProvider, fake: FakeGemini
) -> None:
    with pytest.raises(ProxyError) as info:
        await provider.embed({"model": EMBED.model, "input": "x", "dimensions": 99999}, EMBED)
    assert info.value.status == 400 and "output_dimensionality" in info.value.message
    fake.fail_next("status", status=429, model="gemini-embedding-001", retry_after=3)
    with pytest.raises(ProxyError) as info:
        await provider.embed({"model": EMBED.model, "input": ["a", "b"]}, EMBED)
    assert info.value.status == 429 and info.value.retry_after == 3
    chat_model = ModelInfo(name="c", provider="gemini", model="gemini-2.5-flash")
    with pytest.raises(ProxyError) as info:
        await provider.embed({"model": "gemini-2.5-flash", "input": "x"}, chat_model)
    assert info.value.code == "upstream_model_not_found"
    with pytest.raises(ProxyError) as info:
        await provider.embed({"model": EMBED.model, "input": [[1, 2, 3]]}, EMBED)
    assert info.value.status == 400
    assert len(fake.requests) == 3  # the token array never left the proxy


# --------------------------------------------------------------------------- e2e


@pytest.fixture(scope="module")
def proxy(fake: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    # No models listed: the plugin's defaults, embedding model included.
    config = {
        "providers": {
            "google": {
                "plugin": "gemini",
                "base_url": fake.base_url,
                "api_key": DEFAULT_API_KEY,
                "timeout_s": 5,
            }
        }
    }
    with ProxyProcess(tmp_path_factory.mktemp("gemini-embed"), config) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def test_sdk_embeds_one_string(client: openai.OpenAI, fake: FakeGemini) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="gemini-embedding-001", input="hello there", encoding_format="float"
    )
    body = orjson.loads(raw.content)
    validate({k: v for k, v in body.items() if k != "omni"}, "CreateEmbeddingResponse")
    result = raw.parse()
    assert result.data[0].embedding == expected("hello there")
    assert result.model == "gemini-embedding-001"
    assert result.usage.prompt_tokens == 3
    # Priced at gemini-embedding-001's $0.15 per million input tokens.
    assert body["omni"]["cost"] == pytest.approx(3 * 0.15 / 1e6)
    assert fake.last["path"].endswith(":embedContent")


def test_sdk_base64_list_and_dimensions(client: openai.OpenAI, fake: FakeGemini) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="auto", input=["first doc", "second doc"], dimensions=64, encoding_format="base64"
    )
    body = orjson.loads(raw.content)
    assert body["model"] == "gemini-embedding-001"  # the only (so cheapest) embedding model
    assert [floats(d["embedding"]) for d in body["data"]] == [
        expected("first doc", 64),
        expected("second doc", 64),
    ]
    [sent] = fake.requests
    assert sent["path"].endswith(":batchEmbedContents")
    assert all(r["outputDimensionality"] == 64 for r in sent["json"]["requests"])
    # Without encoding_format the SDK gets floats.
    result = client.embeddings.create(model="gemini-embedding-001", input=["x"], dimensions=4)
    assert result.data[0].embedding == expected("x", 4)


def test_sdk_sees_gemini_errors(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="gemini-embedding-001", input="x", dimensions=100000)
    assert "output_dimensionality" in info.value.message
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="gemini-embedding-001", input=[[1, 2, 3]])
    # A 429 is retried on the same model (vectors from another model would not compare).
    fake.fail_next("status", status=429, model="gemini-embedding-001", retry_after=0.2)
    result = client.embeddings.create(model="gemini-embedding-001", input="again", dimensions=8)
    assert result.data[0].embedding == expected("again", 8)
    assert [r["path"].rsplit(":", 1)[1] for r in fake.requests[-2:]] == ["embedContent"] * 2


def test_models_list_the_embedding_model(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert models["gemini-embedding-001"].model_extra.get("kind") == "embedding"
