"""The dashboard's pages: Overview, Usage, Models, Requests; sign-in, sign-out, org switch.

Every number comes from the database through the same queries as ``GET /v1/usage``
(``db.usage``; the range is parsed by the same ``date_range``), plus a few bounded queries of
its own (``fallback_totals``, ``model_task_breakdown`` from the same hourly rollups, see
``storage/rollup.py``; ``recent_requests``, a keyset page of raw rows). The pages use no
JavaScript: charts are SVG rendered here, forms are plain forms.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import hashlib
import io
import logging
import math
import secrets
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import ProxyError, bad_request
from ..routes.usage import _fill_days, date_range
from ..services import services
from . import charts, fmt, session
from .session import COOKIE, LOGIN_COOKIE, LOGIN_TTL_S, SESSION_TTL_S, Session

log = logging.getLogger("omni_proxy.dashboard")

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
MAX_FORM_BYTES = 8 * 1024
# Longer ranges are charted in buckets of several days, at most this many bars.
MAX_CHART_POINTS = 120
PRESETS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
DEFAULT_PRESET = "30d"


# A database that is down or unreachable: answered with the 503 page, not a traceback.
def db_errors() -> tuple[type[BaseException], ...]:
    """What a database outage raises. psycopg is only loaded when PostgreSQL is configured
    (importing it costs ~0.1 s of start-up), so it is looked up, not imported, here."""
    errors: list[type[BaseException]] = [sqlite3.Error, OSError, TimeoutError]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(fmt.FILTERS)
env.globals["share_bar"] = charts.share_bar

_STATIC: dict[str, tuple[bytes, str, str]] = {}


def _static(name: str) -> tuple[bytes, str, str] | None:
    """(content, media type, etag) of a file in ``static/`` we serve, read once."""
    if name not in ("dashboard.css",):
        return None
    if name not in _STATIC:
        data = (HERE / "static" / name).read_bytes()
        _STATIC[name] = (data, "text/css; charset=utf-8", hashlib.sha256(data).hexdigest()[:16])
    return _STATIC[name]


def css_url() -> str:
    found = _static("dashboard.css")
    assert found is not None
    return f"/dashboard/static/dashboard.css?v={found[2]}"


async def static_file(request: Request) -> Response:
    found = _static(request.path_params["name"])
    if found is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    content, media_type, etag = found
    headers = {
        "etag": f'"{etag}"',
        "cache-control": "public, max-age=86400",
        "x-content-type-options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


def render(
    name: str, status: int = 200, headers: dict[str, str] | None = None, **ctx: Any
) -> Response:
    sess = ctx.get("sess")
    ctx.setdefault("rng", None)
    ctx.setdefault("orgs", [])
    ctx.setdefault("next_path", "/dashboard")
    ctx.setdefault(
        "org_label", (sess.principal.org_name or sess.view_org) if sess is not None else ""
    )
    html = env.get_template(name).render(css_url=css_url(), **ctx)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


# -- the date range ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DateRange:
    """The range a page shows: a preset or custom dates, resolved by ``date_range``."""

    preset: str | None
    start: datetime
    end: datetime
    query: dict[str, str]  # what keeps this range in links

    @property
    def label(self) -> str:
        if self.preset:
            return PRESETS[self.preset]
        last = (self.end - timedelta(microseconds=1)).date()
        return f"{self.start.date().isoformat()} to {last.isoformat()}"

    @property
    def from_date(self) -> str:
        return self.start.date().isoformat()

    @property
    def to_date(self) -> str:
        return (self.end - timedelta(microseconds=1)).date().isoformat()

    def qs(self, **extra: str) -> str:
        return urlencode({**self.query, **extra})


def usage_params(preset: str, now: datetime) -> dict[str, str]:
    """The ``GET /v1/usage`` parameters of a preset (30d is exactly its default)."""
    if preset == "24h":
        return {"from": fmt.iso(now - timedelta(hours=24))}
    if preset == "30d":
        return {}
    days = int(preset[:-1])
    return {"from": (now.date() - timedelta(days=days - 1)).isoformat()}


def parse_range(params: Any, now: datetime | None = None) -> DateRange:
    now = now or datetime.now(UTC)
    raw = {k: str(params.get(k) or "").strip() for k in ("from", "to")}
    given = {k: v for k, v in raw.items() if v}
    if given:
        start, end = date_range(given, now)
        return DateRange(None, start, end, given)
    preset = str(params.get("range") or DEFAULT_PRESET)
    if preset not in PRESETS:
        raise bad_request(
            f"Unknown range '{preset}': use one of {', '.join(PRESETS)} or custom dates.",
            param="range",
        )
    start, end = date_range(usage_params(preset, now), now)
    return DateRange(preset, start, end, {"range": preset})


# -- sessions and the page frame ---------------------------------------------------------------
def _safe_next(value: str | None) -> str:
    """Only a dashboard path of this site (no scheme, no host, no backslashes)."""
    if (
        value
        and value.startswith("/dashboard")
        and not value.startswith("//")
        and "\\" not in value
        and all(ord(c) > 31 for c in value)
    ):
        return value
    return "/dashboard"


def _login_redirect(request: Request, *, ended: bool = False) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target}
    if ended:
        query["ended"] = "1"
    response = RedirectResponse(f"/dashboard/login?{urlencode(query)}", status_code=303)
    if ended:
        session.clear_cookie(request, response)
    response.headers["cache-control"] = "no-store"
    return response


async def _org_choices(request: Request, sess: Session) -> list[dict[str, str]]:
    if not sess.global_admin:
        return []
    orgs = await services(request).database.list_orgs()
    choices = [{"id": str(o["id"]), "name": str(o["name"])} for o in orgs]
    if not any(c["id"] == "default" for c in choices):
        choices.insert(0, {"id": "default", "name": "default (master key)"})
    return choices


def _org_label(sess: Session, choices: list[dict[str, str]]) -> str:
    for choice in choices:
        if choice["id"] == sess.view_org:
            return choice["name"]
    if sess.principal.key_id is None:
        return sess.view_org
    return sess.principal.org_name or sess.principal.org_id


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


Loader = Callable[[Request, str, DateRange], Awaitable[dict[str, Any]]]


async def _page(request: Request, template: str, page: str, loader: Loader) -> Response:
    sess = session.load(request)
    if sess is None:
        return _login_redirect(request, ended=COOKIE in request.cookies)
    ctx: dict[str, Any] = {
        "page": page,
        "sess": sess,
        "presets": PRESETS,
        "base_url": _base_url(request),
        "org_label": sess.principal.org_name or sess.view_org,
        "orgs": [],
        "rng": None,
        "range_error": None,
        "next_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    try:
        ctx["rng"] = parse_range(request.query_params)
    except ProxyError as err:
        ctx["range_error"] = err.message
        ctx["rng"] = parse_range({})
        return _invalid(template, ctx, status=400)
    try:
        # A quick check first (2 s on PostgreSQL): an outage is reported at once instead of
        # after the connection pool's own timeout.
        await services(request).database.ping()
        ctx["orgs"] = await _org_choices(request, sess)
        ctx["org_label"] = _org_label(sess, ctx["orgs"])
        ctx.update(await loader(request, sess.view_org, ctx["rng"]))
    except ProxyError as err:
        ctx["range_error"] = err.message
        return _invalid(template, ctx, status=err.status)
    except db_errors() as exc:
        return database_down(request, exc, sess)
    return render(template, **ctx)


def _invalid(template: str, ctx: dict[str, Any], status: int) -> Response:
    """A page that shows only its message (a bad range or cursor), not its data."""
    ctx["invalid"] = True
    return render(template, status=status, **ctx)


def database_down(request: Request, exc: BaseException, sess: Session | None = None) -> Response:
    log.warning("dashboard: the database is unavailable (%s: %s)", type(exc).__name__, exc)
    return render(
        "unavailable.html",
        status=503,
        headers={"retry-after": "5"},
        page="error",
        sess=sess,
        base_url=_base_url(request),
    )


async def _empty_state(request: Request, org_id: str, requests: int) -> str | None:
    """None with data; "fresh" for an org that never sent a request; "range" otherwise."""
    if requests:
        return None
    return "range" if await services(request).database.has_requests(org_id) else "fresh"


# -- page data ---------------------------------------------------------------------------------
def _days(usage: dict[str, Any], rng: DateRange) -> list[dict[str, Any]]:
    return _fill_days(usage["by_day"], rng.start, rng.end)


def _buckets(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Days summed into equal buckets so a long range keeps to MAX_CHART_POINTS bars."""
    size = max(1, math.ceil(len(days) / MAX_CHART_POINTS))
    if size == 1:
        return days
    out = []
    for i in range(0, len(days), size):
        chunk = days[i : i + size]
        out.append(
            {
                "date": chunk[0]["date"],
                "requests": sum(d["requests"] for d in chunk),
                "tokens": sum(d["tokens"] for d in chunk),
                "cost": sum((Decimal(d["cost"]) for d in chunk), Decimal(0)),
                "premium_cost": sum((Decimal(d["premium_cost"]) for d in chunk), Decimal(0)),
                "savings": sum((Decimal(d["savings"]) for d in chunk), Decimal(0)),
            }
        )
    return out


