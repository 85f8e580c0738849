"""``POST /v1/responses``: OpenAI's Responses API, passed through or translated onto chat.

``POST`` routes, limits and records like ``/v1/chat/completions``; answers with a ``Response``
object (or its stream of events). A model whose provider serves the Responses API gets the
request as it is (``native_responses.py``); any other gets it as chat completions.

Responses are kept per org (unless ``store: false``) so ``previous_response_id`` can
continue a conversation and ``GET`` / ``DELETE /v1/responses/{id}`` and ``GET
/v1/responses/{id}/input_items`` can reach them; rows older than
``OMNI_RESPONSES_RETENTION_DAYS`` (default 30; 0 keeps them forever) are purged now and then
as new ones are written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ProxyError, bad_request
from ..pipeline import Handoff, final_error
from ..routing.plan import estimate_prompt_tokens
from ..server.http import JSON
from ..services import services
from ..storage.common import utcnow
from ..types import CallContext, RoutePlan
from ..wire import responses as fmt
from ..wire.streaming import SSEResponse
from ..wire.validation import take_routing_options, validate_chat
from . import native_responses as native
from .base import Endpoint, Job, finish_chat, routed_headers

if TYPE_CHECKING:
    from ..owner import Owner
    from ..pipeline import Pipeline

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


#: The stored response a new one continues, and how many conversation items came from it.
Previous = tuple[str, int] | None


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
        previous: Previous = None,
    ) -> None:
        """Write one response (never raises: the answer matters more than its copy). With
        ``previous`` (its id, and how many items of ``conversation`` it carried over) only
        the new items are stored, by reference to it: a chain stores each item once."""
        try:
            await self.db.save_response(
                response_id=response["id"],
                org_id=org_id,
                model=response.get("model"),
                input_items=conversation[previous[1] :] if previous else conversation,
                output_items=response["output"],
                body=response,
                previous_id=previous[0] if previous else None,
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
    state = services(request)
    store: ResponseStore | None = state.responses_store
    if store is None or store.db is not state.db:
        store = ResponseStore(state.database, retention_days())
        state.responses_store = store
    return store


def previous_not_found(response_id: str) -> ProxyError:
    return ProxyError(
        404,
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


@dataclass
class Turn:
    """A parsed ``CreateResponse``: the native turn, its translation when there is one, and
    the 400 the translation gave when there is not (only native providers can serve it)."""

    native: native.NativeTurn
    req: fmt.ResponsesRequest | None
    chat: dict[str, Any] | None
    untranslatable: ProxyError | None
    store: ResponseStore


class CreateResponse(Endpoint):
    """``POST /v1/responses``: passed through to a provider that serves the Responses API,
    translated onto chat completions for any other."""

    path = "/v1/responses"

    async def parse(self, pipeline: Pipeline, ctx: CallContext, raw: Any, request: Request) -> Job:
        assert ctx.principal is not None
        if not isinstance(raw, dict):
            fmt.parse_request(raw)  # raises the 400 for a body that is not an object
        routing = take_routing_options(raw, request.headers)
        basics = native.check_basics(raw)
        store = response_store(request)
        turn = native.NativeTurn(raw, basics)
        if basics.previous_response_id is not None:
            previous = await store.load(basics.previous_response_id, ctx.principal.org_id)
            if previous is None:
                raise previous_not_found(basics.previous_response_id)
            turn.history = previous["input"] + previous["output"]
            omni = previous["body"].get("omni") if isinstance(previous["body"], dict) else None
            if isinstance(omni, dict) and omni.get("native"):
                turn.previous_provider = omni.get("provider")
        # Translated unless the routed model's provider serves the Responses API itself; a
        # request only such providers can serve (built-in tools, files by id, ...) keeps
        # the translation's 400 for when none of them is in the plan.
        req: fmt.ResponsesRequest | None = None
        chat: dict[str, Any] | None = None
        untranslatable: ProxyError | None = None
        try:
            req = fmt.parse_request(raw)
            chat = fmt.to_chat(req, turn.history)
            validate_chat(chat, pipeline.config.max_messages)
        except ProxyError as err:
            if err.status != 400:
                raise
            untranslatable = err
        except (KeyError, TypeError, AttributeError):
            # Stored history from a native upstream in a shape the translation cannot read.
            untranslatable = bad_request(
                "The stored conversation cannot be sent to this model; use a model whose "
                "provider serves the Responses API.",
                param="previous_response_id",
            )
        if untranslatable is not None and not native.can_serve(pipeline, basics.model):
            raise untranslatable  # before admission: nothing here could answer it
        routed = chat if chat is not None else native.routing_body(raw, turn.history)
        ctx.requested_model = basics.model
        ctx.stream = basics.stream
        ctx.prompt_estimate = max(1, estimate_prompt_tokens(routed))
        return Job(routed, routing, Turn(turn, req, chat, untranslatable, store))

    async def plan(self, pipeline: Pipeline, ctx: CallContext, job: Job) -> None:
        plan = await pipeline.route(job.body, job.routing, ctx)
        if job.extra.untranslatable is not None:  # only native providers can serve it
            plan.routes = [r for r in plan.routes if native.is_native(pipeline, r)]
            if not plan.routes:
                raise job.extra.untranslatable

    async def answer(
        self, pipeline: Pipeline, ctx: CallContext, job: Job, owner: Owner
    ) -> Response:
        turn: Turn = job.extra
        assert ctx.plan is not None
        if native.is_native(pipeline, ctx.plan.primary):
            return await _native(pipeline, ctx, turn, owner)
        assert turn.req is not None and turn.chat is not None
        conversation = turn.native.history + turn.req.input
        return await _translated(
            pipeline, ctx, turn, conversation, owner, previous=turn.native.previous()
        )


async def _native(pipeline: Pipeline, ctx: CallContext, turn: Turn, owner: Owner) -> Response:
    """Passthrough, handing over to the translation if fallback reaches a provider that
    has no Responses API (with the plan put back before the request is recorded)."""
    assert ctx.principal is not None and ctx.plan is not None
    org_id = ctx.principal.org_id
    native_turn, store = turn.native, turn.store
    answer = await native.attempt(pipeline, ctx, native_turn, native_turn.basics.stream)
    if isinstance(answer, Handoff):
        if turn.req is None or turn.chat is None:
            raise final_error(answer.last, ctx)
        plan = ctx.plan
        rest = [r for r in plan.routes if r is not answer.route]
        ctx.plan = RoutePlan([answer.route, *rest], plan.reason, plan.strategy, plan.candidates)

        def restore() -> None:
            ctx.plan = plan

        try:
            conversation = native_turn.history + turn.req.input
            return await _translated(
                pipeline, ctx, turn, conversation, owner, restore, native_turn.previous()
            )
        finally:
            restore()
    conversation = native_turn.conversation()
    if isinstance(answer, dict):
        result = native.finish(pipeline, ctx, answer, native_turn)
        if native_turn.basics.store:
            await store.save(org_id, conversation, result, native_turn.previous())
        return JSON(result, headers=routed_headers(ctx))
    iterator, first = answer

    async def keep(response: dict[str, Any]) -> None:
        await store.save(org_id, conversation, response, native_turn.previous())

    keeping = keep if native_turn.basics.store else None
    events = native.relay(pipeline, ctx, iterator, first, native_turn, keeping)
    return SSEResponse(events, routed_headers(ctx), owner.hand_over(events, iterator))


async def _translated(
    pipeline: Pipeline,
    ctx: CallContext,
    turn: Turn,
    conversation: list[dict[str, Any]],
    owner: Owner,
    called: Callable[[], None] | None = None,
    previous: Previous = None,
) -> Response:
    """The request as chat completions, the answer translated back. ``called`` runs once
    a provider answered, before the request is recorded."""
    assert ctx.principal is not None and turn.req is not None and turn.chat is not None
    org_id = ctx.principal.org_id
    req, body, store = turn.req, turn.chat, turn.store
    response_id = fmt.new_id("resp")
    created_at = int(time.time())
    if ctx.stream:
        iterator, first = await pipeline.call(body, ctx, stream=True)
        if called is not None:
            called()
        assert ctx.route is not None
        relay = pipeline.relay(ctx, iterator, first, True)
        shell = fmt.response_shell(req, response_id, created_at, ctx.route.model.name)

        async def keep(response: dict[str, Any]) -> None:
            if isinstance(response.get("omni"), dict):
                response["omni"]["native"] = False
            if req.store:
                await store.save(org_id, conversation, response, previous)

        events = fmt.translate_stream(relay, fmt.StreamTranslator(shell), keep)
        return SSEResponse(events, routed_headers(ctx), owner.hand_over(relay, iterator))
    chat = await pipeline.call(body, ctx)
    if called is not None:
        called()
    omni = finish_chat(pipeline, chat, ctx)
    if not isinstance(chat.get("usage"), dict) and ctx.usage is not None:
        chat["usage"] = {
            "prompt_tokens": ctx.usage.prompt_tokens,
            "completion_tokens": ctx.usage.completion_tokens,
            "total_tokens": ctx.usage.total_tokens,
        }
    result = fmt.from_chat(
        chat, req, response_id=response_id, created_at=created_at, model=chat["model"]
    )
    result["omni"] = {**omni, "native": False}
    if req.store:
        await store.save(org_id, conversation, result, previous)
    return JSON(result, headers=routed_headers(ctx))
