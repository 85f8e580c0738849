"""Plain data passed between the steps of the hook chain.

Dataclasses with slots rather than pydantic models: they are built on every request and
never validated from untrusted input, so they should cost next to nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

TaskType = Literal[
    "chat", "coding", "reasoning", "summarization", "translation", "image", "agent_step"
]
TASK_TYPES: tuple[str, ...] = (
    "chat",
    "coding",
    "reasoning",
    "summarization",
    "translation",
    "image",
    "agent_step",
)
PERMISSIONS: tuple[str, ...] = ("read", "write", "admin")


@dataclass(slots=True, frozen=True)
class Principal:
    """Who is calling: the org, the key (None for the master key) and what it may do."""

    org_id: str
    key_id: str | None = None
    permissions: frozenset[str] = frozenset({"read", "write"})
    org_name: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        return "admin" in self.permissions or permission in self.permissions


@dataclass(slots=True, frozen=True)
class Classification:
    task_type: str
    confidence: float = 1.0
    signals: tuple[str, ...] = ()
    classifier: str = "default"


@dataclass(slots=True, frozen=True)
class ModelInfo:
    """One row of the model registry, as the router sees it."""

    name: str
    provider: str
    model: str
    cost_input: Decimal = Decimal(0)
    cost_output: Decimal = Decimal(0)
    avg_latency_ms: int = 1000
    strengths: tuple[str, ...] = ()
    supports_functions: bool = True
    supports_vision: bool = False
    max_tokens: int = 128_000
    kind: str = "chat"
    owned_by: str | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        """USD for a call, prices being per million tokens."""
        return (self.cost_input * prompt_tokens + self.cost_output * completion_tokens) / 1_000_000


@dataclass(slots=True, frozen=True)
class Route:
    """One model to try, and why it is in the plan."""

    model: ModelInfo
    reason: str = ""
    score: float | None = None


@dataclass(slots=True)
class RoutePlan:
    """Models in the order they will be tried, with the reasoning behind the order."""

    routes: list[Route]
    reason: str = ""
    strategy: str = "direct"
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def primary(self) -> Route:
        return self.routes[0]


@dataclass(slots=True)
class Attempt:
    """A failed try at one route, reported in ``omni.fallbacks``."""

    model: str
    provider: str
    status: int
    error: str
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "status": self.status,
            "error": self.error,
            "code": self.code,
        }


#: What a PostgreSQL INTEGER column holds: usage beyond it is an upstream's nonsense.
MAX_TOKENS = 2**31 - 1


def clamp_tokens(value: Any) -> int:
    """A token count an upstream reported, made sane: never negative (negative usage would
    subtract spend), never beyond ``MAX_TOKENS``, 0 for anything not a number."""
    if type(value) is not int:
        try:
            value = int(value or 0)
        except (TypeError, ValueError, OverflowError):
            return 0
    return 0 if value < 0 else min(value, MAX_TOKENS)


@dataclass(slots=True)
class Usage:
    """Token counts as billed; built with ``clamp_tokens`` from what an upstream reports."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: dict[str, Any] | None) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        return cls(
            clamp_tokens(usage.get("prompt_tokens")), clamp_tokens(usage.get("completion_tokens"))
        )


@dataclass(slots=True)
class CallContext:
    """Per-request state shared by the steps; also what the recorder receives at the end."""

    request_id: str
    endpoint: str
    principal: Principal | None = None
    requested_model: str | None = None
    classification: Classification | None = None
    plan: RoutePlan | None = None
    route: Route | None = None
    stream: bool = False
    started: float = field(default_factory=time.perf_counter)
    started_at: float = field(default_factory=time.time)
    first_token_at: float | None = None
    upstream_ms: float | None = None
    usage: Usage | None = None
    attempts: list[Attempt] = field(default_factory=list)
    status: int = 200
    error: str | None = None
    error_code: str | None = None
    client_disconnected: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    config: Any = None
    deadline: float | None = None
    prompt_estimate: int = 0
    #: (cost, premium) when a request made several upstream calls (``/v1/completions`` with
    #: a list of prompts): what they cost, recorded even if a later call failed.
    costs: tuple[Decimal, Decimal] | None = None
    #: Output tokens the request may cause (``max_tokens`` times ``n``), for budget reservations.
    output_estimate: int | None = None
    #: The client's own ``x-request-id``, if it sent one (ours is ``request_id``).
    client_request_id: str | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def ttft_ms(self) -> float | None:
        if self.first_token_at is None:
            return None
        return (self.first_token_at - self.started) * 1000


@dataclass(slots=True)
class RequestRecord:
    """What the ``record`` hook receives: one finished request, ready to be stored."""

    request_id: str
    endpoint: str
    org_id: str | None
    key_id: str | None
    task_type: str | None
    model_requested: str | None
    model_used: str | None
    provider: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    premium_cost: Decimal
    savings: Decimal
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    status: int
    error: str | None
    fallback_count: int
    created_at: float
    routing: dict[str, Any] | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    client_disconnected: bool = False
    error_code: str | None = None
    upstream_ms: float | None = None
    client_request_id: str | None = None


# A provider's stream: the JSON text of each OpenAI chat.completion.chunk, no SSE framing.
ChunkStream = AsyncIterator[bytes]
