"""Small charts as inline SVG text: no charting library, nothing fetched, works offline.

Two kinds serve the patient report: a line of scores over time against a baseline, and
means with their spread (error bars); the cohort report's chart across groups is in
:mod:`._forest`. Every chart has a title, a subtitle saying how to read it, both axes
with round tick labels and an axis title; text is placed so that nothing is clipped by
the chart's box and tick labels do not run into each other. Dates are ticked on month
starts (or whole days for a short span), never at odd steps of days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

import attrs

from stemjourney.reports._section import fmt

__all__ = [
    "Axis",
    "Bar",
    "Box",
    "bar_chart",
    "date_axis",
    "frame",
    "line_chart",
    "nice_ticks",
    "svg_text",
    "text_width",
    "wrap",
]

WIDTH, HEIGHT = 400, 290
LEFT, RIGHT, BOTTOM = 56, 18, 48
TITLE_SIZE, SUBTITLE_SIZE, TICK_SIZE, AXIS_SIZE = 15, 11.5, 12, 12
GLYPH = 0.6
"""A generous average glyph width, per unit of font size, of a sans-serif font."""
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def text_width(text: str, size: float) -> float:
    """An upper estimate of the width of ``text`` at font ``size``, in user units."""
    return len(text) * size * GLYPH


def wrap(text: str, width: float, size: float, glyph: float = GLYPH) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` at font ``size`` (a
    glyph ``glyph`` times the size wide, on average).

    >>> wrap("Pain numeric rating scale 0-10", 100, 10)
    ['Pain numeric', 'rating scale', '0-10']
    """
    limit = max(int(width / (size * glyph)), 1)
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def nice_ticks(low: float, high: float, count: int = 5) -> tuple[float, ...]:
    """Round tick values covering ``low`` to ``high``.

    >>> nice_ticks(0, 10)
    (0.0, 2.0, 4.0, 6.0, 8.0, 10.0)
    """
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    ticks = [round(float(math.floor(low / step) * step), 10)]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return tuple(ticks)


@attrs.frozen
class Axis:
    """An axis: its range, its labelled ticks and its title."""

    low: float
    high: float
    ticks: tuple[tuple[float, str], ...]
    title: str

    @classmethod
    def numeric(cls, low: float, high: float, title: str, count: int = 5) -> Axis:
        """An axis with round ticks from ``low`` to ``high``, widened to the outer ticks.

        >>> [label for _, label in Axis.numeric(0, 100, "score").ticks]
        ['0', '20', '40', '60', '80', '100']
        """
        ticks = nice_ticks(low, high, count)
        return cls(ticks[0], ticks[-1], tuple((t, fmt(t, 2)) for t in ticks), title)

    def scale(self, value: float, start: float, end: float) -> float:
        """Where ``value`` falls between the pixel positions ``start`` and ``end``."""
        span = self.high - self.low or 1.0
        return start + (value - self.low) / span * (end - start)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def date_axis(first: date, last: date, title: str = "date") -> tuple[Axis, date]:
    """An axis of days from the returned origin covering ``first`` to ``last``: from the
    first of ``first``'s month to the first of the month after ``last``, ticked on
    calendar month starts every 1, 2, 3, 6 or 12 months; for a span of up to nine weeks,
    from ``first`` on whole days, every 1, 2, 7 or 14.

    >>> axis, origin = date_axis(date(2024, 4, 30), date(2025, 12, 28))
    >>> origin, [label for _, label in axis.ticks]
    (datetime.date(2024, 4, 1), ['Jul 2024', 'Jan 2025', 'Jul 2025', 'Jan 2026'])
    >>> axis, origin = date_axis(date(2026, 3, 2), date(2026, 3, 20))
    >>> [label for _, label in axis.ticks]
    ['2 Mar 2026', '9 Mar 2026', '16 Mar 2026', '23 Mar 2026']
    """
    span = (last - first).days
    if span <= 63:
        step = next(s for s in (1, 2, 7, 14) if span / s <= 6)
        count = max(math.ceil(span / step), 1)
        ticks = tuple(
            (float(k * step), _day_label(first + timedelta(days=k * step)))
            for k in range(count + 1)
        )
        return Axis(0, count * step, ticks, title), first
    start = first.replace(day=1)
    end = _add_months(last.replace(day=1), 1)
    months = [start]
    while months[-1] < end:
        months.append(_add_months(months[-1], 1))
    for step in (1, 2, 3, 6, 12, 24, 60, 120):
        marks = [d for d in months if (d.year * 12 + d.month - 1) % step == 0]
        if len(marks) <= 6:
            break
    ticks = tuple(
        (float((d - start).days), str(d.year) if step >= 12 else f"{_MONTHS[d.month - 1]} {d.year}")
        for d in marks
    )
    return Axis(0, float((end - start).days), ticks, title), start


