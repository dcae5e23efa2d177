"""The store's writes, each inside the caller's transaction (``BEGIN IMMEDIATE`` on SQLite).

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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ConflictError
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _rows as r
from stemjourney.store._chain import GENESIS, Chain, rows_digest
from stemjourney.store._tables import AUDIT, JOURNEYS, OBSERVATIONS, RECORDS, TRANSITIONS, Table

if TYPE_CHECKING:
    from stemjourney.journey._engine import Engine
    from stemjourney.store._db import Backend, Db
    from stemjourney.store._state import Copies

__all__ = [
    "ACTIONS",
    "Context",
    "Prev",
    "append",
    "audit_row",
    "chain_order",
    "entry_rows",
    "insert_journey",
    "last_entry",
    "last_id",
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
"""The sequence number and hash of the latest sealed entry."""


def chain_order(inline: bool) -> str:
    """The audit log's column in chain order on a backend that seals ``inline`` (each entry
    as it is written: its seq is its id, SQLite) or after the commit (by seq, PostgreSQL's
    index)."""
    return "id" if inline else "seq"


_LAST = {
    inline: f"SELECT seq, hash FROM {AUDIT.name} WHERE seq IS NOT NULL "
    f"ORDER BY {chain_order(inline)} DESC LIMIT 1"
    for inline in (True, False)
}
"""The latest sealed entry, by whether the backend seals inline."""
_LAST_ID = f"SELECT max(id) FROM {AUDIT.name}"
_UPDATE_STATE = (
    f"UPDATE {JOURNEYS.name} SET stage = ?, cycle = ?, version = ?, stage_seq = ?, moved_at = ?, "
    "closed_at = coalesce(closed_at, ?), updated_at = ?, last_audit_id = ? "
    "WHERE id = ? AND version = ?"
)
_INSERTS = {t.name: t.insert() for t in (JOURNEYS, TRANSITIONS, RECORDS, OBSERVATIONS)}
_AUDIT_INSERTS = {True: AUDIT.sqlite_insert(), False: AUDIT.insert()}


def audit_insert(inline: bool) -> str:
    """The INSERT of whole audit_log rows (seq included) on a backend that seals ``inline``
    (SQLite, where seq is computed from the id, not stored) or not (PostgreSQL)."""
    return _AUDIT_INSERTS[inline]


class Context:
    """What every write needs: the connection inside its transaction, the chain, the engine,
    the backend, the store's kept working copies, and (when entries are sealed inline) the
    latest sealed entry."""

    __slots__ = ("backend", "chain", "conn", "copies", "engine", "prev")

    def __init__(
        self,
        conn: Db,
        chain: Chain,
        engine: Engine,
        backend: Backend,
        copies: Copies | None = None,
    ) -> None:
        self.conn = conn
        self.chain = chain
        self.engine = engine
        self.backend = backend
        self.copies = copies
        self.prev: Prev | None = None

    def now(self) -> str:
        """The system time, as the store writes it."""
        return time_text(self.engine.clock.now())

    def ids(self, count: int = 1) -> list[int]:
        """``count`` new audit entry ids, in order."""
        return self.backend.ids(self.conn, count)


def last_entry(conn: Db, inline: bool = True) -> Prev:
    """The latest sealed entry's sequence number and hash (0 and the genesis hash when empty)
    of a backend that seals ``inline`` (each entry as it is written) or not."""
    row = conn.execute(_LAST[inline]).fetchone()
    return (0, GENESIS) if row is None else (row[0], bytes(row[1]))


def last_id(conn: Db) -> int:
    """The latest entry's id (0 when there is none)."""
    found = conn.execute(_LAST_ID).fetchone()[0]
    return 0 if found is None else int(found)


def audit_row(ctx: Context, fields: Sequence[Any], digest: bytes) -> tuple[Any, ...]:
    """The audit_log row of an entry with ``fields`` (its id, then action ... key) whose rows
    have ``digest``: sealed at once when the backend seals inline, else waiting for its seal.
    """
    if not ctx.backend.inline:
        return (fields[0], None, *fields[1:], digest, None)
    if ctx.prev is None:
        ctx.prev = last_entry(ctx.conn)
    seq = ctx.prev[0] + 1
    sealed = (fields[0], seq, *fields[1:])
    hashed = ctx.chain.entry_hash(ctx.prev[1], sealed, digest)
    ctx.prev = (seq, hashed)
    return (*sealed, None, hashed)


def append(
    ctx: Context,
    entry_id: int,
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
) -> None:
    """Append the entry ``entry_id`` and insert the ``rows`` it covers.

    The rows must already carry ``entry_id``. ``covered`` are (table, row) pairs the entry
    also covers, hashed before ``rows``, that the caller writes itself (a journey's
    identity columns).
    """
    fields = (
        entry_id,
        action,
        journey_id,
        patient_id,
        occurred_at,
        recorded_at,
        actor,
        reason,
        key,
    )
    digest = rows_digest([*covered, *((table.name, row) for table, row in rows)])
    conn = ctx.conn
    conn.execute(audit_insert(ctx.backend.inline), audit_row(ctx, fields, digest))
    for table, row in rows:
        conn.execute(table.insert(), row)


def entry_rows(
    entry: TransitionEntry | RecordEntry, entry_id: int
) -> list[tuple[Table, tuple[Any, ...]]]:
    """The row one history entry writes, with the audit entry ``entry_id`` that covers it."""
    if isinstance(entry, TransitionEntry):
        return [(TRANSITIONS, r.transition_row(entry, entry_id))]
    if isinstance(entry.record, Score):
        return [(OBSERVATIONS, r.observation_row(entry, entry_id))]
    return [(RECORDS, r.record_row(entry, entry_id))]


def insert_journey(conn: Db, journey: Journey, entry_id: int, recorded_at: str) -> None:
    """Insert a newly opened journey's summary row, its latest change being ``entry_id``."""
    conn.execute(_INSERTS[JOURNEYS.name], r.state_row(journey, None, recorded_at, entry_id))


def update_state(
    conn: Db,
    journey: Journey,
    expected: int,
    closed_at: str | None,
    recorded_at: str,
    entry_id: int,
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
            entry_id,
            journey.id,
            expected,
        ),
    ).rowcount
    if done != 1:  # pragma: no cover - the version is read inside the same transaction
        row = conn.execute(
            f"SELECT version FROM {JOURNEYS.name} WHERE id = ?", (journey.id,)
        ).fetchone()
        raise ConflictError(journey.id, expected, row[0] if row else 0)
