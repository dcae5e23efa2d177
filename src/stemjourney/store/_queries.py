"""The store's reads: journeys with their history, patients, and the lookups a host needs.

Every function takes a ``Db`` and returns domain values; each query
is served by an index of the schema (see ``tests/test_store_queries.py``). A history
row is read with its stage (the move its ``stage_seq`` names) and its audit entry's
``recorded_at``, ``actor`` and ``reason``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from stemjourney.clinical._patient import Patient
from stemjourney.journey._history import HistoryFacts, MoveFacts, RecordFacts
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _rows as r
from stemjourney.store._db import Db
from stemjourney.store._tables import AUDIT, JOURNEYS, OBSERVATIONS, PATIENTS, RECORDS, TRANSITIONS

__all__ = [
    "SQL",
    "entries_of",
    "iter_histories",
    "iter_journeys",
    "iter_patients",
    "journey_as_of",
    "journey_row",
    "journeys_in",
    "journeys_of",
    "load",
    "patient",
    "patient_by_key",
]

_AUDIT = "a.recorded_at, a.actor, a.reason"
_MOVE_AUDIT = f"a.occurred_at, {_AUDIT}"
"""A move's clinical time is its audit entry's (``transitions`` does not repeat it)."""


def _entries(table: Any, alias: str, where: str) -> str:
    columns = ", ".join(f"{alias}.{n}" for n in table.names)
    return (
        f"SELECT {columns}, s.target, {_AUDIT} FROM {table.name} AS {alias}"
        f" JOIN {TRANSITIONS.name} AS s ON s.journey_id = {alias}.journey_id"
        f" AND s.seq = {alias}.stage_seq"
        f" JOIN {AUDIT.name} AS a ON a.id = {alias}.audit_id WHERE {where}"
    )


def _moves(where: str) -> str:
    columns = ", ".join(f"t.{n}" for n in TRANSITIONS.names)
    return (
        f"SELECT {columns}, {_MOVE_AUDIT} FROM {TRANSITIONS.name} AS t"
        f" JOIN {AUDIT.name} AS a ON a.id = t.audit_id WHERE {where}"
    )


_MANY = "IN (SELECT value FROM json_each(?))"

SQL = {
    "journey": JOURNEYS.select("id = ?"),
    "journeys_of": JOURNEYS.select("patient_id = ?", "id"),
    "journeys_in": JOURNEYS.select("stage = ?", "id"),
    "journeys_after": JOURNEYS.select("id > ?", "id LIMIT ?"),
    "patient": PATIENTS.select("id = ?"),
    "patients_after": PATIENTS.select("id > ?", "id LIMIT ?"),
    "patient_by_key": PATIENTS.select("external_key = ?"),
    "transitions": _moves("t.journey_id = ?"),
    "records": _entries(RECORDS, "r", "r.journey_id = ?"),
    "observations": _entries(OBSERVATIONS, "o", "o.journey_id = ?"),
    "transitions_of_many": _moves(f"t.journey_id {_MANY}"),
    "records_of_many": _entries(RECORDS, "r", f"r.journey_id {_MANY}"),
    "observations_of_many": _entries(OBSERVATIONS, "o", f"o.journey_id {_MANY}"),
    "history_journeys": JOURNEYS.select(f"patient_id {_MANY}", "patient_id, id"),
}
"""The statements of this module, by name (the query-plan tests read them)."""

_CHUNK = 500


def patient(conn: Db, patient_id: str) -> Patient | None:
    """The patient with ``patient_id``, or ``None``."""
    row = conn.execute(SQL["patient"], (patient_id,)).fetchone()
    return None if row is None else r.patient_from_row(row)


def patient_by_key(conn: Db, external_key: str) -> Patient | None:
    """The patient whose normalised external id is ``external_key``, or ``None``."""
    row = conn.execute(SQL["patient_by_key"], (external_key,)).fetchone()
    return None if row is None else r.patient_from_row(row)


def _grouped(
    conn: Db, ids: Sequence[str]
) -> dict[str, tuple[list[TransitionEntry], list[RecordEntry]]]:
    grouped: dict[str, tuple[list[TransitionEntry], list[RecordEntry]]] = {i: ([], []) for i in ids}
    args = (json.dumps(list(ids)),)
    for row in conn.execute(SQL["transitions_of_many"], args):
        grouped[row[0]][0].append(r.transition_from_row(row))
    for row in conn.execute(SQL["records_of_many"], args):
        grouped[row[0]][1].append(r.record_from_row(row))
    for row in conn.execute(SQL["observations_of_many"], args):
        grouped[row[0]][1].append(r.observation_from_row(row))
    return grouped


def load(conn: Db, rows: Sequence[Sequence[Any]]) -> list[Journey]:
    """The journeys of ``journeys`` rows, each with its whole history and records."""
    found: list[Journey] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        entries = _grouped(conn, [row[0] for row in chunk])
        found.extend(r.journey_from_rows(row, *entries[row[0]]) for row in chunk)
    return found


def journey_row(conn: Db, journey_id: str) -> Any:
    """The summary row of the journey with ``journey_id``, or ``None``."""
    return conn.execute(SQL["journey"], (journey_id,)).fetchone()


def journeys_of(conn: Db, patient_id: str) -> list[Journey]:
    """The journeys of one patient, by id."""
    return load(conn, conn.execute(SQL["journeys_of"], (patient_id,)).fetchall())


def journeys_in(conn: Db, stage: str) -> list[Journey]:
    """The journeys now in ``stage``, by id."""
    return load(conn, conn.execute(SQL["journeys_in"], (stage,)).fetchall())


def iter_patients(conn: Db, batch_size: int) -> Iterator[Patient]:
    """Every patient by id, read ``batch_size`` at a time."""
    last = ""
    while True:
        rows = conn.execute(SQL["patients_after"], (last, batch_size)).fetchall()
        if not rows:
            return
        yield from (r.patient_from_row(row) for row in rows)
        last = rows[-1][0]


def iter_journeys(conn: Db, batch_size: int) -> Iterator[Journey]:
    """Every journey by id, loaded ``batch_size`` at a time."""
    last = ""
    while True:
        rows = conn.execute(SQL["journeys_after"], (last, batch_size)).fetchall()
        if not rows:
            return
        yield from load(conn, rows)
        last = rows[-1][0]


def journey_as_of(journey: Journey, moment: datetime) -> Journey | None:
    """``journey`` as its record stood at ``moment`` (system time), or ``None`` before it.

    The entries are taken in version order up to the first one recorded after
    ``moment``, so the result is always a state the journey really had.
    """
    entries: list[TransitionEntry | RecordEntry] = sorted(
        (*journey.history, *journey.records), key=lambda e: e.version
    )
    kept: list[TransitionEntry | RecordEntry] = []
    for entry in entries:
        if entry.recorded_at > moment:
            break
        kept.append(entry)
    if not kept:
        return None
    return attrs.evolve(
        journey,
        history=tuple(e for e in kept if isinstance(e, TransitionEntry)),
        records=tuple(e for e in kept if isinstance(e, RecordEntry)),
    )


def entries_of(conn: Db, journey_id: str) -> list[TransitionEntry | RecordEntry]:
    """Every entry of one journey, moves first, then records and scores."""
    found: list[TransitionEntry | RecordEntry] = []
    found.extend(
        r.transition_from_row(row) for row in conn.execute(SQL["transitions"], (journey_id,))
    )
    found.extend(r.record_from_row(row) for row in conn.execute(SQL["records"], (journey_id,)))
    found.extend(
        r.observation_from_row(row) for row in conn.execute(SQL["observations"], (journey_id,))
    )
    return found


# -- history facts: the rows as plain values, for exports that stream the store -------------

_T = len(TRANSITIONS.columns)
_R = len(RECORDS.columns)
_O = len(OBSERVATIONS.columns)


def _history_entries(
    conn: Db, ids: Sequence[str]
) -> dict[str, tuple[list[MoveFacts], list[RecordFacts]]]:
    """The moves and record entries of the journeys ``ids`` as plain facts (no decoding)."""
    grouped: dict[str, tuple[list[MoveFacts], list[RecordFacts]]] = {i: ([], []) for i in ids}
    args = (json.dumps(list(ids)),)
    loads = json.loads
    for row in conn.execute(SQL["transitions_of_many"], args):
        occurred, recorded, actor, reason = row[_T : _T + 4]
        grouped[row[0]][0].append(
            MoveFacts(
                row[1], row[2], row[3], row[4], row[5], occurred, recorded, actor, reason,
                row[6], row[7], None if row[8] is None else loads(row[8]),
            )
        )  # fmt: skip
    for row in conn.execute(SQL["records_of_many"], args):
        stage, recorded, actor, reason = row[_R : _R + 4]
        grouped[row[0]][1].append(
            RecordFacts(
                row[1], row[2], r.record_data(row[2], row[3], row[4]), row[5], stage, row[6],
                recorded, actor, row[7], reason,
            )
        )  # fmt: skip
    for row in conn.execute(SQL["observations_of_many"], args):
        stage, recorded, actor, reason = row[_O : _O + 4]
        data = {
            "answers": None if row[4] is None else loads(row[4]),
            "instrument": row[2],
            "kind": "score",
            "measured_at": row[5],
            "value": float(row[3]),
        }
        grouped[row[0]][1].append(
            RecordFacts(
                row[1], "score", data, row[6], stage, row[7], recorded, actor, row[8], reason,
            )
        )  # fmt: skip
    return grouped


def iter_histories(conn: Db, batch_size: int) -> Iterator[tuple[Patient, list[HistoryFacts]]]:
    """Every patient by id with the history facts of its journeys by id, in one ordered pass.

    Patients are read ``batch_size`` at a time, with their journeys and those journeys'
    entries in four queries a batch; records are passed on as the JSON they are stored
    as, not rebuilt.
    """
    last = ""
    while True:
        rows = conn.execute(SQL["patients_after"], (last, batch_size)).fetchall()
        if not rows:
            return
        ids = [row[0] for row in rows]
        journeys = conn.execute(SQL["history_journeys"], (json.dumps(ids),)).fetchall()
        by_patient: dict[str, list[HistoryFacts]] = {i: [] for i in ids}
        for start in range(0, len(journeys), _CHUNK):
            chunk = journeys[start : start + _CHUNK]
            entries = _history_entries(conn, [j[0] for j in chunk])
            for j in chunk:
                moves, records = entries[j[0]]
                moves.sort()
                records.sort(key=_version)
                by_patient[j[1]].append(
                    HistoryFacts(j[0], j[1], j[2], j[3], j[4], j[5], tuple(moves), tuple(records))
                )
        for row in rows:
            yield r.patient_from_row(row), by_patient[row[0]]
        last = ids[-1]


def _version(facts: RecordFacts) -> int:
    return facts.version
