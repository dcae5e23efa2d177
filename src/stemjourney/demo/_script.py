"""The demo clinic as plain data: each patient, each journey, and its steps in time order.

A script says what happens; :mod:`stemjourney.demo._build` makes it happen through the
engine's rules (or the store's write API), so every move is checked by the guards.
"""

from __future__ import annotations

from datetime import date, datetime

import attrs

from stemjourney.clinical._records import IneligibilityReason, Record, VoidReason, WithdrawalReason
from stemjourney.clinical._scores import Score

__all__ = ["AddStep", "AmendStep", "JourneyScript", "MoveStep", "PatientScript", "Reason", "Step"]

Reason = str | WithdrawalReason | IneligibilityReason | VoidReason


@attrs.frozen
class MoveStep:
    """Move the journey to ``target`` at ``at``."""

    target: str
    at: datetime
    reason: Reason | None = None
    override_reason: str | None = None
    actor: str = "coordinator.demo"


@attrs.frozen
class AddStep:
    """Add a clinical record or score; ``actor`` is the staff member who records it."""

    record: Record | Score
    actor: str


@attrs.frozen
class AmendStep:
    """Correct the record added by the step at index ``target_step`` of the same journey."""

    target_step: int
    record: Record | Score
    reason: str
    actor: str


Step = MoveStep | AddStep | AmendStep


@attrs.frozen
class JourneyScript:
    """One journey of a demo patient: how it opens, then its steps in clinical order."""

    key: str
    condition: str
    site: str
    side: str
    cell_source: str
    opened_at: datetime
    steps: tuple[Step, ...]

    @property
    def when(self) -> tuple[datetime, ...]:
        """The clinical time of each step (the time a record happened, or a move's time)."""
        return tuple(s.at if isinstance(s, MoveStep) else s.record.occurred_at for s in self.steps)


@attrs.frozen
class PatientScript:
    """One demo patient: a synthetic external id, a made-up name, and journeys."""

    external_id: str
    display_name: str
    birth_date: date
    journeys: tuple[JourneyScript, ...]
