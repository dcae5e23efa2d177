"""Rows to domain values and back, in the column order of :mod:`._tables`.

``*_row`` functions build the tuples the INSERT statements take; named constructors
(``patient_from_row``, ``transition_from_row``...) build values from the rows the
SELECTs of :mod:`._queries` return: a history row followed by the entry's stage
(for records and scores) and its audit entry's ``recorded_at``, ``actor`` and
``reason`` (for a move, its entry's ``occurred_at`` first: a move's clinical time is
kept in its audit entry only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import attrs

from stemjourney.clinical._codec import (
    RECORD_TYPES,
    canonical_json,
    decode_record,
    encode,
    parse_time,
    time_text,
)
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.exceptions import ValidationError
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store._tables import JOURNEYS, OBSERVATIONS, RECORDS, TRANSITIONS

__all__ = [
    "Entry",
    "identity_row",
    "journey_from_rows",
    "observation_row",
    "patient_from_row",
    "patient_row",
    "record_data",
    "record_from_row",
    "record_payload",
    "record_row",
    "score_value",
    "state_row",
    "transition_from_row",
    "transition_row",
]

Row = Sequence[Any]
Entry = TransitionEntry | RecordEntry

_IDENTITY = JOURNEYS.names[:7]
"""The journey columns fixed at opening (the opening entry's hash covers them)."""
_T = len(TRANSITIONS.columns)
_R = len(RECORDS.columns)
_O = len(OBSERVATIONS.columns)


def patient_row(patient: Patient, added_at: str, added_by: str, audit_id: int) -> tuple[Any, ...]:
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
        audit_id,
    )


def patient_from_row(row: Row) -> Patient:
    """The patient a ``patients`` row holds."""
    return Patient(
        id=row[0],
        external_id=row[1],
        display_name=row[3],
        birth_date=None if row[4] is None else date.fromisoformat(row[4]),
    )


def identity_row(journey: Journey) -> tuple[Any, ...]:
    """The columns of a journey's row fixed when it opens: id to ``opened_at``."""
    return (
        journey.id,
        journey.patient_id,
        journey.condition,
        journey.site,
        journey.side.value,
        journey.cell_source.value,
        time_text(journey.opened_at),
    )


def state_row(
    journey: Journey, closed_at: str | None, updated_at: str, last_audit_id: int
) -> tuple[Any, ...]:
    """The whole ``journeys`` row of ``journey`` as it stands."""
    last = journey.last_move
    return (
        *identity_row(journey),
        journey.stage,
        journey.cycle,
        journey.version,
        last.seq,
        time_text(last.occurred_at),
        closed_at,
        updated_at,
        last_audit_id,
    )


def _reason_record(entry: TransitionEntry) -> str | None:
    found = entry.reason_record
    return None if found is None else canonical_json(encode(found))


def transition_row(entry: TransitionEntry, audit_id: int) -> tuple[Any, ...]:
    """The ``transitions`` row of a history entry."""
    return (
        entry.journey_id,
        entry.seq,
        entry.version,
        entry.source,
        entry.target,
        entry.cycle,
        entry.late_reason,
        entry.override_reason,
        _reason_record(entry),
        audit_id,
    )


def transition_from_row(row: Row) -> TransitionEntry:
    """The history entry of a ``transitions`` row and its audit entry's fields (its clinical
    time, then its system time, actor and reason)."""
    occurred, recorded, actor, reason = row[_T : _T + 4]
    return TransitionEntry(
        journey_id=row[0],
        seq=row[1],
        version=row[2],
        source=row[3],
        target=row[4],
        cycle=row[5],
        occurred_at=parse_time(occurred),
        recorded_at=parse_time(recorded),
        actor=actor,
        reason=reason,
        late_reason=row[6],
        override_reason=row[7],
        reason_record=None if row[8] is None else decode_record(json.loads(row[8])),
    )


def _empty_fields(cls: type[Any]) -> dict[str, Any]:
    """The fields of ``cls`` whose default is empty, with that default as the codec writes
    it (``None``, or ``[]`` for an empty set)."""
    empty = {}
    for a in attrs.fields(cls):
        default = a.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            if default.takes_self:
                continue  # a default made from the record's other fields is kept
            default = default.factory()
        if default is not attrs.NOTHING:
            encoded = encode(default)
            if encoded is None or encoded == []:
                empty[a.name] = encoded
    return empty


