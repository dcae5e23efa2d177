"""Rows to domain values and back: the only module that knows the tables' column order.

Named constructors (``journey_from_rows``, ``patient_from_row``...) build values
from rows; ``*_row`` functions build the tuples the INSERT statements take.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from stemjourney.clinical._codec import canonical_json, decode_record, encode, parse_time, time_text
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry

__all__ = [
    "Entry",
    "journey_from_rows",
    "observation_row",
    "patient_from_row",
    "patient_row",
    "record_from_row",
    "record_row",
    "transition_from_row",
    "transition_row",
]

Row = Sequence[Any]
Entry = TransitionEntry | RecordEntry


def patient_row(patient: Patient, added_at: str, added_by: str) -> tuple[Any, ...]:
    """The ``patients`` row of ``patient``."""
    birth = None if patient.birth_date is None else patient.birth_date.isoformat()
    return (
        patient.id,
        patient.external_id,
        patient.external_key,
        patient.display_name,
        birth,
        added_at,
        added_by,
    )


def patient_from_row(row: Row) -> Patient:
    """The patient a ``patients`` row holds (the columns of ``SQL['patient']``)."""
    return Patient(
        id=row[0],
        external_id=row[1],
        display_name=row[3],
        birth_date=None if row[4] is None else date.fromisoformat(row[4]),
    )


def transition_row(entry: TransitionEntry, audit_id: int) -> tuple[Any, ...]:
    """The ``transitions`` row of a history entry."""
    return (
        entry.journey_id,
        entry.seq,
        entry.version,
        entry.source,
        entry.target,
        entry.cycle,
        time_text(entry.occurred_at),
        time_text(entry.recorded_at),
        entry.actor,
        entry.reason,
        entry.late_reason,
        entry.override_reason,
        audit_id,
        reason_record_text(entry),
    )


def reason_record_text(entry: TransitionEntry) -> str | None:
    """The canonical JSON of a move's reason record, or ``None``."""
    found = entry.reason_record
    return None if found is None else canonical_json(encode(found))


def transition_from_row(row: Row) -> TransitionEntry:
    """The history entry of a ``transitions`` row (the columns its query selects)."""
    return TransitionEntry(
        journey_id=row[0],
        seq=row[1],
        version=row[2],
        source=row[3],
        target=row[4],
        cycle=row[5],
        occurred_at=parse_time(row[6]),
        recorded_at=parse_time(row[7]),
        actor=row[8],
        reason=row[9],
        late_reason=row[10],
        override_reason=row[11],
        reason_record=None if row[13] is None else decode_record(json.loads(row[13])),
    )


def record_row(entry: RecordEntry, audit_id: int) -> tuple[Any, ...]:
    """The ``records`` row of a record entry (not a score)."""
    rec = entry.record
    return (
        entry.journey_id,
        entry.version,
        rec.kind,
        time_text(rec.occurred_at),
        canonical_json(encode(rec)),
        entry.cycle,
        entry.stage,
        entry.stage_seq,
        time_text(entry.recorded_at),
        entry.actor,
        entry.amends,
        entry.reason,
        audit_id,
    )


def observation_row(entry: RecordEntry, audit_id: int) -> tuple[Any, ...]:
    """The ``observations`` row of a score entry."""
    score = entry.record
    assert isinstance(score, Score)
    answers = None if score.answers is None else canonical_json(encode(score.answers))
    return (
        entry.journey_id,
        entry.version,
        score.instrument,
        score.value,
        answers,
        time_text(score.measured_at),
        entry.cycle,
        entry.stage,
        entry.stage_seq,
        time_text(entry.recorded_at),
        entry.actor,
        entry.amends,
        entry.reason,
        audit_id,
    )


def _entry(row: Row, record: Any, offset: int) -> RecordEntry:
    return RecordEntry(
        journey_id=row[0],
        record=record,
        cycle=row[offset],
        stage=row[offset + 1],
        stage_seq=row[offset + 2],
        recorded_at=parse_time(row[offset + 3]),
        actor=row[offset + 4],
        version=row[1],
        amends=row[offset + 5],
        reason=row[offset + 6],
    )


def record_from_row(row: Row) -> RecordEntry:
    """The entry of a ``records`` row (the columns its query selects)."""
    return _entry(row, decode_record(json.loads(row[4])), 5)


def observation_from_row(row: Row) -> RecordEntry:
    """The entry of an ``observations`` row (the columns its query selects)."""
    data = {
        "kind": Score.kind,
        "instrument": row[2],
        "value": row[3],
        "measured_at": row[5],
        "answers": None if row[4] is None else json.loads(row[4]),
    }
    return _entry(row, decode_record(data), 6)


def journey_from_rows(
    row: Row, history: Iterable[TransitionEntry], records: Iterable[RecordEntry]
) -> Journey:
    """The journey of a ``journeys`` row (the columns its query selects) and its entries.

    ``records`` may come from both tables in any order; they are put in version order.
    """
    return Journey(
        row[0],
        row[1],
        row[2],
        row[3],
        Side(row[4]),
        CellSource(row[5]),
        history=tuple(sorted(history, key=lambda e: e.seq)),
        records=tuple(sorted(records, key=lambda e: e.version)),
    )
