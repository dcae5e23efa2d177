"""Bulk import of scores: plain tuples checked in a tight loop, written with ``executemany``.

Pain scores (NRS, VAS) are checked here directly, by the same rules ``Score`` applies;
any other instrument, or a row with item answers, is built as a ``Score`` so its own
rules apply. Each journey a batch touches gets one audit entry (``scores_imported``)
whose hash covers the canonical bytes of its rows, in version order.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date
from typing import Any

from stemjourney.clinical import _validation as v
from stemjourney.clinical._codec import canonical_json, encode, time_text
from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.journey._engine import Engine
from stemjourney.store._chain import Chain
from stemjourney.store._rows import score_value
from stemjourney.store._schedule import scored_many
from stemjourney.store._tables import AUDIT, JOURNEYS, OBSERVATIONS, canonical

__all__ = ["import_scores"]

_COLUMNS = "id, patient_id, version, cycle, stage, stage_seq"
_STATE = f"SELECT {_COLUMNS} FROM {JOURNEYS.name} WHERE id = ?"
_STATES = f"SELECT {_COLUMNS} FROM {JOURNEYS.name} WHERE id IN (SELECT value FROM json_each(?))"
_CHUNK = 5000
_BUMP = (
    f"UPDATE {JOURNEYS.name} SET version = ?, updated_at = ?, last_seq = ? "
    "WHERE id = ? AND version = ?"
)
_LAST = f"SELECT seq, hash FROM {AUDIT.name} ORDER BY seq DESC LIMIT 1"
_SHAPE = "(journey_id, instrument, value, measured_at) or with answers as a fifth item"
_INSERT = OBSERVATIONS.insert()
_NAME = OBSERVATIONS.name


class _Journey:
    __slots__ = ("count", "cycle", "first", "hasher", "patient_id", "seq", "stage_seq")

    def __init__(self, row: Sequence[Any], seq: int) -> None:
        self.patient_id: str = row[1]
        self.first: int = row[2]
        self.cycle: int = row[3]
        self.stage_seq: int = row[5]
        self.seq = seq
        self.count = 0
        self.hasher = hashlib.sha256()


def _score(row: Sequence[Any]) -> tuple[str, float, Any, str | None]:
    """(instrument, value, measured_at, answers JSON) of one row, checked."""
    instrument, value, measured_at = row[1], row[2], row[3]
    answers = row[4] if len(row) > 4 else None
    spec = PAIN_INSTRUMENTS.get(instrument) if isinstance(instrument, str) else None
    if spec is None or answers is not None or (type(value) is not int and type(value) is not float):
        score = Score(instrument=instrument, value=value, measured_at=measured_at, answers=answers)
        text = None if score.answers is None else canonical_json(encode(score.answers))
        return score.instrument, score.value, score.measured_at, text
    low, high, integer = spec
    number = float(value)
    if not math.isfinite(number) or number < low or number > high:
        v.number("value", value, low=low, high=high, integer=integer)
    if integer and not number.is_integer():
        v.number("value", value, low=low, high=high, integer=integer)
    return instrument, number, v.aware("measured_at", measured_at), None


def import_scores(
    conn: sqlite3.Connection,
    engine: Engine,
    chain: Chain,
    batch: Sequence[Sequence[Any]],
    actor: str,
    offset: int,
) -> int:
    """Check and write one batch of score rows inside the caller's transaction."""
    now_at = engine.clock.now()
    now = time_text(now_at)
    limit = now_at + engine.protocol.clock_skew
    last = conn.execute(_LAST).fetchone()
    last_seq, prev = (0, bytes(32)) if last is None else (last[0], bytes(last[1]))
    known = _states(conn, batch)
    journeys: dict[str, _Journey] = {}
    out: list[tuple[Any, ...]] = []
    days: dict[str, list[date]] = {}
    for n, row in enumerate(batch, start=offset):
        try:
            if len(row) not in (4, 5):
                raise ValidationError("row", f"has {len(row)} items", _SHAPE)
            jid = row[0]
            state = journeys.get(jid)
            if state is None:
                state = _load(conn, jid, last_seq + len(journeys) + 1, known)
                journeys[jid] = state
            instrument, value, when, answers = _score(row)
            if when > limit:
                raise ValidationError("measured_at", "is in the future", f"a time before {limit}")
        except ValidationError as error:
            raise ValidationError(
                f"rows[{n}].{error.field}", error.problem, error.allowed
            ) from None
        state.count += 1
        stored = (
            jid, state.first + state.count, instrument, score_value(value), answers,
            time_text(when), state.cycle, state.stage_seq, None, state.seq,
        )  # fmt: skip
        state.hasher.update(canonical(_NAME, stored))
        out.append(stored)
        days.setdefault(jid, []).append(when.astimezone(UTC).date())
    entries = []
    bumps = []
    for jid, state in journeys.items():
        fields = (state.seq, "scores_imported", jid, None, None, now, actor, None, None)
        prev = chain.entry_hash(prev, fields, state.hasher.digest())
        entries.append((*fields, prev))
        bumps.append((state.first + state.count, now, state.seq, jid, state.first))
    conn.executemany(AUDIT.insert(), entries)  # seqs in the order the journeys were met
    conn.executemany(_BUMP, bumps)
    conn.executemany(_INSERT, out)
    scored_many(conn, days)
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
            found[row[0]] = row
    return found


def _load(
    conn: sqlite3.Connection,
    journey_id: object,
    seq: int,
    known: dict[str, Sequence[Any]],
) -> _Journey:
    if not isinstance(journey_id, str):
        raise ValidationError("journey_id", "is not text", "the id of a journey")
    row = known.get(journey_id)
    if row is None:
        row = conn.execute(_STATE, (journey_id,)).fetchone()
    if row is None:
        raise NotFoundError("journey", journey_id)
    if row[4] == "voided":
        raise ValidationError(
            "journey_id",
            f"journey {journey_id} is voided; no score can be added",
            "a journey that is not voided",
        )
    return _Journey(row, seq)