_EMPTY = {kind: _empty_fields(cls) for kind, cls in RECORD_TYPES.items()}
_TIME_FIELD = {kind: getattr(cls, "time_field", "") for kind, cls in RECORD_TYPES.items()}


def record_payload(record: Any) -> str:
    """A record's ``payload``: its fields as canonical JSON, less what the row's own columns
    hold (its ``kind`` and its clinical time, ``occurred_at``) and less the fields left at
    an empty default (``None``, an empty set); :func:`record_data` puts them back.

    >>> from datetime import UTC, datetime
    >>> from stemjourney.clinical._records import Consent
    >>> record_payload(Consent(signed_at=datetime(2026, 1, 5, 9, tzinfo=UTC), form_version="v3"))
    '{"form_version":"v3","scope":"treatment"}'
    """
    data = encode(record)
    kind = data.pop("kind")
    del data[_TIME_FIELD[kind]]
    empty = _EMPTY[kind]
    return canonical_json({k: v for k, v in data.items() if k not in empty or v != empty[k]})


def record_data(kind: str, occurred_at: str, payload: Any) -> dict[str, Any]:
    """The record of a ``records`` row as the codec encodes it: :func:`record_payload`
    undone, its ``kind`` and time put back from the row's columns, its empty fields from
    their defaults."""
    try:
        fields = json.loads(payload)
    except (TypeError, ValueError):  # the error would quote the stored text
        raise ValidationError("payload", "is not JSON", "the record's fields as JSON") from None
    if not isinstance(fields, dict):
        raise ValidationError("payload", "is not a JSON object", "the record's fields")
    data: dict[str, Any] = {**_EMPTY.get(kind, {}), **fields, "kind": kind}
    if kind in _TIME_FIELD:  # an unknown kind is refused by decode_record
        data[_TIME_FIELD[kind]] = occurred_at
    return data


def record_row(entry: RecordEntry, audit_id: int) -> tuple[Any, ...]:
    """The ``records`` row of a record entry (not a score)."""
    rec = entry.record
    return (
        entry.journey_id,
        entry.version,
        rec.kind,
        time_text(rec.occurred_at),
        record_payload(rec),
        entry.cycle,
        entry.stage_seq,
        entry.amends,
        audit_id,
    )


def score_value(value: float) -> int | float:
    """A score's value as stored: whole numbers as integers, so they read back whole."""
    return int(value) if value.is_integer() else value


def observation_row(entry: RecordEntry, audit_id: int) -> tuple[Any, ...]:
    """The ``observations`` row of a score entry."""
    score = entry.record
    assert isinstance(score, Score)
    answers = None if score.answers is None else canonical_json(encode(score.answers))
    return (
        entry.journey_id,
        entry.version,
        score.instrument,
        score_value(score.value),
        answers,
        time_text(score.measured_at),
        entry.cycle,
        entry.stage_seq,
        entry.amends,
        audit_id,
    )


def _entry(
    row: Row, record: Any, width: int, cycle: int, stage_seq: int, amends: int
) -> RecordEntry:
    stage, recorded, actor, reason = row[width : width + 4]
    return RecordEntry(
        journey_id=row[0],
        record=record,
        cycle=row[cycle],
        stage=stage,
        stage_seq=row[stage_seq],
        recorded_at=parse_time(recorded),
        actor=actor,
        version=row[1],
        amends=row[amends],
        reason=reason,
    )


def record_from_row(row: Row) -> RecordEntry:
    """The entry of a ``records`` row, its stage and its audit entry's fields."""
    return _entry(row, decode_record(record_data(row[2], row[3], row[4])), _R, 5, 6, 7)


def observation_from_row(row: Row) -> RecordEntry:
    """The entry of an ``observations`` row, its stage and its audit entry's fields."""
    data = {
        "kind": Score.kind,
        "instrument": row[2],
        "value": row[3],
        "measured_at": row[5],
        "answers": None if row[4] is None else json.loads(row[4]),
    }
    return _entry(row, decode_record(data), _O, 6, 7, 8)


def journey_from_rows(
    row: Row,
    history: Iterable[TransitionEntry],
    records: Iterable[RecordEntry],
    *,
    complete: bool = True,
) -> Journey:
    """The journey of a ``journeys`` row and its entries.

    ``records`` may come from both tables in any order; they are put in version order.
    Without ``complete``, the value holds only some entries (a store's working copy for
    a write) and keeps the stored version.
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
        known_version=None if complete else row[JOURNEYS.index("version")],
    )
