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
    #: Prompt-cache reads and reasoning output, where priced apart (None: the plain price).
    cost_cached_input: Decimal | None = None
    cost_reasoning: Decimal | None = None
    #: Where the prices came from: ``config``, ``table`` (built-in prices), ``plugin``
    #: (the provider plugin's defaults) or ``unknown`` (none: costs and savings read 0).
    price_source: str = "config"
    #: Several upstreams behind this name (omni_proxy/routing/deployments.py); empty: ``provider``
    #: and ``model`` are the one upstream.
    deployments: tuple[Any, ...] = ()

    def cost(
        self, prompt_tokens: int, completion_tokens: int, cached: int = 0, reasoning: int = 0
    ) -> Decimal:
        """USD for a call, prices being per million tokens; ``cached`` and ``reasoning`` are
        the shares of the prompt and completion the upstream reported as such."""
        total = self.cost_input * prompt_tokens + self.cost_output * completion_tokens
        if cached and self.cost_cached_input is not None:
            total += (self.cost_cached_input - self.cost_input) * min(cached, prompt_tokens)
        if reasoning and self.cost_reasoning is not None:
            total += (self.cost_reasoning - self.cost_output) * min(reasoning, completion_tokens)
        return total / 1_000_000


@dataclass(slots=True, frozen=True)
class Route:
    """One model to try, and why it is in the plan."""

    model: ModelInfo
    reason: str = ""
    score: float | None = None
    #: The quality model's estimate for this model on this prompt (share of the premium
    #: model's quality), when a quality model is in use.
    expected_quality: float | None = None


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
    #: Parts of the above: prompt tokens read from the upstream's prompt cache, completion
    #: tokens spent reasoning (OpenAI's ``*_tokens_details``), each priced apart when known.
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: dict[str, Any] | None) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        out = cls(
            clamp_tokens(usage.get("prompt_tokens")), clamp_tokens(usage.get("completion_tokens"))
        )
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict):
            out.cached_tokens = _count(details.get("cached_tokens"))
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict):
            out.reasoning_tokens = _count(details.get("reasoning_tokens"))
        return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


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
    #: Set by ``Pipeline.record``: a request is recorded exactly once, however it ends.
    recorded: bool = False
    #: Guard plugins' per-request state (by plugin name); None when no guard looked.
    guard: dict[str, Any] | None = None
    #: What guards found, counted by type (never the values).
    findings: dict[str, int] | None = None
    #: The response cache (omni_proxy/storage/cache.py): this request's key (None: not looked up),
    #: ``hit`` | ``miss`` | ``bypass`` (None: the cache is off here), and for a hit the
    #: stored entry and its premium price (recorded as saved: a hit costs 0).
    cache_key: str | None = None
    cache_state: str | None = None
    cache_entry: dict[str, Any] | None = None
    cache_premium: Decimal | None = None
    #: Set only while spans are exported (omni_proxy/server/otel.py): the traceparents of
    #: ``tracing.current()``, and each upstream attempt as (model, t0, t1, error or None),
    #: times on ``time.perf_counter``'s clock.
    trace: tuple[str | None, str | None] | None = None
    #: The deployment that answered, for a model with several (its id).
    deployment: str | None = None
    spans: list[tuple[ModelInfo, float, float, str | None]] | None = None
    #: The start of the last user message (``routing.prompt_text``), set when routed.
    prompt_text: str | None = None
    #: Verdicts on answers (the cascade's), recorded as ``feedback`` rows.
    outcomes: list[dict[str, Any]] = field(default_factory=list)
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
    #: Guardrail findings counted by type (``{"EMAIL": 2}``), None when nothing was found.
    guardrails: dict[str, int] | None = None
    #: The answering model's expected quality (``omni.expected_quality``), when estimated.
    expected_quality: float | None = None
    #: The start of the last user message of a routed request, kept for ``router train``.
    prompt_text: str | None = None
    #: Verdicts on answers seen while serving it (the cascade's), stored as ``feedback``
    #: rows with source 'cascade': ``{"model", "score", "comment"}``.
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    client_request_id: str | None = None
    #: ``{"prompt", "answer"}`` (text) when ``logging.bodies`` is on (omni_proxy/storage/bodies.py).
    bodies: dict[str, str] | None = None


# A provider's stream: the JSON text of each OpenAI chat.completion.chunk, no SSE framing.
ChunkStream = AsyncIterator[bytes]
