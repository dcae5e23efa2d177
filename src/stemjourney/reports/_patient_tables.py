"""The patient report as sections: who, a summary, visits, events, then scores and timeline.

Page one of a printed report says who it is about (or that it is de-identified), how each
instrument moved from baseline to the latest score with the responder rule in words, the
visits missed or overdue, the next visit and the adverse events; the score charts and
tables follow, then the timeline of stages.
"""

from __future__ import annotations

import re

from stemjourney.reports._patient_report import (
    JourneyReport,
    PatientReport,
    ScorePoint,
    ScoreSeries,
)
from stemjourney.reports._section import (
    OUTCOMES_DOC,
    Section,
    direction,
    fmt,
    instrument_title,
    words,
)

__all__ = ["anchor_of", "charts_anchor", "patient_sections"]


def anchor_of(*parts: str) -> str:
    """An id for a link target, from any text.

    >>> anchor_of("j-1", "koos_pain")
    'j-1-koos_pain'
    """
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-") or "section"


def charts_anchor(journey_id: str) -> str:
    """The anchor of the section the HTML report draws a journey's score charts in."""
    return anchor_of(journey_id, "charts")


def _who(report: PatientReport) -> Section:
    count = f"{len(report.journeys)} journey(s)"
    lines: tuple[str, ...]
    if report.identified:
        lines = (
            "Identified report: it names the patient. Keep it confidential.",
            f"Name: {report.display_name or 'not recorded'}",
            f"Born: {report.birth_date or 'not recorded'}",
            f"Clinic number: {report.external_id or 'not recorded'}",
            f"Patient id: {report.patient_id}",
            f"Report for {report.on}; {count}.",
        )
        kind = "sj-identified"
    else:
        lines = (
            "De-identified report: no name, birth date, clinic number or free-text reason.",
            f"Patient id: {report.patient_id}",
            f"Report for {report.on}; {count}.",
        )
        kind = "sj-deidentified"
    return Section("Follow-up report", 1, lines, anchor="report", classes=("sj-who", kind))


def _verdict(point: ScorePoint | None) -> str:
    if point is None or point.change is None:
        return "-"
    if not point.responder:
        return "no rule"
    met = [label for label, hit in point.responder if hit]
    return ", ".join(met) if met else "no"


def _summary(j: JourneyReport) -> Section:
    rows = []
    notes = []
    for s in j.series:
        p = s.latest
        rows.append(
            (
                s.name or s.instrument,
                {True: "higher", False: "lower", None: "-"}[s.higher_is_better],
                fmt(s.baseline),
                fmt(s.baseline_on),
                fmt(None if p is None else p.value),
                fmt(None if p is None else p.measured_on),
                "-" if p is None else f"{p.time_point}, cycle {p.cycle}",
                fmt(None if p is None else p.change),
                fmt(None if p is None else p.improvement_pct, 0),
                _verdict(p),
            )
        )
        if s.baseline is None:
            notes.append(f"No baseline on {s.instrument}: {s.baseline_reason or 'none recorded'}.")
        notes.extend(f"{label} on {s.instrument}: {text}." for label, text in s.rules)
    notes.append(
        "Change is the latest score minus the baseline; improvement % is the improvement "
        "as a per cent of the baseline's distance from the best score. How they are "
        f"computed, and what the responder rules mean: {OUTCOMES_DOC}."
    )
    return Section(
        "Summary",
        3,
        () if j.series else ("No scores recorded.",),
        (
            "instrument",
            "better",
            "baseline",
            "baseline date",
            "latest",
            "latest date",
            "time point",
            "change",
            "improvement %",
            "responder",
        )
        if j.series
        else (),
        tuple(rows),
        ("", "", "num", "date", "num", "date", "", "num", "num", ""),
        anchor_of(j.journey_id, "summary"),
        notes=tuple(dict.fromkeys(notes)) if j.series else (),
    )


