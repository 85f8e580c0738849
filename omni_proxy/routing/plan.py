"""The routing engine: which models can serve a request, and in what order to try them.

Pure functions, no I/O: ``plan_route`` turns a request body, its classification and the
registry into a ``RoutePlan``; ``inadequate`` tells the cascade strategy when an answer is
not good enough and the next model should be tried.

Filters remove models that cannot serve the request (each removed model keeps the name of
the filter that removed it, see ``FILTERS``). The survivors are scored

    w_cost·(1 - cost_norm) + w_latency·(1 - latency_norm) + w_task·task_match

with cost (the request's estimated cost) and latency min-max normalised over the
survivors, and ``task_match`` taken from the model's ``strengths`` — never from its price.

With a quality model (``omni_proxy.quality``) each candidate also gets an expected quality,
a share of the premium model's. With a quality floor, the cheapest candidate whose expected
quality clears the floor goes first. Without one, the hybrid score loses
``QUALITY_WEIGHT`` per unit of expected quality below the best candidate's, and a model
without the task's strength never outranks one that has it and is expected to do at least
as well: cost and latency alone cannot buy a worse answer.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from ..config import Config
from ..errors import ProxyError, bad_request, model_not_found
from ..registry import Registry
from ..text import PROMPT_TEXT_CHARS, content_text, estimate_tokens, prompt_text
from ..types import Classification, ModelInfo, Route, RoutePlan

if TYPE_CHECKING:
    from ..quality import QualityModel

STRATEGIES: tuple[str, ...] = ("hybrid", "cost", "quality", "latency", "cascade")

#: Filter names, in the order they are checked; a removed model reports the first it failed.
FILTERS: tuple[str, ...] = (
    "kind",
    "tools",
    "vision",
    "context_window",
    "max_cost",
    "provider_not_configured",
    "cooled_down",
)
#: Capability filters waived for the model the client named and for the configured
#: ``routing.fallback_model``: the upstream decides (the estimates here are rough).
#: ``kind``, ``max_cost`` and ``provider_not_configured`` always apply. The registry's
#: implicit fallback (the cheapest chat model) gets no waiver.
SOFT_FILTERS = frozenset({"tools", "vision", "context_window"})

DEFAULT_OUTPUT_TOKENS = 1024
IMAGE_TOKENS = 85
MESSAGE_OVERHEAD_TOKENS = 4
#: Task match of a chat model that lists no strengths, for the ``chat`` task.
GENERALIST_CHAT_MATCH = 0.25
#: Hybrid score lost per unit of expected quality below the best candidate's: 0.07 (seven
#: points of the premium model's quality) costs 0.7, all that cost and latency together can
#: win by default, so a much cheaper model wins only when expected to keep ~95% or more of
#: the best one's quality (a stricter promise is what ``quality_floor`` is for).
#: ``priority`` scales it like the task weight (``cheap`` 0.6, ``best`` 2.5).
QUALITY_WEIGHT = 10.0
#: The same for a model whose ability the quality model only guessed from its price (an
#: unknown name, no trained head): a guess must not overrule the strengths a user declared.
#: ``router train`` on the user's own outcomes turns guesses into measurements.
GUESSED_QUALITY_WEIGHT = 3.0
_QUALITY_FACTORS = {"cheap": 0.6, "best": 2.5}

# priority / latency_pref → multipliers on the configured weights (then renormalised).
_PRIORITY_FACTORS: dict[str, dict[str, float]] = {
    "cheap": {"cost": 2.5, "task": 0.6},
    "best": {"task": 2.5, "cost": 0.4},
}
_LATENCY_FACTORS: dict[str, dict[str, float]] = {"fast": {"latency": 2.5}}

_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_BINARY_PARTS = frozenset({"input_audio", "file", "input_file", "audio"})
_SKIP_KEYS = frozenset({"role", "type", "id", "tool_call_id", "call_id", "cache_control"})
_PROMPT_FIELDS = ("messages", "input", "prompt", "instructions", "system")
_OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def _never(name: str) -> bool:
    return False


# ---------------------------------------------------------------------------------------
# What the request needs


@dataclass(slots=True, frozen=True)
class RequestNeeds:
    """The parts of a request that decide which models can serve it."""

    prompt_tokens: int
    output_tokens: int
    tools: bool
    images: int
    max_cost: Decimal | None


def _scan(value: Any) -> tuple[int, int]:
    """(characters of text, image parts) in a message list, a message, a part or a string."""
    if isinstance(value, str):
        return len(value), 0
    chars = images = 0
    if isinstance(value, list):
        for item in value:
            c, i = _scan(item)
            chars += c
            images += i
    elif isinstance(value, dict):
        kind = value.get("type")
        if kind in _IMAGE_PARTS:
            return 0, 1
        if kind in _BINARY_PARTS:
            return 0, 0
        for key, item in value.items():
            if key not in _SKIP_KEYS and isinstance(item, str | list | dict):
                c, i = _scan(item)
                chars += c
                images += i
    return chars, images


def _json_size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return len(str(value))


def _output_tokens(body: Mapping[str, Any]) -> int:
    for key in _OUTPUT_FIELDS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_OUTPUT_TOKENS


def _decimal(value: Any, param: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise bad_request(f"{param} must be a number of USD, got {value!r}", param) from None
    if not result.is_finite():
        raise bad_request(f"{param} must be a finite number of USD, got {value!r}", param)
    return result


def request_needs(body: Mapping[str, Any]) -> RequestNeeds:
    """Estimate prompt and output tokens and read the capability needs of ``body``.

    Prompt tokens: characters of text / 4, plus ~85 per image, plus a few per message, plus
    the tools' JSON size / 4. Output tokens: the requested maximum, else 1024.
    """
    chars = images = messages = 0
    for key in _PROMPT_FIELDS:
        value = body.get(key)
        if value is None:
            continue
        c, i = _scan(value)
        chars += c
        images += i
        if isinstance(value, list):
            messages += len(value)
    tools = body.get("tools") or body.get("functions")
    tool_chars = _json_size(tools) if tools else 0
    prompt = (
        estimate_tokens(chars + tool_chars)
        + images * IMAGE_TOKENS
        + messages * MESSAGE_OVERHEAD_TOKENS
    )
    return RequestNeeds(
        prompt_tokens=prompt,
        output_tokens=_output_tokens(body),
        tools=bool(tools),
        images=images,
        max_cost=_decimal(body.get("max_cost"), "max_cost"),
    )


def quality_floor(body: Mapping[str, Any], config: Config) -> float | None:
    """The request's ``quality_floor`` (0..1), else ``routing.quality_floor``."""
    value = body.get("quality_floor")
    if value is None:
        return config.routing.quality_floor
    try:
        floor = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        floor = None
    if floor is None or not 0.0 <= floor <= 1.0:
        raise bad_request(
            f"Invalid value for 'quality_floor': expected a number from 0 to 1, got {value!r}.",
            "quality_floor",
        )
    return floor


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """The fast prompt-token estimate used for the context-window and cost filters."""
    return request_needs(body).prompt_tokens


