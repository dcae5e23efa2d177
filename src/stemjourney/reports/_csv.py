"""Reports as CSV: one flat table per report, one row per score, time point or visit."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from stemjourney.reports._cohort import CohortReport
from stemjourney.reports._patient_report import PatientReport
from stemjourney.reports._worklist import WORK_ITEM_COLUMNS, Worklist

__all__ = ["to_csv"]


def _value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return value


def _write(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_value(v) for v in row] for row in rows)
    return buffer.getvalue()


def _patient(report: PatientReport) -> str:
    labels = list(
        dict.fromkeys(
            label
            for j in report.journeys
            for s in j.series
            for p in s.points
            for label, _ in p.responder
        )
    )
    header = [
        "patient_id",
        "journey_id",
        "condition",
        "site",
        "side",
        "cell_source",
        "instrument",
        "measured_on",
        "cycle",
        "time_point",
        "value",
        "baseline",
        "change",
        "improvement",
        "improvement_pct",
        *(f"responder_{label}" for label in labels),
    ]
    rows = []
    for j in report.journeys:
        for s in j.series:
            for p in s.points:
                verdicts = dict(p.responder)
                rows.append(
                    [
                        report.patient_id,
                        j.journey_id,
                        j.condition,
                        j.site,
                        j.side,
                        j.cell_source,
                        s.instrument,
                        p.measured_on.isoformat(),
                        p.cycle,
                        p.time_point,
                        p.value,
                        s.baseline,
                        p.change,
                        p.improvement,
                        p.improvement_pct,
                        *(verdicts.get(label) for label in labels),
                    ]
                )
    return _write(header, rows)


def _cohort(report: CohortReport) -> str:
    labels = list(
        dict.fromkeys(name for g in report.groups for r in g.rows for name, _ in r.responders)
    )
    header = [
        "condition",
        "site",
        "cell_source",
        "cycle",
        "journeys",
        "group_patients",
        "adverse_event_rate",
        "serious_adverse_event_rate",
        "instrument",
        "time_point",
        "day",
        "expected",
        "patients",
        "mean",
        "median",
        "mean_change",
        "sd_change",
        "completeness",
        *(f"responders_{label}" for label in labels),
    ]
    rows = []
    for g in report.groups:
        for r in g.rows:
            shares = dict(r.responders)
            rows.append(
                [
                    g.condition,
                    g.site,
                    g.cell_source,
                    g.cycle,
                    g.journeys,
                    g.patients,
                    g.adverse_event_rate,
                    g.serious_adverse_event_rate,
                    report.instrument,
                    r.time_point,
                    r.day,
                    r.expected,
                    r.patients,
                    r.mean,
                    r.median,
                    r.mean_change,
                    r.sd_change,
                    r.completeness,
                    *(shares.get(label) for label in labels),
                ]
            )
    return _write(header, rows)


def _worklist(report: Worklist) -> str:
    return _write(list(WORK_ITEM_COLUMNS), [list(i.row()) for i in report.items])


def to_csv(report: PatientReport | CohortReport | Worklist) -> str:
    """The report as CSV text with a header row; empty cells where a value is missing."""
    if isinstance(report, PatientReport):
        return _patient(report)
    if isinstance(report, CohortReport):
        return _cohort(report)
    return _worklist(report)
