"""The cohort chart: every group at every time point in one SVG, as a forest plot.

One row per group, one panel per time point, all panels on the same scale with a line
at zero: a dot for the mean, a whisker for its spread. Rows can be muted (small groups:
grey, hollow). A whisker longer than the scale is cut at the panel's edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import attrs

from stemjourney.reports._charts import (
    AXIS_SIZE,
    GLYPH,
    SUBTITLE_SIZE,
    TICK_SIZE,
    TITLE_SIZE,
    Axis,
    Bar,
    svg_text,
    wrap,
)
from stemjourney.reports._section import fmt

__all__ = ["ForestRow", "forest_chart"]

WIDTH = 720
LABEL_WIDTH = 268
LABEL_SIZE = 9.5
LINE = 10.5
GAP = 8
RIGHT = 8


@attrs.frozen
class ForestRow:
    """One row of the chart: its label (a newline starts a new line), a bar (or nothing)
    per column, and whether it is muted."""

    label: str
    bars: tuple[Bar | None, ...]
    muted: bool = False


def _clip(value: float, axis: Axis) -> float:
    return min(max(value, axis.low), axis.high)


def _panel_ticks(axis: Axis, left: float, right: float, y: float) -> list[str]:
    """Every other tick's label, counted from zero, so neighbouring panels' labels keep
    apart and zero is always labelled."""
    values = [value for value, _ in axis.ticks]
    step = (values[-1] - values[0]) / max(len(values) - 1, 1) or 1.0
    return [
        svg_text(axis.scale(value, left, right), y, label, TICK_SIZE - 1, "sj-tick sj-tick-x")
        for value, label in axis.ticks
        if round(value / step) % 2 == 0
    ]


def forest_chart(
    rows: Sequence[ForestRow],
    columns: Sequence[str],
    *,
    x: Axis,
    title: str,
    subtitle: str = "",
    note: str = "",
) -> str:
    """A forest plot of ``rows`` (groups) by ``columns`` (time points) on the axis ``x``.

    >>> svg = forest_chart([ForestRow("knee", (Bar(0, -3, -5, -1), None))], ["6w", "3m"],
    ...                    x=Axis.numeric(-6, 2, "change"), title="Mean change")
    >>> svg.count('class="sj-whisker"'), 'class="sj-zero"' in svg
    (1, True)
    """
    heads = wrap(title, WIDTH - 24, TITLE_SIZE)
    subs = wrap(subtitle, WIDTH - 24, SUBTITLE_SIZE) if subtitle else []
    notes = wrap(note, WIDTH - 24, SUBTITLE_SIZE) if note else []
    labels = [
        [
            line
            for part in r.label.split("\n")
            for line in wrap(part, LABEL_WIDTH - 12, LABEL_SIZE, GLYPH - 0.05)
        ]
        for r in rows
    ]
    heights = [len(lines) * LINE + 3 for lines in labels]
    top = 12 + len(heads) * (TITLE_SIZE + 4) + len(subs) * (SUBTITLE_SIZE + 4) + 22
    plot_bottom = top + sum(heights)
    height = plot_bottom + 22 + AXIS_SIZE + 10 + len(notes) * (SUBTITLE_SIZE + 4) + 8
    panel = (WIDTH - LABEL_WIDTH - RIGHT - GAP * (len(columns) - 1)) / max(len(columns), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sj-chart sj-bars" '
        f'viewBox="0 0 {WIDTH} {height:g}" width="{WIDTH}" height="{height:g}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    y = 12.0
    for head in heads:
        y += TITLE_SIZE + 2
        out.append(svg_text(WIDTH / 2, y, head, TITLE_SIZE, "sj-title", extra='font-weight="bold"'))
    for sub in subs:
        y += SUBTITLE_SIZE + 4
        out.append(svg_text(WIDTH / 2, y, sub, SUBTITLE_SIZE, "sj-subtitle"))
    out.append(svg_text(6, top - 8, "group", AXIS_SIZE, "sj-axis-title sj-axis-title-y", "start"))
    row_top = float(top)
    for i, (row, lines, h) in enumerate(zip(rows, labels, heights, strict=True)):
        if i % 2 == 0:
            out.append(
                f'<rect class="sj-band" x="0" y="{row_top:.1f}" width="{WIDTH}" height="{h}" '
                f'fill="#f3f4f6"/>'
            )
        colour = "#6b7280" if row.muted else "#111827"
        for k, line in enumerate(lines):
            out.append(
                svg_text(
                    6,
                    row_top + 1 + (k + 1) * LINE - 2,
                    line,
                    LABEL_SIZE,
                    "sj-row-label",
                    "start",
                    f'fill="{colour}"',
                )
            )
        row_top += h
    out.append(
        f'<line class="sj-axis sj-axis-y" x1="{LABEL_WIDTH - 4}" y1="{top}" '
        f'x2="{LABEL_WIDTH - 4}" y2="{plot_bottom}" stroke="#444"/>'
    )
    for c, column in enumerate(columns):
        left = LABEL_WIDTH + c * (panel + GAP)
        right = left + panel
        out.append(svg_text((left + right) / 2, top - 8, column, AXIS_SIZE, "sj-column"))
        out.append(
            f'<rect class="sj-panel" x="{left:.1f}" y="{top}" width="{panel:.1f}" '
            f'height="{plot_bottom - top:.1f}" fill="none" stroke="#9ca3af"/>'
        )
        for value, _ in x.ticks:
            px = x.scale(value, left, right)
            if value == 0:
                line = 'class="sj-zero" stroke="#374151" stroke-width="1.2"'
            else:
                line = 'class="sj-grid" stroke="#d1d5db" stroke-dasharray="2 3"'
            out.append(f'<line {line} x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{plot_bottom}"/>')
        out.append(
            f'<line class="sj-axis sj-axis-x" x1="{left:.1f}" y1="{plot_bottom}" '
            f'x2="{right:.1f}" y2="{plot_bottom}" stroke="#444"/>'
        )
        out.extend(_panel_ticks(x, left, right, plot_bottom + 14))
        row_top = float(top)
        for row, h in zip(rows, heights, strict=True):
            bar = row.bars[c] if c < len(row.bars) else None
            mid_y = row_top + h / 2
            row_top += h
            if bar is None:
                continue
            colour = "#9ca3af" if row.muted else "#1d4ed8"
            if bar.high > bar.low:
                lo, hi = (x.scale(_clip(v, x), left, right) for v in (bar.low, bar.high))
                out.append(
                    f'<line class="sj-whisker" x1="{lo:.1f}" y1="{mid_y:.1f}" x2="{hi:.1f}" '
                    f'y2="{mid_y:.1f}" stroke="{colour}" stroke-width="2"/>'
                )
            px = x.scale(_clip(bar.mean, x), left, right)
            tip = escape(f"{row.label}, {column}: {fmt(bar.mean)}".replace("\n", ", "))
            fill = "#fff" if row.muted else colour
            out.append(
                f'<circle class="sj-point" cx="{px:.1f}" cy="{mid_y:.1f}" r="3.5" fill="{fill}" '
                f'stroke="{colour}" stroke-width="1.5"><title>{tip}</title></circle>'
            )
    axis_y = plot_bottom + 22 + AXIS_SIZE
    centre = (LABEL_WIDTH + WIDTH - RIGHT) / 2
    out.append(svg_text(centre, axis_y, x.title, AXIS_SIZE, "sj-axis-title sj-axis-title-x"))
    for k, line in enumerate(notes):
        out.append(
            svg_text(
                WIDTH / 2,
                axis_y + 6 + (k + 1) * (SUBTITLE_SIZE + 4),
                line,
                SUBTITLE_SIZE,
                "sj-note",
            )
        )
    out.append("</svg>")
    return "\n".join(out)
