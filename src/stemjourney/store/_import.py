"""Bulk import of scores: plain tuples checked in a tight loop, written with ``executemany``.

No rule is copied here: each row's fields are checked by ``Score``'s own rules
(:func:`~stemjourney.clinical._scores.check_score_row`), its time by the engine's
(:meth:`Engine.check_time`), and each journey, once, by the engine's check of what its
stage takes (:meth:`Engine.check_takes`, on the light state stage, cycle and sequence;
the pipeline's void outcome takes nothing). Each journey a batch touches gets one
audit entry (``scores_imported``) whose hash covers the canonical bytes of its rows,
in version order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from stemjourney.clinical._codec import canonical_json, encode, time_text
from stemjourney.clinical._scores import Score, check_score_row
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.journey._journey import JourneyState
from stemjourney.store._rows import score_value
from stemjourney.store._schedule import scored_many
from stemjourney.store._tables import JOURNEYS, OBSERVATIONS, canonical_score_row
from stemjourney.store._writes import Context, audit_insert, audit_row

__all__ = ["import_scores"]

_COLUMNS = "id, patient_id, version, cycle, stage, stage_seq"
_STATES = (
    f"SELECT {_COLUMNS} FROM {JOURNEYS.name} WHERE id IN (SELECT value FROM json_each(?)) "
    "ORDER BY id"
)
_CHUNK = 5000
_BUMP = (
    f"UPDATE {JOURNEYS.name} SET version = ?, updated_at = ?, last_audit_id = ? "
    "WHERE id = ? AND version = ?"
)
_SHAPE = "(journey_id, instrument, value, measured_at) or with answers as a fifth item"
_INSERT = OBSERVATIONS.insert()


class _Journey:
    __slots__ = (
        "cycle",
        "days",
        "entry_id",
        "first",
        "hasher",
        "patient_id",
        "stage_seq",
        "version",
    )

    def __init__(self, row: Sequence[Any], entry_id: int) -> None:
        self.patient_id: str = row[1]
        self.first: int = row[2]
        self.version: int = row[2]
        self.cycle: int = row[3]
        self.stage_seq: int = row[5]
        self.entry_id = entry_id
        self.hasher = hashlib.sha256()
        self.days: list[str] = []


def import_scores(ctx: Context, batch: Sequence[Sequence[Any]], actor: str, offset: int) -> int:
    """Check and write one batch of score rows inside the caller's transaction."""
    conn, engine = ctx.conn, ctx.engine
    now_at = engine.clock.now()
    now = time_text(now_at)
    check_time = engine.check_time
    known = _states(ctx, batch)
    ids = iter(ctx.ids(len(known)))
    journeys: dict[str, _Journey] = {}
    out: list[tuple[Any, ...]] = []
    for n, row in enumerate(batch, start=offset):
        try:
            items = len(row)
            if items not in (4, 5):
                raise ValidationError("row", f"has {items} items", _SHAPE)
            jid = row[0]
            state = journeys.get(jid)
            if state is None:
                state = journeys[jid] = _load(ctx, jid, ids, known)
            instrument, value, when, checked = check_score_row(
                row[1], row[2], row[3], row[4] if items == 5 else None
            )
            answers = None if checked is None else canonical_json(encode(checked))
            when = check_time("measured_at", when, now=now_at)
        except ValidationError as error:
            raise ValidationError(
                f"rows[{n}].{error.field}", error.problem, error.allowed
            ) from None
        state.version += 1
        measured = time_text(when)
        stored = (
            jid, state.version, instrument, score_value(value), answers,
            measured, state.cycle, state.stage_seq, None, state.entry_id,
        )  # fmt: skip
        state.hasher.update(canonical_score_row(stored))
        out.append(stored)
        state.days.append(measured[:10])  # the UTC day: time_text is UTC
    entries = []
    bumps = []
    for jid, state in journeys.items():
        fields = (state.entry_id, "scores_imported", jid, None, None, now, actor, None, None)
        entries.append(audit_row(ctx, fields, state.hasher.digest()))
        bumps.append((state.version, now, state.entry_id, jid, state.first))
    conn.executemany(
        audit_insert(ctx.backend.inline), entries
    )  # in the order the journeys were met
    conn.executemany(_BUMP, bumps)
    conn.executemany(_INSERT, out)
    scored_many(conn, {jid: state.days for jid, state in journeys.items()})
    return len(out)


def _states(ctx: Context, batch: Sequence[Any]) -> dict[str, Sequence[Any]]:
    """The state rows of the journeys a batch names, read in a few queries (and locked,
    in id order, where writers do not take turns).

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
    sql = _STATES + ctx.backend.for_update
    for start in range(0, len(names), _CHUNK):
        chunk = json.dumps(names[start : start + _CHUNK])
        for row in ctx.conn.execute(sql, (chunk,)):
            found[row[0]] = row
    return found


def _load(
    ctx: Context, journey_id: object, ids: Iterator[int], known: dict[str, Sequence[Any]]
) -> _Journey:
    if not isinstance(journey_id, str):
        raise ValidationError("journey_id", "is not text", "the id of a journey")
    row = known.get(journey_id)
    if row is None:
        raise NotFoundError("journey", journey_id)
    state = JourneyState(journey_id, row[4], row[3], row[5])
    try:
        ctx.engine.check_takes(state, Score.kind)
    except ValidationError as error:
        raise ValidationError("journey_id", error.problem, error.allowed) from None
    return _Journey(row, next(ids))
