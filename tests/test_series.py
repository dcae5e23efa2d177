"""Time series per journey: each score on its time point, with change and responders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import stemjourney as sj
from _outcome_journeys import journey
from stemjourney.outcomes import BASELINE, UNSCHEDULED, series

SHOT = datetime(2025, 1, 31, 10, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def test_points_in_time_order_with_time_points() -> None:
    """Scores map to baseline, their visit, or unscheduled, in measured order."""
    j = journey(
        [SHOT],
        [
            sj.nrs(4, SHOT + 91 * DAY),  # recorded out of order on purpose
            sj.nrs(8, SHOT - 5 * DAY),
            sj.nrs(9, SHOT - 20 * DAY),
            sj.nrs(5, SHOT + 43 * DAY),
            sj.nrs(6, SHOT + 60 * DAY),
        ],
    )
    s = series(j, "nrs")
    assert s.baseline.value == 8.0
    assert [(p.time_point, p.score.value, p.cycle, p.days) for p in s.points] == [
        (UNSCHEDULED, 9.0, None, None),
        (BASELINE, 8.0, None, None),
        ("6w", 5.0, 1, 43),
        (UNSCHEDULED, 6.0, 1, 60),
        ("3m", 4.0, 1, 91),
    ]


def test_change_and_responders_at_each_visit() -> None:
    """Each follow-up point carries its change and responder status."""
    j = journey(
        [SHOT],
        [sj.nrs(8, SHOT - HOUR), sj.nrs(6, SHOT + 42 * DAY), sj.nrs(4, SHOT + 89 * DAY)],
    )
    s = series(j, "nrs")
    six = s.at("6w")
    assert six is not None
    assert six.change is not None
    assert (six.change.points, six.change.percent) == (2.0, 25.0)
    assert six.responder == {"responder": False, "substantial": False}
    three = s.at("3m")
    assert three is not None
    assert three.responder == {"responder": True, "substantial": True}
    baseline_point = s.at(BASELINE, cycle=None)
    assert baseline_point is not None
    assert baseline_point.change is None
    assert baseline_point.responders == ()
    assert s.at("12m") is None


def test_without_baseline_points_have_no_change() -> None:
    """With no baseline, follow-up points are placed but not compared."""
    j = journey([SHOT], [sj.nrs(4, SHOT + 42 * DAY)])
    (point,) = series(j, "nrs").points
    assert point.time_point == "6w"
    assert point.change is None
    assert point.responder == {}


def test_per_cycle_compares_with_each_cycles_baseline() -> None:
    """With per_cycle, cycle 2 points are compared with cycle 2's baseline."""
    second = SHOT + 250 * DAY
    j = journey(
        [SHOT, second],
        [
            sj.nrs(8, SHOT - HOUR),
            sj.nrs(6, second - 2 * DAY),
            sj.nrs(3, second + 42 * DAY),
        ],
    )
    journey_level = series(j, "nrs")
    cycle_level = series(j, "nrs", per_cycle=True)
    last_j, last_c = journey_level.points[-1], cycle_level.points[-1]
    assert (last_j.cycle, last_j.time_point) == (2, "6w")
    assert last_j.change is not None
    assert last_j.change.points == 5.0
    assert last_c.change is not None
    assert last_c.change.points == 3.0
    assert cycle_level.baselines[2].value == 6.0
    assert journey_level.baselines[2].value == 8.0
    assert cycle_level.points[1].time_point == BASELINE


def test_series_of_a_questionnaire() -> None:
    """A KOOS series rises as the knee improves, and the change is positive."""
    before = sj.Score(instrument="koos_pain", value=40, measured_at=SHOT - HOUR)
    after = sj.Score(instrument="koos_pain", value=70, measured_at=SHOT + 180 * DAY)
    s = series(journey([SHOT], [before, after, sj.nrs(5, SHOT)]), "koos_pain")
    assert [p.time_point for p in s.points] == [BASELINE, "6m"]
    assert s.points[-1].change is not None
    assert s.points[-1].change.percent == 50.0
    assert s.points[-1].responders == ()


def test_a_score_just_after_the_injection_follows_it_and_is_compared() -> None:
    """A score an hour after the shot is in cycle 1, unscheduled, compared with the baseline."""
    j = journey([SHOT], [sj.nrs(8, SHOT - HOUR), sj.nrs(7, SHOT + HOUR)])
    first, after = series(j, "nrs").points
    assert (first.time_point, first.cycle) == (BASELINE, None)
    assert (after.time_point, after.cycle, after.days) == (UNSCHEDULED, 1, 0)
    assert after.change is not None
    assert after.change.points == 1.0


def test_at_picks_the_score_nearest_the_due_date() -> None:
    """Two scores in the 6-week window: the one nearer the due day stands for the time point."""
    j = journey(
        [SHOT],
        [sj.nrs(8, SHOT - HOUR), sj.nrs(6, SHOT + 35 * DAY), sj.nrs(5, SHOT + 43 * DAY)],
    )
    six = series(j, "nrs").at("6w")
    assert six is not None
    assert six.score.value == 5.0
