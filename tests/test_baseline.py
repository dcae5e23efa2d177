"""Baselines per journey and per cycle, and change from baseline with direction.

The rules are those of docs/how-outcomes-are-computed.md: the baseline is the last
score strictly before the first injection, within the protocol's look-back; change
in per cent is the OMERACT-OARSI relative change (Pham et al., Osteoarthritis
Cartilage 2004;12:389-399).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

import stemjourney as sj
from _outcome_journeys import DAY0, journey
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.outcomes import baseline, change, injection_dates, score_questionnaire

DAY = timedelta(days=1)


def test_baseline_is_the_last_score_before_the_injection() -> None:
    """The latest pre-injection score is the baseline; later ones are not."""
    shot = DAY0 + 30 * DAY
    j = journey(
        [shot],
        [sj.nrs(8, DAY0), sj.nrs(7, shot - 2 * DAY), sj.nrs(6, shot + DAY)],
    )
    found = baseline(j, "nrs")
    assert found.found
    assert found.value == 7.0
    assert found.injected_at == shot
    assert found.cycle is None
    assert found.reason is None


@pytest.mark.parametrize(
    "after", [timedelta(hours=3), timedelta(minutes=1), timedelta(0)], ids=["3h", "1min", "same"]
)
def test_a_score_after_the_injection_is_never_the_baseline(after: timedelta) -> None:
    """A score measured after the shot (or at its instant), even the same day, is no baseline."""
    shot = DAY0 + 30 * DAY
    j = journey([shot], [sj.nrs(8, DAY0), sj.nrs(5, shot + after)])
    assert baseline(j, "nrs").value == 8.0
    only_after = journey([shot], [sj.nrs(5, shot + after)])
    found = baseline(only_after, "nrs")
    assert not found.found
    assert found.reason == (
        "no nrs score before the injection of the journey "
        "(a score after the injection is never a baseline)"
    )


def test_a_score_a_minute_before_the_injection_is_the_baseline() -> None:
    """The last score before the shot's clinical time counts, however close to it."""
    shot = DAY0 + 30 * DAY
    j = journey([shot], [sj.nrs(8, DAY0), sj.nrs(6, shot - timedelta(minutes=1))])
    assert baseline(j, "nrs").value == 6.0


def test_no_injection_means_no_baseline() -> None:
    """Before any injection there is no baseline, and the result says so."""
    j = journey([], [sj.nrs(8, DAY0)])
    found = baseline(j, "nrs")
    assert not found.found
    assert found.value is None
    assert found.reason == "no injection recorded in the journey"
    assert found.change_to(sj.nrs(3, DAY0 + DAY)) is None


def test_no_score_in_the_lookback_means_no_baseline() -> None:
    """A score older than the protocol's look-back is not used as baseline, and it says why."""
    shot = DAY0 + 100 * DAY
    j = journey([shot], [sj.nrs(8, DAY0)])
    found = baseline(j, "nrs")
    assert found.score is None
    assert found.reason == (
        "the last nrs score before the injection of the journey is older than the "
        "protocol's look-back of 90 days"
    )
    protocol = attrs.evolve(sj.DEFAULT_PROTOCOL, baseline_lookback=timedelta(days=100))
    assert baseline(j, "nrs", protocol=protocol).value == 8.0


def test_baseline_is_per_instrument() -> None:
    """A VAS score is no NRS baseline."""
    shot = DAY0 + 10 * DAY
    j = journey([shot], [sj.vas(70, DAY0)])
    assert not baseline(j, "nrs").found
    assert baseline(j, "vas").value == 70.0


def test_cycle_baseline_uses_that_cycles_injection() -> None:
    """Each cycle's baseline is the last score before its own injection."""
    first, second = DAY0 + 10 * DAY, DAY0 + 200 * DAY
    j = journey(
        [first, second],
        [sj.nrs(8, DAY0), sj.nrs(3, first + 60 * DAY), sj.nrs(6, second - 5 * DAY)],
    )
    assert baseline(j, "nrs").value == 8.0
    assert baseline(j, "nrs", cycle=1).value == 8.0
    cycle2 = baseline(j, "nrs", cycle=2)
    assert (cycle2.value, cycle2.cycle, cycle2.injected_at) == (6.0, 2, second)
    missing = baseline(j, "nrs", cycle=3)
    assert missing.reason == "no injection recorded in cycle 3"


