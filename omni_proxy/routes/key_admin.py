"""Changing a key after creation (admin): ``PATCH /v1/api-keys/{id}`` (alias, expiry, model
allow-list, budget and period, rate limits) and ``POST /v1/api-keys/{id}/rotate`` (a new
secret for the same key, the old one valid for ``grace_period_s``, default 0: revoked at
once). Scoped like the rest of admin.py: an org's admin key only reaches its own keys."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..accounts.audit import changed, record_change
from ..accounts.keys import BUDGET_PERIODS, KeyRequestError, rotate_key
from ..errors import ProxyError, bad_request
from ..server.http import JSON
from ..services import services
from ..wire import admin_models
from .admin import (
    _admin,
    _body,
    _budget,
    _expires,
    _key_object,
    _limit,
    _source,
    is_global_admin,
    key_models,
    key_name,
    not_found,
)

#: Longest grace period for a rotated key's old secret (30 days).
MAX_GRACE_S = admin_models.MAX_GRACE_S


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if any(f in body for f in ("name", "alias", "key_alias")):
        changes["name"] = key_name(body)
    if "expires_at" in body:
        changes["expires_at"] = _expires(body)
    for field in ("rpm_limit", "tpm_limit"):
        if field in body:
            changes[field] = _limit(body, field)
    if "models" in body:
        changes["models"] = key_models(body)
    if "max_budget_usd" in body:
        changes["max_budget_usd"] = _budget(body, "max_budget_usd")
    if "budget_period" in body:
        period = body["budget_period"]
        if period is not None and period not in BUDGET_PERIODS:
            raise bad_request(
                f"'budget_period' must be one of {', '.join(BUDGET_PERIODS)}.",
                param="budget_period",
            )
        changes["budget_period"] = period
    elif changes.get("max_budget_usd") is not None:
        changes["budget_period"] = "monthly"
    return changes


async def update_api_key(request: Request) -> Response:
    key_id = request.path_params["key_id"]
    principal = await _admin(request)
    body = await _body(request, admin_models.check_api_key_update)
    scope = None if is_global_admin(principal) else principal.org_id
    db = services(request).database
    before = await db.get_key(key_id)
    key = await db.update_key(key_id, _changes(body), scope)
    if key is None:
        raise not_found("active API key", key_id)
    old, new = changed(before or {}, key)
    if new:
        await record_change(
            db,
            principal,
            "key.update",
            "api_key",
            key_id,
            org_id=key.get("org_id"),
            before=old,
            after=new,
            source=_source(request),
        )
    cache = services(request).keys
    if cache is not None:
        await cache.refresh(full=True)  # the new settings apply at once on this instance
    return JSON(_key_object(key))


async def rotate_api_key(request: Request) -> Response:
    key_id = request.path_params["key_id"]
    principal = await _admin(request)
    body = await _body(request, admin_models.check_api_key_rotate) if await request.body() else {}
    grace = body.get("grace_period_s") or 0
    scope = None if is_global_admin(principal) else principal.org_id
    db = services(request).database
    try:
        rotated = await rotate_key(db, key_id, grace_s=float(grace), org_id=scope)
    except KeyRequestError as exc:
        raise ProxyError(503, str(exc), type="server_error") from None
    if rotated is None:
        raise not_found("active API key", key_id)
    secret, row = rotated
    await record_change(
        db,
        principal,
        "key.rotate",
        "api_key",
        key_id,
        org_id=row.get("org_id"),
        after={"rotated_at": row.get("rotated_at"), "grace_period_s": grace},
        source=_source(request),
    )
    cache = services(request).keys
    if cache is not None:
        cache.drop(key_id)
        await cache.refresh(full=True)
    return JSON(_key_object({**row, "key": secret}))


ROUTES: list[Route] = [
    Route("/v1/api-keys/{key_id}", update_api_key, methods=["POST", "PATCH"]),
    Route("/v1/api-keys/{key_id}/rotate", rotate_api_key, methods=["POST"]),
]