# ---------------------------------------------------------------------------------------
# Per-registry data, computed once per registry instance


@dataclass(slots=True, frozen=True)
class _Entry:
    info: ModelInfo
    index: int
    strengths: frozenset[str]


_ENTRIES: weakref.WeakKeyDictionary[Registry, tuple[_Entry, ...]] = weakref.WeakKeyDictionary()


def _entries(registry: Registry) -> tuple[_Entry, ...]:
    entries = _ENTRIES.get(registry)
    if entries is None or len(entries) != len(registry):
        entries = tuple(
            _Entry(info=m, index=i, strengths=frozenset(m.strengths))
            for i, m in enumerate(registry)
        )
        _ENTRIES[registry] = entries
    return entries


# ---------------------------------------------------------------------------------------
# Scoring


def task_match(model: ModelInfo, task_type: str) -> float:
    """1.0 when ``task_type`` is one of the model's strengths, else 0.

    A chat model that lists no strengths at all is a generalist: it gets a small match for
    ``chat``. Price never enters into it.
    """
    return _match(model.strengths, model.kind, task_type)


def _match(strengths: frozenset[str] | tuple[str, ...], kind: str, task_type: str) -> float:
    if task_type in strengths:
        return 1.0
    if not strengths and kind == "chat" and task_type == "chat":
        return GENERALIST_CHAT_MATCH
    return 0.0


