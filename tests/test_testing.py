"""The stemjourney.testing helpers: the manual clock, the strategies and the step player."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stemjourney import (
    CONTRAINDICATIONS,
    AdverseEvent,
    Engine,
    Guard,
    Pipeline,
    Score,
    Transition,
)
from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.exceptions import GuardError, TimeOrderError, ValidationError
from stemjourney.guards import NONE
from stemjourney.testing import (
    DEFAULT_START,
    ManualClock,
    MoveStep,
    OpenStep,
    RecordStep,
    Step,
    adverse_events,
    contraindication_codes,
    eligibility_assessments,
    harvests,
    injections,
    invalid_pain_values,
    move_sequences,
    pain_scores,
    play,
    withdrawal_reasons,
)

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_manual_clock_stands_still_until_moved() -> None:
    """The clock shows its start until advanced or set; advance returns the new now."""
    clock = ManualClock(datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == T0
    assert clock.now().tzinfo is UTC
    assert clock.now() == clock.now()
    assert clock.advance(days=1, hours=2, minutes=3, seconds=4, weeks=1) == T0 + timedelta(
        days=8, hours=2, minutes=3, seconds=4
    )
    clock.set(T0 - timedelta(days=1))
    assert clock.now() == T0 - timedelta(days=1)
    assert repr(clock) == "ManualClock(2026-01-04T09:00:00+00:00)"


def test_manual_clock_refuses_naive_times_and_going_back() -> None:
    """A naive start or set time, and a negative advance, are refused."""
    with pytest.raises(ValidationError):
        ManualClock(datetime(2026, 1, 5))
    clock = ManualClock(T0)
    with pytest.raises(ValidationError):
        clock.set(datetime(2026, 1, 5))
    with pytest.raises(ValidationError) as info:
        clock.advance(hours=-1)
    assert info.value.field == "advance"
    assert clock.now() == T0


def test_manual_clock_drives_the_engine() -> None:
    """The engine reads 'now' from the manual clock for its future check."""
    clock = ManualClock(T0)
    engine = Engine(clock=clock)
    with pytest.raises(TimeOrderError):
        OpenStep(at=T0 + timedelta(hours=1)).apply(engine)
    clock.advance(hours=1)
    assert OpenStep(at=T0 + timedelta(hours=1)).apply(engine).opened_at == T0 + timedelta(hours=1)


@given(pain_scores())
def test_pain_scores_are_in_range(score: Score) -> None:
    """Drawn pain scores are NRS whole points 0-10 or VAS 0-100."""
    low, high, whole = PAIN_INSTRUMENTS[score.instrument]
    assert low <= score.value <= high
    assert not whole or score.value.is_integer()


@pytest.mark.parametrize("instrument", ["nrs", "vas"])
@given(data=st.data())
def test_invalid_pain_values_are_refused(instrument: str, data: st.DataObject) -> None:
    """Every value invalid_pain_values draws is refused by a score on that instrument."""
    value = data.draw(invalid_pain_values(instrument))
    with pytest.raises(ValidationError) as info:
        Score(instrument=instrument, value=value, measured_at=T0)
    assert info.value.field == "value"


@pytest.mark.parametrize("value", [11, -1, 7.5, math.nan, math.inf, True, "7"])
def test_listed_invalid_nrs_values_are_refused(value: object) -> None:
    """The classic bad NRS values are all refused."""
    with pytest.raises(ValidationError):
        Score(instrument="nrs", value=value, measured_at=T0)


@given(adverse_events())
def test_adverse_events_keep_the_grade_five_rule(ae: AdverseEvent) -> None:
    """Drawn adverse events of grade 5 are serious and fatal; others are not fatal."""
    assert (ae.grade == 5) == (ae.outcome == "fatal")
    assert ae.grade < 5 or ae.serious


@given(eligibility_assessments(eligible=False), eligibility_assessments(eligible=True))
def test_eligibility_strategy_follows_its_argument(bad: object, good: object) -> None:
    """eligible=False draws contraindications, eligible=True none."""
    assert not bad.eligible  # type: ignore[attr-defined]
    assert good.eligible  # type: ignore[attr-defined]


@given(harvests(at=T0), injections(at=st.just(T0), site="knee", product_id="p-1"))
def test_at_fixes_the_time(harvest: object, injection: object) -> None:
    """'at' as a datetime or a strategy gives the records' clinical time."""
    assert harvest.occurred_at == T0  # type: ignore[attr-defined]
    assert injection.occurred_at == T0  # type: ignore[attr-defined]
    assert injection.product_id == "p-1"  # type: ignore[attr-defined]


