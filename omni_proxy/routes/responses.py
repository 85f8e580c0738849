"""``/v1/responses``: OpenAI's Responses API, translated onto the chat pipeline.

``POST`` routes, limits and records like ``/v1/chat/completions``; answers with a ``Response``
object (or its stream of events). Responses are kept per org (unless ``store: false``) so
``previous_response_id`` can continue a conversation and ``GET`` / ``DELETE
/v1/responses/{id}`` can reach them; rows older than ``OMNI_RESPONSES_RETENTION_DAYS`` (default
30; 0 keeps them forever) are purged now and then as new ones are written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import tracing
from ..errors import ProxyError
from ..formats import responses as fmt
from ..http import JSON, api_key_of, read_json
from ..pipeline import Pipeline
from ..routing import estimate_prompt_tokens
from ..storage.common import utcnow
from ..streaming import SSEResponse
from ..types import CallContext
from ..validation import take_routing_options, validate_chat
from .chat import fail, finish_response, new_context, routed_headers

log = logging.getLogger("omni_proxy")

RETENTION_ENV = "OMNI_RESPONSES_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30.0
PURGE_EVERY_S = 60.0


def retention_days() -> float:
    """``OMNI_RESPONSES_RETENTION_DAYS`` (default 30); 0 or less keeps responses forever."""
    raw = os.environ.get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        return float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %g", RETENTION_ENV, raw, DEFAULT_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS


class ResponseStore:
    """Stored responses of one database, with the retention rule applied on read and write."""

    def __init__(self, db: Any, days: float) -> None:
        self.db = db
        self.days = days
        self.last_purge = float("-inf")
        self.tasks: set[asyncio.Task[Any]] = set()

    def _cutoff(self) -> Any:
        return utcnow() - timedelta(days=self.days) if self.days > 0 else None

    async def load(self, response_id: str, org_id: str) -> dict[str, Any] | None:
        return await self.db.get_response(  # type: ignore[no-any-return]
            response_id, org_id, newer_than=self._cutoff()
        )

    async def save(
        self,
        org_id: str,
        conversation: list[dict[str, Any]],
        response: dict[str, Any],
    ) -> None:
        """Write one response (never raises: the answer matters more than its copy)."""
        try:
            await self.db.save_response(
                response_id=response["id"],
                org_id=org_id,
                model=response.get("model"),
                input_items=conversation,
                output_items=response["output"],
                body=response,
            )
        except Exception:
            log.exception("storing response %s failed", response.get("id"))
        self._maybe_purge()

    def _maybe_purge(self) -> None:
        cutoff = self._cutoff()
        now = time.monotonic()
        if cutoff is None or now - self.last_purge < PURGE_EVERY_S:
            return
        self.last_purge = now
        task = asyncio.ensure_future(self._purge(cutoff))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _purge(self, cutoff: Any) -> None:
        try:
            gone = await self.db.purge_responses(cutoff)
            if gone:
                log.info("purged %d stored responses older than %g days", gone, self.days)
        except Exception:
            log.exception("purging stored responses failed")


def response_store(request: Request) -> ResponseStore:
    """The app's store (made on first use, for the app's current database)."""
    state = request.app.state
    store: ResponseStore | None = getattr(state, "responses_store", None)
    if store is None or store.db is not state.db:
        store = ResponseStore(state.db, retention_days())
        state.responses_store = store
    return store


def previous_not_found(response_id: str) -> ProxyError:
    return ProxyError(
        404,
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def response_not_found(response_id: str) -> ProxyError:
    return ProxyError(
        404,
        f"Response with id '{response_id}' not found.",
        param="response_id",
        code="not_found",
    )


async def create_response(request: Request) -> Response:
    ctx: CallContext = new_context(request, "/v1/responses")
    pipeline: Pipeline = request.app.state.pipeline
    try:
        tracing.begin(
            ctx.request_id, request.headers.get("traceparent"), request.headers.get("tracestate")
        )
        ctx.principal = await pipeline.authenticate(request, api_key_of(request), "write")
        org_id = ctx.principal.org_id
        req = fmt.parse_request(await read_json(request, pipeline.config.max_body_bytes))
        store = response_store(request)
        history: list[dict[str, Any]] = []
        if req.previous_response_id is not None:
            previous = await store.load(req.previous_response_id, org_id)
            if previous is None:
                raise previous_not_found(req.previous_response_id)
            history = previous["input"] + previous["output"]
        conversation = history + req.input
        body = fmt.to_chat(req, history)
        validate_chat(body)
        routing = take_routing_options(body, request.headers)
        ctx.requested_model = body["model"]
        ctx.stream = req.stream
        ctx.deadline = time.monotonic() + pipeline.config.routing.deadline_s
        ctx.prompt_estimate = max(1, estimate_prompt_tokens(body))
        await pipeline.admit(ctx)
        await pipeline.route(body, routing, ctx)
        response_id = fmt.new_id("resp")
        created_at = int(time.time())
        if ctx.stream:
            iterator, first = await pipeline.open_stream(body, ctx)
            assert ctx.route is not None
            relay = pipeline.relay(iterator, first, ctx, True, ctx.prompt_estimate)
            shell = fmt.response_shell(req, response_id, created_at, ctx.route.model.name)

            async def keep(response: dict[str, Any]) -> None:
                await store.save(org_id, conversation, response)

            events = fmt.translate_stream(
                relay, fmt.StreamTranslator(shell), keep if req.store else None
            )
            return SSEResponse(events, routed_headers(ctx))
        chat = await pipeline.call(body, ctx)
        omni = finish_response(pipeline, body, chat, ctx)
        if not isinstance(chat.get("usage"), dict) and ctx.usage is not None:
            chat["usage"] = {
                "prompt_tokens": ctx.usage.prompt_tokens,
                "completion_tokens": ctx.usage.completion_tokens,
                "total_tokens": ctx.usage.total_tokens,
            }
        result = fmt.from_chat(
            chat, req, response_id=response_id, created_at=created_at, model=chat["model"]
        )
        result["omni"] = omni
        if req.store:
            await store.save(org_id, conversation, result)
        return JSON(result, headers=routed_headers(ctx))
    except ProxyError as err:
        return fail(request, err, ctx)


async def get_response(request: Request) -> Response:
    pipeline: Pipeline = request.app.state.pipeline
    response_id = request.path_params["response_id"]
    try:
        principal = await pipeline.authenticate(request, api_key_of(request), "read")
        row = await response_store(request).load(response_id, principal.org_id)
        if row is None:
            raise response_not_found(response_id)
        return JSON(row["body"])
    except ProxyError as err:
        return fail(request, err, None)  # nothing to record: no provider was called


async def delete_response(request: Request) -> Response:
    pipeline: Pipeline = request.app.state.pipeline
    response_id = request.path_params["response_id"]
    try:
        principal = await pipeline.authenticate(request, api_key_of(request), "write")
        if not await request.app.state.db.delete_response(response_id, principal.org_id):
            raise response_not_found(response_id)
        return JSON({"id": response_id, "object": "response", "deleted": True})
    except ProxyError as err:
        return fail(request, err, None)
