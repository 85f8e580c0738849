"""What the rest of the proxy needs from a database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from ..types import RequestRecord

_PACKAGE = Path(__file__).resolve().parent.parent
# Installed wheels carry the migrations inside the package; a source checkout has them at the top.
SQL_DIR = _PACKAGE / "sql" if (_PACKAGE / "sql").is_dir() else _PACKAGE.parent / "sql"


def migrations(dialect: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration for a dialect, in order."""
    folder = SQL_DIR / dialect
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.sql"))]


class Database(Protocol):
    dialect: str

    async def open(self) -> None: ...

    async def migrate(self) -> list[str]:
        """Apply migrations not yet applied; return their names."""
        ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    async def write_records(self, records: list[RequestRecord]) -> None:
        """Insert requests and routing logs; idempotent by request id (the usage rollups
        follow by trigger, counting only rows really inserted)."""
        ...

    async def close(self) -> None: ...

    # -- orgs and keys (see storage/common.py) ----------------------------------------------
    async def create_org(
        self,
        name: str,
        *,
        monthly_budget_usd: Decimal | None = None,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
        soft_budget_usd: Decimal | None = None,
    ) -> dict[str, Any]: ...

    async def get_org(self, org_id: str) -> dict[str, Any] | None: ...

    async def get_org_by_name(self, name: str) -> dict[str, Any] | None: ...

    async def list_orgs(self, *, include_deleted: bool = False) -> list[dict[str, Any]]: ...

    async def update_org(self, org_id: str, changes: dict[str, Any]) -> dict[str, Any] | None: ...

    async def delete_org(self, org_id: str) -> bool: ...

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
    ) -> dict[str, Any]: ...

    async def get_key(self, key_id: str) -> dict[str, Any] | None: ...

    async def request_body(self, org_id: str, request_id: str) -> dict[str, Any] | None: ...

    async def update_key(
        self, key_id: str, changes: dict[str, Any], org_id: str | None = None
    ) -> dict[str, Any] | None: ...

    async def rotate_key(
        self,
        key_id: str,
        *,
        prefix: str,
        secret_hash: str,
        grace_until: datetime | None,
        org_id: str | None = None,
    ) -> dict[str, Any] | None: ...

    async def key_spend_since(self, key_ids: list[str], start: datetime) -> dict[str, Decimal]: ...

    async def list_keys(self, org_id: str | None = None) -> list[dict[str, Any]]: ...

    async def revoke_key(self, key_id: str, org_id: str | None = None) -> bool: ...

    async def active_keys(
        self, prefix: str | None = None, *, created_since: datetime | None = None
    ) -> list[dict[str, Any]]: ...

    async def revoked_prefixes(self, since: datetime) -> list[str]: ...

    async def org_settings(self) -> dict[str, tuple[Any, ...]]: ...

    async def count_active_keys(self) -> int: ...

    async def touch_keys(self, key_ids: list[str], when: datetime) -> None: ...

    # -- spend and usage --------------------------------------------------------------------
    async def spend_since(self, start: datetime) -> dict[str, Decimal]: ...

    async def seed_models(self, models: list[dict[str, Any]]) -> None: ...

    async def list_models(self) -> list[dict[str, Any]]: ...

    async def usage(self, org_id: str, start: datetime, end: datetime) -> dict[str, Any]: ...

    # -- feedback (see storage/common.py) ---------------------------------------------------
    async def add_feedback(
        self, request_id: str, org_id: str, score: float, comment: str | None
    ) -> bool: ...

    async def list_feedback(
        self, org_id: str | None = None, *, limit: int = 100_000
    ) -> list[dict[str, Any]]: ...

    # -- stored responses (the Responses API; see storage/common.py) ------------------------
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
    ) -> None: ...

    async def get_response(
        self, response_id: str, org_id: str, *, newer_than: datetime | None = None
    ) -> dict[str, Any] | None: ...

    async def delete_response(self, response_id: str, org_id: str) -> bool: ...

    async def purge_responses(self, older_than: datetime) -> int: ...

    # -- dashboard (see storage/common.py) --------------------------------------------------
    async def add_audit(self, entry: dict[str, Any]) -> dict[str, Any]: ...

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
    ) -> tuple[list[dict[str, Any]], bool]: ...

    async def has_requests(self, org_id: str) -> bool: ...

    async def fallback_totals(
        self, org_id: str, start: datetime, end: datetime
    ) -> dict[str, int]: ...

    async def model_task_breakdown(
        self, org_id: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> list[dict[str, Any]]: ...

    async def usage_series(
        self, org_id: str, start: datetime, end: datetime, unit: str = "day"
    ) -> list[dict[str, Any]]: ...

    async def spend_by_key(
        self, org_id: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[dict[str, Any]]: ...

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
    ) -> list[dict[str, Any]]: ...