def _savings_pct(usage: dict[str, Any]) -> float | None:
    premium = Decimal(usage["premium_cost"])
    return float(Decimal(usage["savings"]) / premium) if premium > 0 else None


def _cost_chart(points: list[dict[str, Any]], title: str) -> Any:
    labels = [p["date"] for p in points]
    series = [
        charts.Series("Premium cost", [float(p["premium_cost"]) for p in points]),
        charts.Series("Cost", [float(p["cost"]) for p in points]),
    ]
    return charts.responsive(
        lambda size: charts.line_chart(title, labels, series, fmt.money_axis, size=size)
    )


async def _overview(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    db = services(request).database
    usage, fallbacks = await asyncio.gather(
        db.usage(org_id, rng.start, rng.end), db.fallback_totals(org_id, rng.start, rng.end)
    )
    empty = await _empty_state(request, org_id, usage["requests"])
    total = usage["requests"] or 1
    top = [{**m, "share": m["requests"] / total} for m in usage["by_model"][:5]]
    return {
        "usage": usage,
        "fallbacks": fallbacks,
        "savings_pct": _savings_pct(usage),
        "empty": empty,
        "top_models": top,
        "cost_chart": None if empty else _cost_chart(_buckets(_days(usage, rng)), "Cost per day"),
    }


#: Ranges up to this long are charted per hour (a day drawn per day is two points), and
#: up to ``PER_MINUTE_UP_TO`` per minute (custom ``from``/``to`` times; no preset: a range
#: without a whole hour reads its latency percentiles from raw rows).
HOURLY_UP_TO = timedelta(hours=48)
PER_MINUTE_UP_TO = timedelta(hours=2)


def _fill_series(rows: list[dict[str, Any]], rng: DateRange, unit: str) -> list[dict[str, Any]]:
    """One point per day or hour of the range, zeros where nothing happened."""
    seen = {r["bucket"]: r for r in rows}
    out = []
    if unit == "minute":
        step = timedelta(minutes=1)
        at = rng.start.astimezone(UTC).replace(second=0, microsecond=0)
        key_of: Callable[[datetime], str] = lambda t: t.strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    elif unit == "hour":
        step = timedelta(hours=1)
        at = rng.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key_of = lambda t: t.strftime("%Y-%m-%dT%H")  # noqa: E731
    else:
        step = timedelta(days=1)
        at = datetime.combine(rng.start.astimezone(UTC).date(), datetime.min.time(), UTC)
        key_of = lambda t: t.date().isoformat()  # noqa: E731
    while at < rng.end:
        key = key_of(at)
        row = seen.get(key) or {
            "requests": 0, "tokens": 0, "cost": Decimal(0), "premium_cost": Decimal(0),
            "savings": Decimal(0), "failed": 0, "avg_latency_ms": None,
        }  # fmt: skip
        label = {"minute": key[11:16], "hour": f"{key[5:10]} {key[11:13]}:00"}.get(unit, key)
        out.append({**row, "date": label})
        at += step
    return out


def _series_buckets(points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Points summed into equal buckets (at most MAX_CHART_POINTS); latency weighted."""
    size = max(1, math.ceil(len(points) / MAX_CHART_POINTS))
    if size == 1:
        return points, 1
    out = []
    for i in range(0, len(points), size):
        chunk = points[i : i + size]
        requests = sum(p["requests"] for p in chunk)
        weighted = sum((p["avg_latency_ms"] or 0) * p["requests"] for p in chunk)
        out.append(
            {
                "date": chunk[0]["date"],
                "requests": requests,
                "tokens": sum(p["tokens"] for p in chunk),
                "cost": sum((Decimal(p["cost"]) for p in chunk), Decimal(0)),
                "premium_cost": sum((Decimal(p["premium_cost"]) for p in chunk), Decimal(0)),
                "savings": sum((Decimal(p["savings"]) for p in chunk), Decimal(0)),
                "failed": sum(p["failed"] for p in chunk),
                "avg_latency_ms": weighted / requests if requests else None,
            }
        )
    return out, size


async def _usage(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    db = services(request).database
    span = rng.end - rng.start
    unit = "minute" if span <= PER_MINUTE_UP_TO else "hour" if span <= HOURLY_UP_TO else "day"
    usage, series = await asyncio.gather(
        db.usage(org_id, rng.start, rng.end), db.usage_series(org_id, rng.start, rng.end, unit)
    )
    empty = await _empty_state(request, org_id, usage["requests"])
    points, size = _series_buckets(_fill_series(series, rng, unit))
    labels = [p["date"] for p in points]
    requests = [float(p["requests"]) for p in points]
    savings = [float(p["savings"]) for p in points]
    failed = [float(p["failed"]) for p in points]
    latency = [float(p["avg_latency_ms"] or 0) for p in points]
    per = f"per {unit}" if size == 1 else f"per {size} {unit}s"
    return {
        "usage": usage,
        "empty": empty,
        "points": points,
        "per": per,
        "unit": unit,
        "requests_chart": charts.responsive(
            lambda size: charts.bar_chart(
                f"Requests {per}", labels, requests, fmt.count_axis, unit=" requests", size=size
            )
        ),
        "cost_chart": _cost_chart(points, f"Cost {per}"),
        "savings_chart": charts.responsive(
            lambda size: charts.bar_chart(
                f"Savings {per}", labels, savings, fmt.money_axis, size=size
            )
        ),
        "latency_chart": charts.responsive(
            lambda size: charts.line_chart(
                f"Average latency {per}",
                labels,
                [charts.Series("Average latency", latency)],
                fmt.ms,
                size=size,
            )
        ),
        "errors_chart": charts.responsive(
            lambda size: charts.bar_chart(
                f"Failed requests {per}", labels, failed, fmt.count_axis, unit=" failed", size=size
            )
        ),
    }


async def _models(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    db = services(request).database
    usage, pairs = await asyncio.gather(
        db.usage(org_id, rng.start, rng.end),
        db.model_task_breakdown(org_id, rng.start, rng.end),
    )
    empty = await _empty_state(request, org_id, usage["requests"])
    latency: dict[tuple[str, Any], list[float]] = {}
    for p in pairs:
        for key in (("model", p["model"]), ("task", p["task_type"])):
            acc = latency.setdefault(key, [0.0, 0.0])
            acc[0] += p["latency_sum_ms"]
            acc[1] += p["requests"]
    total = usage["requests"] or 1
    total_cost = Decimal(usage["cost"]) or Decimal(1)

    def rows(groups: list[dict[str, Any]], kind: str, field: str) -> list[dict[str, Any]]:
        out = []
        for g in groups:
            acc = latency.get((kind, g[field]))
            out.append(
                {
                    **g,
                    "share": g["requests"] / total,
                    "cost_share": float(Decimal(g["cost"]) / total_cost),
                    "avg_latency_ms": acc[0] / acc[1] if acc and acc[1] else None,
                }
            )
        return out

    for p in pairs:
        p["avg_latency_ms"] = p["latency_sum_ms"] / p["requests"] if p["requests"] else None
        p["share"] = p["requests"] / total
    return {
        "usage": usage,
        "empty": empty,
        "by_model": rows(usage["by_model"], "model", "model"),
        "by_task": rows(usage["by_task"], "task", "task_type"),
        "pairs": pairs[:100],
        "pairs_total": len(pairs),
    }


def _cursor_out(row: dict[str, Any]) -> str:
    raw = orjson.dumps([fmt.iso(row["created_at"]), row["id"]])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _cursor_in(value: str, param: str) -> tuple[datetime, str]:
    try:
        stamp, rid = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        if when.tzinfo is None or not isinstance(rid, str):
            raise ValueError(param)
    except (ValueError, TypeError, binascii.Error):
        raise bad_request(
            f"'{param}' is not a page cursor this dashboard made.", param=param
        ) from None
    return when, rid


def _candidates(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [c for c in value if isinstance(c, dict)]


def _ranked(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Candidates in the order they would be tried, the filtered-out ones last."""

    def key(c: dict[str, Any]) -> tuple[int, float]:
        rank = c.get("rank")
        return (0, float(rank)) if isinstance(rank, int | float) else (1, 0.0)

    for c in candidates:
        c.setdefault("estimated_cost", None)  # logs from plugins or embeddings may lack it
        parts = c.get("score_parts")
        c["parts_text"] = (
            ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if isinstance(v, int | float))
            if isinstance(parts, dict)
            else ""
        )
    return sorted(candidates, key=key)


#: Query parameters that narrow the Requests page (and its CSV export).
FILTER_FIELDS = ("model", "task", "status", "provider", "key")
TASK_TYPES = ("chat", "coding", "reasoning", "summarization", "translation", "image", "agent_step")
CSV_LIMIT = 10_000
CSV_COLUMNS = (
    "id", "created_at", "key_id", "endpoint", "task_type", "model_requested", "model_used",
    "provider", "prompt_tokens", "completion_tokens", "cost", "premium_cost", "savings",
    "latency_ms", "ttft_ms", "stream", "status", "fallback_count", "error",
)  # fmt: skip


def request_filters(params: Any) -> dict[str, str]:
    """The page's filters from the query string, checked (a bad one is a 400 page)."""
    out: dict[str, str] = {}
    for name in FILTER_FIELDS:
        value = str(params.get(name) or "").strip()
        if not value:
            continue
        if len(value) > 200:
            raise bad_request(f"'{name}' is too long.", param=name)
        known = value in ("ok", "error") or (value.isdigit() and len(value) == 3)
        if name == "status" and not known:
            raise bad_request(
                "'status' must be ok, error or a status code such as 429.", param="status"
            )
        out[name] = value
    return out


def _detail(row: dict[str, Any]) -> dict[str, Any]:
    row["candidates"] = _ranked(_candidates(row.get("candidates")))
    row["plan"] = [str(m) for m in row["plan"]] if isinstance(row.get("plan"), list) else []
    row["attempts"] = _candidates(row.get("attempts"))
    return row


async def _requests(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    q = request.query_params
    filters = request_filters(q)
    before = _cursor_in(q["before"], "before") if q.get("before") else None
    after = _cursor_in(q["after"], "after") if q.get("after") and not before else None
    rows = await services(request).database.recent_requests(
        org_id,
        rng.start,
        rng.end,
        before=before,
        after=after,
        limit=PAGE_SIZE + 1,
        filters=filters,
    )
    more = len(rows) > PAGE_SIZE
    if after is not None:
        rows = rows[1:] if more else rows  # the extra row is the newest one
        has_newer, has_older = more, True
    else:
        rows = rows[:PAGE_SIZE]
        has_newer, has_older = before is not None, more
    for r in rows:
        _detail(r)
    empty = None
    if not rows and before is None and after is None:
        if filters:
            empty = "filtered"
        else:
            empty = "range" if await services(request).database.has_requests(org_id) else "fresh"
    registry = services(request).registry
    return {
        "rows": rows,
        "empty": empty,
        "filters": filters,
        "filter_models": sorted(m.name for m in registry) if registry is not None else [],
        "filter_tasks": TASK_TYPES,
        "csv_url": f"/dashboard/requests.csv?{rng.qs(**filters)}",
        "clear_url": f"?{rng.qs()}" if filters else None,
        "newer_url": (
            f"?{rng.qs(**filters, after=_cursor_out(rows[0]))}" if rows and has_newer else None
        ),
        "older_url": (
            f"?{rng.qs(**filters, before=_cursor_out(rows[-1]))}" if rows and has_older else None
        ),
        "newest_url": f"?{rng.qs(**filters)}" if before is not None or after is not None else None,
    }


async def _audit(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    after = request.query_params.get("after") or None
    entries, more = await services(request).database.list_audit(
        org_id=org_id, limit=PAGE_SIZE, after=after, since=rng.start, until=rng.end
    )
    return {
        "empty": None,  # no "send your first request" state here
        "entries": entries,
        "older_url": f"?{rng.qs(after=entries[-1]['id'])}" if entries and more else None,
        "newest_url": f"?{rng.qs()}" if after else None,
    }


async def _request_detail(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    rid = str(request.path_params["request_id"])
    rows = await services(request).database.recent_requests(
        org_id,
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime.now(UTC) + timedelta(days=1),
        limit=1,
        filters={"id": rid},
    )
    if not rows:
        raise ProxyError(404, f"No request {rid!r} in this organization.", code="not_found")
    row = _detail(rows[0])
    logging_cfg = services(request).config.logging
    stored = await services(request).database.request_body(org_id, rid)
    return {
        "r": row,
        "empty": None,
        "back_url": f"/dashboard/requests?{rng.qs()}#{rid}",
        "bodies": _bodies_view(stored) if stored else None,
        "bodies_on": logging_cfg.bodies,
        "retention_days": logging_cfg.bodies_retention_days,
    }


def _bodies_view(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored prompt as messages (role, text) when it is a message list, else as text."""
    prompt = stored.get("prompt") or ""
    messages: list[dict[str, str]] = []
    try:
        parsed = orjson.loads(prompt) if prompt.startswith("[") else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, list) and all(isinstance(m, dict) for m in parsed):
        for m in parsed:
            content = m.get("content")
            if not isinstance(content, str):
                content = orjson.dumps(content, option=orjson.OPT_INDENT_2).decode()
            messages.append({"role": str(m.get("role") or m.get("type") or ""), "text": content})
    return {"messages": messages, "prompt": prompt, "answer": stored.get("answer") or ""}


async def requests_csv(request: Request) -> Response:
    """What the Requests page shows (its range and filters), as CSV: up to ``CSV_LIMIT``
    rows, newest first."""
    sess = session.load(request)
    if sess is None:
        return _login_redirect(request, ended=COOKIE in request.cookies)
    try:
        rng = parse_range(request.query_params)
        filters = request_filters(request.query_params)
        rows = await services(request).database.recent_requests(
            sess.view_org, rng.start, rng.end, limit=CSV_LIMIT, filters=filters
        )
    except ProxyError as err:
        return Response(err.message + "\n", status_code=err.status, media_type="text/plain")
    except db_errors() as exc:
        return database_down(request, exc, sess)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        cells = []
        for col in CSV_COLUMNS:
            value = r.get(col)
            if isinstance(value, datetime):
                value = fmt.iso(value)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    name = f"requests-{rng.from_date}-{rng.to_date}.csv"
    headers = {
        **SECURITY_HEADERS,
        "content-disposition": f'attachment; filename="{name}"',
        "cache-control": "no-store",
    }
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


# -- routes ------------------------------------------------------------------------------------
async def overview(request: Request) -> Response:
    return await _page(request, "overview.html", "overview", _overview)


async def usage_page(request: Request) -> Response:
    return await _page(request, "usage.html", "usage", _usage)


async def models_page(request: Request) -> Response:
    return await _page(request, "models.html", "models", _models)


async def requests_page(request: Request) -> Response:
    return await _page(request, "requests.html", "requests", _requests)


async def audit_page(request: Request) -> Response:
    """The org's audit log: admin keys (and the master key) only."""
    sess = session.load(request)
    if sess is not None and not sess.principal.can("admin"):
        return render(
            "message.html",
            status=403,
            page="error",
            sess=sess,
            heading="Not allowed",
            message="The audit log is for admin keys.",
        )
    return await _page(request, "audit.html", "audit", _audit)


async def _keys(request: Request, org_id: str, rng: DateRange) -> dict[str, Any]:
    db = services(request).database
    spend, keys = await asyncio.gather(
        db.spend_by_key(org_id, rng.start, rng.end), db.list_keys(org_id)
    )
    known = {k["id"]: k for k in keys}
    total = sum((Decimal(r["cost"]) for r in spend), Decimal(0)) or Decimal(1)
    rows = []
    for r in spend:
        key = known.get(r["key_id"]) or {}
        rows.append(
            {
                **r,
                "name": key.get("name") or ("master key" if r["key_id"] is None else "—"),
                "prefix": key.get("prefix"),
                "revoked": bool(key.get("revoked_at")),
                "cost_share": float(Decimal(r["cost"]) / total),
            }
        )
    empty = await _empty_state(request, org_id, sum(r["requests"] for r in rows))
    return {"rows": rows, "empty": empty}


async def keys_page(request: Request) -> Response:
    return await _page(request, "keys.html", "keys", _keys)


async def request_page(request: Request) -> Response:
    return await _page(request, "request.html", "requests", _request_detail)


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form body (the last value of each field)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        fields = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20
        )
    except ValueError:  # more fields than any of our forms has: treated as no form at all
        return {}
    return {k: v[-1] for k, v in fields.items()}


def _login_page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    next_path: str = "/dashboard",
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        "login.html",
        status=status,
        page="login",
        sess=None,
        error=error,
        notice=notice,
        csrf=token,
        next_path=_safe_next(next_path),
    )
    session.set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_TTL_S)
    return response


async def login_form(request: Request) -> Response:
    if session.load(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    notice = None
    if request.query_params.get("ended"):
        notice = "Your session has ended. Sign in again."
    elif request.query_params.get("signed_out"):
        notice = "You are signed out."
    return _login_page(request, notice=notice, next_path=request.query_params.get("next") or "")


async def login_submit(request: Request) -> Response:
    form = await _form(request)
    next_path = form.get("next", "")
    if not session.same_origin(request) or not session.token_ok(
        request.cookies.get(LOGIN_COOKIE), form.get("csrf")
    ):
        return _login_page(
            request,
            status=403,
            next_path=next_path,
            error="This sign-in form has expired or came from another site. Please try again.",
        )
    key = form.get("api_key", "").strip()
    if not key:
        return _login_page(request, status=400, error="Enter an API key.", next_path=next_path)
    guard, client = session.throttle(request), session.client_address(request)
    wait = guard.blocked(client, key)
    if wait:
        return _login_page(
            request,
            status=429,
            next_path=next_path,
            error=f"Too many refused sign-ins. Try again in {math.ceil(wait)} s.",
        )
    try:
        principal = await services(request).pipeline.authenticate(request, key, "read")
    except ProxyError as err:
        if err.status == 401:
            guard.failed(client, key)
        error = (
            "This key lacks the 'read' permission the dashboard needs."
            if err.status == 403
            else "That API key was not accepted."
        )
        return _login_page(request, status=err.status, error=error, next_path=next_path)
    signer = session.signer_for(request)
    payload = session.new_payload(signer, principal, services(request).config.master_key)
    if session.current_principal(request, payload) is None:
        # A key accepted by a plugin's ``authenticate`` that the key cache does not hold: its
        # session could not be re-checked on each page, so none is opened.
        return _login_page(
            request,
            status=403,
            next_path=next_path,
            error="This key is valid for the API but cannot open a dashboard session. "
            "Use a key made with 'omni-proxy keys create' or the master key.",
        )
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    session.set_cookie(request, response, COOKIE, signer.sign(payload), SESSION_TTL_S)
    session.clear_cookie(request, response, LOGIN_COOKIE)
    return response


async def _signed_post(request: Request) -> tuple[Session | None, dict[str, str], Response | None]:
    sess = session.load(request)
    if sess is None:
        return None, {}, _login_redirect(request, ended=COOKIE in request.cookies)
    form = await _form(request)
    if not session.same_origin(request) or not session.token_ok(sess.csrf, form.get("csrf")):
        response = render(
            "message.html",
            status=403,
            page="error",
            sess=sess,
            heading="That form has expired",
            message="The form was not sent from this dashboard or has expired. "
            "Go back, reload the page and try again.",
        )
        return sess, form, response
    return sess, form, None


async def logout(request: Request) -> Response:
    sess, _form_data, refused = await _signed_post(request)
    if refused is not None and sess is not None:
        return refused
    if sess is not None:  # the cookie dies here, not just in this browser
        session.signed_out(request).add(sess.csrf, sess.expires)
    response = RedirectResponse("/dashboard/login?signed_out=1", status_code=303)
    session.clear_cookie(request, response)
    return response


async def switch_org(request: Request) -> Response:
    sess, form, refused = await _signed_post(request)
    if refused is not None:
        return refused
    assert sess is not None
    next_path = _safe_next(form.get("next"))
    if not sess.global_admin:
        return render(
            "message.html",
            status=403,
            page="error",
            sess=sess,
            heading="Not allowed",
            message="Only the master key may look at other organizations.",
        )
    try:
        choices = await _org_choices(request, sess)
    except db_errors() as exc:
        return database_down(request, exc, sess)
    org = form.get("org", "")
    if not any(c["id"] == org for c in choices):
        return render(
            "message.html",
            status=400,
            page="error",
            sess=sess,
            heading="Unknown organization",
            message="That organization does not exist (any more).",
        )
    signer = session.signer_for(request)
    payload = {**sess.payload, "v": org}
    response = RedirectResponse(next_path, status_code=303)
    ttl = max(1, sess.expires - int(datetime.now(UTC).timestamp()))
    session.set_cookie(request, response, COOKIE, signer.sign(payload), ttl)
    return response
