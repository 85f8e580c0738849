"""OpenAI embeddings <-> Gemini ``embedContent`` / ``batchEmbedContents``, as pure functions.

One string goes to ``models/{id}:embedContent``; a list goes to ``:batchEmbedContents`` in
batches of at most ``MAX_BATCH`` requests (Google's limit; OpenAI allows 2048 inputs).
``dimensions`` becomes ``outputDimensionality``. Gemini always answers floats, so
``encoding_format: "base64"`` is done here: little-endian float32, base64, as OpenAI sends.
The Developer API reports no token usage for embeddings, so usage is estimated (about four
characters a token) unless the answer carries ``usageMetadata``.

Gemini-only knobs: ``task_type`` (e.g. ``RETRIEVAL_DOCUMENT``; from the request, an
``extra_body`` field, or the provider's ``embedding_task_type`` option) and ``title``.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from omni_proxy import bad_request

MAX_BATCH = 100


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """The texts to embed; token arrays are refused (Gemini embeds text only)."""
    items = body.get("input")
    texts = [items] if isinstance(items, str) else items
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise bad_request(
            "Gemini embeds text: 'input' must be a string or an array of strings "
            "(token arrays are not supported).",
            param="input",
        )
    return texts


def embed_request(
    text: str,
    body: dict[str, Any],
    *,
    model_path: str | None = None,
    task_type: str | None = None,
) -> dict[str, Any]:
    """One ``EmbedContentRequest`` (``model_path`` set inside a batch, where it is required)."""
    request: dict[str, Any] = {}
    if model_path is not None:
        request["model"] = model_path
    request["content"] = {"parts": [{"text": text}]}
    task = body.get("task_type") or task_type
    if task:
        request["taskType"] = str(task)
    title = body.get("title")
    if isinstance(title, str) and title:
        request["title"] = title
    dims = body.get("dimensions")
    if dims is not None:
        request["outputDimensionality"] = dims
    return request


def batches(
    texts: list[str], body: dict[str, Any], model_path: str, task_type: str | None = None
) -> list[dict[str, Any]]:
    """``BatchEmbedContentsRequest`` bodies of at most ``MAX_BATCH`` requests each."""
    requests = [embed_request(t, body, model_path=model_path, task_type=task_type) for t in texts]
    return [{"requests": requests[i : i + MAX_BATCH]} for i in range(0, len(requests), MAX_BATCH)]


def single_values(response: Any) -> list[float] | None:
    """The vector of an ``EmbedContentResponse``, or None if the body is not one."""
    embedding = response.get("embedding") if isinstance(response, dict) else None
    values = embedding.get("values") if isinstance(embedding, dict) else None
    return values if _is_vector(values) else None


def batch_values(response: Any, expected: int) -> list[list[float]] | None:
    """The vectors of a ``BatchEmbedContentsResponse`` (``expected`` of them), or None."""
    embeddings = response.get("embeddings") if isinstance(response, dict) else None
    if not isinstance(embeddings, list) or len(embeddings) != expected:
        return None
    vectors = [e.get("values") if isinstance(e, dict) else None for e in embeddings]
    return vectors if all(_is_vector(v) for v in vectors) else None  # type: ignore[return-value]


def _is_vector(values: Any) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def encode_base64(values: list[float]) -> str:
    """OpenAI's ``encoding_format: "base64"``: little-endian float32 bytes, base64."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def estimate_tokens(texts: list[str]) -> int:
    return sum(max(1, (len(t) + 3) // 4) for t in texts)


def usage_tokens(responses: list[Any], texts: list[str]) -> int:
    """Prompt tokens: the answers' ``usageMetadata`` where every answer has it, else an
    estimate."""
    counts = []
    for response in responses:
        meta = response.get("usageMetadata") if isinstance(response, dict) else None
        count = meta.get("promptTokenCount") if isinstance(meta, dict) else None
        if not isinstance(count, int):
            return estimate_tokens(texts)
        counts.append(count)
    return sum(counts)


def embeddings_response(
    vectors: list[list[float]], body: dict[str, Any], public_model: str, prompt_tokens: int
) -> dict[str, Any]:
    """OpenAI's ``CreateEmbeddingResponse``."""
    base64_wanted = body.get("encoding_format") == "base64"
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": i,
                "embedding": encode_base64(v) if base64_wanted else [float(x) for x in v],
            }
            for i, v in enumerate(vectors)
        ],
        "model": public_model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
