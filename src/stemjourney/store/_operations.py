"""Each write of the store, as a function run inside one ``BEGIN IMMEDIATE`` transaction.

:class:`~stemjourney.store.Store` checks its arguments, opens the transaction and
calls one of these; each appends its audit entry with the rows it covers
(:func:`._writes.append`) and moves the summary rows on. An error anywhere rolls
everything back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._records import Injection
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import DuplicateError, IntegrityError, NotFoundError
from stemjourney.journey._engine import Engine
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _queries as q
from stemjourney.store import _rows as r
from stemjourney.store import _schedule as schedule
from stemjourney.store import _writes as w
from stemjourney.store._chain import Chain, rows_digest
from stemjourney.store._state import working
from stemjourney.store._tables import (
    AUDIT,
    JOURNEYS,
    OBSERVATIONS,
    PATIENT_ERASURES,
    PATIENTS,
    RECORDS,
    TRANSITIONS,
)

__all__ = [
    "Context",
    "add_patient",
    "apply",
    "delete_patient",
    "earlier_write",
    "import_journey",
    "open_journey",
    "working_or_missing",
]

_BY_KEY = f"SELECT action, patient_id, journey_id FROM {AUDIT.name} WHERE idempotency_key = ?"
_EXISTS = f"SELECT 1 FROM {JOURNEYS.name} WHERE id = ?"
_COUNT_OF = f"SELECT count(*) FROM {JOURNEYS.name} WHERE patient_id = ?"


class Context:
    """What every write needs: the connection inside its transaction, the chain, the engine."""

    __slots__ = ("chain", "conn", "engine")

    def __init__(self, conn: sqlite3.Connection, chain: Chain, engine: Engine) -> None:
        self.conn = conn
        self.chain = chain
        self.engine = engine

    def now(self) -> str:
        """The system time, as the store writes it."""
        return time_text(self.engine.clock.now())


def earlier_write(
    ctx: Context, key: str | None, actions: Sequence[str], journey_id: str | None = None
) -> tuple[str | None, str | None] | None:
    """The (patient, journey) ids of an earlier write with ``key``, or ``None``.

    Raises :class:`DuplicateError` when the key was used for another kind of write.
    """
    if key is None:
        return None
    row = ctx.conn.execute(_BY_KEY, (key,)).fetchone()
    if row is None:
        return None
    if row[0] not in actions or (journey_id is not None and row[2] != journey_id):
        raise DuplicateError(
            f"idempotency_key was already used for a {row[0]} on "
            f"{row[2] or row[1]}; allowed: a key not used for another write"
        )
    return row[1], row[2]


def working_or_missing(ctx: Context, journey_id: str) -> Journey:
    """The journey's working copy; :class:`NotFoundError` when there is none."""
    found = working(ctx.conn, journey_id)
    if found is None:
        raise NotFoundError("journey", journey_id)
    return found


def add_patient(ctx: Context, patient: Patient, actor: str, key: str | None = None) -> None:
    """Add ``patient``, refusing a taken id or external id."""
    conn = ctx.conn
    if q.patient(conn, patient.id) is not None:
        raise DuplicateError(f"patient_id {patient.id} is taken; allowed: a new id")
    other = q.patient_by_key(conn, patient.external_key)
    if other is not None:
        raise DuplicateError(
            f"external_id is already the external id of patient {other.id} (compared "
            "ignoring case, surrounding spaces and Unicode form); allowed: a new one"
        )
    now = ctx.now()
    prev = w.last_entry(conn)
    row = r.patient_row(patient, now, actor, prev[0] + 1)
    w.append(
        conn,
        ctx.chain,
        prev,
        action="patient_added",
        patient_id=patient.id,
        recorded_at=now,
        actor=actor,
        key=key,
        rows=[(PATIENTS, row)],
    )


def delete_patient(ctx: Context, patient_id: str, actor: str) -> None:
    """Delete a patient without journeys, keeping the digest of its row for the chain."""
    conn = ctx.conn
    row = conn.execute(PATIENTS.select("id = ?"), (patient_id,)).fetchone()
    if row is None:
        raise NotFoundError("patient", patient_id)
    count = conn.execute(_COUNT_OF, (patient_id,)).fetchone()[0]
    if count:
        raise IntegrityError(
            f"patient {patient_id} has {count} journey(s); a patient with history cannot "
            "be deleted; allowed: void the journeys, keeping the record"
        )
    prev = w.last_entry(conn)
    digest = rows_digest([(PATIENTS.name, row)])
    erasure = (patient_id, row[PATIENTS.index("audit_seq")], digest, prev[0] + 1)
    w.append(
        conn,
        ctx.chain,
        prev,
        action="patient_deleted",
        patient_id=patient_id,
        recorded_at=ctx.now(),
        actor=actor,
        rows=[(PATIENT_ERASURES, erasure)],
    )
    conn.execute(f"DELETE FROM {PATIENTS.name} WHERE id = ?", (patient_id,))


