"""Answering chat requests from the response cache, and filling it (omni_proxy/storage/cache.py).

A hit is answered without routing or calling anyone: the stored completion, a fresh
``omni`` object (cost 0, ``cache_hit: true``) and, for ``stream: true``, the same answer
replayed as SSE chunks. Only non-streamed answers are stored (a streamed miss is relayed
as usual and not kept).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from ..server.metrics import CACHE_LOOKUPS, child
from ..storage.cache import cache_key, entry
from ..types import CallContext, Classification, Route, RoutePlan, Usage
from ..wire.relay import ChunkRelay

if TYPE_CHECKING:
    from ..pipeline import Pipeline


async def lookup(
    pipeline: Pipeline,
    ctx: CallContext,
    body: dict[str, Any],
    routing: dict[str, Any],
    header: str | None,
) -> None:
    """Set ``ctx.cache_state`` (and the entry on a hit); nothing when the cache is off."""
    cache = pipeline.cache
    if cache is None or ctx.principal is None:
        return
    if not cache.wanted(body, header):
        ctx.cache_state = "bypass"
        child(CACHE_LOOKUPS, "bypass").inc()
        return
    allowed = ctx.principal.limits.get("models")
    if allowed:  # a key limited to some models must not get another model's answer
        routing = {**routing, "_models": sorted(allowed)}
    ctx.cache_key = cache_key(ctx.principal.org_id, ctx.endpoint, body, routing)
    entry = await cache.get(ctx.cache_key)
    if entry is not None and pipeline.registry.get(str(entry.get("model"))) is not None:
        ctx.cache_state, ctx.cache_entry = "hit", entry
    else:
        ctx.cache_state = "miss"
    child(CACHE_LOOKUPS, ctx.cache_state).inc()


def store(pipeline: Pipeline, ctx: CallContext, response: dict[str, Any]) -> None:
    """Keep a successful non-streamed answer (without its per-request ``omni``)."""
    if pipeline.cache is None or ctx.cache_key is None or ctx.route is None:
        return
    omni = response.get("omni") or {}
    pipeline.cache.put(ctx.cache_key, entry(response, ctx.route.model.name, omni))


def answer(pipeline: Pipeline, ctx: CallContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored completion and its ``omni`` for a hit (recorded by the request's owner)."""
    entry = ctx.cache_entry
    assert entry is not None
    model = pipeline.registry.get(str(entry["model"]))
    assert model is not None
    ctx.route = Route(model, "cache hit")
    ctx.plan = RoutePlan([ctx.route], reason="exact-match cache hit", strategy="cache")
    task = str(entry.get("task_type") or "chat")
    ctx.classification = Classification(task, 1.0, ("cache_hit",), "cache")
    premium = Decimal(str(entry.get("premium_cost") or 0))
    ctx.cache_premium = premium
    ctx.usage = Usage()  # nothing was used upstream
    response: dict[str, Any] = entry["response"]
    omni = pipeline.omni(ctx, ctx.usage)
    omni.update(
        cost=0.0,
        premium_cost=float(premium),
        savings_estimate=float(premium),
        cache_hit=True,
        cache_savings=float(entry.get("cost") or 0),
    )
    response["model"] = model.name
    response["omni"] = omni
    return response, omni


def replay(response: dict[str, Any], include_usage: bool) -> AsyncGenerator[bytes, None]:
    """A stored completion as the SSE stream an upstream would have sent for it."""
    omni = response.pop("omni")
    relay = ChunkRelay(str(response.get("model")), include_usage)
    base = {
        "id": response.get("id", "chatcmpl-omni"),
        "object": "chat.completion.chunk",
        "created": response.get("created", 0),
        "model": response.get("model"),
        "system_fingerprint": response.get("system_fingerprint"),
    }
    firsts, lasts = [], []
    for i, choice in enumerate(response.get("choices") or ()):
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        if message.get("refusal") is not None:
            delta["refusal"] = message["refusal"]
        calls = message.get("tool_calls")
        if calls:
            delta["tool_calls"] = [{"index": n, **call} for n, call in enumerate(calls)]
        index = choice.get("index", i)
        firsts.append({"index": index, "delta": delta, "finish_reason": None})
        lasts.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
    chunks = [{**base, "choices": firsts}, {**base, "choices": lasts}]
    if include_usage:
        chunks.append({**base, "choices": [], "usage": response.get("usage")})
    out = b"".join(relay.feed(orjson.dumps(c)) for c in chunks) + relay.finish(omni)

    async def once() -> AsyncGenerator[bytes, None]:
        yield out

    return once()
