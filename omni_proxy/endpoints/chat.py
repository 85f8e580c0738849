"""Chat endpoints: OpenAI's chat completions, the simple ``/v1/chat``, ``/v1/agent-step``
and ``/v1/router/debug`` (the plan, explained, without a call)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from ..server.http import JSON
from ..types import CallContext
from .base import Endpoint, Job, routed_headers

if TYPE_CHECKING:
    from ..owner import Owner
    from ..pipeline import Pipeline


class ChatCompletions(Endpoint):
    """``POST /v1/chat/completions``: OpenAI's wire format, streamed or not."""

    path = "/v1/chat/completions"
    cache = True


class _OnePiece(Endpoint):
    """The simple routes answer in one piece, whatever ``stream`` says."""

    default_model = "auto"

    async def plan(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        await super().plan(pipeline, ctx, job)
        job.body.pop("stream", None)
        job.body.pop("stream_options", None)
        ctx.stream = False


class SimpleChat(_OnePiece):
    """``POST /v1/chat``: ``messages`` and routing options in; the answer and its price out."""

    path = "/v1/chat"
    cache = True

    def render(
        self, ctx: CallContext, job: Job, response: dict[str, Any], omni: dict[str, Any]
    ) -> Response:
        message = (response.get("choices") or [{}])[0].get("message") or {}
        return JSON(
            {
                "output": message.get("content"),
                "model_used": omni["model_used"],
                "cost": omni["cost"],
                "latency_ms": omni["latency_ms"],
                "savings_estimate": omni["savings_estimate"],
                "expected_quality": omni.get("expected_quality"),
                "request_id": ctx.request_id,
                "task_type": omni["task_type"],
                "provider": omni["provider"],
                "premium_cost": omni["premium_cost"],
                "fallbacks": omni["fallbacks"],
                "usage": response.get("usage"),
            },
            headers=routed_headers(ctx),
        )


class AgentStep(_OnePiece):
    """``POST /v1/agent-step``: one step of an agent loop, routed as ``agent_step``."""

    path = "/v1/agent-step"
    task = "agent_step"

    def render(
        self, ctx: CallContext, job: Job, response: dict[str, Any], omni: dict[str, Any]
    ) -> Response:
        choice = (response.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        return JSON(
            {
                "output": message.get("content"),
                "tool_calls": message.get("tool_calls") or [],
                "finish_reason": choice.get("finish_reason"),
                "message": message,
                "done": not message.get("tool_calls"),
                "model_used": omni["model_used"],
                "cost": omni["cost"],
                "latency_ms": omni["latency_ms"],
                "savings_estimate": omni["savings_estimate"],
                "request_id": ctx.request_id,
                "omni": omni,
                "usage": response.get("usage"),
            },
            headers=routed_headers(ctx),
        )


class RouterDebug(Endpoint):
    """``POST /v1/router/debug``: the routing decision, explained; no provider is called and
    nothing recorded, but it is rate limited like any route (it classifies and plans)."""

    path = "/v1/router/debug"
    permission = "read"
    records = False
    default_model = "auto"

    async def answer(
        self, pipeline: Pipeline, ctx: CallContext, job: Job, owner: Owner
    ) -> Response:
        assert ctx.plan is not None and ctx.classification is not None
        plan, cls = ctx.plan, ctx.classification
        return JSON(
            {
                "task_type": cls.task_type,
                "classification": {
                    "confidence": cls.confidence,
                    "signals": list(cls.signals),
                    "classifier": cls.classifier,
                },
                "selected_model": plan.primary.model.name,
                "provider": plan.primary.model.provider,
                "strategy": plan.strategy,
                "plan": [r.model.name for r in plan.routes],
                "candidates": plan.candidates,
                "reason": plan.reason,
                "request_id": ctx.request_id,
            }
        )
