"""The exact-match response cache (``cache: {mode: exact}``).

The same org sending the same body to the same model name gets the stored answer: no
upstream call, cost 0, recorded as a hit. The key is a hash of the org, the endpoint, the
routing options and the body in canonical JSON (sorted keys), minus the fields that do not
change the answer (``stream``, ``user``, ``metadata``, …). Orgs never share entries: the
org id is part of every key.

Like LiteLLM, sampled requests (``temperature > 0``, ``n > 1``) are cached too unless
``cache.skip_sampled`` is set: a client that wants a fresh sample sends
``x-omni-cache: no-cache`` or ``cache: false``.

Streamed answers are stored too (rebuilt from their chunks by ``StreamAssembler``), and a
hit for ``stream: true`` is replayed as SSE. Entries live in this process's memory
(bounded, least recently used first out, each for ``ttl_s``) or, with ``redis_url``, in
Redis under ``omni:cache:`` so every instance shares them. Redis trouble reads as a miss:
the cache never fails a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any

import orjson

log = logging.getLogger("omni_proxy.cache")

#: Body fields that do not change the answer (streaming is replayed from a stored answer).
IGNORED_FIELDS = frozenset(
    {
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "cache",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
    }
)
#: ``x-omni-cache`` request values that skip the cache (LiteLLM's ``no-cache`` spelling).
SKIP_VALUES = frozenset({"no-cache", "no-store", "bypass", "off", "false"})


def skip_requested(body: dict[str, Any], header: str | None) -> bool:
    """``x-omni-cache: no-cache``, body ``cache: false`` or ``cache: {"no-cache": true}``.
    Pops the body's ``cache`` field: it is the proxy's, not the upstream's."""
    field = body.pop("cache", None) if "cache" in body else None
    if header is not None and header.strip().lower() in SKIP_VALUES:
        return True
    if field is False:
        return True
    return isinstance(field, dict) and bool(field.get("no-cache") or field.get("no_cache"))


def sampled(body: dict[str, Any]) -> bool:
    """A request whose answer is meant to vary: several choices, or sampling without a seed."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return True
    temperature = body.get("temperature")
    hot = temperature is None or (isinstance(temperature, int | float) and temperature > 0)
    return hot and body.get("seed") is None


def cache_key(org_id: str, endpoint: str, body: dict[str, Any], routing: dict[str, Any]) -> str:
    """The entry's name: org, endpoint, routing options and the canonical body."""
    kept = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    text = orjson.dumps([endpoint, routing, kept], option=orjson.OPT_SORT_KEYS, default=str)
    digest = hashlib.blake2b(text, digest_size=20, key=org_id.encode()[:64]).hexdigest()
    return f"{org_id}:{digest}"


class MemoryStore:
    """Bounded LRU with a time to live per entry; one process's answers."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        self._items[key] = (time.monotonic() + ttl_s, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    async def aclose(self) -> None:
        self._items.clear()


class RedisStore:
    """Entries in Redis (``SET … PX``): shared by every instance; errors read as misses."""

    def __init__(self, url: str, prefix: str = "omni:cache:") -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix
        self.redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._warned = 0.0

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned > 60:
            self._warned = now
            log.warning("response cache: redis failed (%s); answering as a miss", exc)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.redis.get(self.prefix + key)
        except Exception as exc:
            self._failed(exc)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        try:
            await self.redis.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))
        except Exception as exc:
            self._failed(exc)

    async def aclose(self) -> None:
        await self.redis.aclose()


class ResponseCache:
    """The configured store, its time to live, and the background writes in flight."""

    def __init__(self, store: MemoryStore | RedisStore, ttl_s: float, skip_sampled: bool) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.skip_sampled = skip_sampled
        self._writes: set[asyncio.Task[None]] = set()

    def wanted(self, body: dict[str, Any], header: str | None) -> bool:
        """Whether this request may be answered from (and stored in) the cache."""
        if skip_requested(body, header):
            return False
        return not (self.skip_sampled and sampled(body))

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self.store.get(key)
        if raw is None:
            return None
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store in the background: the answer is not held up by the write."""
        value = orjson.dumps(entry, default=str)
        task = asyncio.get_running_loop().create_task(self.store.put(key, value, self.ttl_s))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def aclose(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self.store.aclose()


def entry(response: dict[str, Any], model: str, omni: dict[str, Any]) -> dict[str, Any]:
    """What is stored for an answer: the completion without its per-request ``omni``, the
    public model that gave it, and what it cost (a hit's savings)."""
    return {
        "response": {k: v for k, v in response.items() if k != "omni"},
        "model": model,
        "task_type": omni.get("task_type"),
        "cost": omni.get("cost", 0),
        "premium_cost": omni.get("premium_cost", 0),
    }


class StreamAssembler:
    """Rebuilds the ``chat.completion`` a stream's chunks add up to, so that a streamed
    answer can be stored too. Used only while the cache is on for the request."""

    __slots__ = ("_base", "_choices", "_ok", "_usage")

    def __init__(self) -> None:
        self._base: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None
        self._ok = True

    def add(self, data: bytes) -> None:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._ok = False
            return
        if not isinstance(chunk, dict):
            return
        if not self._base:
            keys = ("id", "created", "model", "system_fingerprint")
            self._base = {k: chunk.get(k) for k in keys if chunk.get(k) is not None}
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for part in chunk.get("choices") or ():
            if isinstance(part, dict):
                self._take(part)

    def _take(self, part: dict[str, Any]) -> None:
        index = part.get("index", 0)
        choice = self._choices.get(index)
        if choice is None:
            message = {"role": "assistant", "content": None}
            choice = self._choices[index] = {
                "index": index,
                "message": message,
                "finish_reason": None,
            }
        message = choice["message"]
        delta = part.get("delta") or {}
        for field in ("content", "refusal"):
            if delta.get(field):
                message[field] = (message.get(field) or "") + delta[field]
        for call in delta.get("tool_calls") or ():
            calls = message.setdefault("tool_calls", [])
            at = call.get("index", 0)
            while len(calls) <= at:
                calls.append(
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                )
            target = calls[at]
            if call.get("id"):
                target["id"] = call["id"]
            function = call.get("function") or {}
            for key in ("name", "arguments"):
                if function.get(key):
                    target["function"][key] += function[key]
        if part.get("finish_reason"):
            choice["finish_reason"] = part["finish_reason"]

    def response(self) -> dict[str, Any] | None:
        """The whole completion, or None when the stream did not finish cleanly."""
        choices = [self._choices[i] for i in sorted(self._choices)]
        if not self._ok or not choices or any(c["finish_reason"] is None for c in choices):
            return None
        return {**self._base, "object": "chat.completion", "choices": choices, "usage": self._usage}


def build_cache(settings: Any, redis_url: str | None) -> ResponseCache | None:
    """The cache ``cache.mode`` asks for, or None when it is off."""
    if settings.mode == "none":
        return None
    store: MemoryStore | RedisStore = (
        RedisStore(redis_url) if redis_url else MemoryStore(settings.max_entries)
    )
    return ResponseCache(store, settings.ttl_s, settings.skip_sampled)