def _day_label(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


@attrs.frozen
class Bar:
    """A mean at one x position with the low and high ends of its spread."""

    x: float
    mean: float
    low: float
    high: float
    label: str = ""


@attrs.frozen
class Box:
    """The plot area of a chart, in user units: left, right, bottom and top."""

    x0: float
    x1: float
    y0: float
    y1: float


def svg_text(
    x: float, y: float, text: str, size: float, css: str, anchor: str = "middle", extra: str = ""
) -> str:
    """One SVG ``text`` element; ``extra`` is more attributes, already escaped."""
    return (
        f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
        f'font-size="{size}"{" " + extra if extra else ""}>{escape(text)}</text>'
    )


def _x_labels(x: Axis, box: Box, width: float) -> list[str]:
    """The x tick labels, each kept inside the chart and clear of the one before."""
    out: list[str] = []
    right_edge = -math.inf
    for value, label in x.ticks:
        px = x.scale(value, box.x0, box.x1)
        w = text_width(label, TICK_SIZE)
        anchor, start = "middle", px - w / 2
        if start < 2:
            anchor, start = "start", max(px, 2)
        elif start + w > width - 2:
            anchor, start = "end", px - w
        out.append(
            f'<line class="sj-tick-mark" x1="{px:.1f}" y1="{box.y0}" x2="{px:.1f}" '
            f'y2="{box.y0 + 4}" stroke="#444"/>'
        )
        if start < right_edge + 6:
            continue
        right_edge = start + w
        out.append(svg_text(px, box.y0 + 17, label, TICK_SIZE, "sj-tick sj-tick-x", anchor))
    return out


def frame(
    title: str,
    x: Axis,
    y: Axis,
    kind: str,
    *,
    subtitle: str = "",
    width: float = WIDTH,
    height: float = HEIGHT,
) -> tuple[list[str], Box]:
    """The opening of a chart's SVG (title, subtitle, axes, ticks, axis titles) and the box
    its data is drawn in; the caller draws the data and closes the ``svg``."""
    heads = wrap(title, width - 24, TITLE_SIZE)
    subs = wrap(subtitle, width - 24, SUBTITLE_SIZE) if subtitle else []
    top = 12 + len(heads) * (TITLE_SIZE + 4) + len(subs) * (SUBTITLE_SIZE + 4) + 10
    box = Box(LEFT, width - RIGHT, height - BOTTOM, top)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sj-chart sj-{kind}" '
        f'viewBox="0 0 {width:g} {height:g}" width="{width:g}" height="{height:g}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    line_y = 12.0
    for head in heads:
        line_y += TITLE_SIZE + 2
        out.append(
            svg_text(width / 2, line_y, head, TITLE_SIZE, "sj-title", extra='font-weight="bold"')
        )
    for sub in subs:
        line_y += SUBTITLE_SIZE + 4
        out.append(svg_text(width / 2, line_y, sub, SUBTITLE_SIZE, "sj-subtitle"))
    for value, label in y.ticks:
        py = y.scale(value, box.y0, box.y1)
        out.append(
            f'<line class="sj-grid" x1="{box.x0}" y1="{py:.1f}" x2="{box.x1}" y2="{py:.1f}" '
            f'stroke="#e5e7eb"/>'
        )
        out.append(svg_text(box.x0 - 7, py + 4, label, TICK_SIZE, "sj-tick sj-tick-y", "end"))
    out.append(
        f'<line class="sj-axis sj-axis-x" x1="{box.x0}" y1="{box.y0}" x2="{box.x1}" '
        f'y2="{box.y0}" stroke="#444"/>'
    )
    out.append(
        f'<line class="sj-axis sj-axis-y" x1="{box.x0}" y1="{box.y0}" x2="{box.x0}" '
        f'y2="{box.y1}" stroke="#444"/>'
    )
    out.extend(_x_labels(x, box, width))
    out.append(
        svg_text(
            (box.x0 + box.x1) / 2, height - 10, x.title, AXIS_SIZE, "sj-axis-title sj-axis-title-x"
        )
    )
    mid = (box.y0 + box.y1) / 2
    out.append(
        svg_text(
            16,
            mid,
            y.title,
            AXIS_SIZE,
            "sj-axis-title sj-axis-title-y",
            extra=f'transform="rotate(-90 16 {mid:.1f})"',
        )
    )
    return out, box


def _clear(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two boxes (left, top, right, bottom) do not overlap."""
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    x: Axis,
    y: Axis,
    title: str,
    subtitle: str = "",
    baseline: float | None = None,
    markers: Sequence[tuple[float, str]] = (),
    width: float = WIDTH,
    height: float = HEIGHT,
) -> str:
    """A line through ``points`` (x, y), a dashed ``baseline`` and labelled vertical ``markers``.

    >>> svg = line_chart([(0, 7), (42, 3)], x=Axis.numeric(0, 42, "days"),
    ...                  y=Axis.numeric(0, 10, "NRS"), title="Pain", baseline=7)
    >>> svg.startswith("<svg") and 'class="sj-baseline"' in svg and svg.count("<circle") == 2
    True
    """
    out, box = frame(title, x, y, "line", subtitle=subtitle, width=width, height=height)
    taken: list[tuple[float, float, float, float]] = []
    for value, label in markers:
        px = x.scale(value, box.x0, box.x1)
        out.append(
            f'<line class="sj-marker" x1="{px:.1f}" y1="{box.y0}" x2="{px:.1f}" y2="{box.y1}" '
            f'stroke="#15803d" stroke-dasharray="2 3"/>'
        )
        w = text_width(label, 10)
        place = (px + 3, box.y1 + 1, px + 3 + w, box.y1 + 13)
        if place[2] <= box.x1 and all(_clear(place, t) for t in taken):
            taken.append(place)
            out.append(svg_text(px + 3, box.y1 + 11, label, 10, "sj-marker-label", "start"))
    if baseline is not None:
        py = y.scale(baseline, box.y0, box.y1)
        out.append(
            f'<line class="sj-baseline" x1="{box.x0}" y1="{py:.1f}" x2="{box.x1}" y2="{py:.1f}" '
            f'stroke="#b91c1c" stroke-dasharray="6 4"/>'
        )
        label = f"baseline {fmt(baseline)}"
        w = text_width(label, TICK_SIZE)
        above = (box.x1 - 4 - w, py - 16, box.x1 - 4, py - 2)
        below_y = py + 14
        up = above[1] >= box.y1 and all(_clear(above, t) for t in taken)
        out.append(
            svg_text(
                box.x1 - 4,
                py - 5 if up else below_y,
                label,
                TICK_SIZE,
                "sj-baseline-label",
                "end",
                'fill="#b91c1c"',
            )
        )
    coords = [(x.scale(px, box.x0, box.x1), y.scale(py, box.y0, box.y1)) for px, py in points]
    if coords:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{cx:.1f},{cy:.1f}" for i, (cx, cy) in enumerate(coords)
        )
        out.append(
            f'<path class="sj-series" d="{path}" fill="none" stroke="#1d4ed8" stroke-width="2"/>'
        )
    for (cx, cy), (_, value) in zip(coords, points, strict=True):
        out.append(
            f'<circle class="sj-point" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="#1d4ed8">'
            f"<title>{escape(fmt(value))}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(bars: Sequence[Bar], *, x: Axis, y: Axis, title: str, subtitle: str = "") -> str:
    """Each bar's mean as a dot with a whisker from its low to its high end; a line at zero.

    >>> svg = bar_chart([Bar(42, -3, -5, -1, "6w")], x=Axis.numeric(0, 60, "days"),
    ...                 y=Axis.numeric(-6, 0, "change"), title="Change")
    >>> 'class="sj-whisker"' in svg and 'class="sj-zero"' in svg
    True
    """
    out, box = frame(title, x, y, "bars", subtitle=subtitle)
    if y.low <= 0 <= y.high:
        pz = y.scale(0, box.y0, box.y1)
        out.append(
            f'<line class="sj-zero" x1="{box.x0}" y1="{pz:.1f}" x2="{box.x1}" y2="{pz:.1f}" '
            f'stroke="#888"/>'
        )
    for bar in bars:
        px = x.scale(bar.x, box.x0, box.x1)
        lo, hi, mid = (y.scale(v, box.y0, box.y1) for v in (bar.low, bar.high, bar.mean))
        out.append(
            f'<line class="sj-whisker" x1="{px:.1f}" y1="{lo:.1f}" x2="{px:.1f}" y2="{hi:.1f}" '
            f'stroke="#1d4ed8" stroke-width="2"/>'
        )
        out.append(
            f'<circle class="sj-point" cx="{px:.1f}" cy="{mid:.1f}" r="5" fill="#1d4ed8">'
            f"<title>{escape(bar.label)} {escape(fmt(bar.mean, 2))}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)
