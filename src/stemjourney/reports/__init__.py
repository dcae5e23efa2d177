"""Follow-up reports: data first, then text, Markdown, CSV or a self-contained HTML page.

Three reports, each a frozen value with ``as_dict()``:

- :func:`patient_report`: one patient's report, identified (name, birth date, clinic
  number) or de-identified: a summary of each instrument's baseline, latest score,
  change and responder status, missed and overdue visits, the next visit, adverse
  events, then every score against baseline and the timeline;
- :func:`cohort_report`: outcomes per condition, site, cell source and cycle at each
  scheduled time point, streamed from a store, small groups flagged;
- :func:`worklist_report`: the visits due or overdue between two dates.

:func:`render` turns any of them into one of :data:`FORMATS`. The HTML page prints on
A4: the cohort report opens with an overview and contents and draws one chart across
its groups; charts run over each instrument's whole scale. Each name is imported
when first used, so a text report never loads the HTML renderer (and jinja2).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stemjourney.reports._cohort import (
        SMALL_GROUP,
        CohortGroup,
        CohortReport,
        TimePointRow,
        cohort_report,
    )
    from stemjourney.reports._csv import to_csv
    from stemjourney.reports._html import to_html
    from stemjourney.reports._patient_report import (
        AdverseEventLine,
        JourneyReport,
        NextVisit,
        PatientReport,
        ScorePoint,
        ScoreSeries,
        TimelineStep,
        VisitLine,
        patient_report,
    )
    from stemjourney.reports._render import FORMATS, render, to_markdown, to_text
    from stemjourney.reports._worklist import WorkItem, Worklist, worklist_report

_HOMES: dict[str, tuple[str, ...]] = {
    "_cohort": ("SMALL_GROUP", "CohortGroup", "CohortReport", "TimePointRow", "cohort_report"),
    "_csv": ("to_csv",),
    "_html": ("to_html",),
    "_patient_report": (
        "AdverseEventLine",
        "JourneyReport",
        "NextVisit",
        "PatientReport",
        "ScorePoint",
        "ScoreSeries",
        "TimelineStep",
        "VisitLine",
        "patient_report",
    ),
    "_render": ("FORMATS", "render", "to_markdown", "to_text"),
    "_worklist": ("WorkItem", "Worklist", "worklist_report"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FORMATS",
    "SMALL_GROUP",
    "AdverseEventLine",
    "CohortGroup",
    "CohortReport",
    "JourneyReport",
    "NextVisit",
    "PatientReport",
    "ScorePoint",
    "ScoreSeries",
    "TimePointRow",
    "TimelineStep",
    "VisitLine",
    "WorkItem",
    "Worklist",
    "cohort_report",
    "patient_report",
    "render",
    "to_csv",
    "to_html",
    "to_markdown",
    "to_text",
    "worklist_report",
]
