"""What a call is: the operation the call loop sends, one model's attempt (its upstream,
or its deployments in the balancer's order), the checks on an answer and the error the
client gets once every attempt failed. The loop itself is ``Pipeline.call``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ProxyError, bad_request
from .routing.deployments import none_left
from .server.logs import upstream_failure
from .types import Attempt, CallContext, ModelInfo, Route, RoutePlan

if TYPE_CHECKING:
    from .pipeline import Pipeline

T = TypeVar("T")


def check_chat_answer(response: Any, route: Route) -> None:
    """A 200 that is not a chat completion (no list of choices each with a message object)
    is an upstream failure like any other: fallen back from and recorded, never a 500."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if (
        isinstance(choices, list)
        and choices
        and all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices)
        and _sane_usage(response.get("usage"))
    ):
        return
    raise ProxyError(
        502,
        f"{route.model.provider}: the upstream answered 200 with a malformed chat completion",
        type="server_error",
        code="upstream_malformed",
        retryable=True,
    )


#: More tokens than any request can use: a count above it is an upstream's lie, which would
#: bill the tenant thousands of dollars (and a negative one would refund them).
USAGE_CEILING = 100_000_000


def _sane_usage(usage: Any) -> bool:
    if usage is None:
        return True
    if not isinstance(usage, dict):
        return False
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        count = usage.get(name)
        if count is not None and not (type(count) is int and 0 <= count <= USAGE_CEILING):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Operation:
    """What the call loop sends and how it reads the answer (``call_provider``'s
    ``operation``); the native Responses passthrough is one with its own payload per route."""

    name: str = "chat"
    #: The body for one route (default: the request body as it is, for every route).
    payload: Callable[[Route], dict[str, Any]] | None = None
    #: How a stream's first piece is read (a chunk; the native path: its first events).
    first: Callable[[Any], Awaitable[Any]] = anext
    #: Raises ``ProxyError`` for a non-streamed answer that is no answer (fallen back from).
    check: Callable[[Any, Route], Any] | None = None
    #: A route this operation cannot send to: the loop stops there with a ``Handoff``.
    handoff: Callable[[Route], bool] | None = None
    #: The caller ran the request guards itself; the response guards are not this loop's.
    guarded: bool = False


CHAT = Operation("chat", check=check_chat_answer)
EMBEDDINGS = Operation("embeddings")


@dataclass
class Handoff:
    """The loop reached ``route``, which its operation cannot send to (``Operation.handoff``)."""

    route: Route
    last: ProxyError


async def attempt(
    pipeline: Pipeline, route: Route, ctx: CallContext, once: Callable[[Route], Awaitable[T]]
) -> T:
    """One attempt at a planned model: its one upstream, or its deployments in the
    balancer's order until one answers (a failed sibling is reported in
    ``omni.fallbacks``; the last failure is raised for the plan's next model)."""
    model = route.model
    if not model.deployments:
        ctx.deployment = None  # an earlier model's deployment did not answer
        t0 = time.perf_counter()
        try:
            result = await once(route)
        except ProxyError as err:
            span(ctx, model, t0, err)
            raise
        span(ctx, model, t0, None)
        return result
    tried: set[str] = set()
    dep = pipeline.balancer.pick(model, tried)
    if dep is None:
        raise none_left(model)
    while True:
        tried.add(dep.id)
        served = pipeline.balancer.served(model, dep)
        ctx.route, ctx.deployment = Route(served, route.reason, route.score), dep.id
        pipeline.balancer.begin(dep)
        t0 = time.perf_counter()
        try:
            if dep.timeout_s is None:
                result = await once(ctx.route)
            else:
                result = await within(dep.timeout_s, once(ctx.route))
        except ProxyError as err:
            pipeline.balancer.end(dep, (time.perf_counter() - t0) * 1000, err)
            span(ctx, served, t0, err)
            nxt = pipeline.balancer.pick(model, tried) if err.retryable else None
            if nxt is None:
                raise
            pipeline.scrub(err)
            ctx.attempts.append(
                Attempt(model.name, dep.provider, err.status, err.message, err.code)
            )
            upstream_failure(
                ctx.request_id, model.name, dep.provider, err.status, err.code, err.message
            )
            dep = nxt
            continue
        pipeline.balancer.end(dep, (time.perf_counter() - t0) * 1000, None)
        span(ctx, served, t0, None)
        return result


async def within(timeout_s: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``, or a 504 after a deployment's own ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            return await awaitable
    except TimeoutError:
        raise ProxyError(
            504,
            f"the deployment did not answer within {timeout_s:g} s",
            type="server_error",
            code="timeout",
        ) from None


def span(ctx: CallContext, model: ModelInfo, t0: float, err: ProxyError | None) -> None:
    if ctx.spans is not None:
        ctx.spans.append((model, t0, time.perf_counter(), None if err is None else err.message))


def only_requested(plan: RoutePlan, name: str) -> RoutePlan:
    """The plan cut to the model the client named (strict_model): that model or an error,
    never another one; a model cooling down is tried anyway."""
    routes = [r for r in plan.routes if r.model.name == name]
    if not routes:
        row = next((c for c in plan.candidates if c.get("model") == name), {})
        why = row.get("detail") or "it was filtered out"
        raise bad_request(
            f"The model {name!r} cannot serve this request ({why}), and fallbacks to other "
            "models are off (strict_model).",
            param="model",
            code="model_unavailable",
        )
    return replace(plan, routes=routes, reason=f"{plan.reason}; strict: no other model")


def next_untried(plan: RoutePlan, ctx: CallContext, current: Route) -> Route | None:
    tried = {a.model for a in ctx.attempts} | {current.model.name}
    return next((r for r in plan.routes if r.model.name not in tried), None)


def check_model_allowed(allowed: Any, model: str) -> None:
    """403 for a model the key may not use: OpenAI's answer when a project lacks access to
    a model (status 403, code ``model_not_found``)."""
    if model not in allowed:
        raise ProxyError(
            403,
            f"This API key does not have access to model '{model}'.",
            type="permission_error",
            code="model_not_found",
            param="model",
        )


def final_error(last: ProxyError, ctx: CallContext) -> ProxyError:
    """The error for the client once every attempt failed (502/503/504 per CONTRACT.md)."""
    if len(ctx.attempts) <= 1:
        return last
    tried = ", ".join(a.model for a in ctx.attempts)
    if not last.retryable:
        return last
    status = last.status if last.status in (429, 502, 503, 504) else 502
    return ProxyError(
        status,
        f"all {len(ctx.attempts)} upstream attempts failed ({tried}); last error: {last.message}",
        type=last.type if status == 429 else "server_error",
        code=last.code or "upstream_failed",
        headers=last.headers,
        retryable=True,
        retry_after=last.retry_after,
    )
