"""Bulk import of scores: plain tuples checked in a tight loop, written with ``executemany``.

No rule is copied here: each row's fields are checked by ``Score``'s own rules
(:func:`~stemjourney.clinical._scores.check_score_row`), its time by the engine's
(:meth:`Engine.check_time`), and each journey, once, by the engine's check of what its
stage takes (:meth:`Engine.check_takes`, on the light state stage, cycle and sequence;
the pipeline's void outcome takes nothing). Each journey a batch touches gets one
audit entry whose payload holds a digest of its rows, which
:func:`~stemjourney.store.Store.verify` recomputes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from stemjourney.clinical._codec import canonical_json, encode, time_text
from stemjourney.clinical._scores import Score, check_score_row
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.journey._engine import Engine
from stemjourney.journey._journey import JourneyState
from stemjourney.store._writes import INSERT_OBSERVATION, AuditEntry, append_audits

__all__ = ["import_scores", "score_line"]

_STATE = (
    "SELECT patient_id, version, cycle, stage, "
    "(SELECT max(seq) FROM transitions WHERE journey_id = j.id) FROM journeys AS j WHERE id = ?"
)
_STATES = (
    "SELECT id, patient_id, version, cycle, stage, "
    "(SELECT max(seq) FROM transitions WHERE journey_id = j.id) FROM journeys AS j "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
_CHUNK = 5000
_BUMP = "UPDATE journeys SET version = ?, updated_at = ? WHERE id = ? AND version = ?"
_SHAPE = "(journey_id, instrument, value, measured_at) or with answers as a fifth item"


def score_line(
    version: int, instrument: str, value: float, when: str, answers: str | None
) -> bytes:
    """One imported score as the digest in its audit entry sees it."""
    return f"{version}|{instrument}|{value!r}|{when}|{answers}\n".encode()


class _Journey:
    __slots__ = ("audit_id", "count", "cycle", "first", "hasher", "patient_id", "seq", "stage")

    def __init__(self, row: Sequence[Any], audit_id: int) -> None:
        self.patient_id: str = row[0]
        self.first: int = row[1]
        self.cycle: int = row[2]
        self.stage: str = row[3]
        self.seq: int = row[4]
        self.audit_id = audit_id
        self.count = 0
        self.hasher = hashlib.sha256()


def _score(row: Sequence[Any]) -> tuple[str, float, Any, str | None]:
    """(instrument, value, measured_at, answers JSON) of one row, checked by Score's rules."""
    answers = row[4] if len(row) > 4 else None
    instrument, value, when, checked = check_score_row(row[1], row[2], row[3], answers)
    text = None if checked is None else canonical_json(encode(checked))
    return instrument, value, when, text


def import_scores(
    conn: sqlite3.Connection,
    engine: Engine,
    batch: Sequence[Sequence[Any]],
    actor: str,
    offset: int,
) -> int:
    """Check and write one batch of score rows inside the caller's transaction."""
    now_at = engine.clock.now()
    now = time_text(now_at)
    check_time = engine.check_time
    last = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0] or 0
    known = _states(conn, batch)
    journeys: dict[str, _Journey] = {}
    out: list[tuple[Any, ...]] = []
    for n, row in enumerate(batch, start=offset):
        try:
            if len(row) not in (4, 5):
                raise ValidationError("row", f"has {len(row)} items", _SHAPE)
            jid = row[0]
            state = journeys.get(jid)
            if state is None:
                state = _load(conn, engine, jid, last + len(journeys) + 1, known)
                journeys[jid] = state
            instrument, value, when, answers = _score(row)
            when = check_time("measured_at", when, now=now_at)
        except ValidationError as error:
            raise ValidationError(
                f"rows[{n}].{error.field}", error.problem, error.allowed
            ) from None
        state.count += 1
        version = state.first + state.count
        when_text = time_text(when)
        state.hasher.update(score_line(version, instrument, value, when_text, answers))
        out.append(
            (jid, version, instrument, value, answers, when_text, state.cycle, state.stage,
             state.seq, now, actor, None, None, state.audit_id)
        )  # fmt: skip
    audits: list[AuditEntry] = []
    bumps = []
    for jid, state in journeys.items():
        final = state.first + state.count
        payload = {
            "count": state.count,
            "first_version": state.first + 1,
            "last_version": final,
            "digest": state.hasher.hexdigest(),
        }
        audits.append(("scores_imported", now, actor, payload, state.patient_id, jid, final))
        bumps.append((final, now, jid, state.first))
    append_audits(conn, audits)  # ids last + 1, ... in the order the journeys were met
    conn.executemany(_BUMP, bumps)
    conn.executemany(INSERT_OBSERVATION, out)
    return len(out)


def _states(conn: sqlite3.Connection, batch: Sequence[Any]) -> dict[str, Sequence[Any]]:
    """The state rows of the journeys a batch names, read in a few queries.

    Only a look-ahead: a malformed row is left for the row checks to report.
    """
    ids = set()
    for row in batch:
        try:
            first = row[0] if len(row) in (4, 5) else None
        except TypeError:
            continue
        if isinstance(first, str):
            ids.add(first)
    names = sorted(ids)
    found: dict[str, Sequence[Any]] = {}
    for start in range(0, len(names), _CHUNK):
        chunk = json.dumps(names[start : start + _CHUNK])
        for row in conn.execute(_STATES, (chunk,)):
            found[row[0]] = row[1:]
    return found


def _load(
    conn: sqlite3.Connection,
    engine: Engine,
    journey_id: object,
    audit_id: int,
    known: dict[str, Sequence[Any]],
) -> _Journey:
    if not isinstance(journey_id, str):
        raise ValidationError("journey_id", "is not text", "the id of a journey")
    row = known.get(journey_id)
    if row is None:
        row = conn.execute(_STATE, (journey_id,)).fetchone()
    if row is None:
        raise NotFoundError("journey", journey_id)
    state = JourneyState(journey_id, row[3], row[2], row[4])
    try:
        engine.check_takes(state, Score.kind)
    except ValidationError as error:
        raise ValidationError("journey_id", error.problem, error.allowed) from None
    return _Journey(row, audit_id)
