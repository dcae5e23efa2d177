"""The follow-up schedule: due dates, windows, visit status and the work-list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

import stemjourney as sj
from _outcome_journeys import journey
from stemjourney.exceptions import ValidationError
from stemjourney.outcomes import VisitStatus, planned_visits, schedule_status, worklist

SHOT = datetime(2025, 1, 31, 10, tzinfo=UTC)
S = VisitStatus


def test_default_schedule_from_a_month_end_injection() -> None:
    """Due dates are calendar months from the injection day, clamped at month ends."""
    visits = planned_visits(journey([SHOT]))
    assert [(v.label, v.due) for v in visits] == [
        ("6w", date(2025, 3, 14)),
        ("3m", date(2025, 4, 30)),
        ("6m", date(2025, 7, 31)),
        ("12m", date(2026, 1, 31)),
        ("24m", date(2027, 1, 31)),
    ]
    three = visits[1]
    assert (three.opens, three.closes) == (date(2025, 4, 9), date(2025, 5, 21))
    assert three.injected_on == date(2025, 1, 31)


def test_leap_year_february() -> None:
    """30 November plus three months is 29 February in a leap year."""
    shot = datetime(2027, 11, 30, 9, tzinfo=UTC)
    assert planned_visits(journey([shot]))[1].due == date(2028, 2, 29)


def test_due_dates_follow_the_clinics_timezone() -> None:
    """An injection late on 31 January in UTC-5 is 1 February in UTC."""
    clinic = timezone(timedelta(hours=-5))
    shot = datetime(2025, 1, 31, 22, tzinfo=clinic)
    assert planned_visits(journey([shot]), tz=clinic)[1].due == date(2025, 4, 30)
    assert planned_visits(journey([shot]))[1].due == date(2025, 5, 1)


def test_window_never_opens_on_the_injection_day() -> None:
    """A short first visit's window is clipped to open the day after the injection."""
    protocol = sj.Protocol(
        name="short", schedule=(sj.ScheduledVisit("1w", weeks=1, window_days=10),)
    )
    (visit,) = planned_visits(journey([SHOT]), protocol=protocol)
    assert visit.opens == date(2025, 2, 1)
    assert visit.closes == date(2025, 2, 17)


def test_no_injection_no_schedule() -> None:
    """A journey not yet injected has no visits planned."""
    assert planned_visits(journey([])) == ()
    assert schedule_status(journey([]), date(2025, 6, 1)) == ()


@pytest.mark.parametrize(
    ("on", "status"),
    [
        (date(2025, 4, 8), S.UPCOMING),
        (date(2025, 4, 9), S.IN_WINDOW),
        (date(2025, 4, 30), S.IN_WINDOW),
        (date(2025, 5, 1), S.OVERDUE),
        (date(2025, 5, 21), S.OVERDUE),
        (date(2025, 5, 22), S.MISSED),
    ],
)
def test_status_through_the_window(on: date, status: VisitStatus) -> None:
    """Upcoming before the window, in window to the due date, overdue, then missed."""
    states = schedule_status(journey([SHOT]), on)
    three = next(s for s in states if s.label == "3m")
    assert three.status is status
    assert three.completed_by is None


def test_a_score_in_the_window_completes_the_visit() -> None:
    """A score inside the window completes it from the day it was measured."""
    score = sj.nrs(3, datetime(2025, 5, 10, 15, tzinfo=UTC))
    j = journey([SHOT], [score])
    before = next(s for s in schedule_status(j, date(2025, 5, 9)) if s.label == "3m")
    assert before.status is S.OVERDUE
    after = next(s for s in schedule_status(j, date(2025, 5, 10)) if s.label == "3m")
    assert after.status is S.COMPLETED
    assert after.completed_by == score
    later = next(s for s in schedule_status(j, date(2026, 1, 1)) if s.label == "3m")
    assert later.status is S.COMPLETED


