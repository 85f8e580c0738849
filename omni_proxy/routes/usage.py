"""``GET /v1/usage``: the caller's org, aggregated in SQL.

``from`` and ``to`` are ISO dates (``2025-01-31``, both inclusive) or ISO times (``to``
exclusive); the default is the last 30 days up to now. A key sees only its own org; the
master key may pass ``org_id`` (default: its own org).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import bad_request, permission_denied
from ..server.http import JSON, api_key_of
from ..services import services
from .admin import is_global_admin, jsonable

MAX_RANGE_DAYS = 366 * 5
#: Dates a range may start or end on: far enough from datetime's limits that the defaults
#: (30 days back, a day forward) never overflow (``to=9999-12-31`` was a bare 500).
MIN_DATE = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DATE = datetime(9000, 1, 1, tzinfo=UTC)


def _parse(value: str, param: str, *, end: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            parsed = start + timedelta(days=1) if end else start
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if not MIN_DATE <= parsed.replace(tzinfo=parsed.tzinfo or UTC) <= MAX_DATE:
            raise ValueError("out of range")
    except (ValueError, OverflowError):
        raise bad_request(
            f"'{param}' must be an ISO 8601 date (YYYY-MM-DD) or time between 1970 and 9000; "
            f"got '{value}'.",
            param=param,
            code="invalid_date",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def date_range(params: Any, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or datetime.now(UTC)
    raw_from, raw_to = params.get("from"), params.get("to")
    end = _parse(raw_to, "to", end=True) if raw_to else now
    if raw_from:
        start = _parse(raw_from, "from", end=False)
    else:
        day = (end - timedelta(microseconds=1)).date() - timedelta(days=29)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if start >= end:
        raise bad_request("'from' must be before 'to'.", param="from", code="invalid_date")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise bad_request(
            f"The range may span at most {MAX_RANGE_DAYS} days.", param="from", code="invalid_date"
        )
    return start, end


def _fill_days(rows: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One entry per day of the range, zeros where nothing happened."""
    seen: dict[str, dict[str, Any] | None] = {r["date"]: r for r in rows}
    out = []
    day = start.date()
    last = (end - timedelta(microseconds=1)).date()
    while day <= last:
        key = day.isoformat()
        out.append(
            seen.pop(key, None)
            or {
                "date": key,
                "requests": 0,
                "tokens": 0,
                "cost": 0.0,
                "premium_cost": 0.0,
                "savings": 0.0,
                "success_rate": None,
            }
        )
        day += timedelta(days=1)
    return out


async def get_usage(request: Request) -> Response:
    principal = await services(request).pipeline.authenticate(request, api_key_of(request), "read")
    org_id = request.query_params.get("org_id") or principal.org_id
    if org_id != principal.org_id and not is_global_admin(principal):
        raise permission_denied("This key may only read its own organization's usage.")
    start, end = date_range(request.query_params)
    usage = await services(request).database.usage(org_id, start, end)
    out = jsonable(usage)
    total = out.pop("requests")
    body = {
        "object": "usage",
        "org_id": org_id,
        "from": start.isoformat().replace("+00:00", "Z"),
        "to": end.isoformat().replace("+00:00", "Z"),
        "total_requests": total,
        "total_tokens": out.pop("tokens"),
        "total_cost": out.pop("cost"),
        "total_premium_cost": out.pop("premium_cost"),
        "total_savings": out.pop("savings"),
        "success_rate": out.pop("success_rate"),
        "expected_quality": out.pop("expected_quality"),
        "measured_quality": out.pop("measured_quality"),
        "latency_p50_ms": out.pop("latency_p50_ms"),
        "latency_p95_ms": out.pop("latency_p95_ms"),
        "by_day": _fill_days(out["by_day"], start, end),
        "by_model": out["by_model"],
        "by_task": out["by_task"],
    }
    return JSON(body)


ROUTES: list[Route] = [Route("/v1/usage", get_usage, methods=["GET"])]
