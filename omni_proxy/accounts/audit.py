"""The audit log: who (key id) changed which org, key, budget, limit or guardrail setting,
from where, and what it was before and after. Secrets never enter it.

Written on admin paths only (the API's management routes and the CLI), never on requests.
"""

from __future__ import annotations

import getpass
import logging
from typing import Any

from ..storage.base import Database
from ..types import Principal

log = logging.getLogger("omni_proxy.audit")

#: Fields never written to the log, whatever object they come in.
_SECRET_FIELDS = frozenset({"key", "secret", "secret_hash", "api_key", "password"})


def scrubbed(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {k: v for k, v in obj.items() if k not in _SECRET_FIELDS and k != "object"}


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def actor_of(principal: Principal | None) -> tuple[str, str | None]:
    """(actor, key id): ``master`` for the master key, ``key:<id>`` for an org's key."""
    if principal is None:
        return "cli:" + _user(), None
    if principal.key_id is None:
        return "master", None
    return f"key:{principal.key_id}", principal.key_id


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


async def record_change(
    db: Database,
    principal: Principal | None,
    action: str,
    target_type: str,
    target_id: str | None,
    *,
    org_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    source: str | None = None,
) -> None:
    """One entry; a failure is logged, never raised (the change itself has been made)."""
    actor, key_id = actor_of(principal)
    try:
        await db.add_audit(
            {
                "org_id": org_id,
                "actor_key_id": key_id,
                "actor": actor,
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "before": scrubbed(before),
                "after": scrubbed(after),
                "source": source if source is not None else ("cli" if principal is None else None),
            }
        )
    except Exception:
        log.exception("could not write the audit log entry for %s %s", action, target_id)
