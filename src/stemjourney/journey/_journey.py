"""The journey as a value: its identity, its history of moves and its records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

import attrs

from stemjourney.clinical._records import (
    IneligibilityReason,
    Record,
    VoidReason,
    WithdrawalReason,
)
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CellSource, Side

__all__ = ["Journey", "ReasonRecord", "RecordEntry", "TransitionEntry"]

R = TypeVar("R")


@attrs.frozen
class TransitionEntry:
    """One move in a journey's history: the audit entry of a stage change.

    The opening of a journey is its first entry, with ``source`` ``None``.
    ``version`` is the journey's version after the move. ``reason`` is the reason as
    text; when it was given as a reason record (``WithdrawalReason``,
    ``IneligibilityReason``, ``VoidReason``), ``reason_record`` keeps it whole: its
    code, and its detail, which the text leaves out.
    """

    journey_id: str
    seq: int
    source: str | None
    target: str
    cycle: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    version: int
    reason: str | None = None
    late_reason: str | None = None
    override_reason: str | None = None
    reason_record: ReasonRecord | None = None


ReasonRecord = WithdrawalReason | IneligibilityReason | VoidReason
"""A structured reason for a move that ends a journey."""


@attrs.frozen
class RecordEntry:
    """A clinical record or score as the journey holds it.

    ``stage_seq`` is the ``seq`` of the move that entered the stage the record was
    made in; ``amends`` is the ``version`` of the entry this one corrects.
    """

    journey_id: str
    record: Record | Score
    cycle: int
    stage: str
    stage_seq: int
    recorded_at: datetime
    actor: str
    version: int
    amends: int | None = None
    reason: str | None = None


@attrs.frozen
class Journey:
    """One course of treatment of one condition at one site, for one patient.

    A journey is a value: moves and records return a new journey. Its stage,
    cycle and version are read off its history, so they cannot disagree with it.
    Build one with :meth:`Engine.open <stemjourney.Engine.open>`, which checks its fields.

    The journey a store's write returns is its working copy: it holds the opening,
    the latest move and the records the engine needs, not the whole history
    (``complete`` is ``False`` and ``known_version`` is the stored version); read
    :meth:`Store.journey <stemjourney.store.Store.journey>` for the whole record.
    """

    id: str
    patient_id: str
    condition: str
    site: str
    side: Side
    cell_source: CellSource
    history: tuple[TransitionEntry, ...] = attrs.field(default=(), repr=False)
    records: tuple[RecordEntry, ...] = attrs.field(default=(), repr=False)
    known_version: int | None = attrs.field(default=None, repr=False, kw_only=True, eq=False)

    @property
    def stage(self) -> str:
        """The stage or outcome the journey is in now."""
        return self.history[-1].target

    @property
    def cycle(self) -> int:
        """The treatment round, from 1."""
        return self.history[-1].cycle

    @property
    def version(self) -> int:
        """How many changes the journey has had; the store checks it on every write."""
        if self.known_version is not None:
            return self.known_version
        return len(self.history) + len(self.records)

    @property
    def complete(self) -> bool:
        """Whether this value holds the journey's whole history (not a store's working copy)."""
        return self.known_version is None

    @property
    def opened_at(self) -> datetime:
        """When the journey was opened (clinical time)."""
        return self.history[0].occurred_at

    @property
    def last_move(self) -> TransitionEntry:
        """The latest entry of the history."""
        return self.history[-1]

    def with_move(self, entry: TransitionEntry) -> Journey:
        """This journey with ``entry`` added to its history (the engine checks it first)."""
        return attrs.evolve(self, history=(*self.history, entry), known_version=self._next())

    def with_record(self, entry: RecordEntry) -> Journey:
        """This journey with ``entry`` added to its records (the engine checks it first)."""
        return attrs.evolve(self, records=(*self.records, entry), known_version=self._next())

    def _next(self) -> int | None:
        return None if self.known_version is None else self.known_version + 1

    def current_records(self) -> Iterator[RecordEntry]:
        """The record entries in force: each amended entry is replaced by its amendment."""
        records = self.records
        amended = {e.amends for e in records if e.amends is not None}
        if not amended:
            return iter(records)
        return (e for e in records if e.version not in amended)

    def latest(self, record_type: type[R], *, cycle: int | None = None) -> R | None:
        """The most recent record of ``record_type`` in force, optionally in one cycle."""
        found = None
        for entry in self.current_records():
            if isinstance(entry.record, record_type) and (cycle is None or entry.cycle == cycle):
                found = entry.record
        return found

    def in_stage_visit(self, record_type: type[R]) -> list[R]:
        """Records of ``record_type`` made since the journey entered its current stage."""
        seq = self.last_move.seq
        return [
            e.record
            for e in self.current_records()
            if e.stage_seq == seq and isinstance(e.record, record_type)
        ]

    def scores(self, instrument: str | None = None) -> list[Score]:
        """Scores in force, in the order they were measured."""
        found = [
            e.record
            for e in self.current_records()
            if isinstance(e.record, Score)
            and (instrument is None or e.record.instrument == instrument)
        ]
        return sorted(found, key=lambda s: s.measured_at)

    def summary(self) -> dict[str, Any]:
        """The journey's identity and state as plain data (no history)."""
        return {
            "id": self.id,
            "patient_id": self.patient_id,
            "condition": self.condition,
            "site": self.site,
            "side": self.side.value,
            "cell_source": self.cell_source.value,
            "stage": self.stage,
            "cycle": self.cycle,
            "version": self.version,
        }
