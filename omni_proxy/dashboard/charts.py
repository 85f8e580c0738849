"""Server-rendered SVG charts: no JavaScript, no CDN, nothing to load but the page.

Colours come from the stylesheet (classes ``s0``, ``s1``…), so the charts follow the light
and dark themes and need no inline styles (the pages' CSP allows none). Every bar or point
carries a ``<title>`` (the browser's tooltip), and each chart comes with its numbers as a
table next to it for screen readers and copying.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

LEFT, RIGHT, TOP, BOTTOM = 60, 12, 12, 28

Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Size:
    """A chart's viewBox and how many x labels fit in it. SVG text scales with the chart, so
    pages carry a wide and a narrow rendering and the stylesheet shows the one that fits."""

    width: int
    height: int
    x_labels: int
    name: str


WIDE = Size(800, 240, 8, "wide")
NARROW = Size(380, 230, 4, "narrow")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times 10^n) giving about ``ticks`` intervals over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw * (1 - 1e-9):
            return float(m * magnitude)
    return 10 * magnitude  # pragma: no cover - the loop always returns


def domain(values: Sequence[float], ticks: int = 4) -> tuple[float, float, float]:
    """(low, high, step) covering the values and zero, on round numbers."""
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    if hi - lo <= 0:
        hi = lo + 1.0
    step = nice_step(hi - lo, ticks)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _frame(
    size: Size, labels: Sequence[str], lo: float, hi: float, step: float, fmt: Formatter
) -> tuple[list[str], Callable[[float], float]]:
    """Gridlines, y labels and x labels; returns them and the value -> y mapping."""
    plot_h = size.height - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - lo) / (hi - lo))

    parts = ['<g class="grid">']
    ticks = round((hi - lo) / step)
    for i in range(ticks + 1):
        v = lo + i * step
        y = y_of(v)
        cls = "zero" if abs(v) < step * 1e-6 else ""
        parts.append(
            f'<line x1="{LEFT}" x2="{size.width - RIGHT}" y1="{_num(y)}" y2="{_num(y)}"'
            f' class="{cls}"/>'
            f'<text x="{LEFT - 6}" y="{_num(y + 4)}" class="ylabel">{escape(fmt(v))}</text>'
        )
    parts.append("</g>")
    n = len(labels)
    slot = (size.width - LEFT - RIGHT) / max(n, 1)
    every = max(1, math.ceil(n / size.x_labels))
    parts.append('<g class="xlabels">')
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + slot * (i + 0.5)
            parts.append(
                f'<text x="{_num(x)}" y="{size.height - 8}" class="xlabel">{escape(label)}</text>'
            )
    parts.append("</g>")
    return parts, y_of


def _open(size: Size, title: str, desc: str) -> str:
    return (
        f'<svg class="chart {size.name}" viewBox="0 0 {size.width} {size.height}" role="img"'
        f' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
    )


def responsive(draw: Callable[[Size], Markup]) -> Markup:
    """The wide and the narrow rendering of a chart (the stylesheet shows one)."""
    return Markup(draw(WIDE) + draw(NARROW))


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    fmt: Formatter,
    *,
    unit: str = "",
    size: Size = WIDE,
) -> Markup:
    """One bar per label; negative values go below the zero line."""
    lo, hi, step = domain(values)
    parts, y_of = _frame(size, labels, lo, hi, step, fmt)
    n = len(labels)
    slot = (size.width - LEFT - RIGHT) / max(n, 1)
    bar_w = max(slot * 0.72, 1.0)
    zero = y_of(0.0)
    total = sum(values)
    out = [_open(size, title, f"{title}: {n} points, total {fmt(total)}{unit}"), *parts]
    out.append('<g class="bars">')
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + slot * i + (slot - bar_w) / 2
        y = y_of(v)
        top, height = (y, zero - y) if v >= 0 else (zero, y - zero)
        out.append(
            f'<rect x="{_num(x)}" y="{_num(top)}" width="{_num(bar_w)}"'
            f' height="{_num(max(height, 0.0))}" class="s0{" neg" if v < 0 else ""}">'
            f"<title>{escape(label)}: {escape(fmt(v))}{escape(unit)}</title></rect>"
        )
    out.append("</g></svg>")
    return Markup("".join(out))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
    *,
    size: Size = WIDE,
) -> Markup:
    """One line per series, with a hover target per label that reads out every series."""
    values = [v for s in series for v in s.values]
    lo, hi, step = domain(values)
    parts, y_of = _frame(size, labels, lo, hi, step, fmt)
    n = len(labels)
    slot = (size.width - LEFT - RIGHT) / max(n, 1)
    names = ", ".join(s.name for s in series)
    out = [_open(size, title, f"{title}: {names}, {n} points"), *parts]
    for k, s in enumerate(series):
        points = " ".join(
            f"{_num(LEFT + slot * (i + 0.5))},{_num(y_of(v))}" for i, v in enumerate(s.values)
        )
        out.append(f'<polyline points="{points}" class="line s{k}"/>')
        if n <= size.width // 12:
            out.append(f'<g class="dots s{k}">')
            for i, v in enumerate(s.values):
                out.append(
                    f'<circle cx="{_num(LEFT + slot * (i + 0.5))}" cy="{_num(y_of(v))}" r="2.5"/>'
                )
            out.append("</g>")
    out.append('<g class="hover">')
    for i, label in enumerate(labels):
        readout = "; ".join(f"{s.name} {fmt(s.values[i])}" for s in series)
        out.append(
            f'<rect x="{_num(LEFT + slot * i)}" y="{TOP}" width="{_num(slot)}"'
            f' height="{size.height - TOP - BOTTOM}">'
            f"<title>{escape(label)}: {escape(readout)}</title></rect>"
        )
    out.append("</g></svg>")
    return Markup("".join(out))


def share_bar(fraction: float) -> Markup:
    """A small horizontal bar for a share (0..1) in a table cell."""
    f = min(max(fraction, 0.0), 1.0)
    return Markup(
        '<svg class="share" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"'
        ' xmlns="http://www.w3.org/2000/svg">'
        '<rect x="0" y="0" width="100" height="8" class="track"/>'
        f'<rect x="0" y="0" width="{_num(f * 100)}" height="8" class="s0"/></svg>'
    )
