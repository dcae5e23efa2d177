"""Every report laid out as titled tables, which the text, Markdown and HTML renderers draw."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from stemjourney.reports._cohort import CohortGroup, CohortReport
from stemjourney.reports._patient_report import JourneyReport, PatientReport, ScoreSeries
from stemjourney.reports._worklist import Worklist

__all__ = ["Report", "Section", "fmt", "group_title", "sections"]

Report = PatientReport | CohortReport | Worklist
"""Any report the renderers draw."""


@attrs.frozen
class Section:
    """A heading, lines of prose, and an optional table of text cells."""

    title: str
    level: int = 2
    lines: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def fmt(value: object, digits: int = 1) -> str:
    """A cell's text: numbers rounded to ``digits``, ``None`` as a dash, booleans as yes/no.

    >>> fmt(2.0), fmt(33.333), fmt(None), fmt(True), fmt(0.5, 2)
    ('2', '33.3', '-', 'yes', '0.5')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{round(value, digits):g}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _series_section(s: ScoreSeries) -> Section:
    labels = list(dict.fromkeys(label for p in s.points for label, _ in p.responder))
    base = (
        f"Baseline {fmt(s.baseline)} on {s.baseline_on}."
        if s.baseline is not None
        else f"No baseline: {s.baseline_reason or 'no injection yet'}."
    )
    if s.higher_is_better is not None:
        base += " Higher is better." if s.higher_is_better else " Lower is better."
    injected = ", ".join(str(d) for d in s.injections) or "none yet"
    rows = []
    for p in s.points:
        verdicts = dict(p.responder)
        rows.append(
            (
                str(p.measured_on),
                fmt(p.cycle),
                p.time_point or "-",
                fmt(p.value),
                fmt(p.change),
                fmt(p.improvement_pct, 0),
                *(fmt(verdicts.get(label)) for label in labels),
            )
        )
    return Section(
        f"Scores: {s.instrument}",
        3,
        (base, f"Injections: {injected}."),
        ("date", "cycle", "time point", "score", "change", "improvement %", *labels),
        tuple(rows),
    )


def _journey_sections(j: JourneyReport) -> list[Section]:
    head = Section(
        f"Journey {j.journey_id}: {j.condition}, {j.site} ({j.side})",
        2,
        (f"Cell source {j.cell_source}; now in {j.stage}, cycle {j.cycle}.",),
        ("stage", "cycle", "date", "reason"),
        tuple((t.stage, str(t.cycle), str(t.on), t.reason or "") for t in j.timeline),
    )
    out = [head, *(_series_section(s) for s in j.series)]
    events = tuple(
        (str(e.onset), str(e.cycle), e.site, str(e.grade), fmt(e.serious), e.relatedness, e.outcome)
        for e in j.adverse_events
    )
    out.append(
        Section(
            "Adverse events",
            3,
            () if events else ("None recorded.",),
            ("onset", "cycle", "site", "grade", "serious", "relatedness", "outcome")
            if events
            else (),
            events,
        )
    )
    nv = j.next_visit
    line = (
        f"{nv.label} (cycle {nv.cycle}) due {nv.due}, window {nv.window_start} to "
        f"{nv.window_end}: {nv.status}."
        if nv
        else "No visit scheduled."
    )
    out.append(Section("Next visit", 3, (line,)))
    return out


def _patient(report: PatientReport) -> list[Section]:
    who = f"Patient {report.patient_id}"
    if report.external_id:
        who += f" (clinic number {report.external_id})"
    top = Section(
        "Follow-up report",
        1,
        (f"{who}, on {report.on}.", f"{len(report.journeys)} journey(s)."),
    )
    return [top, *(s for j in report.journeys for s in _journey_sections(j))]


def group_title(g: CohortGroup) -> str:
    """The heading of a cohort group."""
    return f"{g.condition}, {g.site}, {g.cell_source}, cycle {g.cycle}"


def _cohort(report: CohortReport) -> list[Section]:
    top = Section(
        "Cohort outcomes",
        1,
        (
            f"Instrument {report.instrument}, protocol {report.protocol}, on {report.on}.",
            f"{report.journeys} treated journey(s) in {len(report.groups)} group(s).",
        ),
    )
    out = [top]
    for g in report.groups:
        labels = [name for name, _ in g.rows[0].responders] if g.rows else []
        rows = tuple(
            (
                r.time_point,
                str(r.expected),
                str(r.patients),
                fmt(r.mean),
                fmt(r.median),
                fmt(r.mean_change),
                fmt(r.sd_change),
                *(_pct(share) for _, share in r.responders),
                _pct(r.completeness),
            )
            for r in g.rows
        )
        out.append(
            Section(
                group_title(g),
                2,
                (
                    f"{g.journeys} journey(s), {g.patients} patient(s); adverse events in "
                    f"{_pct(g.adverse_event_rate)}, serious in "
                    f"{_pct(g.serious_adverse_event_rate)}.",
                ),
                (
                    "time point",
                    "expected",
                    "patients",
                    "mean",
                    "median",
                    "mean change",
                    "SD change",
                    *labels,
                    "completeness",
                ),
                rows,
            )
        )
    return out


def _worklist(report: Worklist) -> list[Section]:
    rows = tuple(
        (
            i.patient_id,
            i.journey_id,
            f"{i.site} ({i.side})",
            str(i.cycle),
            i.time_point,
            str(i.due),
            f"{i.window_start} to {i.window_end}",
            i.status,
        )
        for i in report.items
    )
    return [
        Section(
            "Follow-up work-list",
            1,
            (f"From {report.start} to {report.end}, status on {report.on}: {len(rows)} visit(s).",),
            ("patient", "journey", "site", "cycle", "time point", "due", "window", "status")
            if rows
            else (),
            rows,
        )
    ]


def sections(report: Report) -> Sequence[Section]:
    """The report as titled tables, in reading order."""
    if isinstance(report, PatientReport):
        return _patient(report)
    if isinstance(report, CohortReport):
        return _cohort(report)
    return _worklist(report)
