"""``/v1/responses``: OpenAI's Responses API. ``POST`` is an endpoint
(omni_proxy/endpoints/responses.py); ``GET`` / ``DELETE /v1/responses/{id}`` and ``GET
/v1/responses/{id}/input_items`` reach the org's stored responses.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..endpoints import route
from ..endpoints.responses import (
    CreateResponse,
    ResponseStore,
    response_store,
    retention_days,
)
from ..errors import ProxyError, bad_request
from ..pipeline import Pipeline
from ..server.http import JSON, api_key_of
from ..services import services
from ..wire import responses as fmt

__all__ = ["ResponseStore", "create_response", "response_store", "retention_days"]

create_response = route(CreateResponse())


def response_not_found(response_id: str) -> ProxyError:
    return ProxyError(
        404,
        f"Response with id '{response_id}' not found.",
        param="response_id",
        code="not_found",
    )


async def get_response(request: Request) -> Response:
    pipeline: Pipeline = services(request).pipeline
    response_id = request.path_params["response_id"]
    principal = await pipeline.authenticate(request, api_key_of(request), "read")
    row = await response_store(request).load(response_id, principal.org_id)
    if row is None:
        raise response_not_found(response_id)
    return JSON(row["body"])


async def delete_response(request: Request) -> Response:
    pipeline: Pipeline = services(request).pipeline
    response_id = request.path_params["response_id"]
    principal = await pipeline.authenticate(request, api_key_of(request), "write")
    if not await services(request).database.delete_response(response_id, principal.org_id):
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
    pipeline: Pipeline = services(request).pipeline
    response_id = request.path_params["response_id"]
    principal = await pipeline.authenticate(request, api_key_of(request), "read")
    query = ListQuery(request.query_params)
    row = await response_store(request).load(response_id, principal.org_id)
    if row is None:
        raise response_not_found(response_id)
    return JSON(query.page(input_item_list(response_id, row["input"])))
