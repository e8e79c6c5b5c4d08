"""Simple server-rendered SVG bar charts of published percentages, with text alternatives.

A chart draws only exact published percentages; a hidden or coded value gets no bar,
only its text, so a chart never shows more than the table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from reports.tables import Value

# Narrow enough that a phone shows the text near its CSS size (the SVG scales to fit).
BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_AREA, TEXT_WIDTH = 24, 8, 78, 220, 62


def percent_of(value: Value) -> float | None:
    """The exact percentage ``value`` publishes, or ``None`` (hidden, coded, none)."""
    if not value.is_number or not value.text.endswith("%"):
        return None
    return float(value.text.removesuffix("%"))


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, Value]]) -> SafeString:
    """Horizontal bars, one per ``(label, value)``, scaled to 100%. The SVG names itself
    by ``title`` and describes every bar in words (its ``desc``) for screen readers."""
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_AREA + TEXT_WIDTH
    description = "; ".join(f"{label}: {_described(value)}" for label, value in bars)
    rows = format_html_join("", "{}", ((_bar(at, label, value),) for at, (label, value) in
                                       enumerate(bars)))  # fmt: skip
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{}-title">{}</title>'
        '<desc id="{}-desc">{}</desc>{}</svg>',
        width, height, chart_id, chart_id, chart_id, title, chart_id, description, rows,
    )  # fmt: skip


def _bar(at: int, label: str, value: Value) -> SafeString:
    y = GAP + at * (BAR_HEIGHT + GAP)
    middle = y + BAR_HEIGHT / 2 + 5
    percent = percent_of(value)
    # A light 0–100% track under every bar; a value that is not an exact percentage gets
    # the track alone, its mark beside it.
    track = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" rx="3" class="bar-track"></rect>',
        LABEL_WIDTH, y, BAR_AREA, BAR_HEIGHT,
    )  # fmt: skip
    bar = ""
    if percent is not None:
        bar = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" rx="3" class="bar"></rect>',
            LABEL_WIDTH, y, f"{max(percent, 0.5) * BAR_AREA / 100:.1f}", BAR_HEIGHT,
        )  # fmt: skip
    return format_html(
        '<g aria-hidden="true"><text x="{}" y="{}" text-anchor="end" class="bar-label">{}</text>'
        '{}{}<text x="{}" y="{}" class="bar-value">{}</text></g>',
        LABEL_WIDTH - 8, middle, label, track, bar, LABEL_WIDTH + BAR_AREA + 6, middle,
        value.text,
    )  # fmt: skip


def _described(value: Value) -> str:
    if value.code:
        return f"{value.text} ({value.meaning})"
    return value.text
