"""Time series per journey and instrument: each score placed on the schedule, with
change from baseline and responder status, as plain values for reports and charts.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey
from stemjourney.outcomes._baseline import Baseline, Change, baseline, day_of, injection_dates
from stemjourney.outcomes._responders import ResponderResult, responder_status
from stemjourney.outcomes._schedule import planned_visits

__all__ = ["BASELINE", "UNSCHEDULED", "Series", "SeriesPoint", "series"]

BASELINE = "baseline"
"""The time point of the score a series compares against."""
UNSCHEDULED = "unscheduled"
"""The time point of a score outside every visit window that is not the baseline."""


@attrs.frozen
class SeriesPoint:
    """One score in a series.

    ``cycle`` is the treatment round whose injection came before the score (``None``
    for a score on or before the first injection day); ``time_point`` the visit label
    whose window holds it, or :data:`BASELINE` or :data:`UNSCHEDULED`; ``days`` the
    days since that injection. ``change`` and ``responders`` are empty without a
    baseline, and for scores before the first injection.
    """

    score: Score
    cycle: int | None
    time_point: str
    days: int | None
    change: Change | None
    responders: tuple[ResponderResult, ...] = ()

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

    def at(self, time_point: str, cycle: int | None = 1) -> SeriesPoint | None:
        """The last point at ``time_point`` in ``cycle``, or ``None``."""
        found = None
        for point in self.points:
            if point.time_point == time_point and point.cycle == cycle:
                found = point
        return found


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
    """
    first = baseline(journey, instrument, protocol=protocol, tz=tz)
    injections = injection_dates(journey)
    baselines = {
        cycle: baseline(journey, instrument, cycle=cycle, protocol=protocol, tz=tz)
        if per_cycle
        else first
        for cycle in injections
    }
    anchors = {id(b.score) for b in (first, *baselines.values()) if b.score is not None}
    visits = planned_visits(journey, protocol=protocol, tz=tz)
    points = []
    for score in journey.scores(instrument):
        day = day_of(score.measured_at, tz)
        cycle = None
        days = None
        for c, injected_at in injections.items():
            start = day_of(injected_at, tz)
            if start < day:
                cycle, days = c, (day - start).days
        label = next((p.label for p in visits if p.cycle == cycle and p.contains(day)), None)
        if label is None:
            label = BASELINE if id(score) in anchors else UNSCHEDULED
        moved = None if cycle is None else baselines[cycle].change_to(score)
        results = () if moved is None else responder_status(moved, protocol.rules_for(instrument))
        points.append(SeriesPoint(score, cycle, label, days, moved, results))
    return Series(journey.id, instrument, first, baselines, tuple(points))
