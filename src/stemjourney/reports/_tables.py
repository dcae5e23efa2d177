"""Every report laid out as titled tables, which the text, Markdown and HTML renderers draw.

The patient report's sections are in :mod:`._patient_tables`, the cohort report's in
:mod:`._cohort_tables`; the work-list, one table, is here.
"""

from __future__ import annotations

from collections.abc import Sequence

from stemjourney.reports._cohort import CohortReport
from stemjourney.reports._cohort_tables import cohort_sections, group_title
from stemjourney.reports._patient_report import PatientReport
from stemjourney.reports._patient_tables import patient_sections
from stemjourney.reports._section import Section, fmt
from stemjourney.reports._worklist import Worklist

__all__ = ["Report", "Section", "fmt", "group_title", "sections"]

Report = PatientReport | CohortReport | Worklist
"""Any report the renderers draw."""


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
            ("", "", "", "num", "", "date", "date"),
        )
    ]


def sections(report: Report) -> Sequence[Section]:
    """The report as titled tables, in reading order."""
    if isinstance(report, PatientReport):
        return patient_sections(report)
    if isinstance(report, CohortReport):
        return cohort_sections(report)
    return _worklist(report)
