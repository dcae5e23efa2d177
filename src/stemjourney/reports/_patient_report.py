"""One patient's follow-up report as data: timeline, scores against baseline, events, visits.

Every number comes from :mod:`stemjourney.outcomes`: each instrument's
:func:`~stemjourney.outcomes.series` (the journey's baseline, each score's time point,
change and responder status) and :func:`~stemjourney.outcomes.schedule_status` (the
visits and their status). This module only picks and lays them out.

The report is identified (the patient's name, birth date and clinic number, when the
clinic holds them) unless asked for de-identified, which holds none of them and no
free-text reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import UTC, date, tzinfo
from typing import Any

import attrs

from stemjourney.clinical._instruments import INSTRUMENTS, PAIN_INSTRUMENTS
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import AdverseEvent
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.journey._journey import Journey, TransitionEntry
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._sources import journeys_of, pipeline_of
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.outcomes import (
    VisitStatus,
    day_of,
    injection_dates,
    known_on,
    schedule_status,
    series,
)
from stemjourney.reports._serialise import plain
from stemjourney.reports._source import patient_of, today

__all__ = [
    "AdverseEventLine",
    "JourneyReport",
    "NextVisit",
    "PatientReport",
    "ScorePoint",
    "ScoreSeries",
    "TimelineStep",
    "VisitLine",
    "patient_report",
]

_DONE = (VisitStatus.COMPLETED, VisitStatus.MISSED)
_LATE = (VisitStatus.MISSED, VisitStatus.OVERDUE)
FREE_TEXT_LEFT_OUT = "reason given (free text left out)"
"""What a de-identified report shows for a reason given only as free text."""


@attrs.frozen
class TimelineStep:
    """A stage the journey entered, on which day, in which cycle, and why (for outcomes)."""

    stage: str
    cycle: int
    on: date
    reason: str | None = None


@attrs.frozen
class ScorePoint:
    """One score with its change from the journey's baseline and responder status by rule label.

    ``cycle`` is the cycle the score follows (``None`` before the first injection);
    ``time_point`` its visit label, ``'baseline'`` or ``'unscheduled'``; ``change``
    is ``value - baseline`` as measured, ``improvement`` the same in the instrument's
    good direction and ``improvement_pct`` that as a per cent of the baseline's
    distance from the best score (see :class:`stemjourney.outcomes.Change`). They and
    ``responder`` are empty before the first injection or without a baseline.
    """

    measured_on: date
    value: float
    cycle: int | None
    time_point: str | None = None
    change: float | None = None
    improvement: float | None = None
    improvement_pct: float | None = None
    responder: tuple[tuple[str, bool], ...] = ()

    @property
    def change_pct(self) -> float | None:
        """Deprecated: the per cent improvement, :attr:`improvement_pct`."""
        warnings.warn(
            "ScorePoint.change_pct is deprecated; read improvement_pct (the per cent "
            "improvement relative to the baseline's distance from the best score)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.improvement_pct


@attrs.frozen
class ScoreSeries:
    """The scores of one instrument over a journey, with the baseline they are compared to.

    ``baseline_reason`` says why there is no baseline, when there is none;
    ``higher_is_better`` gives the instrument's direction, ``name`` and ``unit`` its
    name and unit (all ``None`` if unregistered). ``latest`` is the last score after
    the first injection (``None`` before any), the one the report's summary compares
    with the baseline; ``rules`` holds each responder rule's words by label (see
    :meth:`stemjourney.ResponderRule.describe`).
    """

    instrument: str
    baseline: float | None
    baseline_on: date | None
    points: tuple[ScorePoint, ...]
    injections: tuple[date, ...] = ()
    baseline_reason: str | None = None
    higher_is_better: bool | None = None
    name: str | None = None
    unit: str | None = None
    latest: ScorePoint | None = None
    rules: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class AdverseEventLine:
    """An adverse event as a report shows it (the free-text description is left out)."""

    onset: date
    cycle: int
    site: str
    grade: int
    serious: bool
    relatedness: str
    outcome: str


@attrs.frozen
class NextVisit:
    """The next scheduled follow-up visit not yet done, and where it stands."""

    label: str
    cycle: int
    due: date
    window_start: date
    window_end: date
    status: str


@attrs.frozen
class VisitLine:
    """One planned follow-up visit and where it stands on the report's day.

    ``status`` is a :class:`stemjourney.outcomes.VisitStatus` value: ``completed``,
    ``missed``, ``overdue``, ``in_window`` or ``upcoming``.
    """

    label: str
    cycle: int
    due: date
    window_start: date
    window_end: date
    status: str


@attrs.frozen
class JourneyReport:
    """Everything the patient report says about one journey.

    ``visits`` holds every planned follow-up visit with its status on the report's day
    (for a journey that has ended, only those done or missed before it ended);
    :attr:`missed_or_overdue` picks the ones a clinician must act on. ``injections``
    holds the day of each cycle's first injection.
    """

    journey_id: str
    condition: str
    site: str
    side: str
    cell_source: str
    stage: str
    cycle: int
    timeline: tuple[TimelineStep, ...]
    series: tuple[ScoreSeries, ...]
    adverse_events: tuple[AdverseEventLine, ...]
    next_visit: NextVisit | None
    visits: tuple[VisitLine, ...] = ()
    injections: tuple[date, ...] = ()

    @property
    def missed_or_overdue(self) -> tuple[VisitLine, ...]:
        """The visits missed (window closed, no score) or overdue (due date passed)."""
        return tuple(v for v in self.visits if v.status in _LATE)


def _check_identity(report: PatientReport, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not report.identified:
        raise ValidationError(
            attribute.name, "is given in a de-identified report", "None when identified=False"
        )


@attrs.frozen
class PatientReport:
    """One patient's follow-up report on the day ``on``.

    ``identified`` says which kind it is: an identified report carries the patient's
    ``display_name``, ``birth_date`` and clinic number (``external_id``) when the
    clinic holds them; a de-identified one holds none of them (a value given with
    ``identified=False`` raises :class:`~stemjourney.exceptions.ValidationError`).
    """

    patient_id: str
    on: date
    journeys: tuple[JourneyReport, ...]
    external_id: str | None = attrs.field(default=None, validator=_check_identity)
    display_name: str | None = attrs.field(default=None, validator=_check_identity)
    birth_date: date | None = attrs.field(default=None, validator=_check_identity)
    identified: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (dates as ISO text), ready for JSON."""
        out: dict[str, Any] = plain(self)
        return out


