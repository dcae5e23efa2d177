"""The row pass of ``verify()``: every history row, journey by journey, from the raw rows.

For each journey (its summary row and its moves, records and scores, streamed in key
order and merged by journey id) it checks the history's shape (moves in order along
the pipeline, versions without gaps, amendments that point at an earlier entry of
the same kind), each value (times, JSON, scores in range), the summary row against
the history, and it digests the rows each audit entry covers, in the order the
writes hashed them, for the chain pass (:mod:`._verify`).
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

import attrs

from stemjourney.clinical._codec import RECORD_TYPES
from stemjourney.clinical._instruments import INSTRUMENTS
from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._scores import Score
from stemjourney.journey._pipeline import Pipeline
from stemjourney.store._chain import rows_digest
from stemjourney.store._db import Db, id_range, stream
from stemjourney.store._schedule import Planner
from stemjourney.store._tables import (
    AUDIT,
    JOURNEYS,
    OBSERVATIONS,
    PATIENT_ERASURES,
    PATIENTS,
    RECORDS,
    SCHEDULE,
    TRANSITIONS,
)

__all__ = ["COVERS", "Covered", "Found", "Taken", "scan_rows"]

Found = Callable[[str, str | None, str | None, str], None]
"""Report a problem: (table, row, column, what)."""

COVERS = {
    JOURNEYS.name: 1,
    TRANSITIONS.name: 2,
    RECORDS.name: 4,
    OBSERVATIONS.name: 8,
    PATIENTS.name: 16,
    PATIENT_ERASURES.name: 32,
}
"""The bit of each table in :attr:`Covered.kinds`."""
_TABLE_OF = {bit: table for table, bit in COVERS.items()}

Taken = tuple["array[int]", bytearray, "array[int]", "array[int]", list[str | None], bytes]
"""The entries one :class:`Covered` took: (their ids in the order it took them; its digests,
kinds and counts by id; the owner and the bit of the first table of each one taken), as
:meth:`Covered.merge` reads them."""


_FIRST = itemgetter(0)
_DECODE = json.JSONDecoder().decode
"""``json.loads`` of text without its per-call checks: the same values, the same errors."""
_SUMMARY = tuple(
    (name, JOURNEYS.index(name))
    for name in ("opened_at", "stage", "cycle", "version", "stage_seq", "moved_at", "closed_at")
)
"""The summary columns checked against the history, with their positions."""
_FIELDS = {
    kind: frozenset(a.name for a in attrs.fields(cls)) - {getattr(cls, "time_field", "")}
    for kind, cls in RECORD_TYPES.items()
}
"""The fields a record's payload may hold, by kind: all but its time (``occurred_at``)."""
_AT = len(TRANSITIONS.columns)
_ENTRY = _AT + 1
_MOVES = (
    f"SELECT {', '.join('t.' + n for n in TRANSITIONS.names)}, a.occurred_at, a.id "
    f"FROM {TRANSITIONS.name} AS t LEFT JOIN {AUDIT.name} AS a ON a.id = t.audit_id"
)
"""Each move's row, then its audit entry's clinical time (the move's: the row does not
repeat it) and id (``None`` when the row names no entry)."""
_MOVE_ORDER = " ORDER BY t.journey_id, t.seq"
_LATE, _REASON_RECORD, _AUDIT_ID = (
    TRANSITIONS.index("late_reason"),
    TRANSITIONS.index("reason_record"),
    TRANSITIONS.index("audit_id"),
)


