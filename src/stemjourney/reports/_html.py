"""Reports as one self-contained HTML page (Jinja2), with inline SVG charts.

The page holds its styles and charts inline and loads nothing, so it opens offline
and can be attached to a letter or an e-mail as it is.
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import jinja2
from markupsafe import Markup

from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.outcomes import BASELINE
from stemjourney.reports._charts import Axis, Bar, bar_chart, line_chart, nice_ticks
from stemjourney.reports._cohort import CohortGroup, CohortReport
from stemjourney.reports._patient_report import PatientReport, ScoreSeries
from stemjourney.reports._tables import Report, Section, group_title, sections

__all__ = ["cohort_chart", "series_chart", "to_html"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("stemjourney.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


@attrs.frozen
class _Block:
    section: Section
    charts: tuple[Markup, ...] = ()


def _date_axis(first: date, last: date) -> Axis:
    span = max((last - first).days, 1)
    ticks = tuple(
        (float(t), (first + timedelta(days=t)).isoformat())
        for t in nice_ticks(0, span, 4)
        if 0 <= t <= span
    )
    return Axis(0, span, ticks, "date")


def _value_axis(instrument: str, values: list[float]) -> Axis:
    if instrument in PAIN_INSTRUMENTS:
        low, high, _ = PAIN_INSTRUMENTS[instrument]
        return Axis.numeric(low, high, instrument.upper())
    return Axis.numeric(min(0.0, *values), max(values), instrument)


def series_chart(series: ScoreSeries) -> str | None:
    """A line chart of one journey's scores over time against its baseline; ``None`` if empty."""
    if not series.points:
        return None
    days = [p.measured_on for p in series.points]
    first = min([*days, *series.injections])
    last = max([*days, *series.injections])
    values = [p.value for p in series.points]
    return line_chart(
        [(float((p.measured_on - first).days), p.value) for p in series.points],
        x=_date_axis(first, last),
        y=_value_axis(series.instrument, values),
        title=f"{series.instrument} over time",
        baseline=series.baseline,
        markers=[(float((d - first).days), "injection") for d in series.injections],
    )


def cohort_chart(group: CohortGroup, instrument: str) -> str | None:
    """Mean change from baseline with one SD either side at each time point; ``None`` if none."""
    bars = [
        Bar(
            float(r.day),
            r.mean_change,
            r.mean_change - (r.sd_change or 0.0),
            r.mean_change + (r.sd_change or 0.0),
            r.time_point,
        )
        for r in group.rows
        if r.time_point != BASELINE and r.mean_change is not None
    ]
    if not bars:
        return None
    lows = [b.low for b in bars]
    highs = [b.high for b in bars]
    y = Axis.numeric(min(0.0, *lows), max(0.0, *highs), f"change in {instrument}")
    x = Axis(0, max(b.x for b in bars) * 1.08, tuple((b.x, b.label) for b in bars), "time point")
    return bar_chart(bars, x=x, y=y, title=f"Mean change (SD) - {group_title(group)}")


def _blocks(report: Report) -> list[_Block]:
    blocks = [_Block(s) for s in sections(report)]
    charts: list[str | None] = []
    if isinstance(report, PatientReport):
        charts = [series_chart(s) for j in report.journeys for s in j.series]
        anchors = [b for b in blocks if b.section.title.startswith("Scores: ")]
    elif isinstance(report, CohortReport):
        charts = [cohort_chart(g, report.instrument) for g in report.groups]
        anchors = [b for b in blocks if b.section.level == 2]
    else:
        anchors = []
    drawn = {id(a): c for a, c in zip(anchors, charts, strict=True)}
    return [
        attrs.evolve(b, charts=(Markup(drawn[id(b)]),)) if drawn.get(id(b)) else b for b in blocks
    ]


def to_html(report: Report) -> str:
    """The report as a self-contained HTML page with its charts drawn inline as SVG."""
    kind = type(report).__name__
    title = sections(report)[0].title
    return _ENV.get_template("report.html").render(
        title=title,
        kind=kind,
        blocks=_blocks(report),
        made_on=report.on.isoformat(),
    )
