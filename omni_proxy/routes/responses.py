"""``/v1/responses``: OpenAI's Responses API, passed through or translated onto chat.

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
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import native_responses as native
from .. import tracing
from ..errors import ProxyError, bad_request
from ..formats import responses as fmt
from ..http import JSON, api_key_of, read_json
from ..pipeline import Pipeline, final_error
from ..routing import estimate_prompt_tokens
from ..storage.common import utcnow
from ..streaming import SSEResponse
from ..types import CallContext, RoutePlan
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
        raw = await read_json(request, pipeline.config.max_body_bytes)
        if not isinstance(raw, dict):
            fmt.parse_request(raw)  # raises the 400 for a body that is not an object
        routing = take_routing_options(raw, request.headers)
        basics = native.check_basics(raw)
        store = response_store(request)
        turn = native.NativeTurn(raw, basics)
        if basics.previous_response_id is not None:
            previous = await store.load(basics.previous_response_id, org_id)
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
        ctx.deadline = time.monotonic() + pipeline.config.routing.deadline_s
        ctx.prompt_estimate = max(1, estimate_prompt_tokens(routed))
        await pipeline.admit(ctx)
        plan = await pipeline.route(routed, routing, ctx)
        if untranslatable is not None:  # only native providers can serve it, fallback too
            plan.routes = [r for r in plan.routes if native.is_native(pipeline, r)]
            if not plan.routes:
                raise untranslatable
        if native.is_native(pipeline, plan.primary):
            return await _native(pipeline, ctx, turn, req, chat, store)
        assert req is not None and chat is not None
        return await _translated(
            pipeline, ctx, req, chat, turn.history + req.input, store, previous=turn.previous()
        )
    except ProxyError as err:
        return fail(request, err, ctx)


async def _native(
    pipeline: Pipeline,
    ctx: CallContext,
    turn: native.NativeTurn,
    req: fmt.ResponsesRequest | None,
    chat: dict[str, Any] | None,
    store: ResponseStore,
) -> Response:
    """Passthrough, handing over to the translation if fallback reaches a provider that
    has no Responses API (with the plan put back before the request is recorded)."""
    assert ctx.principal is not None and ctx.plan is not None
    org_id = ctx.principal.org_id
    answer = await native.attempt(pipeline, ctx, turn, turn.basics.stream)
    if isinstance(answer, native.Handoff):
        if req is None or chat is None:
            raise final_error(answer.last, ctx)
        plan = ctx.plan
        rest = [r for r in plan.routes if r is not answer.route]
        ctx.plan = RoutePlan([answer.route, *rest], plan.reason, plan.strategy, plan.candidates)

        def restore() -> None:
            ctx.plan = plan

        try:
            conversation = turn.history + req.input
            return await _translated(
                pipeline, ctx, req, chat, conversation, store, restore, turn.previous()
            )
        finally:
            restore()
    conversation = turn.conversation()
    if isinstance(answer, dict):
        result = native.finish(pipeline, ctx, answer, turn)
        if turn.basics.store:
            await store.save(org_id, conversation, result, turn.previous())
        return JSON(result, headers=routed_headers(ctx))
    iterator, first = answer

    async def keep(response: dict[str, Any]) -> None:
        await store.save(org_id, conversation, response, turn.previous())

    events = native.relay(pipeline, ctx, iterator, first, turn, keep if turn.basics.store else None)
    return SSEResponse(events, routed_headers(ctx), pipeline.closer(ctx, events, iterator))


async def _translated(
    pipeline: Pipeline,
    ctx: CallContext,
    req: fmt.ResponsesRequest,
    body: dict[str, Any],
    conversation: list[dict[str, Any]],
    store: ResponseStore,
    called: Callable[[], None] | None = None,
    previous: Previous = None,
) -> Response:
    """The request as chat completions, the answer translated back. ``called`` runs once
    a provider answered, before the request is recorded."""
    assert ctx.principal is not None
    org_id = ctx.principal.org_id
    response_id = fmt.new_id("resp")
    created_at = int(time.time())
    if ctx.stream:
        iterator, first = await pipeline.open_stream(body, ctx)
        if called is not None:
            called()
        assert ctx.route is not None
        relay = pipeline.relay(iterator, first, ctx, True, ctx.prompt_estimate)
        shell = fmt.response_shell(req, response_id, created_at, ctx.route.model.name)

        async def keep(response: dict[str, Any]) -> None:
            if isinstance(response.get("omni"), dict):
                response["omni"]["native"] = False
            if req.store:
                await store.save(org_id, conversation, response, previous)

        events = fmt.translate_stream(relay, fmt.StreamTranslator(shell), keep)
        return SSEResponse(events, routed_headers(ctx), pipeline.closer(ctx, relay, iterator))
    chat = await pipeline.call(body, ctx)
    if called is not None:
        called()
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
    result["omni"] = {**omni, "native": False}
    if req.store:
        await store.save(org_id, conversation, result, previous)
    return JSON(result, headers=routed_headers(ctx))


async def get_response(request: Request) -> Response:
    pipeline: Pipeline = request.app.state.pipeline
    response_id = request.path_params["response_id"]
    principal = await pipeline.authenticate(request, api_key_of(request), "read")
    row = await response_store(request).load(response_id, principal.org_id)
    if row is None:
        raise response_not_found(response_id)
    return JSON(row["body"])


async def delete_response(request: Request) -> Response:
    pipeline: Pipeline = request.app.state.pipeline
    response_id = request.path_params["response_id"]
    principal = await pipeline.authenticate(request, api_key_of(request), "write")
    if not await request.app.state.db.delete_response(response_id, principal.org_id):
        raise response_not_found(response_id)
    return JSON({"id": response_id, "object": "response", "deleted": True})


# -- GET /v1/responses/{id}/input_items -------------------------------------------------------
INPUT_ITEMS_DEFAULT_LIMIT = 20
INPUT_ITEMS_MAX_LIMIT = 100
#: Id prefixes for items stored without an id of their own.
ITEM_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")


def derived_item_id(response_id: str, index: int, kind: Any) -> str:
    """A stable id for the ``index``-th input item of a response (one stored without an id):
    the same on every listing, so ``after`` pages the same way each time."""
    prefix = ITEM_ID_PREFIXES.get(kind, "item") if isinstance(kind, str) else "item"
    digest = hashlib.sha256(f"{response_id}\x00{index}".encode()).hexdigest()
    return f"{prefix}_{digest[:48]}"


def _input_parts(content: Any) -> list[Any]:
    """A user / system / developer message's content as ``InputContent`` parts."""
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        return []
    parts: list[Any] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("text", "output_text"):
            part = {"type": "input_text", "text": part.get("text", "")}
        elif isinstance(part, dict) and part.get("type") == "input_image" and "detail" not in part:
            part = {**part, "detail": "auto"}
        parts.append(part)
    return parts