def weights(config: Config, priority: Any = None, latency_pref: Any = None) -> dict[str, float]:
    """The configured weights shifted by ``priority`` and ``latency_pref``, summing to 1."""
    w = config.routing.weights
    result = {"cost": w.cost, "latency": w.latency, "task": w.task}
    for factors in (
        _PRIORITY_FACTORS.get(str(priority), {}),
        _LATENCY_FACTORS.get(str(latency_pref), {}),
    ):
        for key, factor in factors.items():
            result[key] *= factor
    total = sum(result.values())
    if total <= 0:
        return {key: 1 / 3 for key in result}
    return {key: value / total for key, value in result.items()}


@dataclass(slots=True)
class _Row:
    entry: _Entry
    cost: Decimal
    failed: list[str]
    details: dict[str, str] = field(default_factory=dict)
    cooled: bool = False
    task: float = 0.0
    score: float | None = None
    parts: dict[str, float] = field(default_factory=dict)
    quality: float | None = None
    quality_parts: dict[str, float] = field(default_factory=dict)

    @property
    def model(self) -> ModelInfo:
        return self.entry.info

    @property
    def hard_failed(self) -> bool:
        return any(f not in SOFT_FILTERS for f in self.failed)

    @property
    def filtered_by(self) -> str | None:
        if self.failed:
            return self.failed[0]
        return "cooled_down" if self.cooled else None

    @property
    def detail(self) -> str | None:
        by = self.filtered_by
        return None if by is None else self.details[by]

    def hard_detail(self) -> str:
        """The first filter that keeps this model out of the plan, explained."""
        by = next(f for f in self.failed if f not in SOFT_FILTERS)
        return f"{by}: {self.details[by]}"


def _norm(value: float, low: float, high: float) -> float:
    return (value - low) / (high - low) if high > low else 0.0


def _score(pool: list[_Row], w: dict[str, float], quality_weight: float = QUALITY_WEIGHT) -> None:
    costs = [float(r.cost) for r in pool]
    latencies = [float(r.model.avg_latency_ms) for r in pool]
    c_lo, c_hi = min(costs), max(costs)
    l_lo, l_hi = min(latencies), max(latencies)
    known = [r.quality for r in pool if r.quality is not None]
    best = max(known) if known else None
    for row, cost, latency in zip(pool, costs, latencies, strict=True):
        row.parts = {
            "cost": w["cost"] * (1 - _norm(cost, c_lo, c_hi)),
            "latency": w["latency"] * (1 - _norm(latency, l_lo, l_hi)),
            "task": w["task"] * row.task,
        }
        if best is not None:
            shortfall = best - row.quality if row.quality is not None else 1.0
            weight = quality_weight
            if row.quality_parts.get("measured") == 0.0:
                weight *= GUESSED_QUALITY_WEIGHT / QUALITY_WEIGHT
            row.parts["quality"] = -weight * max(0.0, shortfall)
        row.score = sum(row.parts.values())
    if best is not None:
        _guard_strengths(pool)


def _guard_strengths(pool: list[_Row]) -> None:
    """Keep a model without the task's strength below every model that has it and is
    expected to do at least as well (its score is lowered just under theirs, the cut shown
    as the ``strength_guard`` part): cheapness must not buy it the first place."""
    strong = [r for r in pool if r.task >= 1.0 and r.score is not None]
    for row in pool:
        if row.task >= 1.0 or row.score is None:
            continue
        q = row.quality if row.quality is not None else 0.0
        rivals = [r.score for r in strong if (r.quality or 0.0) >= q and r.score is not None]
        if rivals and row.score >= min(rivals):
            cut = row.score - (min(rivals) - 1e-6)
            row.parts["strength_guard"] = -cut
            row.score -= cut


def _order_key(strategy: str) -> Callable[[_Row], tuple[Any, ...]]:
    def key(r: _Row) -> tuple[Any, ...]:
        latency = r.model.avg_latency_ms
        if strategy in ("cost", "cascade"):
            return (r.cost, -r.task, latency, r.entry.index)
        if strategy == "quality":
            q = -(r.quality if r.quality is not None else 0.0)
            return (q, -r.task, latency, r.cost, r.entry.index)
        if strategy == "latency":
            return (latency, -r.task, r.cost, r.entry.index)
        return (-(r.score or 0.0), r.cost, latency, r.entry.index)

    return key