class Covered:
    """What the rows say of each audit entry: their digest, the kinds of rows, whose they are."""

    def __init__(self, last_audit_id: int) -> None:
        size = max(last_audit_id, 0) + 1
        self.last = last_audit_id
        self.digests = bytearray(32 * size)
        self.kinds = array("B", bytes(size))
        self.counts = array("l", bytes(8 * size))
        self.owners: list[str | None] = [None] * size
        self.taken = array("q")
        self.leads = bytearray()

    def add(
        self, seq: Any, owner: str, parts: list[tuple[str, Sequence[Any]]], found: Found
    ) -> None:
        """Record the rows ``parts`` of entry ``seq``, all belonging to ``owner``."""
        if not isinstance(seq, int) or not 1 <= seq <= self.last:
            found(parts[0][0], owner, "audit_id", "names no audit entry")
            return
        if self.kinds[seq]:
            found(parts[0][0], owner, "audit_id", "names an audit entry another row group has")
            return
        mask = 0
        for table, _ in parts:
            mask |= COVERS[table]
        self.digests[32 * seq : 32 * seq + 32] = rows_digest(parts)
        self.kinds[seq] = mask
        self.counts[seq] = len(parts)
        self.owners[seq] = owner
        self.taken.append(seq)
        self.leads.append(COVERS[parts[0][0]])

    def took(self) -> Taken:
        """The entries this took, for another :class:`Covered`'s :meth:`merge`."""
        owners = self.owners
        return (
            self.taken,
            self.digests,
            self.kinds,
            self.counts,
            [owners[seq] for seq in self.taken],
            bytes(self.leads),
        )

    def merge(self, taken: Taken, found: Found) -> None:
        """Take the entries another :class:`Covered` of the same audit log (as many entries)
        took (its :meth:`took`), as if their rows had been added here, in the same order."""
        ids, digests, kinds, counts, owners, leads = taken
        mine_kinds, mine_digests, mine_counts, mine_owners = (
            self.kinds,
            self.digests,
            self.counts,
            self.owners,
        )
        for n, seq in enumerate(ids):
            if mine_kinds[seq]:
                found(
                    _TABLE_OF[leads[n]],
                    owners[n],
                    "audit_id",
                    "names an audit entry another row group has",
                )
            else:
                mine_kinds[seq] = kinds[seq]
                mine_counts[seq] = counts[seq]
                mine_owners[seq] = owners[n]
                mine_digests[32 * seq : 32 * seq + 32] = digests[32 * seq : 32 * seq + 32]
                self.taken.append(seq)
                self.leads.append(leads[n])

    def set_digest(self, seq: int, digest: bytes, owner: str) -> None:
        """Record a digest kept for rows that are gone (an erased patient's row)."""
        if 1 <= seq <= self.last and not self.kinds[seq]:
            self.digests[32 * seq : 32 * seq + 32] = digest
            self.kinds[seq] = COVERS[PATIENTS.name]
            self.counts[seq] = 1
            self.owners[seq] = owner


def _stream(conn: Db, sql: str, bounds: Sequence[str]) -> Iterator[tuple[Any, Iterator[Any]]]:
    return groupby(stream(conn, sql, bounds), _FIRST)


