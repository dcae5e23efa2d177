"""History facts: a journey's whole history as plain values, for exports that stream a store.

A :class:`HistoryFacts` holds what a :class:`~stemjourney.Journey` holds (every move
and every record entry, amended originals included) as plain values: times are the
fixed-width ISO-8601 UTC text the store keeps, and each record is the codec's
encoding (a dict of its fields with its ``kind``) beside its canonical JSON text.
:func:`history_facts` takes them from a journey value; a store streams the same type
straight from its rows (``Store.iter_histories()``), so an export of a whole store
never rebuilds and re-validates every record. :func:`journey_from_facts` turns them
back into a journey value, every record checked again by its class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from stemjourney.clinical._codec import (
    canonical_json,
    decode_record,
    encode,
    encode_record,
    parse_time,
    time_text,
)
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry

__all__ = [
    "HistoryFacts",
    "MoveFacts",
    "RecordFacts",
    "history_facts",
    "journey_from_facts",
    "record_text",
]


class MoveFacts(NamedTuple):
    """One move of a journey's history (the opening is the first, ``source`` ``None``).

    ``reason_record`` is the codec's encoding of a structured reason, or ``None``.
    """

    seq: int
    version: int
    source: str | None
    target: str
    cycle: int
    occurred_at: str
    recorded_at: str
    actor: str
    reason: str | None
    late_reason: str | None
    override_reason: str | None
    reason_record: Mapping[str, Any] | None


class RecordFacts(NamedTuple):
    """One record entry, the record as the codec encodes it (``data``); :func:`record_text`
    gives its canonical JSON."""

    version: int
    kind: str
    data: Mapping[str, Any]
    cycle: int
    stage: str
    stage_seq: int
    recorded_at: str
    actor: str
    amends: int | None
    reason: str | None


class HistoryFacts(NamedTuple):
    """A journey's identity, its moves in ``seq`` order and its records in version order."""

    journey_id: str
    patient_id: str
    condition: str
    site: str
    side: str
    cell_source: str
    moves: tuple[MoveFacts, ...]
    records: tuple[RecordFacts, ...]


def history_facts(journey: Journey) -> HistoryFacts:
    """The history facts of ``journey`` (the store gives the same for the same journey)."""
    moves = tuple(
        MoveFacts(
            e.seq,
            e.version,
            e.source,
            e.target,
            e.cycle,
            time_text(e.occurred_at),
            time_text(e.recorded_at),
            e.actor,
            e.reason,
            e.late_reason,
            e.override_reason,
            None if e.reason_record is None else encode(e.reason_record),
        )
        for e in journey.history
    )
    records = []
    for e in journey.records:
        data = encode_record(e.record)
        records.append(
            RecordFacts(
                e.version,
                e.record.kind,
                data,
                e.cycle,
                e.stage,
                e.stage_seq,
                time_text(e.recorded_at),
                e.actor,
                e.amends,
                e.reason,
            )
        )
    return HistoryFacts(
        journey.id,
        journey.patient_id,
        journey.condition,
        journey.site,
        journey.side.value,
        journey.cell_source.value,
        moves,
        tuple(records),
    )


def record_text(facts: RecordFacts) -> str:
    """The canonical JSON of the record of ``facts``."""
    return canonical_json(facts.data)


def journey_from_facts(facts: HistoryFacts) -> Journey:
    """The journey value of ``facts``; every record and reason is checked by its class.

    Raises :class:`~stemjourney.exceptions.ValidationError` naming the field a record
    refuses. The history itself is not replayed here (the store checks it on import).
    """
    history = tuple(
        TransitionEntry(
            journey_id=facts.journey_id,
            seq=m.seq,
            source=m.source,
            target=m.target,
            cycle=m.cycle,
            occurred_at=parse_time(m.occurred_at),
            recorded_at=parse_time(m.recorded_at),
            actor=m.actor,
            version=m.version,
            reason=m.reason,
            late_reason=m.late_reason,
            override_reason=m.override_reason,
            reason_record=None if m.reason_record is None else decode_record(m.reason_record),
        )
        for m in facts.moves
    )
    records = tuple(
        RecordEntry(
            journey_id=facts.journey_id,
            record=decode_record(r.data),
            cycle=r.cycle,
            stage=r.stage,
            stage_seq=r.stage_seq,
            recorded_at=parse_time(r.recorded_at),
            actor=r.actor,
            version=r.version,
            amends=r.amends,
            reason=r.reason,
        )
        for r in facts.records
    )
    return Journey(
        facts.journey_id,
        facts.patient_id,
        facts.condition,
        facts.site,
        Side(facts.side),
        CellSource(facts.cell_source),
        history=history,
        records=records,
    )
