"""The store's writes, each inside the caller's ``BEGIN IMMEDIATE`` transaction.

Every change appends one entry to the hash-chained audit log together with the rows
it covers (:func:`append`), then moves the journey's summary row on, only ``WHERE
version = expected`` (:func:`update_state`). Which rows an entry covers, in which
order, is fixed here and read back the same way by ``verify()``:

- ``patient_added``: the patient's row; ``patient_deleted``: its erasure row;
- ``journey_opened``: the journey's identity columns and its opening move;
- ``move``: the move; ``record``, ``score`` and ``amendment``: the record or score;
- ``scores_imported``: the scores of one journey in one import batch, by version;
- ``history_imported`` and ``migrated``: none (they say what happened).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ConflictError
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _rows as r
from stemjourney.store._chain import GENESIS, Chain, rows_digest
from stemjourney.store._tables import AUDIT, JOURNEYS, OBSERVATIONS, RECORDS, TRANSITIONS, Table

__all__ = [
    "ACTIONS",
    "Prev",
    "append",
    "entry_rows",
    "insert_journey",
    "last_entry",
    "update_state",
]

ACTIONS = (
    "patient_added",
    "patient_deleted",
    "journey_opened",
    "move",
    "record",
    "score",
    "amendment",
    "scores_imported",
    "history_imported",
    "migrated",
)
"""Every audit entry's action."""

Prev = tuple[int, bytes]
"""The sequence number and hash of the latest entry."""

_LAST = f"SELECT seq, hash FROM {AUDIT.name} ORDER BY seq DESC LIMIT 1"
_UPDATE_STATE = (
    f"UPDATE {JOURNEYS.name} SET stage = ?, cycle = ?, version = ?, stage_seq = ?, moved_at = ?, "
    "closed_at = coalesce(closed_at, ?), updated_at = ?, last_seq = ? WHERE id = ? AND version = ?"
)
_INSERTS = {t.name: t.insert() for t in (AUDIT, JOURNEYS, TRANSITIONS, RECORDS, OBSERVATIONS)}


def last_entry(conn: sqlite3.Connection) -> Prev:
    """The latest entry's sequence number and hash (0 and the genesis hash when empty)."""
    row = conn.execute(_LAST).fetchone()
    return (0, GENESIS) if row is None else (row[0], bytes(row[1]))


def append(
    conn: sqlite3.Connection,
    chain: Chain,
    prev: Prev,
    *,
    action: str,
    recorded_at: str,
    actor: str,
    rows: Sequence[tuple[Table, Sequence[Any]]] = (),
    covered: Sequence[tuple[str, Sequence[Any]]] = (),
    journey_id: str | None = None,
    patient_id: str | None = None,
    occurred_at: str | None = None,
    reason: str | None = None,
    key: str | None = None,
) -> Prev:
    """Append the entry after ``prev`` and insert the ``rows`` it covers; return it.

    The rows must already carry the entry's sequence number, ``prev[0] + 1``.
    ``covered`` are (table, row) pairs the entry also covers, hashed before ``rows``,
    that the caller writes itself (a journey's identity columns).
    """
    seq = prev[0] + 1
    fields = (seq, action, journey_id, patient_id, occurred_at, recorded_at, actor, reason, key)
    digest = rows_digest([*covered, *((table.name, row) for table, row in rows)])
    hashed = chain.entry_hash(prev[1], fields, digest)
    conn.execute(_INSERTS[AUDIT.name], (*fields, hashed))
    for table, row in rows:
        conn.execute(table.insert(), row)
    return seq, hashed


def entry_rows(
    entry: TransitionEntry | RecordEntry, seq: int
) -> list[tuple[Table, tuple[Any, ...]]]:
    """The row one history entry writes, with the audit entry ``seq`` that covers it."""
    if isinstance(entry, TransitionEntry):
        return [(TRANSITIONS, r.transition_row(entry, seq))]
    if isinstance(entry.record, Score):
        return [(OBSERVATIONS, r.observation_row(entry, seq))]
    return [(RECORDS, r.record_row(entry, seq))]


def insert_journey(conn: sqlite3.Connection, journey: Journey, seq: int, recorded_at: str) -> None:
    """Insert a newly opened journey's summary row, its latest change being entry ``seq``."""
    conn.execute(_INSERTS[JOURNEYS.name], r.state_row(journey, None, recorded_at, seq))


def update_state(
    conn: sqlite3.Connection,
    journey: Journey,
    expected: int,
    closed_at: str | None,
    recorded_at: str,
    seq: int,
) -> None:
    """Move the journey's summary row on, only if it is still at ``expected``.

    Raises :class:`~stemjourney.exceptions.ConflictError` when another writer got there
    first.
    """
    last = journey.last_move
    done = conn.execute(
        _UPDATE_STATE,
        (
            journey.stage,
            journey.cycle,
            journey.version,
            last.seq,
            time_text(last.occurred_at),
            closed_at,
            recorded_at,
            seq,
            journey.id,
            expected,
        ),
    ).rowcount
    if done != 1:  # pragma: no cover - the version is read inside the same transaction
        row = conn.execute(
            f"SELECT version FROM {JOURNEYS.name} WHERE id = ?", (journey.id,)
        ).fetchone()
        raise ConflictError(journey.id, expected, row[0] if row else 0)
