"""Several upstreams behind one public model name, and how requests are shared among them.

Routing plans per public model; once a model is to be called, ``Balancer.pick`` chooses one
of its deployments by ``routing.load_balancing``:

* ``weighted`` (default): at random, in proportion to ``weight``;
* ``least_busy``: the fewest requests in flight;
* ``latency``: the lowest recent latency (an untried deployment first);
* ``usage``: the most rpm/tpm headroom left in the current minute.

A deployment at its ``rpm`` or ``tpm`` in the last 60 seconds is skipped; one that failed
with a retryable error is cooled down for its ``cooldown_s`` (its siblings first, and it is
tried again only when no sibling is left). The pipeline fails over among siblings before
falling back to another model. State is this process's memory: with several instances each
enforces the deployment limits on its own share of the traffic; cooldowns are shared through
Redis when it is configured (omni_proxy/routing/cooldowns.py).
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ..errors import ProxyError
from ..types import ModelInfo

WINDOW_S = 60.0


@dataclass(slots=True, frozen=True)
class Deployment:
    """One upstream of a public model: resolved from ``DeploymentSettings``."""

    id: str
    provider: str
    model: str
    weight: float = 1.0
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float | None = None
    cooldown_s: float = 30.0
    cost_input: Decimal | None = None
    cost_output: Decimal | None = None


def deployments_of(settings: Any) -> tuple[Deployment, ...]:
    """A model entry's deployments (``ModelSettings.deployments``), resolved."""
    out = []
    for d in settings.deployments or ():
        upstream = d.model or settings.model or settings.name
        out.append(
            Deployment(
                id=d.id or f"{d.provider}/{upstream}",
                provider=d.provider,
                model=upstream,
                weight=d.weight,
                rpm=d.rpm,
                tpm=d.tpm,
                timeout_s=d.timeout_s,
                cooldown_s=d.cooldown_s,
                cost_input=d.cost_input,
                cost_output=d.cost_output,
            )
        )
    return tuple(out)


class _State:
    __slots__ = ("cooled_until", "in_flight", "latency_ms", "requests", "token_sum", "tokens")

    def __init__(self) -> None:
        self.in_flight = 0
        self.latency_ms: float | None = None
        self.cooled_until = 0.0
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.token_sum = 0  # of ``tokens``: kept, not summed per pick

    def used(self, now: float) -> tuple[int, int]:
        """Requests and tokens in the last ``WINDOW_S`` seconds (amortised O(1))."""
        cutoff = now - WINDOW_S
        while self.requests and self.requests[0] <= cutoff:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= cutoff:
            self.token_sum -= self.tokens.popleft()[1]
        return len(self.requests), self.token_sum


class Balancer:
    """Per-deployment state and the choice among a model's deployments."""

    def __init__(self, strategy: str = "weighted", clock: Any = time.monotonic) -> None:
        self.strategy = strategy
        self.clock = clock
        self._state: dict[str, _State] = {}
        self._rng = random.Random()
        self._served: dict[tuple[int, str], tuple[ModelInfo, ModelInfo]] = {}
        #: Told of each cooldown started here (deployment id, seconds): shared through
        #: Redis by ``SharedCooldowns`` when ``redis_url`` is set.
        self.on_cooldown: Any = None

    def state(self, dep: Deployment) -> _State:
        state = self._state.get(dep.id)
        if state is None:
            state = self._state[dep.id] = _State()
        return state

    def _headroom(self, dep: Deployment, now: float) -> float | None:
        """The share of its rpm/tpm a deployment has left (1.0 without limits); None when
        it is at a limit."""
        requests, tokens = self.state(dep).used(now)
        left = 1.0
        if dep.rpm is not None:
            if requests >= dep.rpm:
                return None
            left = min(left, 1 - requests / dep.rpm)
        if dep.tpm is not None:
            if tokens >= dep.tpm:
                return None
            left = min(left, 1 - tokens / dep.tpm)
        return left

    def pick(self, model: ModelInfo, tried: set[str]) -> Deployment | None:
        """The deployment to call next, or None when every one was tried or is at its
        rpm/tpm. Cooling-down deployments only when no other is left."""
        now = self.clock()
        ready: list[tuple[Deployment, float]] = []
        cooling: list[Deployment] = []
        for dep in model.deployments:
            if dep.id in tried:
                continue
            room = self._headroom(dep, now)
            if room is None:
                continue
            if self.state(dep).cooled_until > now:
                cooling.append(dep)
            else:
                ready.append((dep, room))
        if not ready:
            if not cooling:
                return None
            return min(cooling, key=lambda d: self.state(d).cooled_until)
        if len(ready) == 1:
            return ready[0][0]
        if self.strategy == "least_busy":
            return min(ready, key=lambda r: (self.state(r[0]).in_flight, -r[0].weight))[0]
        if self.strategy == "latency":
            return min(ready, key=lambda r: self.state(r[0]).latency_ms or -1.0)[0]
        if self.strategy == "usage":
            return max(ready, key=lambda r: (r[1], r[0].weight))[0]
        deps = [r[0] for r in ready]
        return self._rng.choices(deps, weights=[d.weight for d in deps])[0]

    def begin(self, dep: Deployment) -> None:
        state = self.state(dep)
        state.in_flight += 1
        state.requests.append(self.clock())

    def end(self, dep: Deployment, elapsed_ms: float, error: ProxyError | None) -> None:
        state = self.state(dep)
        state.in_flight = max(0, state.in_flight - 1)
        if error is None:
            state.cooled_until = 0.0
            previous = state.latency_ms
            state.latency_ms = elapsed_ms if previous is None else 0.8 * previous + 0.2 * elapsed_ms
        elif error.retryable:
            pause = max(dep.cooldown_s, error.retry_after or 0.0)
            state.cooled_until = self.clock() + pause
            if self.on_cooldown is not None and pause > 0:
                self.on_cooldown(dep.id, pause)

    def adopt(self, dep_id: str, until: float) -> None:
        """A cooldown another instance started (``until`` on this instance's clock)."""
        state = self._state.get(dep_id)
        if state is None:
            state = self._state[dep_id] = _State()
        state.cooled_until = max(state.cooled_until, until)

    def served(self, model: ModelInfo, dep: Deployment) -> ModelInfo:
        """``concrete(model, dep)``, built once per registry model (``replace`` costs µs)."""
        key = (id(model), dep.id)
        hit = self._served.get(key)
        if hit is not None and hit[0] is model:
            return hit[1]
        out = concrete(model, dep)
        self._served[key] = (model, out)
        return out

    def settle(self, dep_id: str, tokens: int) -> None:
        """A finished request's tokens, for the deployment's tpm window."""
        state = self._state.get(dep_id)
        if state is not None and tokens:
            state.tokens.append((self.clock(), tokens))
            state.token_sum += tokens


def concrete(model: ModelInfo, dep: Deployment) -> ModelInfo:
    """The model as one deployment serves it: same public name, that upstream and price."""
    return replace(
        model,
        provider=dep.provider,
        model=dep.model,
        cost_input=dep.cost_input if dep.cost_input is not None else model.cost_input,
        cost_output=dep.cost_output if dep.cost_output is not None else model.cost_output,
        deployments=(),
    )


def none_left(model: ModelInfo) -> ProxyError:
    return ProxyError(
        429,
        f"Every deployment of model '{model.name}' is at its rate limit.",
        type="requests",
        code="rate_limit_exceeded",
        retryable=True,
        retry_after=1.0,
    )