def _output_parts(content: Any) -> list[Any]:
    """An assistant message's content as ``OutputMessageContent`` parts."""
    if isinstance(content, str):
        content = [{"type": "output_text", "text": content}]
    if not isinstance(content, list):
        return []
    parts: list[Any] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("output_text", "input_text", "text"):
            part = {
                **part,
                "type": "output_text",
                "annotations": part.get("annotations") or [],
                "logprobs": part.get("logprobs") or [],
            }
        parts.append(part)
    return parts


def listed_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored conversation item as an ``ItemResource`` (without its id yet): messages get
    their content as parts and a ``status``, calls and their outputs a ``status``; any other
    kind (built-in tool calls on the native path, ...) is listed as it was stored."""
    out = dict(item)
    kind = item.get("type")
    if kind is None and "role" in item:
        kind = out["type"] = "message"
    if kind == "message":
        if item.get("role") == "assistant":
            out["content"] = _output_parts(item.get("content"))
        else:
            out["content"] = _input_parts(item.get("content"))
        out.setdefault("status", "completed")
    elif kind in ("function_call", "function_call_output"):
        out.setdefault("status", "completed")
    elif kind == "reasoning":
        out.setdefault("summary", [])
    return out


def input_item_list(response_id: str, stored: Any) -> list[dict[str, Any]]:
    """A stored response's input items, oldest first, each with a unique id: its own when it
    has one (not already used by an earlier item), else ``derived_item_id``."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(stored if isinstance(stored, list) else ()):
        if not isinstance(item, dict):
            continue
        listed = listed_item(item)
        own = listed.get("id")
        if not isinstance(own, str) or not own or own in seen:
            listed["id"] = derived_item_id(response_id, index, listed.get("type"))
        seen.add(listed["id"])
        items.append(listed)
    return items