def _instrument_order(protocol: Protocol, instruments: Iterable[str]) -> list[str]:
    preferred = [*protocol.instruments, *PAIN_INSTRUMENTS]
    rank = {name: i for i, name in enumerate(dict.fromkeys(preferred))}
    return sorted(set(instruments), key=lambda name: (rank.get(name, len(rank)), name))


def _series(
    journey: Journey, instrument: str, protocol: Protocol, on: date, tz: tzinfo
) -> ScoreSeries:
    found = series(journey, instrument, protocol=protocol, tz=tz)
    base = found.baseline
    points = tuple(
        ScorePoint(
            day_of(p.score.measured_at, tz),
            p.score.value,
            p.cycle,
            p.time_point,
            None if p.change is None else p.change.delta,
            None if p.change is None else p.change.points,
            None if p.change is None else p.change.percent,
            tuple((r.label, r.met) for r in p.responders),
        )
        for p in found.points
    )
    spec = INSTRUMENTS.get(instrument)
    followed = [p for p in points if p.cycle is not None]
    return ScoreSeries(
        instrument,
        base.value,
        None if base.score is None else day_of(base.score.measured_at, tz),
        points,
        tuple(day_of(at, tz) for at in injection_dates(journey).values()),
        base.reason,
        None if spec is None else spec.higher_is_better,
        None if spec is None else spec.name,
        None if spec is None else spec.unit,
        followed[-1] if followed else None,
        tuple((rule.label, rule.describe()) for rule in protocol.rules_for(instrument)),
    )


def _next_visit(
    journey: Journey, protocol: Protocol, pipeline: Pipeline, on: date, tz: tzinfo
) -> NextVisit | None:
    """The first visit not done and not missed, of the journey's current cycle."""
    if pipeline.is_outcome(journey.stage):
        return None
    for state in schedule_status(journey, on, protocol=protocol, tz=tz):
        visit = state.visit
        if visit.cycle != journey.cycle or state.status in _DONE:
            continue
        return NextVisit(
            visit.label, visit.cycle, visit.due, visit.opens, visit.closes, state.status.value
        )
    return None


