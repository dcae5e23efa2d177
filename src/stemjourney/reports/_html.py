"""Reports as one self-contained HTML page (Jinja2), with inline SVG charts.

The page holds its styles and charts inline and loads nothing, so it opens offline
and can be attached to a letter or an e-mail as it is. It prints on A4: each part of a
report starts on a new page, tables and charts are not split across pages, and a long
table repeats its header.
"""

from __future__ import annotations

import attrs
import jinja2
from markupsafe import Markup

from stemjourney.outcomes import BASELINE
from stemjourney.reports._charts import Axis, Bar, date_axis, line_chart, nice_ticks
from stemjourney.reports._cohort import CohortReport
from stemjourney.reports._cohort_tables import CHART_ANCHOR
from stemjourney.reports._forest import ForestRow, forest_chart
from stemjourney.reports._patient_report import PatientReport, ScoreSeries
from stemjourney.reports._patient_tables import charts_anchor
from stemjourney.reports._section import Section, direction, fmt, instrument_of, words
from stemjourney.reports._tables import Report, sections

__all__ = ["cohort_chart", "css_string", "running_line", "series_chart", "to_html"]

_SAFE_CSS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;()-_")


def css_string(text: str) -> str:
    r"""``text`` for the inside of a double-quoted CSS string: every character outside
    letters, digits and plain punctuation as a six-digit escape, so no value can end the
    string or the style sheet.

    >>> css_string('Ann "A" </style>')
    'Ann \\000022A\\000022 \\00003c\\00002fstyle\\00003e'
    """
    return "".join(c if c in _SAFE_CSS else f"\\{ord(c):06x}" for c in text)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("stemjourney.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["css_string"] = css_string


@attrs.frozen
class _Block:
    section: Section
    charts: tuple[Markup, ...] = ()


def _value_axis(instrument: str, values: list[float]) -> Axis:
    """The instrument's whole scale (its low to high), or the values' range when unknown."""
    spec = instrument_of(instrument)
    if spec is None:
        return Axis.numeric(min(0.0, *values), max(values), "score")
    better = direction(spec.higher_is_better)
    return Axis.numeric(spec.low, spec.high, f"score ({spec.unit}), {better}")


def series_chart(series: ScoreSeries) -> str | None:
    """A line chart of one journey's scores over time against its baseline; ``None`` if empty.

    The y axis spans the instrument's scale, so every chart of one instrument (and the
    KOOS subscales among themselves) compare at a glance.
    """
    if not series.points:
        return None
    days = [p.measured_on for p in series.points]
    x, origin = date_axis(min([*days, *series.injections]), max([*days, *series.injections]))
    values = [p.value for p in series.points]
    how = []
    if series.baseline is not None:
        how.append(f"dashed line: baseline {fmt(series.baseline)} on {series.baseline_on}")
    if series.injections:
        how.append("dotted lines: injections")
    better = direction(series.higher_is_better)
    if better:
        how.append(better)
    return line_chart(
        [(float((p.measured_on - origin).days), p.value) for p in series.points],
        x=x,
        y=_value_axis(series.instrument, values),
        title=series.name or series.instrument,
        subtitle="; ".join(how).capitalize(),
        baseline=series.baseline,
        markers=[(float((d - origin).days), "injection") for d in series.injections],
    )


def cohort_chart(report: CohortReport) -> str | None:
    """Every group's mean change from baseline with one SD either side, at each time point,
    in one chart (a forest plot); small groups grey. ``None`` when no group has a change."""
    labels = dict.fromkeys(r.time_point for g in report.groups for r in g.rows)
    points = [label for label in labels if label != BASELINE]
    rows = []
    for g in report.groups:
        by_label = {r.time_point: r for r in g.rows}
        bars: list[Bar | None] = []
        for label in points:
            r = by_label.get(label)
            if r is None or r.mean_change is None:
                bars.append(None)
                continue
            sd = r.sd_change or 0.0
            bars.append(Bar(0, r.mean_change, r.mean_change - sd, r.mean_change + sd, label))
        label = f"{g.condition}, {g.site}\n{words(g.cell_source)}, cycle {g.cycle}, n={g.journeys}"
        rows.append(ForestRow(label + (" (small)" if g.small else ""), tuple(bars), g.small))
    drawn = [b for row in rows for b in row.bars if b is not None]
    if not drawn:
        return None
    sure = [b for row in rows if not row.muted for b in row.bars if b is not None] or drawn
    spec = instrument_of(report.instrument)
    low = min(0.0, *(b.low for b in sure))
    high = max(0.0, *(b.high for b in sure))
    if spec is not None:
        span = spec.high - spec.low
        low, high = max(low, -span), min(high, span)
    ticks = nice_ticks(low, high, 4)
    unit = "" if spec is None else f" ({spec.unit})"
    x = Axis(
        ticks[0], ticks[-1], tuple((t, fmt(t, 2)) for t in ticks), f"mean change{unit}, ± 1 SD"
    )
    if spec is None:
        note = ""
    else:
        side = "right of" if spec.higher_is_better else "left of"
        note = f"{side.capitalize()} zero is better ({direction(spec.higher_is_better)})."
    if any(row.muted for row in rows):
        note += f" Grey, hollow: small groups (fewer than {report.small_group} journeys)."
    return forest_chart(
        rows,
        points,
        x=x,
        title=f"Mean change from baseline: {spec.name if spec else report.instrument}",
        subtitle="Each group at each time point, from each journey's baseline for the cycle.",
        note=note.strip(),
    )


def _blocks(report: Report) -> list[_Block]:
    blocks = [_Block(s) for s in sections(report)]
    charts: dict[str, tuple[Markup, ...]] = {}
    if isinstance(report, PatientReport):
        for j in report.journeys:
            drawn = (series_chart(s) for s in j.series)
            charts[charts_anchor(j.journey_id)] = tuple(Markup(c) for c in drawn if c)
    elif isinstance(report, CohortReport):
        drawn_cohort = cohort_chart(report)
        charts[CHART_ANCHOR] = (Markup(drawn_cohort),) if drawn_cohort else ()
    return [attrs.evolve(b, charts=charts.get(b.section.anchor, ())) for b in blocks]


def running_line(report: Report) -> str:
    """What every printed page of the report says at its foot (with the page number): who
    an identified patient report is about, or that it is de-identified."""
    if isinstance(report, PatientReport):
        if not report.identified:
            return f"De-identified: patient {report.patient_id}"
        name = report.display_name or "name not recorded"
        born = report.birth_date or "not recorded"
        return f"Identified, confidential: {name}, born {born}, patient {report.patient_id}"
    if isinstance(report, CohortReport):
        return f"Cohort outcomes: {report.instrument}, protocol {report.protocol}, {report.on}"
    return f"Follow-up work-list: {report.start} to {report.end}"


def to_html(report: Report) -> str:
    """The report as a self-contained HTML page with its charts drawn inline as SVG.

    The page prints on A4 (a print stylesheet): each part of the report starts on a new
    page and tables and charts are not split.
    """
    kind = type(report).__name__
    title = sections(report)[0].title
    return _ENV.get_template("report.html").render(
        title=title,
        kind=kind,
        blocks=_blocks(report),
        made_on=report.on.isoformat(),
        running=running_line(report),
    )