def test_a_score_outside_every_window_completes_nothing() -> None:
    """A score between windows leaves the visits open."""
    j = journey([SHOT], [sj.nrs(3, datetime(2025, 6, 1, tzinfo=UTC))])
    states = schedule_status(j, date(2025, 6, 1))
    assert [s.status for s in states] == [S.MISSED, S.MISSED, S.UPCOMING, S.UPCOMING, S.UPCOMING]


def test_status_on_an_aware_datetime_uses_its_day() -> None:
    """``on`` may be an aware datetime; a naive one or a string is refused."""
    j = journey([SHOT])
    states = schedule_status(j, datetime(2025, 5, 1, 1, tzinfo=UTC))
    assert states[1].status is S.OVERDUE
    with pytest.raises(ValidationError, match="timezone"):
        schedule_status(j, datetime(2025, 5, 1))
    with pytest.raises(ValidationError, match="a date or an aware datetime"):
        schedule_status(j, "2025-05-01")  # type: ignore[arg-type]


def test_a_new_cycle_replaces_the_rest_of_the_old_schedule() -> None:
    """Cycle 1's visits due after cycle 2's injection are dropped, its windows clipped."""
    second = datetime(2025, 5, 10, 9, tzinfo=UTC)
    visits = planned_visits(journey([SHOT, second]))
    cycle1 = [v for v in visits if v.cycle == 1]
    assert [v.label for v in cycle1] == ["6w", "3m"]
    assert cycle1[-1].closes == date(2025, 5, 10)
    cycle2 = [v for v in visits if v.cycle == 2]
    assert [v.label for v in cycle2] == ["6w", "3m", "6m", "12m", "24m"]
    assert cycle2[0].due == date(2025, 6, 21)


def test_state_row_as_plain_data() -> None:
    """A row gives journey, patient, time point, due date, window and status."""
    (row, *_) = schedule_status(journey([SHOT], jid="j-9", pid="p-9"), date(2025, 3, 1))
    assert row.window == (date(2025, 2, 28), date(2025, 3, 28))
    assert row.as_dict() == {
        "journey_id": "j-9",
        "patient_id": "p-9",
        "cycle": 1,
        "time_point": "6w",
        "due": "2025-03-14",
        "opens": "2025-02-28",
        "closes": "2025-03-28",
        "status": "in_window",
    }


def test_worklist_across_journeys() -> None:
    """The work-list holds visits whose window meets the range, by due date."""
    a = journey([SHOT], jid="j-a", pid="p-a")
    b = journey([SHOT - timedelta(days=10)], jid="j-b", pid="p-b")
    done = journey([SHOT], [sj.nrs(2, datetime(2025, 3, 8, tzinfo=UTC))], jid="j-c")
    ended = journey([SHOT], jid="j-d", stage="completed")
    fresh = journey([], jid="j-e")
    rows = worklist([a, b, done, ended, fresh], date(2025, 3, 10), date(2025, 3, 20))
    assert [(r.journey_id, r.label, r.due, r.status) for r in rows] == [
        ("j-b", "6w", date(2025, 3, 4), S.OVERDUE),
        ("j-a", "6w", date(2025, 3, 14), S.IN_WINDOW),
    ]
    everything = worklist(
        [a, b, done], date(2025, 3, 10), date(2025, 3, 20), include_completed=True
    )
    assert [r.journey_id for r in everything] == ["j-b", "j-a", "j-c"]


def test_worklist_status_on_a_chosen_day() -> None:
    """Statuses are taken on ``on`` when given, on the first day otherwise."""
    a = journey([SHOT])
    rows = worklist([a], date(2025, 3, 1), date(2025, 3, 31), on=date(2025, 3, 29))
    assert [(r.label, r.status) for r in rows] == [("6w", S.MISSED)]
    assert worklist([a], date(2025, 3, 1), date(2025, 3, 31))[0].status is S.IN_WINDOW


def test_worklist_refuses_a_backward_range() -> None:
    """An end before the start is refused."""
    with pytest.raises(ValidationError, match="end: is before start"):
        worklist([], date(2025, 3, 2), date(2025, 3, 1))
