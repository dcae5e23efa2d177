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
its groups; charts run over each instrument's whole scale.
"""

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