# ---------------------------------------------------------------------------------------
# The plan


def _money(value: Decimal) -> str:
    """Decimal text without an exponent or trailing zeros ("0.0002073", "0")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _plain(value: Decimal | None) -> str:
    return "none" if value is None else format(value, "f")


def _fail(row: _Row, name: str, detail: str) -> None:
    row.failed.append(name)
    row.details[name] = detail


def _check(
    row: _Row,
    needs: RequestNeeds,
    provider_ok: Callable[[str], bool],
    cooled_down: Callable[[str], bool],
) -> None:
    """Record every filter ``row`` fails (in ``FILTERS`` order) and whether it is cooling."""
    m = row.model
    if m.kind != "chat":
        _fail(row, "kind", f"kind {m.kind!r}, not chat")
    if needs.tools and not m.supports_functions:
        _fail(row, "tools", "does not support tools")
    if needs.images and not m.supports_vision:
        _fail(row, "vision", "does not support images")
    needed = needs.prompt_tokens + needs.output_tokens
    if needed > m.max_tokens:
        _fail(row, "context_window", f"needs ~{needed} tokens, context window is {m.max_tokens}")
    if needs.max_cost is not None and row.cost > needs.max_cost:
        detail = f"estimated ${_money(row.cost)} > max_cost {_plain(needs.max_cost)}"
        _fail(row, "max_cost", detail)
    if not provider_ok(m.provider):
        _fail(row, "provider_not_configured", f"provider {m.provider!r} is not configured")
    if not row.hard_failed and cooled_down(m.name):
        row.cooled = True
        row.details["cooled_down"] = "cooling down after repeated failures"


_REQUIREMENT = {
    "tools": "supports tools",
    "vision": "supports image input",
    "context_window": "has a context window for ~{tokens} tokens",
    "max_cost": "has an estimated cost under max_cost={max_cost}",
    "provider_not_configured": "has a configured provider",
}
_PARAM = {
    "max_cost": "max_cost",
    "tools": "tools",
    "vision": "messages",
    "context_window": "messages",
}


def _no_route(rows: list[_Row], needs: RequestNeeds, explicit: _Row | None) -> ProxyError:
    chat = [r for r in rows if "kind" not in r.failed]
    if not chat:
        return bad_request("no chat model is available in the registry", "model")
    seen = {f for r in chat for f in r.failed}
    missing = [f for f in FILTERS if f in seen and f in _REQUIREMENT]
    needed = " and ".join(
        _REQUIREMENT[f].format(
            tokens=needs.prompt_tokens + needs.output_tokens, max_cost=_plain(needs.max_cost)
        )
        for f in missing
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.failed[0]] = counts.get(r.failed[0], 0) + 1
    removed = ", ".join(f"{counts[f]} by {f}" for f in FILTERS if f in counts)
    message = f"no model {needed} ({len(rows)} models checked; removed {removed})"
    if explicit is not None:
        message = (
            f"model {explicit.model.name!r} cannot serve this request "
            f"({explicit.hard_detail()}) and " + message
        )
    param = next((_PARAM[f] for f in _PARAM if f in seen), None)
    return bad_request(message, param, code="no_eligible_model")


def _strategy(body: Mapping[str, Any], config: Config) -> str:
    strategy = body.get("strategy") or config.routing.strategy
    if strategy not in STRATEGIES:
        raise bad_request(
            f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}", "strategy"
        )
    return str(strategy)


def _describe(row: _Row, strategy: str) -> str:
    m = row.model
    if strategy in ("cost", "cascade"):
        return f"{m.name} is the cheapest at ~${_money(row.cost)}"
    if strategy == "quality":
        return f"{m.name} has the best task match ({row.task:.2f})"
    if strategy == "latency":
        return f"{m.name} is the fastest at {m.avg_latency_ms} ms"
    p = row.parts
    return (
        f"{m.name} scored {row.score or 0.0:.2f} (cost {p['cost']:.2f}, "
        f"latency {p['latency']:.2f}, task {p['task']:.2f})"
    )


def _estimate(
    quality: QualityModel,
    rows: list[_Row],
    body: Mapping[str, Any],
    task: str,
    premium: ModelInfo | None,
) -> None:
    """Each chat model's expected quality on this prompt, from the quality model."""
    chat = [r for r in rows if "kind" not in r.failed]
    if not chat:
        return
    found = quality.estimate(prompt_text(body), task, [r.model for r in chat], premium)
    for row in chat:
        estimate = found.get(row.model.name)
        if estimate is not None:
            row.quality = float(estimate.expected)
            row.quality_parts = dict(estimate.parts)


