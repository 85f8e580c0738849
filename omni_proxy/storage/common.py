"""The queries both dialects share: orgs, keys, models, stored responses, the requests page.

Each dialect supplies the ``Dialect`` primitives (``_fetch`` / ``_execute`` with ``%s``
placeholders, which SQLite rewrites to ``?``, and a handful of expressions). Usage and spend
live in ``rollup`` and read the hourly rollups, never a loop over rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from ..types import RequestRecord
from .audit import AuditQueries
from .rollup import UsageQueries

R = TypeVar("R")
T = TypeVar("T")

ORG_FIELDS = (
    "name",
    "monthly_budget_usd",
    "rpm_limit",
    "tpm_limit",
    "soft_budget_usd",
    "guardrails",
)
_ORG_MONEY = ("monthly_budget_usd", "soft_budget_usd")
KEY_COLUMNS = (
    "id, org_id, name, prefix, permissions, rpm_limit, tpm_limit, expires_at, revoked_at,"
    " last_used_at, created_at, models, max_budget_usd, budget_period, rotated_at,"
    " prev_expires_at"
)
#: What ``update_key`` may change (sql/*/0007_gateway.sql added the last three).
KEY_FIELDS = (
    "name",
    "expires_at",
    "rpm_limit",
    "tpm_limit",
    "models",
    "max_budget_usd",
    "budget_period",
)


def models_out(value: Any) -> list[str] | None:
    """A key's stored model allow-list (JSON text), None for every model."""
    if value is None or value == "":
        return None
    parsed = orjson.loads(value)
    return [str(m) for m in parsed] if isinstance(parsed, list) else None


#: Responses followed back through ``previous_id`` at most (a chain is one conversation).
MAX_CHAIN = 10_000

#: Records turned into rows per turn of the event loop (~6 µs each on SQLite).
ROWS_PER_TURN = 50


async def rows_of(records: list[R], build: Callable[[R], T]) -> list[T]:
    """``build`` applied to each record, yielding to the event loop every ``ROWS_PER_TURN``:
    a batch of 500 built in one go held every request behind it for about 3 ms."""
    rows: list[T] = []
    for start in range(0, len(records), ROWS_PER_TURN):
        if start:
            await asyncio.sleep(0)
        rows.extend(build(r) for r in records[start : start + ROWS_PER_TURN])
    return rows


def outcome_rows(records: list[RequestRecord], ts: Callable[[float], Any]) -> list[tuple[Any, ...]]:
    """The ``feedback`` rows (source 'cascade') of a batch's verdicts."""
    return [
        (
            r.request_id,
            r.org_id,
            o.get("model"),
            r.task_type,
            r.prompt_text,
            float(o["score"]),
            o.get("comment"),
            "cascade",
            ts(r.created_at),
        )
        for r in records
        if r.org_id is not None
        for o in r.outcomes
    ]