def _visits(j: JourneyReport) -> Section:
    nv = j.next_visit
    first = (
        f"Next visit: {nv.label} (cycle {nv.cycle}) due {nv.due}, window {nv.window_start} "
        f"to {nv.window_end}: {words(nv.status)}."
        if nv
        else "Next visit: none scheduled."
    )
    late = j.missed_or_overdue
    rows = tuple(
        (v.label, str(v.cycle), str(v.due), f"{v.window_start} to {v.window_end}", words(v.status))
        for v in late
    )
    return Section(
        "Visits",
        3,
        (first, f"Missed or overdue visits: {len(late) or 'none'}."),
        ("time point", "cycle", "due", "window", "status") if rows else (),
        rows,
        ("", "num", "date", "date"),
        anchor_of(j.journey_id, "visits"),
    )


def _events(j: JourneyReport) -> Section:
    rows = tuple(
        (
            str(e.onset),
            str(e.cycle),
            e.site,
            str(e.grade),
            fmt(e.serious),
            words(e.relatedness),
            words(e.outcome),
        )
        for e in j.adverse_events
    )
    return Section(
        "Adverse events",
        3,
        () if rows else ("None recorded.",),
        ("onset", "cycle", "site", "CTCAE grade", "serious", "relatedness", "outcome")
        if rows
        else (),
        rows,
        ("date", "num", "", "num"),
        anchor_of(j.journey_id, "events"),
    )


def _scores(j: JourneyReport, s: ScoreSeries) -> Section:
    labels = list(dict.fromkeys(label for p in s.points for label, _ in p.responder))
    better = direction(s.higher_is_better)
    line = (
        f"Baseline {fmt(s.baseline)} on {s.baseline_on}."
        if s.baseline is not None
        else f"No baseline: {s.baseline_reason or 'no injection yet'}."
    )
    if better:
        line += f" {better.capitalize()}."
    if s.unit:
        line += f" Unit: {s.unit}."
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
        f"Scores: {instrument_title(s.instrument, s.name)}",
        3,
        (line,),
        ("date", "cycle", "time point", "score", "change", "improvement %", *labels),
        tuple(rows),
        ("date", "num", "", "num", "num", "num"),
        anchor_of(j.journey_id, s.instrument),
        classes=("sj-scores", "sj-wide") if labels else ("sj-scores",),
    )


def _journey(j: JourneyReport, first: bool) -> list[Section]:
    head = Section(
        f"Journey {j.journey_id}: {j.condition}, {j.site} ({j.side})",
        2,
        (
            f"Cell source: {words(j.cell_source)}. Now in {words(j.stage)}, cycle {j.cycle}.",
            f"Injections: {', '.join(str(d) for d in j.injections) or 'none yet'}.",
        ),
        anchor=anchor_of(j.journey_id),
        classes=() if first else ("sj-new-page",),
    )
    timeline = Section(
        "Timeline",
        3,
        (),
        ("stage", "cycle", "date", "reason"),
        tuple((words(t.stage), str(t.cycle), str(t.on), t.reason or "") for t in j.timeline),
        ("", "num", "date"),
        anchor_of(j.journey_id, "timeline"),
    )
    return [
        head,
        _summary(j),
        _visits(j),
        _events(j),
        *(
            [
                Section(
                    "Scores over time",
                    3,
                    (
                        "One chart per instrument, on the instrument's whole scale, against "
                        "the journey's baseline (in the HTML report); the scores follow, "
                        "instrument by instrument.",
                    ),
                    anchor=charts_anchor(j.journey_id),
                    classes=("sj-charts", "sj-new-page"),
                )
            ]
            if j.series
            else []
        ),
        *(_scores(j, s) for s in j.series),
        timeline,
    ]


def patient_sections(report: PatientReport) -> list[Section]:
    """The patient report as sections, in reading order."""
    out = [_who(report)]
    for i, j in enumerate(report.journeys):
        out.extend(_journey(j, i == 0))
    return out
