"""Steps that drive a journey (open it, record something, move it) and a player for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from stemjourney.clinical._records import Record
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.exceptions import MoveError, ValidationError
from stemjourney.journey._engine import Engine
from stemjourney.journey._journey import Journey, ReasonRecord
from stemjourney.testing._clock import ManualClock
from stemjourney.testing._strategies import DEFAULT_START

__all__ = ["MoveStep", "OpenStep", "RecordStep", "Step", "play"]

ACTOR = "test.actor"


@attrs.frozen(kw_only=True)
class OpenStep:
    """Open a journey: always the first step of a sequence."""

    journey_id: str = "j-1"
    patient_id: str = "p-1"
    condition: str = "osteoarthritis of knee"
    site: str = "knee"
    side: Side = Side.LEFT
    cell_source: CellSource = CellSource.BONE_MARROW
    at: datetime = DEFAULT_START
    actor: str = ACTOR
    refused_with: type[MoveError] | None = attrs.field(default=None, init=False)

    def apply(self, engine: Engine, journey: Journey | None = None) -> Journey:
        """Open the journey with ``engine`` (``journey`` is ignored)."""
        return engine.open(
            self.journey_id,
            patient_id=self.patient_id,
            condition=self.condition,
            site=self.site,
            side=self.side,
            cell_source=self.cell_source,
            actor=self.actor,
            occurred_at=self.at,
        )


@attrs.frozen(kw_only=True)
class RecordStep:
    """Record a clinical record or a score."""

    record: Record | Score
    actor: str = ACTOR
    refused_with: type[MoveError] | None = attrs.field(default=None, init=False)

    @property
    def at(self) -> datetime:
        """The record's clinical time."""
        return self.record.occurred_at

    def apply(self, engine: Engine, journey: Journey | None) -> Journey:
        """Record it on ``journey``; return the new journey."""
        return engine.record(_opened(journey), self.record, actor=self.actor)[0]


@attrs.frozen(kw_only=True)
class MoveStep:
    """Move to ``target`` at ``at``; ``refused_with`` is the error the engine must raise.

    ``refused_with`` is ``None`` for a move the engine must accept.
    """

    target: str
    at: datetime
    reason: str | ReasonRecord | None = None
    override_reason: str | None = None
    late_reason: str | None = None
    actor: str = ACTOR
    refused_with: type[MoveError] | None = None

    def apply(self, engine: Engine, journey: Journey | None) -> Journey:
        """Move ``journey``; return the new journey (raises the engine's MoveError)."""
        return engine.move(
            _opened(journey),
            self.target,
            actor=self.actor,
            occurred_at=self.at,
            reason=self.reason,
            override_reason=self.override_reason,
            late_reason=self.late_reason,
        )[0]


Step = OpenStep | RecordStep | MoveStep
"""One step of a sequence drawn by :func:`~stemjourney.testing.move_sequences`."""


def _opened(journey: Journey | None) -> Journey:
    if journey is None:
        raise ValidationError("steps", "do not start by opening a journey", "an OpenStep first")
    return journey


def play(engine: Engine, steps: Sequence[Step], *, clock: ManualClock | None = None) -> Journey:
    """Run ``steps`` on ``engine`` and return the journey they leave.

    With ``clock`` (the engine's :class:`ManualClock`), the clock is moved forward to
    each step's time before it runs, as if the clinic entered it as it happened. A
    step marked ``refused_with`` must raise that error, and the journey stays as it
    was; any other step must be accepted. Raises ``AssertionError`` when the engine
    accepts a step it should refuse, and lets any unexpected error through.

    >>> from stemjourney import Engine
    >>> from stemjourney.testing import ManualClock, MoveStep, OpenStep, play
    >>> from stemjourney.exceptions import GuardError
    >>> clock = ManualClock(OpenStep().at)
    >>> steps = [OpenStep(), MoveStep(target="harvest", at=clock.now(), refused_with=GuardError)]
    >>> play(Engine(clock=clock), steps, clock=clock).stage
    'consultation'
    """
    journey: Journey | None = None
    for number, step in enumerate(steps):
        if clock is not None and step.at > clock.now():
            clock.set(step.at)
        try:
            journey = step.apply(engine, journey)
        except MoveError as err:
            if step.refused_with is None or not isinstance(err, step.refused_with):
                raise
            continue
        if step.refused_with is not None:
            raise AssertionError(
                f"step {number} ({type(step).__name__} to {getattr(step, 'target', '?')}) "
                f"should raise {step.refused_with.__name__}; the engine accepted it"
            )
    return _opened(journey)
