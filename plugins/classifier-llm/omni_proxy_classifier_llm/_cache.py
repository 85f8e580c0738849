"""A small bounded LRU cache whose entries expire after a fixed time to live."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: What ``TTLCache.get`` answers for a key it does not hold (``None`` is a valid value).
MISSING = _Missing()


class TTLCache(Generic[V]):
    """At most ``maxsize`` entries, each forgotten ``ttl_s`` seconds after it was stored.

    The least recently used entry goes first when the cache is full. ``maxsize`` 0 turns the
    cache off. Not thread-safe: it lives on one event loop.
    """

    def __init__(
        self, maxsize: int, ttl_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable) -> V | _Missing:
        entry = self._data.get(key)
        if entry is None:
            return MISSING
        expires, value = entry
        if self._clock() >= expires:
            del self._data[key]
            return MISSING
        self._data.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        if self.maxsize <= 0:
            return
        self._data[key] = (self._clock() + self.ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
