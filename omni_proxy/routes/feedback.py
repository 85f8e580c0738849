"""``POST /v1/feedback``: a quality score (0..1) for one of the caller's org's requests.

Stored in ``feedback`` with the model that answered, the task type and the prompt text, for
``omni-proxy router train --from-db`` and the measured quality of ``/v1/usage``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ProxyError
from ..server.http import api_key_of, error_response, read_json, request_id
from ..services import services
from ..wire import admin_models

MAX_COMMENT_CHARS = admin_models.MAX_COMMENT_CHARS
#: How long a score waits for its request's record, still queued in the recorder.
RECORD_WAIT_S = 2.0
_POLL_S = 0.05


def parse_feedback(body: Any) -> tuple[str, float, str | None]:
    """``(request_id, score, comment)`` of a feedback body, or a 400 naming the field."""
    admin_models.check_feedback(body)
    return body["request_id"].strip(), float(body["score"]), body.get("comment")


def request_not_found(rid: str) -> ProxyError:
    return ProxyError(
        404,
        f"No request '{rid}' in your organization.",
        param="request_id",
        code="request_not_found",
    )


async def post_feedback(request: Request) -> Response:
    try:
        pipeline = services(request).pipeline
        principal = await pipeline.authenticate(request, api_key_of(request), "write")
        body = await read_json(request, pipeline.config.max_body_bytes)
        rid, score, comment = parse_feedback(body)
        db = services(request).database
        recorder = services(request).recorder
        waited = 0.0
        while not await db.add_feedback(rid, principal.org_id, score, comment):
            if waited >= RECORD_WAIT_S or recorder is None or not recorder.holds(rid):
                raise request_not_found(rid)
            recorder.wake()
            await asyncio.sleep(_POLL_S)
            waited += _POLL_S
    except ProxyError as err:
        return error_response(err, request_id(request))
    return Response(status_code=204)


ROUTES: list[Route] = [Route("/v1/feedback", post_feedback, methods=["POST"])]
