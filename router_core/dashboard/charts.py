"""Server-side SVG charts: daily bars (optionally stacked) and a ranked bar list.

Inline SVG needs no script and no network; colours come from the stylesheet
(classes ``s1``…``s3``), and every bar carries a ``<title>`` for hover and screen
readers. Each chart is paired with a data table on the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 28


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked layer of a bar chart."""

    label: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return float(step * power)
    return float(10 * power)


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str],
) -> str:
    """Stacked vertical bars, one per label (a day), with a y axis of three ticks."""
    n = max(len(labels), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = nice_ceiling(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = max(slot * 0.72, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_num(y)}" y2="{_num(y)}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{_num(y + 4)}" text-anchor="end">'
            f"{escape(fmt(top * frac))}</text>"
        )
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        for k, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect class="s{k + 1}" x="{_num(x)}" y="{_num(base)}" '
                f'width="{_num(bar_w)}" height="{_num(h)}">'
                f"<title>{escape(label)} {escape(s.label)}: {escape(fmt(value))}</title></rect>"
            )
        # Every fifth day, and the last, keeps the axis readable on a phone.
        if i % 5 == 0 or i == len(labels) - 1:
            parts.append(
                f'<text class="axis" x="{_num(x + bar_w / 2)}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(label[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def ranked_bars(
    chart_id: str, title: str, rows: Sequence[tuple[str, float]], fmt: Callable[[float], str]
) -> str:
    """Horizontal bars, largest first: one row per (label, value)."""
    row_h, label_w, value_w = 26, 220, 110
    height = max(row_h * len(rows), row_h) + 4
    top = max((v for _, v in rows), default=0.0) or 1.0
    bar_space = WIDTH - label_w - value_w
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(rows):
        y = 2 + i * row_h
        short = label if len(label) <= 30 else label[:29] + "…"
        w = max(bar_space * value / top, 1.0 if value > 0 else 0.0)
        parts.append(
            f'<text class="axis" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(short)}</text>"
            f'<rect class="s1" x="{label_w}" y="{y + 4}" width="{_num(w)}" height="{row_h - 8}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
            f'<text class="axis" x="{_num(label_w + w + 6)}" y="{y + 17}">'
            f"{escape(fmt(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
