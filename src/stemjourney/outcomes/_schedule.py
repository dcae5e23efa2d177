"""The follow-up schedule: due dates and windows per cycle, visit status, the work-list.

Dates are calendar days in the clinic's timezone ``tz`` (UTC unless given): the due
date is the injection day plus the visit's calendar months and weeks (python-dateutil,
so 31 January plus one month is 28 or 29 February), and the window is the due date
plus or minus ``window_days``, both ends included. A window never opens on or before
the injection day (that day belongs to the treatment, not to a follow-up visit), and
a cycle's windows close by the next cycle's injection day; visits due after it are
dropped, as the new cycle's schedule replaces them.

A score (on any instrument) measured inside a window completes the visit. The score
that stands for a time point on one instrument is the one nearest the due date
(the earlier one on a tie): see :func:`time_point_score`.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

import attrs

from stemjourney.clinical import _validation as v
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol, ScheduledVisit
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ValidationError
from stemjourney.journey._journey import Journey
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.outcomes._cycles import day_of, injection_dates

__all__ = [
    "PlannedVisit",
    "VisitState",
    "VisitStatus",
    "Window",
    "as_day",
    "first_score_on",
    "open_status",
    "plan_windows",
    "planned_visits",
    "schedule_status",
    "time_point_score",
    "visit_status",
    "worklist",
]


class VisitStatus(StrEnum):
    """Where a scheduled visit stands on a given day."""

    UPCOMING = "upcoming"
    """Its window has not opened yet."""
    IN_WINDOW = "in_window"
    """The window is open and the due date not yet passed: the visit is due."""
    OVERDUE = "overdue"
    """The due date has passed, the window is still open."""
    MISSED = "missed"
    """The window closed with no score in it."""
    COMPLETED = "completed"
    """A score was measured inside the window."""


def first_score_on(window: Window, days: Sequence[date]) -> date | None:
    """The first of the time-ordered score ``days`` inside ``window`` (both ends included):
    the day the visit was completed, or ``None``.

    >>> w = (1, "6w", date(2026, 1, 1), date(2026, 2, 12), date(2026, 1, 29), date(2026, 2, 26))
    >>> first_score_on(w, [date(2026, 1, 2), date(2026, 2, 1), date(2026, 2, 3)])
    datetime.date(2026, 2, 1)
    """
    at = bisect_left(days, window[4])
    return days[at] if at < len(days) and days[at] <= window[5] else None


def visit_status(window: Window, first_score: date | None, on: date) -> VisitStatus:
    """Where a planned visit stands on ``on``: completed when a score inside its window was
    measured by then (``first_score`` is the first such day), else :func:`open_status`."""
    if first_score is not None and first_score <= on:
        return VisitStatus.COMPLETED
    return open_status(window[3], window[4], window[5], on)


def open_status(due: date, opens: date, closes: date, on: date) -> VisitStatus:
    """Where a visit not yet done stands on ``on``: upcoming before its window opens, in
    window up to the due date, overdue until the window closes, missed after."""
    if on < opens:
        return VisitStatus.UPCOMING
    if on <= due:
        return VisitStatus.IN_WINDOW
    if on <= closes:
        return VisitStatus.OVERDUE
    return VisitStatus.MISSED


@attrs.frozen
class PlannedVisit:
    """One follow-up time point of one cycle: its due date and window (days in ``tz``)."""

    journey_id: str
    patient_id: str
    cycle: int
    label: str
    injected_on: date
    due: date
    opens: date
    closes: date

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls inside the window (both ends included)."""
        return self.opens <= day <= self.closes

    def status_on(self, day: date) -> VisitStatus:
        """Where the visit stands on ``day`` when no score has completed it."""
        return open_status(self.due, self.opens, self.closes, day)


@attrs.frozen
class VisitState:
    """A planned visit and its status on one day: a work-list row."""

    visit: PlannedVisit
    on: date
    status: VisitStatus
    completed_by: Score | None = None

    @property
    def journey_id(self) -> str:
        """The journey the visit belongs to."""
        return self.visit.journey_id

    @property
    def patient_id(self) -> str:
        """The patient the visit is for."""
        return self.visit.patient_id

    @property
    def label(self) -> str:
        """The time point, such as ``'3m'``."""
        return self.visit.label

    @property
    def due(self) -> date:
        """The due date."""
        return self.visit.due

    @property
    def window(self) -> tuple[date, date]:
        """The first and last day of the window."""
        return self.visit.opens, self.visit.closes

    def as_dict(self) -> dict[str, object]:
        """The row as plain data (ISO dates) for reports and the host application."""
        return {
            "journey_id": self.journey_id,
            "patient_id": self.patient_id,
            "cycle": self.visit.cycle,
            "time_point": self.label,
            "due": self.due.isoformat(),
            "opens": self.visit.opens.isoformat(),
            "closes": self.visit.closes.isoformat(),
            "status": self.status.value,
        }


