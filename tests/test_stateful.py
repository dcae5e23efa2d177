"""The stateful test: the engine driven by JourneyMachine beside a plain model."""

from __future__ import annotations

import io
import unittest
from collections import Counter
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import settings

from stemjourney import (
    DEFAULT_PIPELINE,
    FollowUpVisit,
    Guard,
    GuardContext,
    Journey,
    Pipeline,
    RecordEntry,
    Transition,
    TransitionEntry,
)
from stemjourney.exceptions import ValidationError
from stemjourney.guards import NONE, SATISFIERS, Preparation
from stemjourney.testing import JourneyMachine, Refusal


class EngineAgainstModel(JourneyMachine):
    """The machine as shipped, plus a mirror of every change checked after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.mirror: dict[str, object] = {}
        self.refusals = 0

    def on_opened(self, journey: Journey) -> None:
        self.mirror = {"stage": journey.stage, "versions": [1]}

    def on_moved(self, journey: Journey, entry: TransitionEntry) -> None:
        self.mirror["stage"] = entry.target
        self.mirror["versions"].append(entry.version)  # type: ignore[attr-defined]

    def on_recorded(self, journey: Journey, entry: RecordEntry) -> None:
        self.mirror["versions"].append(entry.version)  # type: ignore[attr-defined]

    def on_refused(self, journey: Journey, error: Refusal) -> None:
        self.refusals += 1
        assert str(error)

    def check_consistency(self, journey: Journey) -> None:
        assert self.mirror["stage"] == journey.stage
        assert self.mirror["versions"] == list(range(1, journey.version + 1))


EngineAgainstModel.TestCase.settings = settings(
    EngineAgainstModel.TestCase.settings, stateful_step_count=40
)
TestEngineAgainstModel = EngineAgainstModel.TestCase
TestEngineAgainstModel.__doc__ = "The engine agrees with the plain model after every step."


def test_machine_reads_the_engines_table() -> None:
    """The machine moves along the engine's own pipeline, not a copy."""
    machine = JourneyMachine()
    assert machine.pipeline is machine.engine.pipeline
    assert machine.journey is None
    machine.journey_matches_model()
    machine.replay_agrees()
    machine.user_consistency()
    machine.open_journey()
    assert machine.current.stage == machine.engine.pipeline.initial
    machine.journey_matches_model()
    machine.replay_agrees()
    machine.teardown()


def _phone_call(ctx: GuardContext) -> list[str]:
    """The clinic's own guard: a phone call recorded in the stage the move leaves."""
    return [] if ctx.facts.visit.get("follow_up_visit") else ["a phone call in this stage"]


PHONE_CALL = Guard("phone_call", "a phone call made in the stage", _phone_call)


def _call(ctx: GuardContext) -> list[Preparation]:
    """What satisfies the clinic's guard: a phone contact at the move's time."""
    return [Preparation(records=(FollowUpVisit(visited_at=ctx.occurred_at, contact="phone"),))]


CLINIC_PIPELINE = Pipeline(
    [
        Transition("intake", "treated", PHONE_CALL),
        Transition("intake", "closed", NONE, needs_reason=True),
        Transition("treated", "closed", NONE, needs_reason=True),
    ],
    "intake",
    {"closed"},
)


class CustomPipelineMachine(JourneyMachine):
    """The machine over a clinic's own pipeline, with its own guard and what satisfies it."""

    pipeline = CLINIC_PIPELINE
    satisfiers = MappingProxyType({**SATISFIERS, PHONE_CALL: _call})


CustomPipelineMachine.TestCase.settings = settings(
    CustomPipelineMachine.TestCase.settings, max_examples=10, stateful_step_count=15
)
TestCustomPipeline = CustomPipelineMachine.TestCase


def _taken_over_a_run(machine: type[JourneyMachine], **changes: Any) -> Counter[tuple[str, str]]:
    """Run ``machine``'s TestCase once (its settings, with ``changes``); count the moves taken."""
    taken: Counter[tuple[str, str]] = Counter()

    class Counting(machine):  # type: ignore[valid-type,misc]
        def on_moved(self, journey: Journey, entry: TransitionEntry) -> None:
            super().on_moved(journey, entry)
            assert entry.source is not None
            taken[(entry.source, entry.target)] += 1

    Counting.TestCase.settings = settings(Counting.TestCase.settings, database=None, **changes)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(Counting.TestCase)
    result = unittest.TextTestRunner(stream=io.StringIO()).run(suite)
    assert result.wasSuccessful(), (result.errors, result.failures)
    return taken


def test_the_machine_takes_every_transition_of_the_default_pipeline() -> None:
    """Over its default settings the machine takes every transition of the default pipeline.

    Endings at every stage included (each journey ends once, so the machine opens the
    next journey once one has ended), the loops back to harvest and the stored-dose
    loop to injection.
    """
    taken = _taken_over_a_run(JourneyMachine)
    never = [
        f"{t.source} -> {t.target}"
        for t in DEFAULT_PIPELINE.transitions
        if taken[(t.source, t.target)] == 0
    ]
    assert not never, f"never taken: {never}; taken: {dict(taken)}"


def test_a_custom_guard_takes_part_through_its_mapping() -> None:
    """A clinic's pipeline and guard, with what satisfies it, has every transition taken."""
    taken = _taken_over_a_run(CustomPipelineMachine, max_examples=10, stateful_step_count=15)
    assert {(t.source, t.target) for t in CLINIC_PIPELINE.transitions} <= set(taken)


def test_a_guard_without_a_mapping_is_refused() -> None:
    """A pipeline whose guard the mapping lacks is refused, naming the guard, not run blind."""

    class Unmapped(JourneyMachine):
        pipeline = CLINIC_PIPELINE

    with pytest.raises(ValidationError) as info:
        Unmapped()
    assert info.value.field == "satisfiers"
    assert "phone_call" in str(info.value)


class _Board(JourneyMachine):
    """The guide's status board (docs/testing-your-integration.md): one row per journey."""

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, str] = {}
        self.changes: dict[str, int] = {}

    def on_opened(self, journey: Journey) -> None:
        self.status[journey.id] = journey.stage
        self.changes[journey.id] = 1

    def on_moved(self, journey: Journey, entry: TransitionEntry) -> None:
        self.status[journey.id] = entry.target
        self.changes[journey.id] += 1

    def on_recorded(self, journey: Journey, entry: RecordEntry) -> None:
        self.changes[journey.id] += 1

    def check_consistency(self, journey: Journey) -> None:
        assert self.status[journey.id] == journey.stage
        assert self.changes[journey.id] == journey.version


def test_the_guides_example_passes_the_health_checks_on_a_slow_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With Hypothesis' clock running ten times fast (a machine ten times slower) and every
    health check on, the guide's settings still pass."""
    import time as real_time

    import hypothesis.stateful as stateful_module
    from hypothesis import HealthCheck

    start = real_time.perf_counter()
    fast = real_time.perf_counter

    def slow() -> float:
        return start + (fast() - start) * 10

    monkeypatch.setattr(stateful_module, "perf_counter", slow)
    monkeypatch.setattr(real_time, "perf_counter", slow)
    _Board.TestCase.settings = settings(
        max_examples=5,
        stateful_step_count=15,
        deadline=None,
        database=None,
        suppress_health_check=(),
    )
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(_Board.TestCase)
    result = unittest.TextTestRunner(stream=io.StringIO()).run(suite)
    assert result.wasSuccessful(), (result.errors, result.failures)
    assert HealthCheck.too_slow not in _Board.TestCase.settings.suppress_health_check