def _visits(
    journey: Journey, protocol: Protocol, pipeline: Pipeline, on: date, tz: tzinfo
) -> tuple[VisitLine, ...]:
    """Every planned visit with its status on ``on``; for an ended journey, only those done
    or missed by the day it ended (the rest will not take place)."""
    ended = (
        day_of(journey.history[-1].occurred_at, tz) if pipeline.is_outcome(journey.stage) else None
    )
    lines = []
    for state in schedule_status(journey, on, protocol=protocol, tz=tz):
        visit = state.visit
        if ended is not None and not (
            state.status is VisitStatus.COMPLETED
            or (state.status is VisitStatus.MISSED and visit.closes < ended)
        ):
            continue
        lines.append(
            VisitLine(
                visit.label, visit.cycle, visit.due, visit.opens, visit.closes, state.status.value
            )
        )
    return tuple(lines)


def _reason(step: TransitionEntry, identified: bool) -> str | None:
    """The reason as the report shows it: de-identified, only a coded reason's words."""
    if identified or step.reason is None:
        return step.reason
    if step.reason_record is not None:
        return str(step.reason_record)
    return FREE_TEXT_LEFT_OUT


def journey_report(
    journey: Journey,
    *,
    protocol: Protocol,
    on: date,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    tz: tzinfo = UTC,
    identified: bool = True,
) -> JourneyReport:
    """The part of the patient report about one journey, as it stood on the day ``on``
    (scores measured later are left out: see :func:`stemjourney.outcomes.known_on`).

    Not ``identified``: a reason given only as free text is replaced by
    :data:`FREE_TEXT_LEFT_OUT` (a coded reason keeps its words)."""
    journey = known_on(journey, on, tz=tz)
    timeline = tuple(
        TimelineStep(e.target, e.cycle, day_of(e.occurred_at, tz), _reason(e, identified))
        for e in journey.history
    )
    instruments = {s.instrument for s in journey.scores()}
    scored = tuple(
        _series(journey, name, protocol, on, tz)
        for name in _instrument_order(protocol, instruments)
    )
    events = tuple(
        AdverseEventLine(
            day_of(e.record.onset_at, tz),
            e.cycle,
            e.record.site,
            e.record.grade,
            e.record.serious,
            e.record.relatedness.value,
            e.record.outcome.value,
        )
        for e in journey.current_records()
        if isinstance(e.record, AdverseEvent)
    )
    return JourneyReport(
        journey.id,
        journey.condition,
        journey.site,
        journey.side.value,
        journey.cell_source.value,
        journey.stage,
        journey.cycle,
        timeline,
        scored,
        tuple(sorted(events, key=lambda e: e.onset)),
        _next_visit(journey, protocol, pipeline, on, tz),
        _visits(journey, protocol, pipeline, on, tz),
        tuple(day_of(at, tz) for at in injection_dates(journey).values()),
    )


def patient_report(
    store_or_journeys: Any,
    patient_id: str,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    tz: tzinfo = UTC,
    identified: bool = True,
) -> PatientReport:
    """One patient's follow-up report: each journey's timeline, scores, visits, events.

    ``store_or_journeys`` is a store (its ``journeys_of`` and ``patient`` are used) or
    any iterable of journeys; ``on`` (today by default) decides which visits are due,
    overdue or missed. Days are in ``tz``. Journeys in the pipeline's void stage are
    left out.

    ``identified`` (the default: the report a clinic sends with a letter) carries the
    patient's name, birth date and clinic number when the store holds them, and every
    rendering says it is identified. ``identified=False`` gives the de-identified
    report: no name, birth date, clinic number or free-text reason anywhere in it
    (dates of care and the library's patient id stay). Raises
    :class:`~stemjourney.exceptions.NotFoundError` when the patient has no journey and
    the store does not know them.
    """
    day = today() if on is None else on
    patient = patient_of(store_or_journeys, patient_id)
    pipeline = pipeline_of(store_or_journeys)
    journeys = [
        j for j in journeys_of(store_or_journeys, patient_id) if not pipeline.is_void(j.stage)
    ]
    if not journeys and patient is None:
        raise NotFoundError("patient", patient_id)
    journeys.sort(key=lambda j: (j.opened_at, j.id))
    shown = patient if identified else None
    return PatientReport(
        patient_id,
        day,
        tuple(
            journey_report(
                j, protocol=protocol, on=day, pipeline=pipeline, tz=tz, identified=identified
            )
            for j in journeys
        ),
        None if shown is None else shown.external_id,
        None if shown is None else shown.display_name,
        None if shown is None else shown.birth_date,
        identified,
    )
