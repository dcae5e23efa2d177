"""The store's writes, each run inside the caller's ``BEGIN IMMEDIATE`` transaction.

Every change appends one entry to the hash-chained ``audit_log`` and writes the rows
it covers; a journey's row is updated only ``WHERE version = expected``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from stemjourney.clinical._codec import canonical_json, encode, time_text
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ConflictError
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _rows as r
from stemjourney.store._chain import GENESIS, entry_hash

__all__ = [
    "append_audit",
    "append_audits",
    "digest",
    "entry_payload",
    "insert_entry",
    "insert_journey",
    "opening_payload",
    "update_journey",
]

_LAST_AUDIT = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
AuditEntry = tuple[str, str, str, object, str | None, str | None, int | None]
"""(action, recorded_at, actor, payload, patient_id, journey_id, version) of one entry."""
_INSERT_AUDIT = (
    "INSERT INTO audit_log (id, action, patient_id, journey_id, version, recorded_at, actor, "
    "idempotency_key, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_TRANSITION = (
    "INSERT INTO transitions (journey_id, seq, version, source, target, cycle, occurred_at, "
    "recorded_at, actor, reason, late_reason, override_reason, audit_id, reason_record) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_RECORD = (
    "INSERT INTO records (journey_id, version, kind, occurred_at, payload, cycle, stage, "
    "stage_seq, recorded_at, actor, amends, reason, audit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?)"
)
INSERT_OBSERVATION = (
    "INSERT INTO observations (journey_id, version, instrument, value, answers, measured_at, "
    "cycle, stage, stage_seq, recorded_at, actor, amends, reason, audit_id) VALUES (?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_JOURNEY = (
    "INSERT INTO journeys (id, patient_id, condition, site, side, cell_source, stage, cycle, "
    "version, opened_at, closed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"
)
_UPDATE_JOURNEY = (
    "UPDATE journeys SET stage = ?, cycle = ?, version = ?, closed_at = coalesce(closed_at, ?), "
    "updated_at = ? "
    "WHERE id = ? AND version = ?"
)


def digest(data: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def append_audit(
    conn: sqlite3.Connection,
    *,
    action: str,
    recorded_at: str,
    actor: str,
    payload: object,
    patient_id: str | None = None,
    journey_id: str | None = None,
    version: int | None = None,
    key: str | None = None,
) -> int:
    """Append one entry to the audit log, chained to the last one; return its id."""
    last = conn.execute(_LAST_AUDIT).fetchone()
    last_id, prev = (0, GENESIS) if last is None else last
    new_id = last_id + 1
    text = canonical_json(payload)
    fields = (new_id, action, patient_id, journey_id, version, recorded_at, actor, key, text)
    conn.execute(_INSERT_AUDIT, (*fields, prev, entry_hash(prev, fields)))
    return new_id


def append_audits(conn: sqlite3.Connection, entries: list[AuditEntry]) -> None:
    """Append several entries to the audit log in one ``executemany``, chained in order.

    Each entry is (action, recorded_at, actor, payload, patient_id, journey_id,
    version): the rows :func:`append_audit` would write one call at a time.
    """
    last = conn.execute(_LAST_AUDIT).fetchone()
    last_id, prev = (0, GENESIS) if last is None else last
    rows = []
    for n, (action, recorded_at, actor, payload, patient_id, journey_id, version) in enumerate(
        entries, start=last_id + 1
    ):
        fields = (
            n, action, patient_id, journey_id, version, recorded_at, actor, None,
            canonical_json(payload),
        )  # fmt: skip
        digest = entry_hash(prev, fields)
        rows.append((*fields, prev, digest))
        prev = digest
    conn.executemany(_INSERT_AUDIT, rows)


def entry_payload(entry: TransitionEntry | RecordEntry) -> dict[str, Any]:
    """What the audit log keeps of one history or record entry: ``{"entry": encode(entry)}``.

    A move's entry is built field by field (the hot path), to the same dict.
    """
    if isinstance(entry, TransitionEntry):
        fields = {
            "journey_id": entry.journey_id,
            "seq": entry.seq,
            "source": entry.source,
            "target": entry.target,
            "cycle": entry.cycle,
            "occurred_at": time_text(entry.occurred_at),
            "recorded_at": time_text(entry.recorded_at),
            "actor": entry.actor,
            "version": entry.version,
            "reason": entry.reason,
            "late_reason": entry.late_reason,
            "override_reason": entry.override_reason,
        }
        if entry.reason_record is not None:
            # Only when there is one: entries written before schema 2 keep their hashes.
            fields["reason_record"] = encode(entry.reason_record)
        return {"entry": fields}
    return {"entry": encode(entry)}


def opening_payload(journey: Journey) -> dict[str, Any]:
    """What the audit log keeps of a journey's opening: its identity and first entry."""
    entry = encode(journey.history[0])
    del entry["reason_record"]  # an opening has none; entries before schema 2 had no key
    return {"journey": _identity(journey), "entry": entry}


def _identity(journey: Journey) -> dict[str, Any]:
    return {
        "patient_id": journey.patient_id,
        "condition": journey.condition,
        "site": journey.site,
        "side": journey.side.value,
        "cell_source": journey.cell_source.value,
    }


def insert_journey(conn: sqlite3.Connection, journey: Journey, audit_id: int) -> None:
    """Insert a newly opened journey and its opening entry."""
    opening = journey.history[0]
    recorded = time_text(opening.recorded_at)
    conn.execute(
        _INSERT_JOURNEY,
        (
            journey.id,
            journey.patient_id,
            journey.condition,
            journey.site,
            journey.side.value,
            journey.cell_source.value,
            journey.stage,
            journey.cycle,
            journey.version,
            time_text(opening.occurred_at),
            recorded,
        ),
    )
    conn.execute(_INSERT_TRANSITION, r.transition_row(opening, audit_id))


def insert_entry(
    conn: sqlite3.Connection, entry: TransitionEntry | RecordEntry, audit_id: int
) -> None:
    """Insert one history entry, record or score into its table."""
    if isinstance(entry, TransitionEntry):
        conn.execute(_INSERT_TRANSITION, r.transition_row(entry, audit_id))
    elif isinstance(entry.record, Score):
        conn.execute(INSERT_OBSERVATION, r.observation_row(entry, audit_id))
    else:
        conn.execute(_INSERT_RECORD, r.record_row(entry, audit_id))


def update_journey(
    conn: sqlite3.Connection,
    journey: Journey,
    expected: int,
    closed_at: str | None,
    recorded_at: str,
) -> None:
    """Set the journey's stage, cycle and version, only if it is still at ``expected``.

    Raises :class:`~stemjourney.exceptions.ConflictError` when another writer got there
    first.
    """
    done = conn.execute(
        _UPDATE_JOURNEY,
        (
            journey.stage,
            journey.cycle,
            journey.version,
            closed_at,
            recorded_at,
            journey.id,
            expected,
        ),
    ).rowcount
    if done != 1:  # pragma: no cover - the version is read inside the same transaction
        row = conn.execute("SELECT version FROM journeys WHERE id = ?", (journey.id,)).fetchone()
        raise ConflictError(journey.id, expected, row[0] if row else 0)