def _time(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return False


class _Journey:
    """The checks of one journey's rows."""

    def __init__(self, jid: str, pipeline: Pipeline, found: Found) -> None:
        self.jid = jid
        self.pipeline = pipeline
        self.found = found

    def moves(self, rows: list[Any]) -> tuple[list[Any], dict[int, Any]]:
        """Check the moves (each a ``transitions`` row, then its entry's clinical time and
        id: :data:`_MOVES`); return them and the moves by seq."""
        jid, found = self.jid, self.found
        by_seq = {}
        prev = None
        prev_timed = False
        for n, t in enumerate(rows, start=1):
            key = f"{jid}/{t[1]}"
            by_seq[t[1]] = t
            if t[1] != n:
                found(TRANSITIONS.name, key, "seq", f"is not {n}: moves are missing or extra")
            timed = _time(t[_AT])
            if not timed and t[_ENTRY] is not None:  # no entry: the cover check says so
                found(AUDIT.name, str(t[_ENTRY]), "occurred_at", "is not a UTC time")
            if t[_REASON_RECORD] is not None:
                self._reason_record(key, t[_REASON_RECORD])
            if prev is None:
                if t[3] is not None or t[4] != self.pipeline.initial or t[5] != 1 or t[2] != 1:
                    found(TRANSITIONS.name, key, "target", "is not an opening at the first stage")
            else:
                transition = self.pipeline.find(str(prev[4]), str(t[4]))
                if t[3] != prev[4] or transition is None:
                    found(TRANSITIONS.name, key, "target", "is not a move the pipeline allows")
                elif t[5] != prev[5] + (1 if transition.starts_cycle else 0):
                    found(TRANSITIONS.name, key, "cycle", "does not follow the previous move")
                if timed and prev_timed and t[_AT] < prev[_AT] and t[_LATE] is None:
                    found(AUDIT.name, str(t[_ENTRY]), "occurred_at", "is before the previous move")
            prev, prev_timed = t, timed
        return rows, by_seq

    def _reason_record(self, key: str, text: object) -> None:
        try:
            data = _DECODE(str(text))
            good = isinstance(data, dict) and data.get("kind") in RECORD_TYPES
        except ValueError:
            good = False
        if not good:
            self.found(TRANSITIONS.name, key, "reason_record", "is not a reason record")

    def entry(
        self, table: str, row: Sequence[Any], moves: dict[int, Any], kinds: dict[int, Any]
    ) -> None:
        """Check one record or score row against the journey's moves."""
        key = f"{self.jid}/{row[1]}"
        score = table == OBSERVATIONS.name
        cycle, stage_seq, amends = (row[6], row[7], row[8]) if score else (row[5], row[6], row[7])
        move = moves.get(stage_seq)
        if move is None:
            self.found(table, key, "stage_seq", "names no move of the journey")
        elif move[5] != cycle:
            self.found(table, key, "cycle", "differs from the cycle of its stage")
        if amends is not None:
            original = kinds.get(amends)
            if original is None or original[0] != row[2] or amends >= row[1]:
                self.found(table, key, "amends", "names no earlier entry of the same kind")
            elif original[1] != stage_seq:
                self.found(table, key, "stage_seq", "differs from the entry it amends")
        if score:
            self._score(key, row)
        else:
            self._record(key, row)

    def _score(self, key: str, row: Sequence[Any]) -> None:
        value = row[3]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.found(OBSERVATIONS.name, key, "value", "is not a finite number")
        else:
            spec = INSTRUMENTS.get(row[2]) if isinstance(row[2], str) else None
            if spec is not None and not (spec.low <= value <= spec.high):
                self.found(OBSERVATIONS.name, key, "value", f"is outside the {spec.code} range")
            elif spec is not None and spec.integer and not float(value).is_integer():
                self.found(OBSERVATIONS.name, key, "value", f"is not a whole {spec.code} score")
        if not _time(row[5]):
            self.found(OBSERVATIONS.name, key, "measured_at", "is not a UTC time")
        if row[4] is not None:
            try:
                good = isinstance(_DECODE(str(row[4])), list)
            except ValueError:
                good = False
            if not good:
                self.found(OBSERVATIONS.name, key, "answers", "is not a JSON list")

    def _record(self, key: str, row: Sequence[Any]) -> None:
        shape = _FIELDS.get(row[2]) if isinstance(row[2], str) else None
        if shape is None or row[2] == Score.kind:
            self.found(RECORDS.name, key, "kind", "is not a kind of record")
            return
        try:
            data = _DECODE(str(row[4]))
        except ValueError:
            self.found(RECORDS.name, key, "payload", "is not JSON")
            return
        if not isinstance(data, dict) or not set(data) <= shape:
            self.found(RECORDS.name, key, "payload", "does not hold a record of its kind")
        if not _time(row[3]):
            self.found(RECORDS.name, key, "occurred_at", "is not a UTC time")

    def summary(self, j: Sequence[Any], moves: list[Any], versions: list[int]) -> None:
        """Check the journey's summary row against its history."""
        found, jid = self.found, self.jid
        if not moves:
            found(JOURNEYS.name, jid, "stage", "has no history")
            return
        last = moves[-1]
        closed = next((t[_AT] for t in moves if self.pipeline.is_outcome(str(t[4]))), None)
        expected = (moves[0][_AT], last[4], last[5], len(versions), last[1], last[_AT], closed)
        for (name, at), value in zip(_SUMMARY, expected, strict=True):
            if j[at] != value:
                found(JOURNEYS.name, jid, name, "differs from the journey's history")
        if sorted(versions) != list(range(1, len(versions) + 1)):
            found(JOURNEYS.name, jid, "version", "the entries' versions have gaps or repeats")


def _schedule(
    jid: str,
    r_rows: list[Any],
    o_rows: list[Any],
    amended: set[int],
    stored: list[Any],
    planner: Planner,
    found: Found,
) -> None:
    """Check the journey's planned visits against its injections and scores in force."""
    try:
        injections = [
            (r[5], date.fromisoformat(str(r[3])[:10]))
            for r in r_rows
            if r[2] == "injection" and r[1] not in amended
        ]
        days = sorted({date.fromisoformat(str(o[5])[:10]) for o in o_rows if o[1] not in amended})
    except ValueError:
        return  # a damaged time is reported by the row checks
    expected = {tuple(row[1:3]): row for row in planner.rows(jid, injections, days)}
    kept = {tuple(row[1:3]): tuple(row) for row in stored}
    if kept == expected:
        return
    for key in sorted(set(expected) | set(kept), key=str):
        name = f"{jid}/{key[0]}/{key[1]}"
        if key not in kept:
            found(SCHEDULE.name, name, None, "is missing: the history plans this visit")
        elif key not in expected:
            found(SCHEDULE.name, name, None, "is not a visit the history plans")
        else:
            for column, want, have in zip(SCHEDULE.names, expected[key], kept[key], strict=True):
                if want != have:
                    found(SCHEDULE.name, name, column, "differs from the journey's history")


def scan_rows(
    conn: Db,
    pipeline: Pipeline,
    protocol: Protocol,
    covered: Covered,
    found: Found,
    between: tuple[str | None, str | None] = (None, None),
) -> dict[str, tuple[int, str]]:
    """Check every journey's rows and digest them; return each journey's (last_audit_id,
    updated_at). ``between`` (first, stop) keeps the journeys, and the rows naming a
    journey, whose id is ``first`` or later and before ``stop`` (``None``: that end open)."""
    own, bounds = id_range("id", *between)
    of_journey, _ = id_range("journey_id", *between)
    journeys = stream(conn, JOURNEYS.select(own, order="id"), bounds)
    of_move, _ = id_range("t.journey_id", *between)
    moves = _stream(conn, _MOVES + (f" WHERE {of_move}" if of_move else "") + _MOVE_ORDER, bounds)
    records = _stream(conn, RECORDS.select(of_journey, order="journey_id, version"), bounds)
    scores = _stream(conn, OBSERVATIONS.select(of_journey, order="journey_id, version"), bounds)
    planned = _stream(
        conn, SCHEDULE.select(of_journey, order="journey_id, cycle, time_point"), bounds
    )
    heads: dict[str, Any] = {
        "t": next(moves, None),
        "r": next(records, None),
        "o": next(scores, None),
        "s": next(planned, None),
    }
    streams = {"t": moves, "r": records, "o": scores, "s": planned}
    names = {"t": TRANSITIONS.name, "r": RECORDS.name, "o": OBSERVATIONS.name, "s": SCHEDULE.name}
    updated: dict[str, tuple[int, str]] = {}
    planner = Planner(protocol)

    def take(name: str, jid: str | None) -> list[Any]:
        """The rows of ``name`` naming journey ``jid``; those naming a journey before it
        (every one left when ``jid`` is ``None``) name no journey."""
        got: list[Any] = []
        while heads[name] is not None and (jid is None or str(heads[name][0]) <= jid):
            key, rows = heads[name]
            if key == jid:
                got = list(rows)
            else:
                found(names[name], str(key), "journey_id", "names no journey")
                for _ in rows:
                    pass
            heads[name] = next(streams[name], None)
        return got

    for j in journeys:
        jid = j[0]
        check = _Journey(jid, pipeline, found)
        t_rows, by_seq = check.moves(take("t", jid))
        r_rows, o_rows = take("r", jid), take("o", jid)
        kinds = {r[1]: (r[2], r[6]) for r in r_rows}
        kinds.update({o[1]: (o[2], o[7]) for o in o_rows})
        amended: set[int] = set()
        for table, rows in ((RECORDS.name, r_rows), (OBSERVATIONS.name, o_rows)):
            for row in rows:
                check.entry(table, row, by_seq, kinds)
                amends = row[7] if table == RECORDS.name else row[8]
                if amends is not None:
                    if amends in amended:
                        found(table, f"{jid}/{row[1]}", "amends", "names an entry amended before")
                    amended.add(amends)
        versions = [t[2] for t in t_rows] + [r[1] for r in r_rows] + [o[1] for o in o_rows]
        check.summary(j, t_rows, versions)
        _schedule(jid, r_rows, o_rows, amended, take("s", jid), planner, found)
        groups: dict[Any, list[tuple[str, Sequence[Any]]]] = {}
        if t_rows:
            groups.setdefault(t_rows[0][_AUDIT_ID], []).append((JOURNEYS.name, tuple(j[:7])))
        for t in t_rows:
            groups.setdefault(t[_AUDIT_ID], []).append((TRANSITIONS.name, t[:_AT]))
        merged = sorted(
            [(r[1], RECORDS.name, r, r[8]) for r in r_rows]
            + [(o[1], OBSERVATIONS.name, o, o[9]) for o in o_rows]
        )
        for _, table, row, seq in merged:
            groups.setdefault(seq, []).append((table, row))
        for seq, parts in groups.items():
            covered.add(seq, jid, parts, found)
        last_audit_id = j[JOURNEYS.index("last_audit_id")]
        if groups and last_audit_id != max(s for s in groups if isinstance(s, int)):
            found(JOURNEYS.name, jid, "last_audit_id", "is not the journey's latest audit entry")
        updated[jid] = (last_audit_id, j[JOURNEYS.index("updated_at")])
    for name in ("t", "r", "o", "s"):
        take(name, None)
    return updated


def scan_patients(conn: Db, covered: Covered, found: Found) -> None:
    """Digest every patient row under the entry that added it, and every erasure."""
    for row in conn.execute(PATIENTS.select(order="id")):
        covered.add(row[PATIENTS.index("audit_id")], str(row[0]), [(PATIENTS.name, row)], found)
    for row in conn.execute(PATIENT_ERASURES.select(order="patient_id")):
        digest = row[2]
        if isinstance(digest, bytes) and len(digest) == 32 and isinstance(row[1], int):
            covered.set_digest(row[1], digest, str(row[0]))
        else:
            found(PATIENT_ERASURES.name, str(row[0]), "row_digest", "is not a 32-byte digest")
        covered.add(row[3], str(row[0]), [(PATIENT_ERASURES.name, row)], found)
