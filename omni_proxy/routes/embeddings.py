"""``POST /v1/embeddings``: OpenAI's embeddings, routed, limited, priced and recorded.

Vectors from different models live in different spaces, so an embeddings request never
falls back to another model: only the same model is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..endpoints.base import Endpoint, Job, route, routed_headers
from ..errors import bad_request, model_not_found
from ..pipeline import EMBEDDINGS, Pipeline
from ..server.http import JSON
from ..text import estimate_tokens
from ..types import CallContext, Principal, Route, RoutePlan, Usage
from ..wire.models import EMBEDDINGS as EMBEDDINGS_BODY
from ..wire.models import checker

if TYPE_CHECKING:
    from ..owner import Owner

_check_embeddings = checker(EMBEDDINGS_BODY)


def validate_embeddings(body: Any) -> dict[str, Any]:
    """Check an embeddings body against its schema; ``model`` defaults to ``auto``."""
    if isinstance(body, dict):
        body.setdefault("model", "auto")
    checked: dict[str, Any] = _check_embeddings(body)
    return checked


def embedding_plan(pipeline: Pipeline, model: str, principal: Principal | None = None) -> RoutePlan:
    """The named embedding model, or for ``auto`` the cheapest configured one (among the
    models the key may use)."""
    registry = pipeline.registry_for(principal) if model == "auto" else pipeline.registry
    if model != "auto":
        info = registry.get(model)
        if info is None:
            raise model_not_found(model)
        if info.kind != "embedding":
            raise bad_request(
                f"Model `{model}` is a {info.kind} model; /v1/embeddings needs an embedding model.",
                param="model",
            )
        return RoutePlan([Route(info, reason="requested")], reason="requested", strategy="direct")
    usable = [
        m for m in registry if m.kind == "embedding" and pipeline.health.configured(m.provider)
    ]
    if not usable:
        raise bad_request("No embedding model is configured.", param="model", code="no_model")
    ranked = sorted(usable, key=lambda m: (m.cost_input, m.avg_latency_ms))
    cheapest = ranked[0]
    why = (
        "the only embedding model"
        if len(ranked) == 1
        else f"the cheapest of {len(ranked)} embedding models"
    )
    # The candidates the dashboard lists (a routed chat request has scored ones).
    candidates = [
        {
            "model": m.name,
            "provider": m.provider,
            "eligible": True,
            "filtered_by": None,
            "detail": f"${m.cost_input} per 1M input tokens",
            "score": None,
            "rank": i,
        }
        for i, m in enumerate(ranked, start=1)
    ]
    return RoutePlan(
        [Route(cheapest, reason="cheapest embedding model")],
        reason=f"auto: {cheapest.name} is {why}",
        strategy="cost",
        candidates=candidates,
    )


def _input_chars(items: Any) -> int:
    if isinstance(items, str):
        return len(items)
    return sum(
        len(i) if isinstance(i, str) else 4 * len(i) if isinstance(i, list) else 4 for i in items
    )


class Embeddings(Endpoint):
    """``POST /v1/embeddings``: the named (or cheapest) embedding model, never another."""

    path = "/v1/embeddings"

    async def parse(self, pipeline: Pipeline, ctx: CallContext, raw: Any, request: Request) -> Job:
        body = validate_embeddings(raw)
        ctx.requested_model = body["model"]
        ctx.prompt_estimate = max(1, estimate_tokens(_input_chars(body["input"])))
        return Job(body, {})

    async def plan(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        ctx.plan = embedding_plan(pipeline, job.body["model"], ctx.principal)

    async def answer(
        self, pipeline: Pipeline, ctx: CallContext, job: Job, owner: Owner
    ) -> Response:
        response = await pipeline.call(job.body, ctx, EMBEDDINGS)
        assert ctx.route is not None
        usage = Usage.from_openai(response.get("usage")) or Usage(ctx.prompt_estimate, 0)
        ctx.usage = Usage(usage.prompt_tokens, 0)
        response["model"] = ctx.route.model.name
        response["omni"] = pipeline.omni(ctx, ctx.usage)
        return JSON(response, headers=routed_headers(ctx))


embeddings = route(Embeddings())