def body_rows(records: list[RequestRecord], ts: Callable[[float], Any]) -> list[tuple[Any, ...]]:
    """The ``request_bodies`` rows of a batch (records that carry ``bodies``); a NUL (which
    PostgreSQL text refuses, and would cost the request its whole record) becomes U+FFFD."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value).replace("\x00", "\ufffd")

    return [
        (
            r.request_id,
            r.org_id,
            text(r.bodies.get("prompt")),
            text(r.bodies.get("answer")),
            ts(r.created_at),
        )
        for r in records
        if r.bodies
    ]


def new_id(kind: str) -> str:
    return f"{kind}_{uuid.uuid4().hex[:24]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_datetime(value: Any) -> datetime | None:
    """A timestamp as stored by either dialect (datetime or ISO text) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_out(value: Any) -> str | None:
    dt = to_datetime(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if dt else None


def json_out(value: Any) -> Any:
    """A JSON text column as its value (None stays None)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def money_out(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value))


#: ``recent_requests`` filters and the column each compares (names fixed here, never SQL
#: from the caller).
_REQUEST_FILTERS = {
    "model": "model_used",
    "task": "task_type",
    "provider": "provider",
    "key": "key_id",
    "id": "id",
}


class SQLStore(UsageQueries, AuditQueries):
    """Dialect-independent data access; subclasses provide the ``Dialect`` primitives."""

    # -- orgs -------------------------------------------------------------------------------
    def _org_out(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "monthly_budget_usd": money_out(row["monthly_budget_usd"]),
            "rpm_limit": row["rpm_limit"],
            "tpm_limit": row["tpm_limit"],
            "guardrails": json_out(row.get("guardrails")),
            "soft_budget_usd": money_out(row.get("soft_budget_usd")),
            "created_at": iso_out(row["created_at"]),
            "deleted_at": iso_out(row["deleted_at"]),
        }

    async def create_org(
        self,
        name: str,
        *,
        monthly_budget_usd: Decimal | None = None,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
        soft_budget_usd: Decimal | None = None,
    ) -> dict[str, Any]:
        org_id = new_id("org")
        await self._execute(
            "INSERT INTO orgs (id, name, monthly_budget_usd, rpm_limit, tpm_limit, created_at,"
            " soft_budget_usd) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                org_id,
                name,
                self._money(monthly_budget_usd),
                rpm_limit,
                tpm_limit,
                self._ts(utcnow()),
                self._money(soft_budget_usd),
            ),
        )
        org = await self.get_org(org_id)
        assert org is not None
        return org

    async def get_org(self, org_id: str) -> dict[str, Any] | None:
        rows = await self._fetch("SELECT * FROM orgs WHERE id = %s", (org_id,))
        return self._org_out(rows[0]) if rows else None

    async def get_org_by_name(self, name: str) -> dict[str, Any] | None:
        rows = await self._fetch(
            "SELECT * FROM orgs WHERE name = %s AND deleted_at IS NULL", (name,)
        )
        return self._org_out(rows[0]) if rows else None

    async def list_orgs(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        where = "" if include_deleted else " WHERE deleted_at IS NULL"
        rows = await self._fetch(f"SELECT * FROM orgs{where} ORDER BY created_at, id")
        return [self._org_out(r) for r in rows]

    async def update_org(self, org_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Set any of ``ORG_FIELDS``; None if no such org."""
        sets, params = [], []
        for field in ORG_FIELDS:
            if field in changes:
                value = changes[field]
                if field in _ORG_MONEY:
                    value = self._money(None if value is None else Decimal(str(value)))
                elif field == "guardrails" and value is not None:
                    value = orjson.dumps(value).decode()
                sets.append(f"{field} = %s")
                params.append(value)
        if sets:
            count = await self._execute(
                f"UPDATE orgs SET {', '.join(sets)} WHERE id = %s AND deleted_at IS NULL",
                (*params, org_id),
            )
            if not count:
                return None
        org = await self.get_org(org_id)
        return org if org and org["deleted_at"] is None else None

    async def delete_org(self, org_id: str) -> bool:
        """Soft-delete an org and revoke its keys."""
        now = self._ts(utcnow())
        count = await self._execute(
            "UPDATE orgs SET deleted_at = %s WHERE id = %s AND deleted_at IS NULL", (now, org_id)
        )
        if count:
            await self._execute(
                "UPDATE api_keys SET revoked_at = %s WHERE org_id = %s AND revoked_at IS NULL",
                (now, org_id),
            )
        return bool(count)

    # -- keys -------------------------------------------------------------------------------
    def _key_out(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {
            "id": row["id"],
            "org_id": row["org_id"],
            "name": row["name"],
            "prefix": row["prefix"],
            "permissions": [p for p in str(row["permissions"]).split(",") if p],
            "rpm_limit": row["rpm_limit"],
            "tpm_limit": row["tpm_limit"],
            "expires_at": iso_out(row["expires_at"]),
            "revoked_at": iso_out(row["revoked_at"]),
            "last_used_at": iso_out(row["last_used_at"]),
            "created_at": iso_out(row["created_at"]),
            "alias": row["name"],
            "models": models_out(row.get("models")),
            "max_budget_usd": money_out(row.get("max_budget_usd")),
            "budget_period": row.get("budget_period"),
            "rotated_at": iso_out(row.get("rotated_at")),
            "previous_key_valid_until": iso_out(row.get("prev_expires_at")),
        }
        if "org_name" in row:
            out["org_name"] = row["org_name"]
        return out

    async def insert_key(
        self,
        *,
        key_id: str,
        org_id: str,
        prefix: str,
        secret_hash: str,
        permissions: list[str],
        name: str | None = None,
        expires_at: datetime | None = None,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
        models: list[str] | None = None,
        max_budget_usd: Decimal | None = None,
        budget_period: str | None = None,
    ) -> dict[str, Any]:
        await self._execute(
            "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, permissions, rpm_limit,"
            " tpm_limit, expires_at, created_at, models, max_budget_usd, budget_period)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                key_id,
                org_id,
                name,
                prefix,
                secret_hash,
                ",".join(permissions),
                rpm_limit,
                tpm_limit,
                self._ts(expires_at) if expires_at else None,
                self._ts(utcnow()),
                None if models is None else orjson.dumps(models).decode(),
                self._money(max_budget_usd),
                budget_period,
            ),
        )
        key = await self.get_key(key_id)
        assert key is not None
        return key

    async def get_key(self, key_id: str) -> dict[str, Any] | None:
        rows = await self._fetch(
            f"SELECT k.{KEY_COLUMNS.replace(', ', ', k.')}, o.name AS org_name"
            " FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.id = %s",
            (key_id,),
        )
        return self._key_out(rows[0]) if rows else None

    async def list_keys(self, org_id: str | None = None) -> list[dict[str, Any]]:
        sql = (
            f"SELECT k.{KEY_COLUMNS.replace(', ', ', k.')}, o.name AS org_name"
            " FROM api_keys k JOIN orgs o ON o.id = k.org_id"
        )
        params: tuple[Any, ...] = ()
        if org_id is not None:
            sql += " WHERE k.org_id = %s"
            params = (org_id,)
        rows = await self._fetch(sql + " ORDER BY k.created_at, k.id", params)
        return [self._key_out(r) for r in rows]

    async def revoke_key(self, key_id: str, org_id: str | None = None) -> bool:
        """Revoke a key (only within ``org_id`` when given); False if nothing was revoked."""
        sql = "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
        params: tuple[Any, ...] = (self._ts(utcnow()), key_id)
        if org_id is not None:
            sql += " AND org_id = %s"
            params += (org_id,)
        return bool(await self._execute(sql, params))

    async def update_key(
        self, key_id: str, changes: dict[str, Any], org_id: str | None = None
    ) -> dict[str, Any] | None:
        """Set any of ``KEY_FIELDS`` on an unrevoked key (within ``org_id`` when given);
        None if there is no such key."""
        sets, params = [], []
        for field in KEY_FIELDS:
            if field not in changes:
                continue
            value = changes[field]
            if field == "expires_at":
                value = self._ts(value) if value is not None else None
            elif field == "max_budget_usd":
                value = self._money(None if value is None else Decimal(str(value)))
            elif field == "models":
                value = None if value is None else orjson.dumps(list(value)).decode()
            sets.append(f"{field} = %s")
            params.append(value)
        where = " WHERE id = %s AND revoked_at IS NULL"
        scope: tuple[Any, ...] = (key_id,)
        if org_id is not None:
            where += " AND org_id = %s"
            scope += (org_id,)
        if sets and not await self._execute(
            f"UPDATE api_keys SET {', '.join(sets)}{where}", (*params, *scope)
        ):
            return None
        key = await self.get_key(key_id)
        if key is None or key["revoked_at"] is not None:
            return None
        if org_id is not None and key["org_id"] != org_id:
            return None
        return key

    async def rotate_key(
        self,
        key_id: str,
        *,
        prefix: str,
        secret_hash: str,
        grace_until: datetime | None,
        org_id: str | None = None,
    ) -> dict[str, Any] | None:
        """A new secret for the same key (id, org, settings kept). The old secret stays
        valid until ``grace_until`` (None: revoked at once). None if no such key."""
        now = self._ts(utcnow())
        if grace_until is not None:
            sql = (
                "UPDATE api_keys SET prev_prefix = prefix, prev_secret_hash = secret_hash,"
                " prev_expires_at = %s, prefix = %s, secret_hash = %s, rotated_at = %s"
            )
            params: tuple[Any, ...] = (self._ts(grace_until), prefix, secret_hash, now)
        else:
            sql = (
                "UPDATE api_keys SET prev_prefix = NULL, prev_secret_hash = NULL,"
                " prev_expires_at = NULL, prefix = %s, secret_hash = %s, rotated_at = %s"
            )
            params = (prefix, secret_hash, now)
        sql += " WHERE id = %s AND revoked_at IS NULL"
        params += (key_id,)
        if org_id is not None:
            sql += " AND org_id = %s"
            params += (org_id,)
        if not await self._execute(sql, params):
            return None
        return await self.get_key(key_id)

    async def active_keys(
        self, prefix: str | None = None, *, created_since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Every usable key (or the one with ``prefix``, or those created since a time) with
        its hash and its org's limits: what the key cache holds."""
        sql = (
            "SELECT k.id, k.org_id, k.prefix, k.secret_hash, k.permissions, k.rpm_limit,"
            " k.tpm_limit, k.expires_at, o.name AS org_name, o.rpm_limit AS org_rpm_limit,"
            " o.tpm_limit AS org_tpm_limit, o.monthly_budget_usd, k.models, k.max_budget_usd,"
            " k.budget_period, k.prev_prefix, k.prev_secret_hash, k.prev_expires_at,"
            " o.soft_budget_usd, o.guardrails AS org_guardrails"
            " FROM api_keys k JOIN orgs o ON o.id = k.org_id"
            " WHERE k.revoked_at IS NULL AND o.deleted_at IS NULL"
        )
        if prefix is not None:
            rows = await self._fetch(sql + " AND k.prefix = %s", (prefix,))
        elif created_since is not None:
            since = self._ts(created_since)  # created, or rotated (a new prefix) since
            rows = await self._fetch(
                sql + " AND (k.created_at >= %s OR k.rotated_at >= %s)", (since, since)
            )
        else:
            rows = await self._fetch(sql)
        for row in rows:
            row["expires_at"] = to_datetime(row["expires_at"])
            row["prev_expires_at"] = to_datetime(row["prev_expires_at"])
            row["monthly_budget_usd"] = money_out(row["monthly_budget_usd"])
            row["org_guardrails"] = json_out(row.get("org_guardrails"))
            row["soft_budget_usd"] = money_out(row["soft_budget_usd"])
            row["max_budget_usd"] = money_out(row["max_budget_usd"])
            row["models"] = models_out(row["models"])
        return rows

    async def key_spend_since(self, key_ids: list[str], start: datetime) -> dict[str, Decimal]:
        """Cost per key since ``start``, from the keys' own rows (index requests_key_time);
        for per-key budgets, read in the background, never per request."""
        if not key_ids:
            return {}
        marks = ", ".join(["%s"] * len(key_ids))
        rows = await self._fetch(
            f"SELECT key_id, {self._sum_money('cost')} AS cost FROM requests"
            f" WHERE key_id IN ({marks}) AND created_at >= %s GROUP BY key_id",
            (*key_ids, self._ts(start)),
        )
        return {r["key_id"]: self._money_sum_out(r["cost"]) for r in rows}

    async def revoked_prefixes(self, since: datetime) -> list[str]:
        """Prefixes of keys revoked since ``since`` (the ``api_keys_revoked`` index)."""
        rows = await self._fetch(
            "SELECT prefix FROM api_keys WHERE revoked_at >= %s", (self._ts(since),)
        )
        return [str(r["prefix"]) for r in rows]

    async def org_settings(self) -> dict[str, tuple[Any, ...]]:
        """Each org's (name, rpm, tpm, budget, deleted, soft budget, guardrails): what keys
        take from their org."""
        rows = await self._fetch(
            "SELECT id, name, rpm_limit, tpm_limit, monthly_budget_usd, deleted_at,"
            " soft_budget_usd, guardrails FROM orgs"
        )
        return {
            r["id"]: (
                r["name"],
                r["rpm_limit"],
                r["tpm_limit"],
                money_out(r["monthly_budget_usd"]),
                r["deleted_at"] is not None,
                money_out(r["soft_budget_usd"]),
                json_out(r["guardrails"]),
            )
            for r in rows
        }

    async def count_active_keys(self) -> int:
        rows = await self._fetch(
            "SELECT COUNT(*) AS n FROM api_keys k JOIN orgs o ON o.id = k.org_id"
            " WHERE k.revoked_at IS NULL AND o.deleted_at IS NULL"
            " AND (k.expires_at IS NULL OR k.expires_at > %s)",
            (self._ts(utcnow()),),
        )
        return int(rows[0]["n"])

    async def touch_keys(self, key_ids: list[str], when: datetime) -> None:
        if not key_ids:
            return
        marks = ", ".join(["%s"] * len(key_ids))
        await self._execute(
            f"UPDATE api_keys SET last_used_at = %s WHERE id IN ({marks})",
            (self._ts(when), *key_ids),
        )

    # -- models -----------------------------------------------------------------------------
    async def seed_models(self, models: list[dict[str, Any]]) -> None:
        """Upsert the config's models: the config is authoritative for the rows it names;
        rows added to the table by other means stay."""
        for m in models:
            changed = await self._execute(
                "UPDATE models SET provider = %s, upstream_model = %s, cost_input = %s,"
                " cost_output = %s, avg_latency_ms = %s, strengths = %s,"
                " supports_functions = %s, supports_vision = %s, max_tokens = %s, kind = %s,"
                " updated_at = %s WHERE name = %s",
                (
                    m["provider"],
                    m["model"],
                    self._money(m["cost_input"]),
                    self._money(m["cost_output"]),
                    m["avg_latency_ms"],
                    ",".join(m["strengths"]),
                    m["supports_functions"],
                    m["supports_vision"],
                    m["max_tokens"],
                    m["kind"],
                    self._ts(utcnow()),
                    m["name"],
                ),
            )
            if changed:
                continue
            await self._execute(
                "INSERT INTO models (name, provider, upstream_model, cost_input, cost_output,"
                " avg_latency_ms, strengths, supports_functions, supports_vision, max_tokens,"
                " kind, enabled, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (
                    m["name"],
                    m["provider"],
                    m["model"],
                    self._money(m["cost_input"]),
                    self._money(m["cost_output"]),
                    m["avg_latency_ms"],
                    ",".join(m["strengths"]),
                    m["supports_functions"],
                    m["supports_vision"],
                    m["max_tokens"],
                    m["kind"],
                    True,
                    self._ts(utcnow()),
                ),
            )

    async def list_models(self) -> list[dict[str, Any]]:
        """Enabled registry rows, in the shape of the config's ``models`` entries."""
        rows = await self._fetch("SELECT * FROM models WHERE enabled = %s ORDER BY name", (True,))
        return [
            {
                "name": r["name"],
                "provider": r["provider"],
                "model": r["upstream_model"],
                "cost_input": money_out(r["cost_input"]) or Decimal(0),
                "cost_output": money_out(r["cost_output"]) or Decimal(0),
                "avg_latency_ms": int(r["avg_latency_ms"]),
                "strengths": [t for t in str(r["strengths"] or "").split(",") if t],
                "supports_functions": bool(r["supports_functions"]),
                "supports_vision": bool(r["supports_vision"]),
                "max_tokens": int(r["max_tokens"]),
                "kind": r["kind"],
            }
            for r in rows
        ]

    # -- stored responses (the Responses API) -----------------------------------------------
    async def save_response(
        self,
        *,
        response_id: str,
        org_id: str,
        model: str | None,
        input_items: list[dict[str, Any]],
        output_items: list[dict[str, Any]],
        body: dict[str, Any],
        created_at: datetime | None = None,
        previous_id: str | None = None,
    ) -> None:
        """Keep a response: its input, its output and the object itself (JSON text on both
        dialects). With ``previous_id`` the input holds only the items new in this turn and
        the conversation before it is read from the chain (``get_response``)."""
        await self._execute(
            "INSERT INTO responses (id, org_id, model, input, output, body, created_at,"
            " previous_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                response_id,
                org_id,
                model,
                orjson.dumps(input_items).decode(),
                orjson.dumps(output_items).decode(),
                orjson.dumps(body).decode(),
                self._ts(created_at or utcnow()),
                previous_id,
            ),
        )

    async def get_response(
        self, response_id: str, org_id: str, *, newer_than: datetime | None = None
    ) -> dict[str, Any] | None:
        """A stored response of ``org_id`` (None if absent, another org's, or expired):
        ``{id, org_id, model, input, output, body, created_at}`` with the JSON decoded."""
        sql = "SELECT * FROM responses WHERE id = %s AND org_id = %s"
        params: tuple[Any, ...] = (response_id, org_id)
        if newer_than is not None:
            sql += " AND created_at >= %s"
            params += (self._ts(newer_than),)
        rows = await self._fetch(sql, params)
        if not rows:
            return None
        row = rows[0]
        for key in ("input", "output", "body"):
            if isinstance(row[key], str | bytes):
                row[key] = orjson.loads(row[key])
        if row.get("previous_id"):
            row["input"] = await self._history(row["previous_id"], org_id) + row["input"]
        row.pop("previous_id", None)
        row["created_at"] = iso_out(row["created_at"])
        return row

    async def _history(self, previous_id: str, org_id: str) -> list[dict[str, Any]]:
        """The conversation a chained response continues: each ancestor's new input and
        output, oldest first, in one recursive query (a chain stores each item once)."""
        rows = await self._fetch(
            "WITH RECURSIVE chain (id, previous_id, input, output, depth) AS ("
            " SELECT id, previous_id, input, output, 0 FROM responses"
            " WHERE id = %s AND org_id = %s"
            " UNION ALL SELECT r.id, r.previous_id, r.input, r.output, c.depth + 1"
            " FROM responses r JOIN chain c ON r.id = c.previous_id"
            " WHERE r.org_id = %s AND c.depth < %s)"
            " SELECT input, output FROM chain ORDER BY depth DESC",
            (previous_id, org_id, org_id, MAX_CHAIN),
        )
        items: list[dict[str, Any]] = []
        for r in rows:
            for key in ("input", "output"):
                value = r[key]
                items += orjson.loads(value) if isinstance(value, str | bytes) else value
        return items

    async def delete_response(self, response_id: str, org_id: str) -> bool:
        return bool(
            await self._execute(
                "DELETE FROM responses WHERE id = %s AND org_id = %s", (response_id, org_id)
            )
        )

    async def purge_responses(self, older_than: datetime) -> int:
        """Delete responses created before ``older_than``; return how many went."""
        return await self._execute(
            "DELETE FROM responses WHERE created_at < %s", (self._ts(older_than),)
        )

    # -- feedback (/v1/feedback, read by ``router train --from-db``) -------------------------
    async def add_feedback(
        self, request_id: str, org_id: str, score: float, comment: str | None
    ) -> bool:
        """Store a score for one of ``org_id``'s requests, with the model that answered it,
        its task type and prompt text; False when the org has no such request."""
        count = await self._execute(
            "INSERT INTO feedback (request_id, org_id, model, task_type, prompt_text, score,"
            " comment, source, created_at)"
            " SELECT r.id, r.org_id, r.model_used, r.task_type, l.prompt_text, %s, %s,"
            " 'feedback', %s FROM requests r LEFT JOIN routing_logs l ON l.request_id = r.id"
            " WHERE r.id = %s AND r.org_id = %s",
            (score, comment, self._ts(utcnow()), request_id, org_id),
        )
        return bool(count)

    async def list_feedback(
        self, org_id: str | None = None, *, limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """Recorded outcomes (``/v1/feedback`` scores and cascade verdicts), oldest first."""
        sql = (
            "SELECT request_id, org_id, model, task_type, prompt_text, score, comment, source,"
            " created_at FROM feedback"
        )
        params: tuple[Any, ...] = ()
        if org_id is not None:
            sql += " WHERE org_id = %s"
            params = (org_id,)
        rows = await self._fetch(sql + " ORDER BY created_at, id LIMIT %s", (*params, limit))
        for row in rows:
            row["score"] = float(row["score"])
            row["created_at"] = iso_out(row["created_at"])
        return rows

    # -- dashboard (omni_proxy/dashboard): what the pages show beyond ``usage`` -------------
    # Every query is bounded by ``org_id`` and a ``created_at`` range (the
    # ``requests_org_created`` index) and returns at most ``limit`` rows.
    async def has_requests(self, org_id: str) -> bool:
        """Whether the org has ever sent a request (the dashboard's empty state)."""
        rows = await self._fetch(
            "SELECT 1 AS one FROM requests WHERE org_id = %s LIMIT 1", (org_id,)
        )
        return bool(rows)

    async def spend_by_key(
        self, org_id: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Per API key of the org over ``[start, end)``: requests, failed, tokens, cost,
        savings and the last request, priciest first (``key_id`` None: the master key).
        Read from the raw rows (the rollups have no key), so the dashboard asks for it on
        its own page only."""
        rows = await self._fetch(
            "SELECT key_id, COUNT(*) AS requests,"
            " SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS failed,"
            " COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens,"
            f" {self._sum_money('cost')} AS cost, {self._sum_money('savings')} AS savings,"
            " MAX(created_at) AS last_at"
            " FROM requests WHERE org_id = %s AND created_at >= %s AND created_at < %s"
            " GROUP BY key_id ORDER BY cost DESC, requests DESC LIMIT %s",
            (org_id, self._ts(start), self._ts(end), limit),
        )
        return [
            {
                "key_id": r["key_id"],
                "requests": int(r["requests"]),
                "failed": int(r["failed"] or 0),
                "tokens": int(r["tokens"]),
                "cost": self._money_sum_out(r["cost"]),
                "savings": self._money_sum_out(r["savings"]),
                "last_at": to_datetime(r["last_at"]),
            }
            for r in rows
        ]

    async def request_body(self, org_id: str, request_id: str) -> dict[str, Any] | None:
        """A request's stored prompt and answer (``logging.bodies``), None if none is kept."""
        rows = await self._fetch(
            "SELECT prompt, answer, created_at FROM request_bodies"
            " WHERE request_id = %s AND org_id = %s",
            (request_id, org_id),
        )
        if not rows:
            return None
        row = rows[0]
        return {
            "prompt": row["prompt"],
            "answer": row["answer"],
            "created_at": iso_out(row["created_at"]),
        }

    async def delete_bodies_before(self, cutoff: datetime) -> int:
        """Delete the prompts and answers stored before ``cutoff`` (the retention period)."""
        return await self._execute(
            "DELETE FROM request_bodies WHERE created_at < %s", (self._ts(cutoff),)
        )

    async def recent_requests(
        self,
        org_id: str,
        start: datetime,
        end: datetime,
        *,
        before: tuple[datetime, str] | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 50,
        filters: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """One page of the org's requests in ``[start, end)``, newest first, each with its
        routing log (``reason``, ``candidates``, ``plan``, ``attempts``; None without one).
        ``filters`` narrows it: ``model``, ``task``, ``provider``, ``key`` (a key id), ``id``,
        ``status`` (``ok``, ``error`` or one status code); other names are ignored.

        Keyset pagination on ``(created_at, id)``: ``before`` gives the page older than that
        row, ``after`` the page newer than it (still returned newest first)."""
        where = "org_id = %s AND created_at >= %s AND created_at < %s"
        params: tuple[Any, ...] = (org_id, self._ts(start), self._ts(end))
        order = "DESC"
        for name, value in (filters or {}).items():
            if name == "status":
                if value in ("ok", "error"):
                    where += " AND status < 400" if value == "ok" else " AND status >= 400"
                else:
                    where += " AND status = %s"
                    params += (int(value),)
            elif name in _REQUEST_FILTERS:
                where += f" AND {_REQUEST_FILTERS[name]} = %s"
                params += (value,)
        if before is not None:
            # The first term bounds the index range; the second breaks ties on the id.
            where += " AND created_at <= %s AND (created_at < %s OR id < %s)"
            params += (self._ts(before[0]), self._ts(before[0]), before[1])
        elif after is not None:
            where += " AND created_at >= %s AND (created_at > %s OR id > %s)"
            params += (self._ts(after[0]), self._ts(after[0]), after[1])
            order = "ASC"
        page = (
            "SELECT id, created_at, key_id, endpoint, task_type, model_requested, model_used,"
            " provider, prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_ms,"
            " ttft_ms, stream, status, error, fallback_count"
            f" FROM requests WHERE {where}"
            f" ORDER BY created_at {order}, id {order} LIMIT %s"
        )
        rows = await self._fetch(
            "SELECT r.*, l.strategy, l.reason, l.candidates, l.plan, l.attempts"
            f" FROM ({page}) r LEFT JOIN routing_logs l ON l.request_id = r.id"
            " ORDER BY r.created_at DESC, r.id DESC",
            (*params, limit),
        )
        out = []
        for r in rows:
            for field in ("candidates", "plan", "attempts"):
                if isinstance(r[field], str | bytes):
                    r[field] = orjson.loads(r[field])
            created = to_datetime(r["created_at"])
            out.append(
                {
                    **r,
                    "created_at": created,
                    "cost": money_out(r["cost"]),
                    "premium_cost": money_out(r["premium_cost"]),
                    "savings": money_out(r["savings"]),
                    "latency_ms": float(r["latency_ms"]),
                    "ttft_ms": None if r["ttft_ms"] is None else float(r["ttft_ms"]),
                    "stream": bool(r["stream"]),
                    "status": int(r["status"]),
                    "fallback_count": int(r["fallback_count"]),
                }
            )
        return out