def floor_rank(
    quality: float | None, cost: Decimal | float, floor: float, premium: bool
) -> tuple[int, Any, Any]:
    """Where a candidate stands under a quality floor, lower first: those expected to keep
    ``floor`` of premium quality (the premium model always does: it is the 100% the floor is
    a share of) cheapest first, ties to the better; then the rest, best expected first (the
    closest to the floor if every model that clears it fails). The one floor decision:
    ``plan_route`` sorts by it and ``router eval`` picks by it."""
    q = quality if quality is not None else 0.0
    if premium or (quality is not None and quality >= floor - 1e-9):
        return (0, cost, -q)
    return (1, -q, cost)


def _meets(row: _Row, floor: float, premium: str | None) -> bool:
    return floor_rank(row.quality, row.cost, floor, row.model.name == premium)[0] == 0


def _floor_key(floor: float, premium: str | None) -> Callable[[_Row], tuple[Any, ...]]:
    """``floor_rank``, then the faster, then the registry's order."""

    def key(r: _Row) -> tuple[Any, ...]:
        rank = floor_rank(r.quality, r.cost, floor, r.model.name == premium)
        return (*rank, r.model.avg_latency_ms, r.entry.index)

    return key


def _describe_floor(row: _Row, floor: float, premium: str | None, pool: list[_Row]) -> str:
    m = row.model
    q = "unknown" if row.quality is None else f"{row.quality:.3f}"
    if _meets(row, floor, premium):
        meeting = sum(1 for r in pool if _meets(r, floor, premium) and not r.cooled)
        return (
            f"{m.name} is the cheapest of {meeting} models expected to keep >= {floor:g} of "
            f"premium quality (expected {q}, ~${_money(row.cost)})"
        )
    return f"no model is expected to keep {floor:g} of premium quality; {m.name} is the best ({q})"