class ListQuery:
    """``limit``, ``order``, ``after`` and ``include`` of a list request, checked."""

    def __init__(self, query: Any) -> None:
        self.limit = self._limit(query.get("limit"))
        order = query.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise bad_request(
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        self.order: str = order
        self.after: str | None = query.get("after") or None
        # The openai SDK sends ``include[]=...``; ``include=...`` (repeated) is accepted too.
        self.include = [*query.getlist("include"), *query.getlist("include[]")]
        for value in self.include:
            if value not in fmt.INCLUDABLE:
                raise bad_request(
                    f"Invalid value: '{value}'. Supported values are: "
                    + ", ".join(f"'{v}'" for v in fmt.INCLUDABLE)
                    + ".",
                    param="include",
                    code="invalid_value",
                )

    @staticmethod
    def _limit(raw: str | None) -> int:
        if raw is None or raw == "":
            return INPUT_ITEMS_DEFAULT_LIMIT
        if not _INTEGER.fullmatch(raw):
            raise bad_request(
                f"Invalid 'limit': expected an integer, but got '{raw[:40]}' instead.",
                param="limit",
                code="invalid_type",
            )
        limit = int(raw)
        if limit < 1:
            raise bad_request(
                f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
                f"{limit} instead.",
                param="limit",
                code="integer_below_min_value",
            )
        if limit > INPUT_ITEMS_MAX_LIMIT:
            raise bad_request(
                "Invalid 'limit': integer above maximum value. Expected a value <= "
                f"{INPUT_ITEMS_MAX_LIMIT}, but got {limit} instead.",
                param="limit",
                code="integer_above_max_value",
            )
        return limit

    def page(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """One ``ResponseItemList`` page of ``items`` (given oldest first)."""
        ordered = items if self.order == "asc" else items[::-1]
        start = 0
        if self.after is not None:
            found = next((i for i, it in enumerate(ordered) if it["id"] == self.after), None)
            if found is None:
                raise bad_request(
                    f"No input item with id '{self.after[:200]}' in this response.",
                    param="after",
                    code="invalid_value",
                )
            start = found + 1
        data = ordered[start : start + self.limit]
        return {
            "object": "list",
            "data": data,
            # An empty page has no ids to give (OpenAI's lists say null there too).
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": start + self.limit < len(ordered),
        }


async def list_input_items(request: Request) -> Response:
    """The items used to generate a stored response: the conversation carried over from
    ``previous_response_id`` (its input, then its output), then the request's ``input`` —
    the ``input`` stored with the response, whichever path made it."""
    pipeline: Pipeline = request.app.state.pipeline
    response_id = request.path_params["response_id"]
    principal = await pipeline.authenticate(request, api_key_of(request), "read")
    query = ListQuery(request.query_params)
    row = await response_store(request).load(response_id, principal.org_id)
    if row is None:
        raise response_not_found(response_id)
    return JSON(query.page(input_item_list(response_id, row["input"])))
