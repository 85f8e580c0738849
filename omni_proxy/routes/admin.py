"""Key and org management (admin): ``/v1/api-keys``, ``/v1/organizations``.

Every route needs the ``admin`` permission. The master key (``OMNI_MASTER_KEY``: a principal
with no key id) manages every org; an org's own admin key sees and manages only its own org
and its keys — creating, updating and deleting orgs is the master key's alone. Asking for
another org's objects answers 403 (lists) or 404 (single objects), never their data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..accounts.audit import changed, record_change
from ..accounts.keys import KeyRequestError, create_key, ensure_org, parse_permissions
from ..config import GuardrailSettings
from ..errors import ProxyError, bad_request, permission_denied
from ..server.http import JSON, api_key_of, read_json
from ..services import services
from ..storage.storable import error_kind
from ..types import Principal
from ..wire import admin_models

_MAX_BODY = 64 * 1024


def is_global_admin(principal: Principal) -> bool:
    """The bootstrap master key (no key id) rather than a key that belongs to one org."""
    return principal.key_id is None and principal.can("admin")


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def not_found(what: str, ident: str) -> ProxyError:
    return ProxyError(404, f"No {what} with id '{ident}'.", code="not_found")


async def _admin(request: Request) -> Principal:
    principal: Principal = await services(request).pipeline.authenticate(
        request, api_key_of(request), "admin"
    )
    return principal


def _only_global(principal: Principal, action: str) -> None:
    if not is_global_admin(principal):
        raise permission_denied(f"Only the master key may {action}.")


async def _body(request: Request, check: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The JSON object sent, checked against its model (``wire.admin_models``) if given."""
    body = await read_json(request, _MAX_BODY)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    if check is not None:
        check(body)
    return body


_MAX_LIMIT = admin_models.MAX_LIMIT
_MAX_BUDGET = Decimal(admin_models.MAX_BUDGET_USD)


def _limit(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_LIMIT:
        raise bad_request(
            f"'{field}' must be an integer from 1 to {_MAX_LIMIT}, or null.", param=field
        )
    return value


def valid_org_name(value: Any, param: str = "name") -> str:
    """An organization name: printable text, 1-200 characters after trimming."""
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"'{param}' must be a non-empty string.", param=param)
    name = value.strip()
    if len(name) > 200 or not name.isprintable():
        raise bad_request(f"'{param}' must be at most 200 printable characters.", param=param)
    return name


def _budget(body: dict[str, Any], field: str = "monthly_budget_usd") -> Decimal | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad_request(f"'{field}' must be a number or null.", param=field)
    try:
        budget = Decimal(str(value))
    except InvalidOperation:
        raise bad_request(f"'{field}' must be a number or null.", param=field) from None
    if not budget.is_finite() or budget < 0 or budget > _MAX_BUDGET:
        raise bad_request(f"'{field}' must be from 0 to 1e12.", param=field)
    return budget.quantize(Decimal("0.00000001"))


def key_models(body: dict[str, Any]) -> list[str] | None:
    """A key's ``models`` allow-list: a list of model names, or null for every model."""
    value = body.get("models")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise bad_request("'models' must be a list of model names, or null.", param="models")
    return list(dict.fromkeys(value))


def key_name(body: dict[str, Any]) -> str | None:
    """``name``, or its LiteLLM-style synonym ``alias`` (``key_alias``)."""
    for field in ("name", "alias", "key_alias"):
        if field in body:
            value = body[field]
            if value is not None and not isinstance(value, str):
                raise bad_request(f"'{field}' must be a string.", param=field)
            return value
    return None


