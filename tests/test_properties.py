"""Properties of the engine over any sequence of steps through the default pipeline."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stemjourney import DEFAULT_PIPELINE, Engine, Patient
from stemjourney.exceptions import MoveError, StemJourneyError
from stemjourney.testing import (
    DEFAULT_START,
    ManualClock,
    MoveStep,
    OpenStep,
    RecordStep,
    Step,
    move_sequences,
    play,
)

NAMES = st.sampled_from(["Zoë Quartermaine", "Jean-Baptiste Okonkwo", "María José Ñúñez", "Ada"])


def run(steps: list[Step]) -> tuple[Engine, ManualClock]:
    """An engine with a manual clock at the steps' start."""
    clock = ManualClock(DEFAULT_START)
    return Engine(clock=clock), clock


@given(move_sequences())
def test_valid_sequences_are_accepted_and_replay(steps: list[Step]) -> None:
    """Every step of a valid sequence is accepted, and replay equals the live journey."""
    engine, clock = run(steps)
    journey = play(engine, steps, clock=clock)
    moves = [s for s in steps if isinstance(s, MoveStep)]
    assert journey.version == len(steps)
    assert len(journey.history) == len(moves) + 1
    assert engine.replay(journey) == journey


@given(move_sequences(valid=False))
def test_invalid_sequences_are_refused_where_marked(steps: list[Step]) -> None:
    """In an invalid sequence the engine refuses exactly the marked steps, with their error."""
    engine, clock = run(steps)
    journey = play(engine, steps, clock=clock)
    refused = [s for s in steps if s.refused_with is not None]
    assert refused
    assert journey.version == len(steps) - len(refused)
    assert engine.replay(journey) == journey


@given(move_sequences(valid=False))
def test_nothing_leaves_an_outcome(steps: list[Step]) -> None:
    """Once a journey reaches an outcome, no later step changes its stage."""
    engine, clock = run(steps)
    journey = None
    ended = None
    for step in steps:
        clock.set(max(clock.now(), step.at))
        try:
            journey = step.apply(engine, journey)
        except MoveError:
            continue
        if ended is not None:
            assert journey.stage == ended
        if DEFAULT_PIPELINE.is_outcome(journey.stage):
            ended = journey.stage


@given(move_sequences(valid=False))
def test_every_refusal_names_a_missing_requirement(steps: list[Step]) -> None:
    """Each refused move names at least one requirement and the stage it is in."""
    engine, clock = run(steps)
    journey = None
    refusals: list[tuple[MoveError, str, str]] = []
    for step in steps:
        clock.set(max(clock.now(), step.at))
        try:
            journey = step.apply(engine, journey)
        except MoveError as err:
            assert journey is not None
            refusals.append((err, journey.id, journey.stage))
    assert refusals
    for err, journey_id, stage in refusals:
        assert err.problems
        assert all(p.strip() for p in err.problems)
        assert f"journey {journey_id} is in '{stage}'" in str(err)
        assert all(target in DEFAULT_PIPELINE.targets(stage) for target in err.allowed)


@given(move_sequences(valid=False), NAMES)
def test_messages_never_carry_the_patients_name(steps: list[Step], name: str) -> None:
    """With the name typed into every free-text field, no error message repeats it."""
    patient = Patient(id="p-1", external_id="mrn-1", display_name=name)
    opening = steps[0]
    assert isinstance(opening, OpenStep)
    steps = [
        OpenStep(condition=name, site=name, actor=name, at=opening.at),
        *[
            MoveStep(
                target=s.target,
                at=s.at,
                reason=s.reason if s.reason is None else name,
                actor=name,
                refused_with=s.refused_with,
            )
            if isinstance(s, MoveStep)
            else RecordStep(record=s.record, actor=name)
            for s in steps[1:]
        ],
    ]
    engine, clock = run(steps)
    journey = None
    messages: list[str] = []
    for step in steps:
        clock.set(max(clock.now(), step.at))
        try:
            journey = step.apply(engine, journey)
        except StemJourneyError as err:
            messages.append(str(err))
    assert messages
    assert patient.display_name is not None
    for message in messages:
        assert patient.display_name not in message
    assert name not in repr(patient)
