"""``/v1/models``, ``/health`` and ``/ready``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import model_not_found
from ..pipeline import Pipeline
from ..server.http import JSON, api_key_of
from ..services import services

_STARTED = int(time.time())


def _model_object(name: str, owned_by: str, kind: str = "chat") -> dict[str, object]:
    """OpenAI's model object, plus ``kind`` (chat | embedding) so clients can tell them apart."""
    return {"id": name, "object": "model", "created": _STARTED, "owned_by": owned_by, "kind": kind}


async def list_models(request: Request) -> Response:
    pipeline: Pipeline = services(request).pipeline
    await pipeline.authenticate(request, api_key_of(request), "read")
    data = [_model_object("auto", "omni-proxy")]
    data += [_model_object(m.name, m.owned_by or m.provider, m.kind) for m in pipeline.registry]
    return JSON({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    pipeline: Pipeline = services(request).pipeline
    name = request.path_params["model"]
    await pipeline.authenticate(request, api_key_of(request), "read")
    if name == "auto":
        return JSON(_model_object("auto", "omni-proxy"))
    model = pipeline.registry.get(name)
    if model is None:
        raise model_not_found(name)
    return JSON(_model_object(model.name, model.owned_by or model.provider, model.kind))


async def health(request: Request) -> Response:
    return JSON({"status": "ok"})


async def ready(request: Request) -> Response:
    db = services(request).database
    try:
        await asyncio.wait_for(db.ping(), 2.0)
    except Exception as exc:
        return JSON(
            {"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__},
            status_code=503,
        )
    body: dict[str, Any] = {"status": "ready", "database": "ok"}
    limiter = services(request).limiter
    if limiter is not None and limiter.redis_url:
        # Rate limits fall back to memory without Redis: degraded, but still serving.
        body["redis"] = "ok" if limiter.redis_ok else "down (limits kept in memory)"
        if not limiter.redis_ok:
            body["status"] = "degraded"
    recorder = services(request).recorder
    if recorder is not None:
        body["recorder_queue"] = recorder.depth
        if recorder.stuck:
            # The database answers a ping but records are not getting in: usage, the
            # dashboard and budgets are frozen, which a load balancer should hear about.
            body["status"] = "unavailable"
            body["recording"] = f"stuck for {recorder.lag_s:.0f} s"
            return JSON(body, status_code=503)
    return JSON(body)
