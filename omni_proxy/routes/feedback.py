"""``POST /v1/feedback``: a quality score (0..1) for one of the caller's org's requests.

Stored in ``feedback`` with the model that answered, the task type and the prompt text, for
``omni-proxy router train --from-db`` and the measured quality of ``/v1/usage``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ProxyError, bad_request
from ..http import api_key_of, error_response, read_json, request_id
from ..validation import type_name

MAX_COMMENT_CHARS = 4000
#: How long a score waits for its request's record, still queued in the recorder.
RECORD_WAIT_S = 2.0
_POLL_S = 0.05


def parse_feedback(body: Any) -> tuple[str, float, str | None]:
    """``(request_id, score, comment)`` of a feedback body, or a 400 naming the field."""
    if not isinstance(body, dict):
        raise bad_request(
            f"The body must be a JSON object, not {type_name(body)}.", code="invalid_type"
        )
    rid = body.get("request_id")
    if not isinstance(rid, str) or not rid.strip():
        raise bad_request(
            "'request_id' is required: the id of one of your requests (x-request-id).",
            param="request_id",
        )
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise bad_request(
            f"'score' must be a number from 0 to 1, got {type_name(score)}.",
            param="score",
            code="invalid_type",
        )
    if not (math.isfinite(score) and 0 <= score <= 1):
        raise bad_request(
            f"'score' must be a number from 0 to 1, got {score}.",
            param="score",
            code="invalid_value",
        )
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise bad_request(
            f"'comment' must be a string, got {type_name(comment)}.",
            param="comment",
            code="invalid_type",
        )
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise bad_request(
            f"'comment' may be at most {MAX_COMMENT_CHARS} characters.", param="comment"
        )
    return rid.strip(), float(score), comment


def request_not_found(rid: str) -> ProxyError:
    return ProxyError(
        404,
        f"No request '{rid}' in your organization.",
        param="request_id",
        code="request_not_found",
    )


async def post_feedback(request: Request) -> Response:
    try:
        pipeline = request.app.state.pipeline
        principal = await pipeline.authenticate(request, api_key_of(request), "write")
        body = await read_json(request, pipeline.config.max_body_bytes)
        rid, score, comment = parse_feedback(body)
        db = request.app.state.db
        recorder = request.app.state.recorder
        waited = 0.0
        while not await db.add_feedback(rid, principal.org_id, score, comment):
            if waited >= RECORD_WAIT_S or not recorder.holds(rid):
                raise request_not_found(rid)
            recorder.wake()
            await asyncio.sleep(_POLL_S)
            waited += _POLL_S
    except ProxyError as err:
        return error_response(err, request_id(request))
    return Response(status_code=204)


ROUTES: list[Route] = [Route("/v1/feedback", post_feedback, methods=["POST"])]
