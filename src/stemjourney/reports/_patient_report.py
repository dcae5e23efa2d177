"""One patient's follow-up report as data: timeline, scores against baseline, events, next visit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import attrs

from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import AdverseEvent
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import NotFoundError
from stemjourney.journey._journey import Journey
from stemjourney.journey._sources import journeys_of
from stemjourney.reports import _measures as m
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

_FOLLOWED = ("recovery", "follow_up")


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

    ``change`` and ``responder`` are empty before the first injection or without a baseline.
    """

    measured_on: date
    value: float
    cycle: int
    time_point: str | None = None
    change: float | None = None
    change_pct: float | None = None
    responder: tuple[tuple[str, bool], ...] = ()


@attrs.frozen
class ScoreSeries:
    """The scores of one instrument over a journey, with the baseline they are compared to."""

    instrument: str
    baseline: float | None
    baseline_on: date | None
    points: tuple[ScorePoint, ...]
    injections: tuple[date, ...] = ()


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
    journey: Journey, instrument: str, scores: list[Score], protocol: Protocol
) -> ScoreSeries:
    starts = m.cycle_starts(journey)
    cycles = sorted(starts.items())
    first = cycles[0][1] if cycles else None
    base = None if first is None else m.last_before(scores, first)
    windows = {c: m.visit_windows(protocol, at.date()) for c, at in cycles}
    rules = protocol.rules_for(instrument)
    points = []
    for score in scores:
        cycle = next((c for c, at in reversed(cycles) if at <= score.measured_at), None)
        if cycle is None or base is None:
            points.append(
                ScorePoint(score.measured_at.date(), score.value, cycle or journey.history[0].cycle)
            )
            continue
        day = score.measured_at.date()
        label = next((w.label for w in windows[cycle] if w.contains(day)), None)
        points_change, pct = m.change(instrument, base.value, score.value)
        verdicts = tuple((r.label, m.is_responder(r, base.value, score.value)) for r in rules)
        points.append(ScorePoint(day, score.value, cycle, label, points_change, pct, verdicts))
    return ScoreSeries(
        instrument,
        None if base is None else base.value,
        None if base is None else base.measured_at.date(),
        tuple(points),
        tuple(at.date() for _, at in cycles),
    )


def _next_visit(journey: Journey, protocol: Protocol, on: date) -> NextVisit | None:
    starts = m.cycle_starts(journey)
    if journey.stage not in _FOLLOWED or journey.cycle not in starts:
        return None
    injected = starts[journey.cycle]
    windows = m.visit_windows(protocol, injected.date())
    done = m.visits_done(windows, m.contact_days(journey, injected))
    for w in windows:
        if w.label not in done and w.status(on) != "missed":
            return NextVisit(w.label, journey.cycle, w.due, w.start, w.end, w.status(on))
    return None


def journey_report(journey: Journey, *, protocol: Protocol, on: date) -> JourneyReport:
    """The part of the patient report about one journey."""
    timeline = tuple(
        TimelineStep(e.target, e.cycle, e.occurred_at.date(), e.reason) for e in journey.history
    )
    scores = journey.scores()
    by_instrument: dict[str, list[Score]] = {}
    for s in scores:
        by_instrument.setdefault(s.instrument, []).append(s)
    series = tuple(
        _series(journey, name, by_instrument[name], protocol)
        for name in _instrument_order(protocol, by_instrument)
    )
    events = tuple(
        AdverseEventLine(
            e.record.onset_at.date(),
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
        series,
        tuple(sorted(events, key=lambda e: e.onset)),
        _next_visit(journey, protocol, on),
    )


def patient_report(
    store_or_journeys: Any,
    patient_id: str,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> PatientReport:
    """One patient's follow-up report: every journey's timeline, scores, events and next visit.

    ``store_or_journeys`` is a store (its ``journeys_of`` and ``patient`` are used) or
    any iterable of journeys; ``on`` (today by default) decides which visits are due.
    Voided journeys are left out. Raises :class:`~stemjourney.exceptions.NotFoundError`
    when the patient has no journey and the store does not know them.
    """
    day = today() if on is None else on
    patient = patient_of(store_or_journeys, patient_id)
    journeys = [j for j in journeys_of(store_or_journeys, patient_id) if j.stage != "voided"]
    if not journeys and patient is None:
        raise NotFoundError("patient", patient_id)
    journeys.sort(key=lambda j: (j.opened_at, j.id))
    return PatientReport(
        patient_id,
        day,
        tuple(journey_report(j, protocol=protocol, on=day) for j in journeys),
        None if patient is None else patient.external_id,
        None if patient is None else patient.display_name,
    )
