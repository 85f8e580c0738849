"""The audit log's rows: written by admin actions (never on the request path), read paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from . import common  # partly loaded when common imports this; used at call time only


class AuditQueries:
    """``audit_log`` for both dialects, on the ``Dialect`` primitives of ``SQLStore``."""

    _fetch: Any
    _execute: Any
    _ts: Any

    async def add_audit(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Store one entry: ``org_id``, ``actor_key_id``, ``actor``, ``action``,
        ``target_type``, ``target_id``, ``before``, ``after`` (JSON-able), ``source``."""
        row = {**entry, "id": common.new_id("audit"), "created_at": common.utcnow()}
        await self._execute(
            "INSERT INTO audit_log (id, org_id, actor_key_id, actor, action, target_type,"
            " target_id, before, after, source, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row["id"],
                row.get("org_id"),
                row.get("actor_key_id"),
                row["actor"],
                row["action"],
                row["target_type"],
                row.get("target_id"),
                _dump(row.get("before")),
                _dump(row.get("after")),
                row.get("source"),
                self._ts(row["created_at"]),
            ),
        )
        return row

    async def list_audit(
        self,
        *,
        org_id: str | None = None,
        limit: int = 50,
        after: str | None = None,
        action: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first; ``after`` is the id of the last entry of the previous page;
        ``since``/``until`` bound ``created_at`` (until excluded). Returns the page and
        whether more follow."""
        where, params = [], []
        for column, value in (
            ("org_id", org_id),
            ("action", action),
            ("target_type", target_type),
            ("target_id", target_id),
        ):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if since is not None:
            where.append("created_at >= %s")
            params.append(self._ts(since))
        if until is not None:
            where.append("created_at < %s")
            params.append(self._ts(until))
        if after is not None:
            mark = await self._fetch("SELECT created_at FROM audit_log WHERE id = %s", (after,))
            if not mark:
                return [], False
            where.append("(created_at < %s OR (created_at = %s AND id < %s))")
            params += [mark[0]["created_at"], mark[0]["created_at"], after]
        sql = "SELECT * FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT %s"
        rows = await self._fetch(sql, (*params, limit + 1))
        return [_out(r) for r in rows[:limit]], len(rows) > limit


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "audit_log.entry",
        "id": row["id"],
        "org_id": row["org_id"],
        "actor_key_id": row["actor_key_id"],
        "actor": row["actor"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "before": common.json_out(row["before"]),
        "after": common.json_out(row["after"]),
        "source": row["source"],
        "created_at": common.iso_out(row["created_at"]),
    }
