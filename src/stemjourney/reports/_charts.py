"""Small charts as inline SVG text: no charting library, nothing fetched, works offline.

Two kinds are enough for the reports: a line of scores over time against a
baseline, and means with their spread (error bars) at each time point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import attrs

__all__ = ["Axis", "Bar", "bar_chart", "line_chart", "nice_ticks"]

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 32, 48


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
    def numeric(cls, low: float, high: float, title: str) -> Axis:
        """An axis with round ticks from ``low`` to ``high``, widened to the outer ticks."""
        ticks = nice_ticks(low, high)
        return cls(ticks[0], ticks[-1], tuple((t, f"{t:g}") for t in ticks), title)

    def scale(self, value: float, start: float, end: float) -> float:
        """Where ``value`` falls between the pixel positions ``start`` and ``end``."""
        span = self.high - self.low or 1.0
        return start + (value - self.low) / span * (end - start)


@attrs.frozen
class Bar:
    """A mean at one x position with the low and high ends of its spread."""

    x: float
    mean: float
    low: float
    high: float
    label: str = ""


def _frame(title: str, x: Axis, y: Axis, kind: str) -> list[str]:
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sj-chart sj-{kind}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" class="sj-title">'
        f"{escape(title)}</text>",
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#444"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#444"/>',
    ]
    for value, label in y.ticks:
        py = y.scale(value, y0, y1)
        out.append(f'<line x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{x0 - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
        )
    for value, label in x.ticks:
        px = x.scale(value, x0, x1)
        out.append(
            f'<text x="{px:.1f}" y="{y0 + 16}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12">'
        f"{escape(x.title)}</text>"
    )
    out.append(
        f'<text x="14" y="{(y0 + y1) / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {(y0 + y1) / 2})">{escape(y.title)}</text>'
    )
    return out


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    x: Axis,
    y: Axis,
    title: str,
    baseline: float | None = None,
    markers: Sequence[tuple[float, str]] = (),
) -> str:
    """A line through ``points`` (x, y), a dashed ``baseline`` and labelled vertical ``markers``.

    >>> svg = line_chart([(0, 7), (42, 3)], x=Axis.numeric(0, 42, "days"),
    ...                  y=Axis.numeric(0, 10, "NRS"), title="Pain", baseline=7)
    >>> svg.startswith("<svg") and 'class="sj-baseline"' in svg and svg.count("<circle") == 2
    True
    """
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    out = _frame(title, x, y, "line")
    for value, label in markers:
        px = x.scale(value, x0, x1)
        out.append(
            f'<line class="sj-marker" x1="{px:.1f}" y1="{y0}" x2="{px:.1f}" y2="{y1}" '
            f'stroke="#8a6" stroke-dasharray="2 3"/>'
        )
        out.append(f'<text x="{px + 3:.1f}" y="{y1 + 10}" font-size="10">{escape(label)}</text>')
    if baseline is not None:
        py = y.scale(baseline, y0, y1)
        out.append(
            f'<line class="sj-baseline" x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" '
            f'stroke="#c33" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{x1 - 4}" y="{py - 4:.1f}" text-anchor="end" font-size="11" fill="#c33">'
            f"baseline {baseline:g}</text>"
        )
    coords = [(x.scale(px, x0, x1), y.scale(py, y0, y1)) for px, py in points]
    if coords:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{cx:.1f},{cy:.1f}" for i, (cx, cy) in enumerate(coords)
        )
        out.append(
            f'<path class="sj-series" d="{path}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        )
    for (cx, cy), (_, value) in zip(coords, points, strict=True):
        out.append(
            f'<circle class="sj-point" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="#2563eb">'
            f"<title>{value:g}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(bars: Sequence[Bar], *, x: Axis, y: Axis, title: str) -> str:
    """Each bar's mean as a dot with a whisker from its low to its high end; a line at zero.

    >>> svg = bar_chart([Bar(42, -3, -5, -1, "6w")], x=Axis.numeric(0, 60, "days"),
    ...                 y=Axis.numeric(-6, 0, "change"), title="Change")
    >>> 'class="sj-whisker"' in svg and 'class="sj-zero"' in svg
    True
    """
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    out = _frame(title, x, y, "bars")
    if y.low <= 0 <= y.high:
        pz = y.scale(0, y0, y1)
        out.append(
            f'<line class="sj-zero" x1="{x0}" y1="{pz:.1f}" x2="{x1}" y2="{pz:.1f}" stroke="#888"/>'
        )
    for bar in bars:
        px = x.scale(bar.x, x0, x1)
        lo, hi, mid = (y.scale(v, y0, y1) for v in (bar.low, bar.high, bar.mean))
        out.append(
            f'<line class="sj-whisker" x1="{px:.1f}" y1="{lo:.1f}" x2="{px:.1f}" y2="{hi:.1f}" '
            f'stroke="#2563eb" stroke-width="2"/>'
        )
        for end in (lo, hi):
            out.append(
                f'<line x1="{px - 6:.1f}" y1="{end:.1f}" x2="{px + 6:.1f}" y2="{end:.1f}" '
                f'stroke="#2563eb" stroke-width="2"/>'
            )
        out.append(
            f'<circle class="sj-point" cx="{px:.1f}" cy="{mid:.1f}" r="5" fill="#2563eb">'
            f"<title>{escape(bar.label)} {bar.mean:.2f}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)
