"""One patient's follow-up report as data: timeline, scores against baseline, events, next visit.

Every number comes from :mod:`stemjourney.outcomes`: each instrument's
:func:`~stemjourney.outcomes.series` (the journey's baseline, each score's time point,
change and responder status) and :func:`~stemjourney.outcomes.schedule_status` (the
visits). This module only lays them out.
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
from stemjourney.exceptions import NotFoundError
from stemjourney.journey._journey import Journey
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
    "patient_report",
]

_DONE = (VisitStatus.COMPLETED, VisitStatus.MISSED)


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
    ``higher_is_better`` gives the instrument's direction (``None`` if unregistered).
    """

    instrument: str
    baseline: float | None
    baseline_on: date | None
    points: tuple[ScorePoint, ...]
    injections: tuple[date, ...] = ()
    baseline_reason: str | None = None
    higher_is_better: bool | None = None


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
class JourneyReport:
    """Everything the patient report says about one journey."""

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


@attrs.frozen
class PatientReport:
    """One patient's follow-up report on the day ``on``."""

    patient_id: str
    on: date
    journeys: tuple[JourneyReport, ...]
    external_id: str | None = None
    display_name: str | None = None

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
    return ScoreSeries(
        instrument,
        base.value,
        None if base.score is None else day_of(base.score.measured_at, tz),
        points,
        tuple(day_of(at, tz) for at in injection_dates(journey).values()),
        base.reason,
        None if spec is None else spec.higher_is_better,
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


def journey_report(
    journey: Journey,
    *,
    protocol: Protocol,
    on: date,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    tz: tzinfo = UTC,
) -> JourneyReport:
    """The part of the patient report about one journey, as it stood on the day ``on``
    (scores measured later are left out: see :func:`stemjourney.outcomes.known_on`)."""
    journey = known_on(journey, on, tz=tz)
    timeline = tuple(
        TimelineStep(e.target, e.cycle, day_of(e.occurred_at, tz), e.reason)
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
    )


def patient_report(
    store_or_journeys: Any,
    patient_id: str,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    tz: tzinfo = UTC,
) -> PatientReport:
    """One patient's follow-up report: every journey's timeline, scores, events and next visit.

    ``store_or_journeys`` is a store (its ``journeys_of`` and ``patient`` are used) or
    any iterable of journeys; ``on`` (today by default) decides which visits are due.
    Days are in ``tz``. Journeys in the pipeline's void stage are left out. Raises
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
    return PatientReport(
        patient_id,
        day,
        tuple(
            journey_report(j, protocol=protocol, on=day, pipeline=pipeline, tz=tz) for j in journeys
        ),
        None if patient is None else patient.external_id,
        None if patient is None else patient.display_name,
    )
