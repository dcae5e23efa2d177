"""The stateful test: the engine driven by JourneyMachine beside a plain model."""

from __future__ import annotations

from hypothesis import settings

from stemjourney import Guard, Journey, Pipeline, RecordEntry, Transition, TransitionEntry
from stemjourney.guards import NONE
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


class CustomPipelineMachine(JourneyMachine):
    """The machine over a clinic's own two-stage pipeline with a guard it does not know."""

    pipeline = Pipeline(
        [
            Transition(
                "intake", "treated", Guard("clinic_check", "the clinic's check", lambda ctx: [])
            ),
            Transition("intake", "closed", NONE, needs_reason=True),
            Transition("treated", "closed", NONE, needs_reason=True),
        ],
        "intake",
        {"closed"},
    )


CustomPipelineMachine.TestCase.settings = settings(
    CustomPipelineMachine.TestCase.settings, max_examples=10, stateful_step_count=15
)
TestCustomPipeline = CustomPipelineMachine.TestCase
TestCustomPipeline.__doc__ = "The machine drives any pipeline, reading only its table."