def plan_route(
    body: Mapping[str, Any],
    classification: Classification,
    registry: Registry,
    config: Config,
    *,
    configured: Callable[[str], bool],
    cooled_down: Callable[[str], bool] = _never,
    quality: QualityModel | None = None,
) -> RoutePlan:
    """The models to try for ``body``, best first, and why.

    ``body["model"]`` is ``"auto"`` (route), or a registry name (that model first, then the
    other eligible models in routing order). A missing model means the registry's default
    model, else ``"auto"``. The fallback model comes after the eligible ones (a configured
    ``routing.fallback_model`` even when it lacks a capability the request uses), and models
    that are cooling down come last (they are scored with the others, so a cool-down does
    not shift anyone's score). With ``quality`` (a loaded quality model) every chat model
    gets an expected quality, and a quality floor (``body["quality_floor"]`` or
    ``routing.quality_floor``) puts the cheapest candidate that clears it first. Raises
    ``ProxyError``: 404 for an unknown model, 400 when no model can serve the request, the
    named model is not a chat model, or the floor is not a number from 0 to 1.
    """
    requested = body.get("model")
    if (requested is None or requested == "") and registry.default is not None:
        requested = registry.default.name
    auto = requested in (None, "", "auto")
    strategy = _strategy(body, config)
    needs = request_needs(body)
    task = classification.task_type
    priority = body.get("priority")
    latency_pref = body.get("latency_pref")
    floor = quality_floor(body, config) if quality is not None else None

    providers: dict[str, bool] = {}

    def provider_ok(name: str) -> bool:
        ok = providers.get(name)
        if ok is None:
            ok = providers[name] = bool(configured(name))
        return ok

    rows: list[_Row] = []
    by_name: dict[str, _Row] = {}
    for entry in _entries(registry):
        m = entry.info
        row = _Row(entry, m.cost(needs.prompt_tokens, needs.output_tokens), [])
        row.task = _match(entry.strengths, m.kind, task)
        _check(row, needs, provider_ok, cooled_down)
        rows.append(row)
        by_name[m.name] = row
    # A named model answers first whatever its quality: estimates there only order the
    # backups, not worth their cost on the drop-in path unless a floor asks for them.
    if quality is not None and (auto or floor is not None):
        _estimate(quality, rows, body, task, registry.premium)

    explicit: _Row | None = None
    if not auto:
        explicit = by_name.get(str(requested))
        if explicit is None:
            raise model_not_found(str(requested))
        if "kind" in explicit.failed:
            raise bad_request(
                f"model {explicit.model.name!r} is an {explicit.model.kind} model; "
                "it cannot serve this request",
                "model",
            )

    pool = [r for r in rows if not r.failed]
    premium = registry.premium.name if registry.premium else None
    if pool:
        lean = _QUALITY_FACTORS.get(str(priority), 1.0)
        _score(pool, weights(config, priority, latency_pref), QUALITY_WEIGHT * lean)
        pool.sort(key=_order_key(strategy))
        if floor is not None:
            pool.sort(key=_floor_key(floor, premium))
    elif explicit is None or explicit.hard_failed:
        raise _no_route(rows, needs, explicit)

    fallback = by_name.get(registry.fallback.name) if registry.fallback else None
    front: list[tuple[_Row, str]] = []
    back: list[tuple[_Row, str]] = []
    if explicit is not None and not explicit.hard_failed:
        (back if explicit.cooled else front).append((explicit, "requested"))
    for row in pool:
        if row is not explicit:
            (back if row.cooled else front).append((row, "cooling down" if row.cooled else ""))
    taken = {id(r) for r, _ in front + back}
    forced = config.routing.fallback_model is not None
    if (
        fallback is not None
        and id(fallback) not in taken
        and (not fallback.hard_failed if forced else not fallback.failed)
    ):
        (back if fallback.cooled else front).append((fallback, "fallback model"))
    ordered = front + back

    routes: list[Route] = []
    rank: dict[int, int] = {}
    for position, (row, role) in enumerate(ordered, start=1):
        if not role:
            role = "primary" if position == 1 else f"backup #{position - 1}"
        if row.score is not None:
            role = f"{role} (score {row.score:.2f})"
        routes.append(
            Route(model=row.model, reason=role, score=row.score, expected_quality=row.quality)
        )
        rank[id(row)] = position

    candidates = [
        {
            "model": r.model.name,
            "provider": r.model.provider,
            "eligible": not r.failed and not r.cooled,
            "filtered_by": r.filtered_by,
            "detail": r.detail,
            "score": None if r.score is None else round(r.score, 4),
            "score_parts": {k: round(v, 4) for k, v in r.parts.items()} or None,
            "task_match": r.task,
            "estimated_cost": float(r.cost),
            "rank": rank.get(id(r)),
            "expected_quality": None if r.quality is None else round(r.quality, 4),
            "quality_parts": {k: round(v, 4) for k, v in r.quality_parts.items()} or None,
        }
        for r in rows
    ]

    eligible = sum(1 for r in pool if not r.cooled)
    primary = ordered[0][0]
    context = f"{task} task"
    if priority:
        context += f", priority {priority}"
    if latency_pref:
        context += f", latency {latency_pref}"
    if floor is not None:
        context += f", quality floor {floor:g}"
    if explicit is None:
        label = "auto" if strategy == "hybrid" else f"auto ({strategy})"
        lead = f"{label}: {context}; "
        if floor is not None:
            lead += _describe_floor(primary, floor, premium, pool)
        elif primary.score is not None:
            lead += _describe(primary, strategy)
        else:
            lead += primary.model.name
    elif explicit is primary:
        lead = f"requested {explicit.model.name}: {context}"
        if explicit.failed:
            lead += f" (tried anyway: {explicit.detail})"
        lead += f"; backups by {strategy}"
    elif explicit.hard_failed:
        lead = f"requested {explicit.model.name} removed ({explicit.hard_detail()}); "
        lead += f"{context}; {primary.model.name} first"
    else:
        lead = f"requested {explicit.model.name} is cooling down, tried last; {context}; "
        lead += f"{primary.model.name} first"
    parts = [lead, f"{eligible} of {len(rows)} models eligible"]
    if primary.cooled:
        parts.append(f"all {len(pool)} usable models are cooling down")
    if fallback is not None and rank.get(id(fallback)) and fallback.failed:
        parts.append(f"fallback {fallback.model.name} last ({fallback.detail})")
    return RoutePlan(
        routes=routes,
        reason="; ".join(parts),
        strategy="direct" if explicit is not None else strategy,
        candidates=candidates,
    )