def planned_visits(
    journey: Journey, *, protocol: Protocol = DEFAULT_PROTOCOL, tz: tzinfo = UTC
) -> tuple[PlannedVisit, ...]:
    """Every follow-up visit the protocol plans for ``journey``, cycle by cycle, in order."""
    days = {cycle: day_of(at, tz) for cycle, at in injection_dates(journey).items()}
    return tuple(
        PlannedVisit(journey.id, journey.patient_id, *window)
        for window in plan_windows(days, protocol)
    )


Window = tuple[int, str, date, date, date, date]
"""(cycle, label, injected_on, due, opens, closes) of one planned visit."""


def plan_windows(injected: dict[int, date], protocol: Protocol) -> Iterator[Window]:
    """The windows of the visits :func:`planned_visits` plans, from each cycle's injection day.

    ``injected`` maps each cycle with an injection to the day of its first one, in
    cycle order.
    """
    injections = list(injected.items())
    one_day = timedelta(days=1)
    for n, (cycle, start) in enumerate(injections):
        stop = injections[n + 1][1] if n + 1 < len(injections) else None
        for visit in protocol.schedule:
            due = _due(visit, start)
            if stop is not None and due > stop:
                break
            window = timedelta(days=visit.window_days)
            opens = max(due - window, start + one_day)
            closes = due + window if stop is None else min(due + window, stop)
            yield cycle, visit.label, start, due, opens, closes


@functools.lru_cache(maxsize=8192)
def _due(visit: ScheduledVisit, day: date) -> date:
    """:meth:`ScheduledVisit.due_on`, cached: a clinic has few injection days and many
    journeys."""
    return visit.due_on(day)


def time_point_score(due: int, days: Iterable[int]) -> int | None:
    """Which of ``days`` (ordinals of the scores inside one window, in time order) stands
    for the time point due on the ordinal ``due``: the index of the one nearest the
    due date, the earlier one on a tie; ``None`` when there is none.

    >>> time_point_score(100, [95, 103, 105]), time_point_score(100, [97, 103])
    (1, 0)
    """
    best = None
    gap = 0
    for index, day in enumerate(days):
        off = abs(day - due)
        if best is None or off < gap:
            best, gap = index, off
    return best


def as_day(field: str, value: object, tz: tzinfo) -> date:
    """``value`` as a calendar day: a date as it is, an aware datetime as its day in ``tz``.

    Raises :class:`~stemjourney.exceptions.ValidationError` naming ``field`` otherwise.
    """
    if isinstance(value, datetime):
        return day_of(v.aware(field, value), tz)
    if isinstance(value, date):
        return value
    raise ValidationError(
        field, f"expected a date, got {type(value).__name__}", "a date or an aware datetime"
    )


def _state(visit: PlannedVisit, on: date, scores: list[Score], tz: tzinfo) -> VisitState:
    for score in scores:
        measured = day_of(score.measured_at, tz)
        if measured <= on and visit.contains(measured):
            return VisitState(visit, on, VisitStatus.COMPLETED, score)
    return VisitState(visit, on, visit.status_on(on))


def schedule_status(
    journey: Journey,
    on: date | datetime,
    *,
    protocol: Protocol = DEFAULT_PROTOCOL,
    tz: tzinfo = UTC,
) -> tuple[VisitState, ...]:
    """Each planned visit of ``journey`` with its status on the day ``on``.

    Only scores measured on or before ``on`` count, so the status on a past day is
    what it was that day. ``on`` is a date, or an aware datetime (its day in ``tz``).
    """
    day = as_day("on", on, tz)
    scores = journey.scores()
    return tuple(
        _state(visit, day, scores, tz)
        for visit in planned_visits(journey, protocol=protocol, tz=tz)
    )


def worklist(
    journeys: Iterable[Journey],
    start: date | datetime,
    end: date | datetime,
    *,
    protocol: Protocol = DEFAULT_PROTOCOL,
    on: date | datetime | None = None,
    tz: tzinfo = UTC,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    include_completed: bool = False,
) -> list[VisitState]:
    """The follow-up visits whose window meets the days ``start`` to ``end`` (inclusive).

    Each row's status is taken on the day ``on`` (``start`` unless given). Journeys
    that have ended (completed, withdrawn, ineligible, voided) are left out, and so are
    completed visits unless ``include_completed``. Rows are sorted by due date, then
    journey id and cycle.
    """
    first = as_day("start", start, tz)
    last = as_day("end", end, tz)
    if last < first:
        raise ValidationError("end", "is before start", "a day on or after start")
    day = first if on is None else as_day("on", on, tz)
    rows = []
    for journey in journeys:
        if pipeline.is_outcome(journey.stage):
            continue
        for state in schedule_status(journey, day, protocol=protocol, tz=tz):
            visit = state.visit
            if visit.opens > last or visit.closes < first:
                continue
            if state.status is VisitStatus.COMPLETED and not include_completed:
                continue
            rows.append(state)
    rows.sort(key=lambda r: (r.due, r.journey_id, r.visit.cycle))
    return rows
