"""How the dashboard writes numbers, money and times (also its Jinja filters)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _places(a: Decimal) -> int:
    if a == 0 or a >= 1:
        return 2
    return 4 if a >= Decimal("0.001") else 6


def money(value: Any, places: int | None = None) -> str:
    """USD: cents from a dollar up, more places below (LLM requests cost fractions of a cent).
    ``places`` (from ``money_places``) gives every cell of a column the same precision."""
    d = _decimal(value)
    sign = "-" if d < 0 else ""
    a = abs(d)
    if places is None:
        if a == 0:
            return "$0.00"
        places = _places(a)
    if a == 0:
        sign = ""
    return f"{sign}${a:,.{places}f}"


def money_places(values: Any) -> int:
    """The places a column of amounts needs: enough for its smallest non-zero amount."""
    return max((_places(abs(_decimal(v))) for v in values if v), default=2)


def money_axis(value: float) -> str:
    if value == 0:
        return "$0"
    sign = "-" if value < 0 else ""
    a = abs(value)
    if a >= 1000:
        return f"{sign}${a / 1000:,.1f}k".replace(".0k", "k")
    if a >= 1:
        return f"{sign}${a:,.2f}".replace(".00", "")
    return f"{sign}${a:.6f}".rstrip("0")


def count(value: Any) -> str:
    return f"{int(value or 0):,}"


def count_axis(value: float) -> str:
    a = abs(value)
    if a >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def pct(value: Any, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{places}f}%"


def ms(value: Any) -> str:
    if value is None:
        return "—"
    v = float(value)
    if v >= 10_000:
        return f"{v / 1000:,.1f} s"
    return f"{v:,.0f} ms"


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


FILTERS = {
    "money": money,
    "money_places": money_places,
    "count": count,
    "pct": pct,
    "ms": ms,
    "when": when,
    "iso": iso,
}
