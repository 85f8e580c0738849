"""Which providers are usable and which models are cooling down after repeated failures.

A small circuit breaker kept in memory: after ``threshold`` consecutive retryable failures a
model is skipped for ``cooldown_s`` (sent to the back of the plan), then tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Health:
    def __init__(
        self,
        configured: Callable[[str], bool],
        *,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured = configured
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}
        #: Told of each new cooldown (model, seconds) so other instances can share it.
        self.on_cooldown: Callable[[str, float], None] | None = None

    def cooled_down(self, model: str) -> bool:
        until = self._until.get(model)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[model]
            self._failures.pop(model, None)
            return False
        return True

    def failed(self, model: str) -> None:
        count = self._failures.get(model, 0) + 1
        self._failures[model] = count
        if count >= self.threshold:
            self._until[model] = self._clock() + self.cooldown_s
            if self.on_cooldown is not None:
                self.on_cooldown(model, self.cooldown_s)

    def adopt(self, model: str, until: float) -> None:
        """A cooldown another instance started (``until`` on this instance's clock)."""
        if until > self._until.get(model, 0.0):
            self._until[model] = until

    def succeeded(self, model: str) -> None:
        if model in self._failures:
            del self._failures[model]
        self._until.pop(model, None)

    def active_cooldowns(self) -> list[str]:
        return [m for m in list(self._until) if self.cooled_down(m)]
