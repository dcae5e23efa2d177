"""Each write of the store, as a function run inside one write transaction.

:class:`~stemjourney.store.Store` checks its arguments, opens the transaction (through
its backend) and calls one of these; each appends its audit entry with the rows it
covers (:func:`._writes.append`) and moves the summary rows on. An error anywhere
rolls everything back. Nothing here depends on the backend but what
:class:`~._db.Backend` says: how entries get ids and seals, and what a writer locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._records import Injection
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import DuplicateError, IntegrityError, NotFoundError
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _queries as q
from stemjourney.store import _rows as r
from stemjourney.store import _schedule as schedule
from stemjourney.store import _writes as w
from stemjourney.store._chain import rows_digest
from stemjourney.store._state import Stamp, working
from stemjourney.store._tables import (
    AUDIT,
    JOURNEYS,
    OBSERVATIONS,
    PATIENT_ERASURES,
    PATIENTS,
    RECORDS,
    TRANSITIONS,
)
from stemjourney.store._writes import Context

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
_ERASED = f"SELECT 1 FROM {PATIENT_ERASURES.name} WHERE patient_id = ?"


def earlier_write(
    ctx: Context, key: str | None, actions: Sequence[str], journey_id: str | None = None
) -> tuple[str | None, str | None] | None:
    """The (patient, journey) ids of an earlier write with ``key``, or ``None``.

    Raises :class:`DuplicateError` when the key was used for another kind of write.
    """
    if key is None:
        return None
    ctx.backend.lock_key(ctx.conn, key)
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
    """The journey's working copy, locked for this write where writers do not take turns;
    :class:`NotFoundError` when there is none."""
    ctx.backend.lock_journey(ctx.conn, journey_id)
    found = working(ctx.conn, journey_id, ctx.copies)
    if found is None:
        raise NotFoundError("journey", journey_id)
    return found


def add_patient(ctx: Context, patient: Patient, actor: str, key: str | None = None) -> None:
    """Add ``patient``, refusing a taken id or external id."""
    conn = ctx.conn
    if q.patient(conn, patient.id) is not None:
        raise DuplicateError(f"patient_id {patient.id} is taken; allowed: a new id")
    if conn.execute(_ERASED, (patient.id,)).fetchone() is not None:
        raise DuplicateError(
            f"patient_id {patient.id} belonged to a patient who was deleted; the record keeps "
            "that deletion under the id; allowed: a new id"
        )
    other = q.patient_by_key(conn, patient.external_key)
    if other is not None:
        raise DuplicateError(
            f"external_id is already the external id of patient {other.id} (compared "
            "ignoring case, surrounding spaces and Unicode form); allowed: a new one"
        )
    now = ctx.now()
    (entry_id,) = ctx.ids()
    row = r.patient_row(patient, now, actor, entry_id)
    w.append(
        ctx,
        entry_id,
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
    (entry_id,) = ctx.ids()
    digest = rows_digest([(PATIENTS.name, row)])
    erasure = (patient_id, row[PATIENTS.index("audit_id")], digest, entry_id)
    w.append(
        ctx,
        entry_id,
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
    (entry_id,) = ctx.ids()
    w.insert_journey(conn, journey, entry_id, recorded)
    w.append(
        ctx,
        entry_id,
        action="journey_opened",
        journey_id=journey.id,
        occurred_at=time_text(opening.occurred_at),
        recorded_at=recorded,
        actor=opening.actor,
        key=key,
        covered=[(JOURNEYS.name, r.identity_row(journey))],
        rows=w.entry_rows(opening, entry_id),
    )


def _action(entry: TransitionEntry | RecordEntry) -> str:
    if isinstance(entry, TransitionEntry):
        return "journey_opened" if entry.source is None else "move"
    if entry.amends is not None:
        return "amendment"
    return "score" if isinstance(entry.record, Score) else "record"


def _fields(
    entry: TransitionEntry | RecordEntry, entry_id: int, key: str | None
) -> tuple[Any, ...]:
    """The audit entry's own fields for one history entry: its id, action ... key."""
    occurred = entry.occurred_at if isinstance(entry, TransitionEntry) else entry.record.occurred_at
    return (
        entry_id,
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
) -> Stamp:
    """Write one entry the engine made (a move, a record, a score or an amendment); return
    the stamp the journey's summary row now bears."""
    conn = ctx.conn
    (entry_id,) = ctx.ids()
    fields = _fields(entry, entry_id, key)
    w.append(
        ctx,
        entry_id,
        action=fields[1],
        journey_id=after.id,
        occurred_at=fields[4],
        recorded_at=fields[5],
        actor=entry.actor,
        reason=entry.reason,
        key=key,
        rows=w.entry_rows(entry, entry_id),
    )
    closed = None
    if isinstance(entry, TransitionEntry) and ctx.engine.pipeline.is_outcome(entry.target):
        closed = time_text(entry.occurred_at)
    w.update_state(conn, after, before.version, closed, fields[5], entry_id)
    if isinstance(entry, RecordEntry):
        _keep_schedule(ctx, before, after, entry)
    return (after.version, fields[5], entry_id)


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
    ids = ctx.ids(len(entries))
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
        r.state_row(journey, closed, time_text(last.recorded_at), ids[-1]),
    )
    audit: list[tuple[Any, ...]] = []
    rows: dict[str, list[tuple[Any, ...]]] = {}
    identity = [(JOURNEYS.name, r.identity_row(journey))]
    for n, (entry, entry_id) in enumerate(zip(entries, ids, strict=True)):
        written = w.entry_rows(entry, entry_id)
        covered = [*(identity if n == 0 else ()), *((t.name, row) for t, row in written)]
        audit.append(w.audit_row(ctx, _fields(entry, entry_id, None), rows_digest(covered)))
        for table, row in written:
            rows.setdefault(table.name, []).append(row)
    conn.executemany(w.audit_insert(ctx.backend.inline), audit)
    for table in (TRANSITIONS, RECORDS, OBSERVATIONS):
        if table.name in rows:
            conn.executemany(table.insert(), rows[table.name])
    schedule.plan(conn, journey, ctx.engine.protocol)