def test_the_lookback_is_counted_in_clinical_time_whatever_the_timezone() -> None:
    """Exactly 90 days before the shot is inside the look-back; a minute more is outside."""
    clinic = timezone(timedelta(hours=-5))
    shot = datetime(2025, 4, 6, 14, tzinfo=UTC)
    edge = journey([shot], [sj.nrs(8, shot - 90 * DAY)])
    past = journey([shot], [sj.nrs(8, shot - 90 * DAY - timedelta(minutes=1))])
    for tz in (UTC, clinic):
        assert baseline(edge, "nrs", tz=tz).value == 8.0
        assert not baseline(past, "nrs", tz=tz).found


def test_first_injection_of_a_cycle_is_used() -> None:
    """With two injections recorded in one cycle, the earlier one counts."""
    early = DAY0 + 10 * DAY
    j = journey([early], [])
    extra = sj.RecordEntry(
        journey_id=j.id,
        record=attrs.evolve(j.records[0].record, injected_at=early + DAY),  # type: ignore[misc]
        cycle=1,
        stage="follow_up",
        stage_seq=1,
        recorded_at=DAY0,
        actor="dr.a",
        version=9,
    )
    assert injection_dates(attrs.evolve(j, records=(extra, *j.records))) == {1: early}
    assert injection_dates(attrs.evolve(j, records=(*j.records, extra))) == {1: early}


def test_change_on_a_lower_is_better_scale() -> None:
    """NRS 8 to 4 is a 4-point, 50 % improvement."""
    moved = change(sj.nrs(8, DAY0), sj.nrs(4, DAY0 + DAY))
    assert (moved.points, moved.percent, moved.delta) == (4.0, 50.0, -4.0)


def test_change_on_a_higher_is_better_scale() -> None:
    """KOOS Pain 50 to 75 is 25 points, half of the room to 100."""
    before = sj.Score(instrument="koos_pain", value=50, measured_at=DAY0)
    after = sj.Score(instrument="koos_pain", value=75, measured_at=DAY0 + DAY)
    moved = change(before, after)
    assert (moved.points, moved.percent, moved.delta) == (25.0, 50.0, 25.0)


def test_worsening_is_negative() -> None:
    """NRS 4 to 6 is -2 points, -50 %."""
    moved = change(sj.nrs(4, DAY0), sj.nrs(6, DAY0 + DAY))
    assert (moved.points, moved.percent) == (-2.0, -50.0)


def test_percent_is_undefined_from_the_best_end() -> None:
    """From NRS 0 there is no room to improve, so no per cent."""
    moved = change(sj.nrs(0, DAY0), sj.nrs(2, DAY0 + DAY))
    assert moved.points == -2.0
    assert moved.percent is None


def test_change_needs_one_instrument() -> None:
    """Change between two instruments is refused; an unknown one has no direction."""
    with pytest.raises(ValidationError, match="same instrument"):
        change(sj.nrs(8, DAY0), sj.vas(40, DAY0))
    odd = sj.Score(instrument="x-odd", value=3, measured_at=DAY0)
    with pytest.raises(NotFoundError):
        change(odd, odd)


def test_change_from_questionnaire_scores() -> None:
    """ODI 32 % to 16 % is 16 points and 50 %."""
    before = score_questionnaire("odi", [2, 2, 2, 2, 2, 2, 1, 1, 1, 1], DAY0)
    after = score_questionnaire("odi", [1, 1, 1, 1, 1, 1, 1, 1, 0, 0], DAY0 + DAY)
    moved = change(before, after)
    assert moved.points == pytest.approx(16.0)
    assert moved.percent == pytest.approx(50.0)
