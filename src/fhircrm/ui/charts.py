"""Server-rendered inline SVG charts: horizontal bars and a trend line, readable at a glance.

Presentation attributes only (no inline ``style``), so the strict CSP holds; each chart has a ``<title>`` and a
text summary for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

COLORS = {"bad": "#b3261e", "warn": "#9a6700", "good": "#1a7f37", "info": "#0b5cad", "muted": "#6e7781"}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # what the bar length shows
    text: str  # what is written at the end of the bar
    tone: str = "info"


def _short(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bars(title: str, items: list[Bar], *, scale: float | None = None, width: int = 360) -> Markup:
    if not items:
        return Markup(f'<p class="empty">{escape(title)}: no data yet.</p>')
    row, label_w, text_w = 26, 160, 70
    top = max(scale or 0, *(i.value for i in items)) or 1
    plot = width - label_w - text_w
    height = row * len(items) + 8
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for n, item in enumerate(items):
        y = 4 + n * row
        length = max(1.0, plot * item.value / top) if item.value > 0 else 0
        color = COLORS.get(item.tone, COLORS["info"])
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12" fill="#1f2328">'
            f"{escape(_short(item.label))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="17" rx="2" fill="{color}"/>'
            f'<text x="{label_w + length + 5:.1f}" y="{y + 16}" font-size="12" fill="#1f2328">'
            f"{escape(item.text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def trend(
    title: str, points: list[tuple[str, float | None]], *, unit: str = "%", width: int = 360, period: str = "Period"
) -> Markup:
    """A line over labelled periods; gaps (None) are skipped. Under the axis as many labels as fit without
    overlapping (``labelled``); every figure is in a table after the chart."""
    values = [v for _, v in points if v is not None]
    if len(values) < 2:
        return Markup(f'<p class="empty">{escape(title)}: not enough data for a trend.</p>')
    height, left, bottom, top_pad = 150, 36, 22, 10
    right = max(10.0, label_width(points) / 2 + 2)  # room for the last label, centred under its point
    top = max(values) * 1.15 or 1
    step = (width - left - right) / max(1, len(points) - 1)

    def y(v: float) -> float:
        return top_pad + (height - bottom - top_pad) * (1 - v / top)

    coords = [(left + i * step, y(v)) for i, (_, v) in enumerate(points) if v is not None]
    line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 6}" y2="{height - bottom}" stroke="#8c959f"/>',
        f'<text x="{left - 4}" y="{y(top / 1.15) + 4:.1f}" text-anchor="end" font-size="11" fill="#57606a">'
        f"{top / 1.15:.0f}{unit}</text>",
        f'<text x="{left - 4}" y="{height - bottom + 4}" text-anchor="end" font-size="11" fill="#57606a">0</text>',
        f'<polyline points="{line}" fill="none" stroke="{COLORS["info"]}" stroke-width="2.5"/>',
    ]
    parts += [f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="{COLORS["info"]}"/>' for x, yy in coords]
    for i in labelled(points, step):
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{height - 6}" text-anchor="middle" font-size="11" '
            f'fill="#57606a">{escape(points[i][0])}</text>'
        )
    last = values[-1]
    parts.append(f"<desc>Latest {last:.1f}{unit}</desc></svg>")
    return Markup("".join(parts) + _table(title, points, unit, period))


#: the width of one character of an 11 px axis label, generously (digits and capitals of a sans-serif)
LABEL_CHAR_WIDTH = 7.0
LABEL_GAP = 8.0


def label_width(points: list[tuple[str, float | None]]) -> float:
    return max((len(label) for label, _ in points), default=0) * LABEL_CHAR_WIDTH


def labelled(points: list[tuple[str, float | None]], step: float) -> list[int]:
    """The indexes of the points whose label is written (centred) under the axis: the last one and every
    ``every``-th before it, ``every`` chosen so that no two labels overlap however wide the chart is drawn (the
    SVG scales its text with it)."""
    every = max(1, math.ceil((label_width(points) + LABEL_GAP) / step)) if step > 0 else len(points)
    return list(range(len(points) - 1, -1, -every))[::-1]


def _table(title: str, points: list[tuple[str, float | None]], unit: str, period: str) -> str:
    """Every point as text, for screen readers and anyone who wants the exact figures (the axis shows only some
    of the labels)."""
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td>{"-" if v is None else f"{v:.1f}{unit}"}</td></tr>'
        for label, v in points
    )
    return (
        f'<details class="chart-data"><summary>{escape(title)}: the figures</summary><table>'
        f'<thead><tr><th scope="col">{escape(period)}</th><th scope="col">Value</th></tr></thead><tbody>{rows}</tbody>'
        "</table></details>"
    )