def open_journey(ctx: Context, journey: Journey, key: str | None = None) -> None:
    """Write a newly opened journey: its summary row, its opening move, the entry."""
    conn = ctx.conn
    if q.patient(conn, journey.patient_id) is None:
        raise NotFoundError("patient", journey.patient_id)
    if conn.execute(_EXISTS, (journey.id,)).fetchone():
        raise DuplicateError(f"journey_id {journey.id} is taken; allowed: a new id")
    opening = journey.history[0]
    recorded = time_text(opening.recorded_at)
    prev = w.last_entry(conn)
    seq = prev[0] + 1
    w.insert_journey(conn, journey, seq, recorded)
    w.append(
        conn,
        ctx.chain,
        prev,
        action="journey_opened",
        journey_id=journey.id,
        occurred_at=time_text(opening.occurred_at),
        recorded_at=recorded,
        actor=opening.actor,
        key=key,
        covered=[(JOURNEYS.name, r.identity_row(journey))],
        rows=w.entry_rows(opening, seq),
    )


def _action(entry: TransitionEntry | RecordEntry) -> str:
    if isinstance(entry, TransitionEntry):
        return "journey_opened" if entry.source is None else "move"
    if entry.amends is not None:
        return "amendment"
    return "score" if isinstance(entry.record, Score) else "record"


def _fields(entry: TransitionEntry | RecordEntry, seq: int, key: str | None) -> tuple[Any, ...]:
    """The audit entry's own fields for one history entry (all but its hash)."""
    occurred = entry.occurred_at if isinstance(entry, TransitionEntry) else entry.record.occurred_at
    return (
        seq,
        _action(entry),
        entry.journey_id,
        None,
        time_text(occurred),
        time_text(entry.recorded_at),
        entry.actor,
        entry.reason,
        key,
    )


def apply(
    ctx: Context,
    before: Journey,
    after: Journey,
    entry: TransitionEntry | RecordEntry,
    key: str | None = None,
) -> None:
    """Write one entry the engine made (a move, a record, a score or an amendment)."""
    conn = ctx.conn
    prev = w.last_entry(conn)
    seq = prev[0] + 1
    fields = _fields(entry, seq, key)
    w.append(
        conn,
        ctx.chain,
        prev,
        action=fields[1],
        journey_id=after.id,
        occurred_at=fields[4],
        recorded_at=fields[5],
        actor=entry.actor,
        reason=entry.reason,
        key=key,
        rows=w.entry_rows(entry, seq),
    )
    closed = None
    if isinstance(entry, TransitionEntry) and ctx.engine.pipeline.is_outcome(entry.target):
        closed = time_text(entry.occurred_at)
    w.update_state(conn, after, before.version, closed, fields[5], seq)
    if isinstance(entry, RecordEntry):
        _keep_schedule(ctx, before, after, entry)


def _keep_schedule(ctx: Context, before: Journey, after: Journey, entry: RecordEntry) -> None:
    """Plan the visits again after an injection; mark the visit a score completes."""
    record = entry.record
    if isinstance(record, Injection):
        schedule.plan(ctx.conn, after, ctx.engine.protocol)
    elif isinstance(record, Score):
        if entry.amends is None:
            schedule.scored(ctx.conn, after.id, record.measured_at)
        else:
            was = next(e.record for e in before.records if e.version == entry.amends)
            schedule.rescored(ctx.conn, after.id, (was.occurred_at, record.measured_at))


def import_journey(ctx: Context, journey: Journey) -> None:
    """Write a whole journey as it was, after replaying it through the engine.

    The same rows and entries as writing it change by change, in a few statements.
    """
    conn = ctx.conn
    if q.patient(conn, journey.patient_id) is None:
        raise NotFoundError("patient", journey.patient_id)
    if conn.execute(_EXISTS, (journey.id,)).fetchone():
        raise DuplicateError(f"journey_id {journey.id} is taken; allowed: a new id")
    ctx.engine.replay(journey)
    entries: list[TransitionEntry | RecordEntry] = sorted(
        (*journey.history, *journey.records), key=lambda e: e.version
    )
    start, prev = w.last_entry(conn)
    closed = next(
        (
            time_text(e.occurred_at)
            for e in journey.history
            if ctx.engine.pipeline.is_outcome(e.target)
        ),
        None,
    )
    last = entries[-1]
    conn.execute(
        JOURNEYS.insert(),
        r.state_row(journey, closed, time_text(last.recorded_at), start + len(entries)),
    )
    audit: list[tuple[Any, ...]] = []
    rows: dict[str, list[tuple[Any, ...]]] = {}
    identity = [(JOURNEYS.name, r.identity_row(journey))]
    for n, entry in enumerate(entries, start=1):
        seq = start + n
        fields = _fields(entry, seq, None)
        written = w.entry_rows(entry, seq)
        covered = [*(identity if n == 1 else ()), *((t.name, row) for t, row in written)]
        prev = ctx.chain.entry_hash(prev, fields, rows_digest(covered))
        audit.append((*fields, prev))
        for table, row in written:
            rows.setdefault(table.name, []).append(row)
    conn.executemany(AUDIT.insert(), audit)
    for table in (TRANSITIONS, RECORDS, OBSERVATIONS):
        if table.name in rows:
            conn.executemany(table.insert(), rows[table.name])
    schedule.plan(conn, journey, ctx.engine.protocol)
