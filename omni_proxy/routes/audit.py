"""``GET /v1/audit-log``: an admin's view of who changed what. An org's admin key sees its own
org's entries; the master key sees every org's (``org_id`` to narrow it). Paged newest first:
``limit`` (1-200, default 50) and ``after`` (the previous page's ``last_id``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ProxyError, bad_request, permission_denied
from ..server.http import JSON, api_key_of, error_response, request_id
from ..services import services
from .admin import is_global_admin


async def audit_log(request: Request) -> Response:
    try:
        principal = await services(request).pipeline.authenticate(
            request, api_key_of(request), "admin"
        )
        query = request.query_params
        org_id = query.get("org_id") or None
        if not is_global_admin(principal):
            if org_id is not None and org_id != principal.org_id:
                raise permission_denied("This key may only read its own organization's log.")
            org_id = principal.org_id
        raw_limit = query.get("limit", "50")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
            raise bad_request("'limit' must be an integer from 1 to 200.", param="limit")
        entries, more = await services(request).database.list_audit(
            org_id=org_id,
            limit=int(raw_limit),
            after=query.get("after") or None,
            action=query.get("action") or None,
            target_type=query.get("target_type") or None,
            target_id=query.get("target_id") or None,
        )
    except ProxyError as err:
        return error_response(err, request_id(request))
    return JSON(
        {
            "object": "list",
            "data": entries,
            "has_more": more,
            "first_id": entries[0]["id"] if entries else None,
            "last_id": entries[-1]["id"] if entries else None,
        }
    )


ROUTES: list[Route] = [Route("/v1/audit-log", audit_log, methods=["GET"])]