@given(withdrawal_reasons())
def test_withdrawal_reasons_read_as_text(reason: object) -> None:
    """Drawn withdrawal reasons read as 'withdrawn by ...'."""
    assert str(reason).startswith("withdrawn by ")


def test_play_checks_refusals() -> None:
    """play keeps the journey on an expected refusal and fails on an unexpected acceptance."""
    clock = ManualClock(DEFAULT_START)
    engine = Engine(clock=clock)
    later = DEFAULT_START + timedelta(hours=1)
    steps = [
        OpenStep(),
        MoveStep(target="harvest", at=later, refused_with=GuardError),
        RecordStep(record=Score(instrument="nrs", value=5, measured_at=later)),
    ]
    journey = play(engine, steps, clock=clock)
    assert (journey.stage, journey.version) == ("consultation", 2)
    assert clock.now() == later
    wrong = [OpenStep(), MoveStep(target="voided", at=later, reason="x", refused_with=GuardError)]
    with pytest.raises(AssertionError, match="should raise GuardError"):
        play(engine, wrong, clock=clock)


def test_play_lets_unexpected_errors_through() -> None:
    """A refusal of another kind than expected, or of an unmarked step, is raised."""
    engine = Engine(clock=ManualClock(DEFAULT_START + timedelta(days=1)))
    early = DEFAULT_START - timedelta(days=1)
    with pytest.raises(TimeOrderError):
        play(engine, [OpenStep(), MoveStep(target="voided", at=early, reason="x")])
    with pytest.raises(TimeOrderError):
        play(
            engine,
            [OpenStep(), MoveStep(target="voided", at=early, reason="x", refused_with=GuardError)],
        )


def test_play_needs_an_opening() -> None:
    """A sequence that does not open a journey first is refused."""
    step = MoveStep(target="harvest", at=DEFAULT_START)
    with pytest.raises(ValidationError) as info:
        play(Engine(clock=ManualClock(DEFAULT_START)), [step])
    assert info.value.field == "steps"
    with pytest.raises(ValidationError):
        play(Engine(clock=ManualClock(DEFAULT_START)), [])


@given(contraindication_codes(clinic=False))
def test_known_contraindication_codes_only(code: str) -> None:
    """contraindication_codes(clinic=False) draws only the codes every clinic screens for."""
    assert code in CONTRAINDICATIONS


CUSTOM = Pipeline(
    [
        Transition("intake", "treated", Guard("clinic_check", "the clinic's check", lambda c: [])),
        Transition("intake", "closed", NONE, needs_reason=True),
        Transition("treated", "closed", NONE, needs_reason=True),
    ],
    "intake",
    {"closed"},
)


@given(move_sequences(valid=False, pipeline=CUSTOM))
def test_sequences_skip_guards_they_do_not_know(steps: list[Step]) -> None:
    """With a custom pipeline, the walk never takes a transition whose guard it cannot satisfy."""
    clock = ManualClock(DEFAULT_START)
    journey = play(Engine(CUSTOM, clock=clock), steps, clock=clock)
    assert journey.stage in ("intake", "closed")
    assert not any(
        isinstance(s, MoveStep) and s.target == "treated" and not s.refused_with for s in steps
    )
