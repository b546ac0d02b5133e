"""Small server-rendered SVG charts (no Django, no JavaScript, no inline styles).

Charts are plain SVG markup built from a list of ``Bar``: every text is escaped here, so the
result can be marked safe in a template. Colours and fonts come from the site's CSS through
classes (``chart``, ``bar-fill``, ``bar-label`` ...); geometry uses SVG presentation
attributes (x, y, width, height), which the Content-Security-Policy allows. Each chart is an
``role="img"`` with a ``<title>``/``<desc>`` for screen readers, and each bar has its own
``<title>`` (a tooltip on hover) stating its exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    label: str  # under (columns) or before (rows) the bar
    value: float  # the bar's length, on the chart's own scale
    text: str = ""  # value shown beside the bar (default: the value)
    title: str = ""  # tooltip / accessible text of the bar (default: "label: text")
    css: str = ""  # extra class on the bar's group, e.g. "highlight"


def _num(value: float) -> str:
    """Coordinates with one decimal at most, so markup stays short and stable in tests."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _shown(bar: Bar) -> str:
    if bar.text:
        return bar.text
    return _num(bar.value)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _open(chart_id: str, kind: str, width: float, height: float, title: str, desc: str) -> str:
    ids = f"{chart_id}-title" + (f" {chart_id}-desc" if desc else "")
    parts = [
        f'<svg class="chart chart-{kind}" id="{escape(chart_id)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" '
        f'aria-labelledby="{escape(ids)}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    if desc:
        parts.append(f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>')
    return "".join(parts)


def column_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    width: float = 600,
    height: float = 220,
) -> str:
    """Vertical bars side by side (a histogram): labels under, values above each bar."""
    label_h, value_h, gap = 24.0, 18.0, 6.0
    plot_h = height - label_h - value_h
    top = max((b.value for b in bars), default=0) or 1
    slot = width / max(len(bars), 1)
    bar_w = max(slot - gap, 1)
    out = [_open(chart_id, "columns", width, height, title, desc)]
    out.append(
        f'<line class="chart-axis" x1="0" y1="{_num(value_h + plot_h)}" '
        f'x2="{_num(width)}" y2="{_num(value_h + plot_h)}"/>'
    )
    for i, bar in enumerate(bars):
        h = plot_h * max(bar.value, 0) / top
        x = i * slot + gap / 2
        y = value_h + plot_h - h
        cx = x + bar_w / 2
        tip = bar.title or f"{bar.label}: {_shown(bar)}"
        css = "bar" + (f" {bar.css}" if bar.css else "")
        out.append(
            f'<g class="{escape(css)}"><title>{escape(tip)}</title>'
            f'<rect class="bar-fill" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" '
            f'height="{_num(h)}" rx="3"/>'
            f'<text class="bar-value" x="{_num(cx)}" y="{_num(y - 4)}" '
            f'text-anchor="middle">{escape(_shown(bar))}</text>'
            f'<text class="bar-label" x="{_num(cx)}" y="{_num(height - 6)}" '
            f'text-anchor="middle">{escape(bar.label)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def row_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    width: float = 600,
    row_height: float = 28,
    label_width: float = 190,
    max_value: float | None = None,
) -> str:
    """Horizontal bars, one row each: the label on the left, the value after the bar.

    ``max_value`` fixes the scale (5 for star averages); by default the longest bar fills
    the row.
    """
    value_w = 120.0
    plot_w = width - label_width - value_w
    top = max_value or max((b.value for b in bars), default=0) or 1
    height = max(len(bars), 1) * row_height
    out = [_open(chart_id, "rows", width, height, title, desc)]
    for i, bar in enumerate(bars):
        y = i * row_height
        w = plot_w * min(max(bar.value, 0), top) / top
        mid = y + row_height / 2
        tip = bar.title or f"{bar.label}: {_shown(bar)}"
        css = "bar" + (f" {bar.css}" if bar.css else "")
        out.append(
            f'<g class="{escape(css)}"><title>{escape(tip)}</title>'
            f'<text class="bar-label" x="{_num(label_width - 8)}" y="{_num(mid)}" '
            f'text-anchor="end" dominant-baseline="middle">'
            f"{escape(_truncate(bar.label, 24))}</text>"
            f'<rect class="bar-track" x="{_num(label_width)}" y="{_num(y + 5)}" '
            f'width="{_num(plot_w)}" height="{_num(row_height - 10)}" rx="3"/>'
            f'<rect class="bar-fill" x="{_num(label_width)}" y="{_num(y + 5)}" '
            f'width="{_num(w)}" height="{_num(row_height - 10)}" rx="3"/>'
            f'<text class="bar-value" x="{_num(label_width + plot_w + 8)}" y="{_num(mid)}" '
            f'dominant-baseline="middle">{escape(_shown(bar))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
