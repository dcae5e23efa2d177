"""Time series per journey and instrument: each score placed on the schedule, with change
from baseline and responder status, as plain values for reports and charts.
"""

from __future__ import annotations

from datetime import UTC, date, tzinfo

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey, RecordEntry
from stemjourney.outcomes._baseline import Baseline, baseline, baseline_index
from stemjourney.outcomes._change import Change, change_of
from stemjourney.outcomes._cycles import cycle_of, day_of, injection_dates
from stemjourney.outcomes._responders import ResponderResult, responder_status
from stemjourney.outcomes._schedule import planned_visits, time_point_score

__all__ = [
    "BASELINE",
    "UNSCHEDULED",
    "Series",
    "SeriesPoint",
    "known_on",
    "points_by_version",
    "series",
]

BASELINE = "baseline"
"""The time point of the score a series compares against."""
UNSCHEDULED = "unscheduled"
"""The time point of a score outside every visit window that is not the baseline."""


@attrs.frozen
class SeriesPoint:
    """One score in a series.

    ``cycle`` is the treatment round the score follows (the cycle whose first
    injection is the latest one strictly before it; ``None`` before the first
    injection); ``time_point`` the visit label whose window holds it, or
    :data:`BASELINE` or :data:`UNSCHEDULED`; ``days`` the days since that cycle's
    injection day; ``due`` the due day of its visit. ``change`` and ``responders``
    are empty without a baseline, for scores before the first injection, and on an
    instrument that is not registered.
    """

    score: Score
    cycle: int | None
    time_point: str
    days: int | None
    change: Change | None
    responders: tuple[ResponderResult, ...] = ()
    due: date | None = None

    @property
    def responder(self) -> dict[str, bool]:
        """Responder status by rule label, e.g. ``{'responder': True, 'substantial': False}``."""
        return {r.label: r.met for r in self.responders}


@attrs.frozen
class Series:
    """The scores of one journey on one instrument, in time order.

    ``baselines`` maps each cycle with an injection to the baseline its points are
    compared with: the journey's for every cycle, or each cycle's own with ``per_cycle``.
    """

    journey_id: str
    instrument: str
    baseline: Baseline
    baselines: dict[int, Baseline]
    points: tuple[SeriesPoint, ...]
    tz: tzinfo = attrs.field(default=UTC, repr=False)

    def at(self, time_point: str, cycle: int | None = 1) -> SeriesPoint | None:
        """The point that stands for ``time_point`` in ``cycle``: of the scores in its
        window, the one nearest the due date (the earlier on a tie); ``None`` if none."""
        found = [p for p in self.points if p.time_point == time_point and p.cycle == cycle]
        if time_point in (BASELINE, UNSCHEDULED) or not found or found[0].due is None:
            return found[-1] if found else None
        due = found[0].due.toordinal()
        pick = time_point_score(
            due, [day_of(p.score.measured_at, self.tz).toordinal() for p in found]
        )
        return None if pick is None else found[pick]


def series(
    journey: Journey,
    instrument: str,
    *,
    protocol: Protocol = DEFAULT_PROTOCOL,
    tz: tzinfo = UTC,
    per_cycle: bool = False,
) -> Series:
    """The scores of ``journey`` on ``instrument``, each with its time point and change.

    Change and responder status are from the journey's baseline (before its first
    injection), or with ``per_cycle`` from the baseline of the cycle each score follows.

    >>> from stemjourney.testing import treated_journey
    >>> s = series(treated_journey(scores=[(-3, 8), (42, 4)]), "nrs")
    >>> [(p.time_point, p.days, p.change.points if p.change else None) for p in s.points]
    [('baseline', None, None), ('6w', 42, 4.0)]
    """
    entries = _score_entries(journey, instrument)
    scores = [e.record for e in entries if isinstance(e.record, Score)]
    first = baseline(journey, instrument, protocol=protocol)
    injections = injection_dates(journey)
    baselines = {
        cycle: baseline(journey, instrument, cycle=cycle, protocol=protocol) if per_cycle else first
        for cycle in injections
    }
    # The baseline is a place in the time-ordered scores, not an object: the same Score
    # recorded twice is two entries, and only the later one is the baseline.
    times = [s.measured_at for s in scores]
    lookback = protocol.baseline_lookback
    starts = list(injections.values())[:1] if not per_cycle else list(injections.values())
    anchors = {
        found for at in starts if (found := baseline_index(times, at, at - lookback)) is not None
    }
    visits = planned_visits(journey, protocol=protocol, tz=tz)
    rules = protocol.rules_for(instrument)
    points = []
    for index, score in enumerate(scores):
        day = day_of(score.measured_at, tz)
        cycle = cycle_of(score.measured_at, injections)
        days = None if cycle is None else (day - day_of(injections[cycle], tz)).days
        visit = next((p for p in visits if p.cycle == cycle and p.contains(day)), None)
        label = BASELINE if index in anchors else UNSCHEDULED
        if visit is not None:
            label = visit.label
        base = None if cycle is None else baselines[cycle].value
        moved = None if base is None else change_of(instrument, base, score.value)
        results = () if moved is None else responder_status(moved, rules)
        due = None if visit is None else visit.due
        points.append(SeriesPoint(score, cycle, label, days, moved, results, due))
    return Series(journey.id, instrument, first, baselines, tuple(points), tz)


def points_by_version(
    journey: Journey, *, protocol: Protocol = DEFAULT_PROTOCOL, tz: tzinfo = UTC
) -> dict[int, SeriesPoint]:
    """Every score in force of ``journey``, by its entry's version, with its series point.

    The points are those of :func:`series` on each instrument (the journey's baseline),
    so an export can put each score's time point, change and responder status beside it.

    >>> from stemjourney.testing import treated_journey
    >>> j = treated_journey(scores=[(-3, 8), (42, 4)])
    >>> [(version, p.time_point) for version, p in sorted(points_by_version(j).items())]
    [(4, 'baseline'), (13, '6w')]
    """
    found: dict[int, SeriesPoint] = {}
    for instrument in {s.instrument for s in journey.scores()}:
        points = series(journey, instrument, protocol=protocol, tz=tz).points
        for entry, point in zip(_score_entries(journey, instrument), points, strict=True):
            found[entry.version] = point
    return found


def _score_entries(journey: Journey, instrument: str) -> list[RecordEntry]:
    """The entries in force of ``instrument``'s scores, in the order ``journey.scores()`` gives."""
    entries = [
        e
        for e in journey.current_records()
        if isinstance(e.record, Score) and e.record.instrument == instrument
    ]
    return sorted(entries, key=lambda e: e.record.occurred_at)


def known_on(journey: Journey, on: date, *, tz: tzinfo = UTC) -> Journey:
    """``journey`` as a report for the day ``on`` sees it: scores measured after that day
    (in ``tz``) left out, so baselines, changes and visits are what was known then.

    >>> from datetime import date
    >>> from stemjourney.testing import treated_journey
    >>> j = treated_journey(scores=[(-3, 8), (42, 4)])
    >>> [s.value for s in known_on(j, date(2026, 2, 1)).scores()]
    [8.0]
    """
    kept = tuple(
        e
        for e in journey.records
        if not (isinstance(e.record, Score) and day_of(e.record.measured_at, tz) > on)
    )
    if len(kept) == len(journey.records):
        return journey
    return attrs.evolve(journey, records=kept)
