"""Telling a bad row from an outage, and making a bad row storable.

The recorder writes batches; when one fails it must know whether the database is away
(keep the batch and retry) or one row can never be written as it is (split the batch and
quarantine that row). Only the second kind may be split, or an outage would spill every
record to the dead-letter file.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from decimal import Decimal
from typing import Any

import psycopg

from ..types import MAX_TOKENS, RequestRecord, clamp_tokens

#: NUMERIC(18,8) holds less than 10^10; no request costs a billion dollars.
MAX_MONEY = Decimal(10**9)
#: Text columns are for names and messages, not payloads (a 1 MB model name made a 2 MB row).
MAX_TEXT = 4096

_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes UnicodeError and orjson's JSONDecodeError
    TypeError,  # includes orjson.JSONEncodeError (lone surrogates)
    ArithmeticError,  # OverflowError: SQLite's "int too large"
    psycopg.DataError,  # NUL in text, numeric out of range, bad JSON escape
    psycopg.IntegrityError,
    psycopg.ProgrammingError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
)
_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    psycopg.OperationalError,
    psycopg.InternalError,
)
_SQLITE_OUTAGE = re.compile(r"locked|busy|disk|i/o|unable to open|readonly|closed", re.I)


def error_kind(exc: BaseException) -> str:
    """``"data"`` (this batch can never be written as it is), ``"outage"`` (retry later),
    or ``"unknown"`` (the caller pings the database to decide)."""
    if isinstance(exc, _OUTAGES):
        return "outage"
    if isinstance(exc, sqlite3.OperationalError):
        return "outage" if _SQLITE_OUTAGE.search(str(exc)) else "unknown"
    if isinstance(exc, _DATA_ERRORS):
        return "data"
    return "unknown"


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """No NULs (PostgreSQL refuses them), no lone surrogates (not UTF-8), at most ``limit``."""
    if len(value) > limit:
        value = value[:limit]
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _clean_json(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v, depth + 1) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return max(-MAX_TOKENS, min(MAX_TOKENS, value))
    return value


def _money(value: Any) -> Decimal:
    try:
        amount = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        return Decimal(0)
    if not amount.is_finite() or amount < 0:
        return Decimal(0)
    return min(amount, MAX_MONEY)


def _number(value: Any, default: float | None) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    if number != number or number in (float("inf"), float("-inf")):
        return default
    return max(0.0, min(number, 1e12))


def sanitize(record: RequestRecord) -> RequestRecord:
    """A copy of ``record`` that any database can store: text cleaned and capped, token
    counts and money clamped to their columns' range and never negative."""
    text: dict[str, Any] = {}
    for name in (
        "request_id",
        "endpoint",
        "org_id",
        "key_id",
        "task_type",
        "model_requested",
        "model_used",
        "provider",
        "error",
        "error_code",
        "client_request_id",
    ):
        value = getattr(record, name)
        if value is not None:
            text[name] = clean_text(str(value), 255 if name != "error" else MAX_TEXT)
    cost = _money(record.cost)
    premium = _money(record.premium_cost)
    return dataclasses.replace(
        record,
        **text,
        prompt_tokens=clamp_tokens(record.prompt_tokens),
        completion_tokens=clamp_tokens(record.completion_tokens),
        cost=cost,
        premium_cost=premium,
        savings=max(-MAX_MONEY, min(MAX_MONEY, premium - cost)),
        latency_ms=_number(record.latency_ms, 0.0) or 0.0,
        ttft_ms=_number(record.ttft_ms, None),
        status=max(0, min(999, int(record.status))) if isinstance(record.status, int) else 500,
        fallback_count=clamp_tokens(record.fallback_count),
        routing=_clean_json(record.routing) if record.routing is not None else None,
        attempts=_clean_json(record.attempts) if isinstance(record.attempts, list) else [],
    )