# ---------------------------------------------------------------------------------------
# Cascade: is an answer good enough?

_REFUSALS = (
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i cannot",
    "i'm unable to help",
    "i am unable to help",
    "i'm unable to assist",
    "i am unable to assist",
    "i'm not able to help",
    "i won't be able to help",
    "i can't comply",
    "i cannot comply",
)
_REFUSAL_HEAD = 200
_REFUSAL_MAX_LENGTH = 600


def _json_format(body: Mapping[str, Any]) -> str | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    return kind if kind in ("json_object", "json_schema") else None


def looks_like_refusal(text: str) -> bool:
    """A short answer that opens by declining ("I can't help with that")."""
    if len(text) > _REFUSAL_MAX_LENGTH:
        return False
    head = text[:_REFUSAL_HEAD].lower().replace("\u2019", "'")
    return any(phrase in head for phrase in _REFUSALS)


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Longest answer treated as closed (a number, a name, yes/no) for self-consistency.
CLOSED_ANSWER_CHARS = 64


def closed_answer(response: Mapping[str, Any]) -> str | None:
    """The first choice's answer normalised (case, spacing, trailing punctuation) when it
    is short and on one line, the kind two samples should agree on; else None."""
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    content = content_text(message.get("content")) if isinstance(message, dict) else ""
    text = " ".join(content.split()).strip().rstrip(".!").lower()
    if not text or len(text) > CLOSED_ANSWER_CHARS or "\n" in content.strip():
        return None
    return text


def disagreement(first: Mapping[str, Any], second: Mapping[str, Any]) -> str | None:
    """Why two samples of a closed answer do not agree (so cascade escalates), or None."""
    a, b = closed_answer(first), closed_answer(second)
    if a is None or b is None or a == b:
        return None
    return f"samples disagree: {_snippet(a, 30)!r} vs {_snippet(b, 30)!r}"


def inadequate(response: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """Why a chat completion is not good enough to return (so cascade escalates), or None.

    Inadequate: no choices; a refusal (the ``refusal`` field or a short answer opening with
    a typical refusal phrase); ``finish_reason`` ``length`` or ``content_filter``; empty
    content without tool calls; content that is not valid JSON (not an object, for
    ``json_object``) when ``response_format`` asked for JSON.
    """
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "no choices in the response"
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        return f"refusal: {_snippet(refusal)}"
    finish = choice.get("finish_reason")
    if finish == "length":
        return "cut off: finish_reason length"
    if finish == "content_filter":
        return "blocked: finish_reason content_filter"
    content = content_text(
        message["content"] if "content" in message else choice.get("text"), sep=""
    )
    if not content.strip():
        if message.get("tool_calls") or message.get("function_call"):
            return None
        return "empty content"
    if looks_like_refusal(content):
        return f"refusal: {_snippet(content)}"
    fmt = _json_format(body)
    if fmt is not None:
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError:
            return f"invalid JSON for response_format {fmt}"
        if fmt == "json_object" and not isinstance(parsed, dict):
            return "response_format json_object: the answer is not a JSON object"
    return None


__all__ = [
    "FILTERS",
    "PROMPT_TEXT_CHARS",
    "SOFT_FILTERS",
    "STRATEGIES",
    "RequestNeeds",
    "closed_answer",
    "disagreement",
    "estimate_prompt_tokens",
    "floor_rank",
    "inadequate",
    "looks_like_refusal",
    "plan_route",
    "prompt_text",
    "quality_floor",
    "request_needs",
    "task_match",
    "weights",
]
