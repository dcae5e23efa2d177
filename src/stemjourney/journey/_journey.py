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
from stemjourney.journey._facts import JourneyFacts, resolve

__all__ = ["Journey", "JourneyState", "ReasonRecord", "RecordEntry", "TransitionEntry"]

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
class JourneyState:
    """The light state of a journey that the record checks need, and nothing more.

    Its id, the stage it is in, its cycle and ``stage_seq``, the ``seq`` of the move
    that entered the stage. The store's bulk import checks rows against it without
    loading the journey (see :meth:`Engine.check_record <stemjourney.Engine.check_record>`).
    """

    journey_id: str
    stage: str
    cycle: int
    stage_seq: int


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
    # JourneyFacts, a pending change on them ``(base, entry)``, or None (built when read).
    _facts: object = attrs.field(default=None, init=False, eq=False, repr=False, hash=False)

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

    def _next(self) -> int | None:
        """The version after one more change, for a working copy (``None`` otherwise)."""
        return None if self.known_version is None else self.known_version + 1

    def _evolved(
        self,
        history: tuple[TransitionEntry, ...],
        records: tuple[RecordEntry, ...],
        facts: object,
    ) -> Journey:
        """This journey with another history and records: the constructor's work, set
        directly (a move's hot path; Journey has no validators to skip)."""
        new: Journey = _NEW(Journey)
        _J_ID(new, self.id)
        _J_PATIENT(new, self.patient_id)
        _J_CONDITION(new, self.condition)
        _J_SITE(new, self.site)
        _J_SIDE(new, self.side)
        _J_SOURCE(new, self.cell_source)
        _J_HISTORY(new, history)
        _J_RECORDS(new, records)
        _J_KNOWN(new, self._next())
        _J_FACTS(new, facts)
        return new

    def _moved(
        self,
        last: TransitionEntry,
        target: str,
        cycle: int,
        occurred_at: datetime,
        recorded_at: datetime,
        actor: str,
        reason: str | None,
        late_reason: str | None,
        override_reason: str | None,
        reason_record: ReasonRecord | None,
    ) -> tuple[Journey, TransitionEntry]:
        """The engine's move, once checked: the entry after ``last`` and this journey with it.

        The same values ``TransitionEntry(...)`` and :meth:`with_move` give, built
        directly: neither class has validators or converters, and on a move's hot
        path attrs' per-field frozen-setattr indirection was half the cost.
        """
        history = self.history
        entry: TransitionEntry = _NEW(TransitionEntry)
        (
            t_journey,
            t_seq,
            t_source,
            t_target,
            t_cycle,
            t_occurred,
            t_recorded,
            t_actor,
            t_version,
            t_reason,
            t_late,
            t_override,
            t_record,
        ) = _T_SETTERS
        t_journey(entry, self.id)
        t_seq(entry, last.seq + 1)
        t_source(entry, last.target)
        t_target(entry, target)
        t_cycle(entry, cycle)
        t_occurred(entry, occurred_at)
        t_recorded(entry, recorded_at)
        t_actor(entry, actor)
        t_version(entry, self.version + 1)
        t_reason(entry, reason)
        t_late(entry, late_reason)
        t_override(entry, override_reason)
        t_record(entry, reason_record)
        facts = self._facts
        new: Journey = _NEW(Journey)
        (
            j_id,
            j_patient,
            j_condition,
            j_site,
            j_side,
            j_source,
            j_history,
            j_records,
            j_known,
            j_facts,
        ) = _J_SETTERS
        j_id(new, self.id)
        j_patient(new, self.patient_id)
        j_condition(new, self.condition)
        j_site(new, self.site)
        j_side(new, self.side)
        j_source(new, self.cell_source)
        j_history(new, history + (entry,))  # noqa: RUF005 (concatenation is faster here)
        j_records(new, self.records)
        j_known(new, self._next())
        j_facts(new, None if facts is None else (facts, entry))
        return new, entry

    @property
    def state(self) -> JourneyState:
        """The journey's id, stage, cycle and the seq of the move into its stage."""
        last = self.history[-1]
        return JourneyState(self.id, last.target, last.cycle, last.seq)

    @property
    def facts(self) -> JourneyFacts:
        """What the guards read, kept per stage visit and cycle (built once, then updated).

        Moves and records made through :meth:`with_move` and :meth:`with_record`
        update it in constant time, when it is first read; a journey built from
        stored rows, or after an amendment, builds it on first use.
        """
        found = self._facts
        if type(found) is not JourneyFacts:
            found = resolve(found, self)
            _J_FACTS(self, found)
        return found

    def with_move(self, entry: TransitionEntry) -> Journey:
        """This journey with ``entry`` added to its history (the engine checks it first)."""
        facts = self._facts
        return self._evolved(
            (*self.history, entry), self.records, None if facts is None else (facts, entry)
        )

    def with_record(self, entry: RecordEntry) -> Journey:
        """This journey with ``entry`` added to its records (the engine checks it first)."""
        facts: object = self._facts
        # An amendment may replace any earlier entry (and only the current stage visit
        # takes new records): then the facts are rebuilt when next read.
        if entry.amends is not None or entry.stage_seq != self.history[-1].seq:
            facts = None
        elif facts is not None:
            facts = (facts, entry)
        return self._evolved(self.history, (*self.records, entry), facts)

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


# The slot setters of the hot path (Journey._evolved and Journey._moved): the
# constructors' work without attrs' per-field frozen-setattr indirection. Neither class
# has validators or converters, so the values are the ones their constructors give.
_NEW = object.__new__
_JOURNEY_FIELDS = (
    "id",
    "patient_id",
    "condition",
    "site",
    "side",
    "cell_source",
    "history",
    "records",
    "known_version",
    "_facts",
)
_ENTRY_FIELDS = (
    "journey_id",
    "seq",
    "source",
    "target",
    "cycle",
    "occurred_at",
    "recorded_at",
    "actor",
    "version",
    "reason",
    "late_reason",
    "override_reason",
    "reason_record",
)
if (
    tuple(a.name for a in attrs.fields(Journey)) != _JOURNEY_FIELDS
    or tuple(a.name for a in attrs.fields(TransitionEntry)) != _ENTRY_FIELDS
):  # pragma: no cover - a guard for whoever changes the fields
    raise RuntimeError("Journey's or TransitionEntry's fields changed: update the fast paths")
_J_SETTERS = tuple(getattr(Journey, name).__set__ for name in _JOURNEY_FIELDS)
_T_SETTERS = tuple(getattr(TransitionEntry, name).__set__ for name in _ENTRY_FIELDS)
(
    _J_ID,
    _J_PATIENT,
    _J_CONDITION,
    _J_SITE,
    _J_SIDE,
    _J_SOURCE,
    _J_HISTORY,
    _J_RECORDS,
    _J_KNOWN,
    _J_FACTS,
) = _J_SETTERS
