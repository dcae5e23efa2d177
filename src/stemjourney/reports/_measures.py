"""The outcome arithmetic the reports share: injections, baselines, change, responders, visits.

Everything here works on one journey at a time and in whole days, so a report over
a hundred thousand journeys stays a light loop. Change is ``value - baseline``; an
*improvement* is a change in the instrument's good direction (down for pain and
disability, up for KOOS and ASES).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import attrs

from stemjourney.clinical._protocol import Protocol, ResponderRule, ScheduledVisit
from stemjourney.clinical._records import Injection
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey
from stemjourney.outcomes import INSTRUMENTS

__all__ = [
    "VisitWindow",
    "change",
    "cycle_starts",
    "higher_is_better",
    "is_responder",
    "last_before",
    "visit_windows",
]


def higher_is_better(instrument: str) -> bool:
    """True for instruments where a rising score is an improvement (KOOS, ASES).

    The direction comes from the instrument registry; an unknown instrument is taken
    to be one where lower is better, like pain.

    >>> higher_is_better("nrs"), higher_is_better("koos_pain"), higher_is_better("clinic:x")
    (False, True, False)
    """
    known = INSTRUMENTS.get(instrument)
    return known is not None and known.higher_is_better


def change(instrument: str, baseline: float, value: float) -> tuple[float, float | None]:
    """The change from ``baseline`` in points and per cent (``None`` from a zero baseline).

    >>> change("nrs", 8, 4)
    (-4.0, -50.0)
    """
    points = float(value) - float(baseline)
    percent = None if baseline == 0 else points / float(baseline) * 100
    return points, percent


def is_responder(rule: ResponderRule, baseline: float, value: float) -> bool:
    """Whether the move from ``baseline`` to ``value`` meets ``rule``'s improvement.

    >>> from stemjourney import DEFAULT_PROTOCOL
    >>> rule = DEFAULT_PROTOCOL.rules_for("nrs")[0]
    >>> is_responder(rule, 8, 5), is_responder(rule, 8, 6)
    (True, False)
    """
    points, percent = change(rule.instrument, baseline, value)
    gain = points if higher_is_better(rule.instrument) else -points
    gain_pct = (
        None if percent is None else (percent if higher_is_better(rule.instrument) else -percent)
    )
    tests: list[bool] = []
    if rule.min_points is not None:
        tests.append(gain >= rule.min_points - 1e-9)
    if rule.min_percent is not None:
        tests.append(gain_pct is not None and gain_pct >= rule.min_percent - 1e-9)
    return all(tests) if rule.require_all else any(tests)


def cycle_starts(journey: Journey) -> dict[int, datetime]:
    """The first injection of each cycle of ``journey`` that had one, by cycle."""
    starts: dict[int, datetime] = {}
    for entry in journey.current_records():
        record = entry.record
        if isinstance(record, Injection):
            known = starts.get(entry.cycle)
            if known is None or record.injected_at < known:
                starts[entry.cycle] = record.injected_at
    return starts


def last_before(scores: Sequence[Score], moment: datetime) -> Score | None:
    """The last of the time-ordered ``scores`` measured at or before ``moment``."""
    found = None
    for score in scores:
        if score.measured_at > moment:
            break
        found = score
    return found


@attrs.frozen
class VisitWindow:
    """One scheduled visit of one cycle, in days: the due day and the window around it."""

    label: str
    due: date
    start: date
    end: date

    def contains(self, day: date) -> bool:
        """True when ``day`` falls inside the window."""
        return self.start <= day <= self.end

    def status(self, on: date) -> str:
        """Where an undone visit stands on ``on``: upcoming, in_window, overdue or missed."""
        if on < self.start:
            return "upcoming"
        if on <= self.due:
            return "in_window"
        if on <= self.end:
            return "overdue"
        return "missed"


def _window(visit: ScheduledVisit, injected: date) -> VisitWindow:
    due = visit.due(datetime(injected.year, injected.month, injected.day)).date()
    span = timedelta(days=visit.window_days)
    return VisitWindow(visit.label, due, due - span, due + span)


def visit_windows(
    protocol: Protocol, injected: date, cache: dict[date, tuple[VisitWindow, ...]] | None = None
) -> tuple[VisitWindow, ...]:
    """The windows of ``protocol``'s schedule after an injection on ``injected``.

    ``cache``, when given, keeps windows by injection day across calls.

    >>> from stemjourney import DEFAULT_PROTOCOL
    >>> visit_windows(DEFAULT_PROTOCOL, date(2026, 1, 31))[1].due
    datetime.date(2026, 4, 30)
    """
    if cache is not None:
        hit = cache.get(injected)
        if hit is not None:
            return hit
    windows = tuple(_window(v, injected) for v in protocol.schedule)
    if cache is not None:
        cache[injected] = windows
    return windows


def visits_done(windows: Iterable[VisitWindow], days: Iterable[date]) -> dict[str, date]:
    """For each window, the first of ``days`` (scores or visits) inside it, by label."""
    ordered = sorted(days)
    done: dict[str, date] = {}
    for window in windows:
        for day in ordered:
            if window.contains(day):
                done[window.label] = day
                break
    return done


def contact_days(journey: Journey, since: datetime) -> list[date]:
    """The days of the scores of ``journey`` measured at or after ``since``."""
    return [s.measured_at.date() for s in journey.scores() if s.measured_at >= since]