def _guardrails(value: Any) -> dict[str, Any] | None:
    """An org's guardrail override: the config's ``guardrails`` shape, any part of it."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("'guardrails' must be an object or null.", param="guardrails")
    base = GuardrailSettings().model_dump()
    for part, values in value.items():
        if isinstance(values, dict) and isinstance(base.get(part), dict):
            base[part] = {**base[part], **values}
        else:
            base[part] = values
    try:
        GuardrailSettings.model_validate(base)
    except ValueError as exc:
        first = str(exc).splitlines()[1:3]
        raise bad_request(
            "'guardrails' is not valid: " + " ".join(s.strip() for s in first),
            param="guardrails",
        ) from None
    return value


def _source(request: Request) -> str | None:
    return request.client.host if request.client else None


def _org_object(org: dict[str, Any]) -> dict[str, Any]:
    return jsonable({"object": "organization", **org})  # type: ignore[no-any-return]


def _key_object(key: dict[str, Any]) -> dict[str, Any]:
    return jsonable({"object": "api_key", **key})  # type: ignore[no-any-return]


# -- organizations --------------------------------------------------------------------------
async def list_orgs(request: Request) -> Response:
    principal = await _admin(request)
    db = services(request).database
    if is_global_admin(principal):
        orgs = await db.list_orgs()
    else:
        org = await db.get_org(principal.org_id)
        orgs = [org] if org and org["deleted_at"] is None else []
    return JSON({"object": "list", "data": [_org_object(o) for o in orgs]})


async def create_org(request: Request) -> Response:
    principal = await _admin(request)
    _only_global(principal, "create organizations")
    body = await _body(request, admin_models.check_organization_create)
    name = valid_org_name(body.get("name"))
    db = services(request).database
    if await db.get_org_by_name(name) is not None:
        raise ProxyError(
            409,
            f"An organization named '{name}' already exists.",
            code="conflict",
            param="name",
        )
    try:
        org = await db.create_org(
            name,
            monthly_budget_usd=_budget(body),
            rpm_limit=_limit(body, "rpm_limit"),
            tpm_limit=_limit(body, "tpm_limit"),
            soft_budget_usd=_budget(body, "soft_budget_usd"),
        )
    except Exception as exc:
        # The name is unique (deleted orgs' too): taken meanwhile by a concurrent create.
        if error_kind(exc) != "data":
            raise
        raise ProxyError(
            409,
            f"An organization named '{name}' already exists (or existed).",
            code="conflict",
            param="name",
        ) from None
    if body.get("guardrails") is not None:
        updated = await db.update_org(org["id"], {"guardrails": _guardrails(body["guardrails"])})
        assert updated is not None
        org = updated
    await record_change(
        db,
        principal,
        "org.create",
        "org",
        org["id"],
        org_id=org["id"],
        after=org,
        source=_source(request),
    )
    return JSON(_org_object(org), status_code=201)


async def get_org(request: Request) -> Response:
    org_id = request.path_params["org_id"]
    principal = await _admin(request)
    org = await services(request).database.get_org(org_id)
    visible = is_global_admin(principal) or principal.org_id == org_id
    if org is None or not visible:
        raise not_found("organization", org_id)
    return JSON(_org_object(org))


async def update_org(request: Request) -> Response:
    org_id = request.path_params["org_id"]
    principal = await _admin(request)
    _only_global(principal, "update organizations")
    body = await _body(request, admin_models.check_organization_update)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = valid_org_name(body["name"])
    for field in ("monthly_budget_usd", "soft_budget_usd"):
        if field in body:
            changes[field] = _budget(body, field)
    for field in ("rpm_limit", "tpm_limit"):
        if field in body:
            changes[field] = _limit(body, field)
    if "guardrails" in body:
        changes["guardrails"] = _guardrails(body["guardrails"])
    before = await services(request).database.get_org(org_id)
    try:
        org = await services(request).database.update_org(org_id, changes)
    except ProxyError:
        raise
    except Exception:
        if "name" in changes:
            raise ProxyError(
                409,
                f"An organization named '{changes['name']}' already exists.",
                code="conflict",
                param="name",
            ) from None
        raise
    if org is None or before is None:
        raise not_found("organization", org_id)
    old, new = changed(before, org)
    if new:
        await record_change(
            services(request).database,
            principal,
            "org.update",
            "org",
            org_id,
            org_id=org_id,
            before=old,
            after=new,
            source=_source(request),
        )
    keys = services(request).keys
    if keys is not None:
        await keys.refresh()  # new limits apply at once on this instance
    return JSON(_org_object(org))


async def delete_org(request: Request) -> Response:
    org_id = request.path_params["org_id"]
    principal = await _admin(request)
    _only_global(principal, "delete organizations")
    db = services(request).database
    before = await db.get_org(org_id)
    if not await db.delete_org(org_id):
        raise not_found("organization", org_id)
    await record_change(
        db,
        principal,
        "org.delete",
        "org",
        org_id,
        org_id=org_id,
        before=before,
        source=_source(request),
    )
    keys = services(request).keys
    if keys is not None:
        keys.drop_org(org_id)
    return JSON({"id": org_id, "object": "organization", "deleted": True})


# -- api keys -------------------------------------------------------------------------------
def _expires(body: dict[str, Any]) -> datetime | None:
    value = body.get("expires_at")
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise bad_request(
        "'expires_at' must be an ISO 8601 time or a unix timestamp.", param="expires_at"
    )


async def list_keys(request: Request) -> Response:
    principal = await _admin(request)
    org_id = request.query_params.get("org_id") or None
    if not is_global_admin(principal):
        if org_id is not None and org_id != principal.org_id:
            raise permission_denied("This key may only list its own organization's keys.")
        org_id = principal.org_id
    keys = await services(request).database.list_keys(org_id)
    return JSON({"object": "list", "data": [_key_object(k) for k in keys]})


async def create_api_key(request: Request) -> Response:
    principal = await _admin(request)
    body = await _body(request, admin_models.check_api_key_create)
    db = services(request).database
    org_id = body.get("org_id")
    org_name = body.get("org") or body.get("org_name")
    if org_id is not None and not isinstance(org_id, str):
        raise bad_request("'org_id' must be a string.", param="org_id")
    if org_name is not None and not isinstance(org_name, str):
        raise bad_request("'org' must be a string.", param="org")
    if is_global_admin(principal):
        if org_id is None and org_name:
            org_id = (await ensure_org(db, valid_org_name(org_name, "org")))["id"]
        if org_id is None:
            raise bad_request(
                "'org_id' (or 'org', an organization name) is required.", param="org_id"
            )
    else:
        if org_name and org_id is None:
            own = await db.get_org(principal.org_id)
            if own is None or own["name"] != org_name:
                raise permission_denied("This key may only create keys in its own organization.")
        org_id = org_id or principal.org_id
        if org_id != principal.org_id:
            raise permission_denied("This key may only create keys in its own organization.")
    name = key_name(body)
    perms_in = body.get("permissions")
    if perms_in is not None and not isinstance(perms_in, str | list):
        raise bad_request(
            "'permissions' must be a list or a comma-separated string.", param="permissions"
        )
    try:
        perms = parse_permissions(perms_in)
        key, row = await create_key(
            db,
            org_id,
            name=name,
            permissions=perms,
            expires_at=_expires(body),
            rpm_limit=_limit(body, "rpm_limit"),
            tpm_limit=_limit(body, "tpm_limit"),
            models=key_models(body),
            max_budget_usd=_budget(body, "max_budget_usd"),
            budget_period=body.get("budget_period"),
        )
    except KeyRequestError as exc:
        param = "permissions" if "permission" in str(exc) else "org_id"
        param = "budget_period" if "budget_period" in str(exc) else param
        raise bad_request(str(exc), param=param) from None
    await record_change(
        db,
        principal,
        "key.create",
        "api_key",
        row["id"],
        org_id=row["org_id"],
        after=row,
        source=_source(request),
    )
    cache = services(request).keys
    if cache is not None:
        await cache.refresh()  # usable at once on this instance
    return JSON({**_key_object(row), "key": key}, status_code=201)


async def get_api_key(request: Request) -> Response:
    key_id = request.path_params["key_id"]
    principal = await _admin(request)
    key = await services(request).database.get_key(key_id)
    if key is None or not (is_global_admin(principal) or key["org_id"] == principal.org_id):
        raise not_found("API key", key_id)
    return JSON(_key_object(key))


async def revoke_api_key(request: Request) -> Response:
    key_id = request.path_params["key_id"]
    principal = await _admin(request)
    scope = None if is_global_admin(principal) else principal.org_id
    db = services(request).database
    if not await db.revoke_key(key_id, scope):
        raise not_found("active API key", key_id)
    after = await db.get_key(key_id)
    await record_change(
        db,
        principal,
        "key.revoke",
        "api_key",
        key_id,
        org_id=after["org_id"] if after else None,
        before={"revoked_at": None},
        after={"revoked_at": after and after["revoked_at"]},
        source=_source(request),
    )
    cache = services(request).keys
    if cache is not None:
        cache.drop(key_id)
    return JSON({"id": key_id, "object": "api_key", "deleted": True, "revoked": True})


ROUTES: list[Route] = [
    Route("/v1/organizations", list_orgs, methods=["GET"]),
    Route("/v1/organizations", create_org, methods=["POST"]),
    Route("/v1/organizations/{org_id}", get_org, methods=["GET"]),
    Route("/v1/organizations/{org_id}", update_org, methods=["POST", "PATCH"]),
    Route("/v1/organizations/{org_id}", delete_org, methods=["DELETE"]),
    Route("/v1/api-keys", list_keys, methods=["GET"]),
    Route("/v1/api-keys", create_api_key, methods=["POST"]),
    Route("/v1/api-keys/{key_id}", get_api_key, methods=["GET"]),
    Route("/v1/api-keys/{key_id}", revoke_api_key, methods=["DELETE"]),
]
