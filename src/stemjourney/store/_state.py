"""A journey's working copy for a write: what the engine needs, read with targeted queries.

A write never reloads a journey's whole history. It reads the summary row, the
journey's moves (a handful per cycle), its eligibility assessments, consents,
harvests, processings and injections (what the guards check, a handful per cycle),
and of the scores, for each pain scale, only the latest in force of the current stage
visit and the latest of the current cycle's latest stage visit that has one (the
baselines the guards ask for). Each read is an index
lookup, so a write costs the same at any history length
(``tests/test_store_cost.py`` counts it, and checks that the guards decide on the
working copy as they do on the whole journey).

A store keeps the working copies it last read or wrote (:class:`Copies`), each under
the stamp of the summary row it stood for: the version, the system time of the latest
change and its audit entry. A write reads the summary row inside its transaction and
reuses a kept copy only while the row still bears that stamp; a change by any other
connection or process moves the version on, so the copy is read again.
"""

from __future__ import annotations

from typing import Any

import attrs

from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey, RecordEntry
from stemjourney.store import _rows as r
from stemjourney.store._db import Db
from stemjourney.store._queries import _entries, _moves, journey_row
from stemjourney.store._tables import JOURNEYS, OBSERVATIONS, RECORDS

__all__ = ["GUARD_KINDS", "Copies", "amendable", "stamp", "trim", "working"]

GUARD_KINDS = ("eligibility", "consent", "harvest", "processing", "injection")
"""The record kinds a working copy holds: those the guards read."""

_MOVES = _moves("t.journey_id = ?")
_GUARDED = _entries(
    RECORDS,
    "r",
    "r.journey_id = ? AND r.kind IN (" + ", ".join(f"'{k}'" for k in GUARD_KINDS) + ")",
).replace(f"FROM {RECORDS.name} AS r", f"FROM {RECORDS.name} AS r INDEXED BY records_by_kind", 1)
_IN_FORCE = (
    f"NOT EXISTS (SELECT 1 FROM {OBSERVATIONS.name} AS n WHERE n.journey_id = o.journey_id "
    "AND n.amends = o.version)"
)


def _latest_score(where: str, order: str) -> str:
    """The latest score in force of a journey's cycle, read through the index of cycles (the
    cycle's scores only, however long the history)."""
    sql = _entries(OBSERVATIONS, "o", f"{where} AND {_IN_FORCE}")
    plain = f"FROM {OBSERVATIONS.name} AS o"
    return sql.replace(plain, f"{plain} INDEXED BY observations_by_cycle", 1) + order


_LATEST_PAIN = _latest_score(
    "o.journey_id = ? AND o.cycle = ? AND o.instrument = ? AND o.stage_seq = ?",
    " ORDER BY o.measured_at DESC, o.version DESC LIMIT 1",
)
_LATEST_IN_CYCLE = _latest_score(
    "o.journey_id = ? AND o.cycle = ? AND o.instrument = ?",
    " ORDER BY o.stage_seq DESC, o.measured_at DESC, o.version DESC LIMIT 1",
)
_RECORD_AT = _entries(RECORDS, "r", "r.journey_id = ? AND r.version = ?")
_SCORE_AT = _entries(OBSERVATIONS, "o", "o.journey_id = ? AND o.version = ?")
_AMENDED_BY = (
    f"SELECT version FROM {RECORDS.name} WHERE journey_id = ? AND amends = ? UNION ALL "
    f"SELECT version FROM {OBSERVATIONS.name} WHERE journey_id = ? AND amends = ?"
)


Stamp = tuple[int, str, int]
"""What a summary row says of the journey's latest change: version, updated_at, audit id."""

_VERSION, _UPDATED, _LAST_AUDIT = (
    JOURNEYS.index("version"),
    JOURNEYS.index("updated_at"),
    JOURNEYS.index("last_audit_id"),
)


def stamp(row: Any) -> Stamp:
    """The stamp of a ``journeys`` row."""
    return (row[_VERSION], row[_UPDATED], row[_LAST_AUDIT])


class Copies:
    """The working copies a store last read or wrote, at most ``size``, each under its stamp."""

    __slots__ = ("_kept", "_size")

    def __init__(self, size: int = 1024) -> None:
        self._kept: dict[str, tuple[Stamp, Journey]] = {}
        self._size = size

    def get(self, journey_id: str, row_stamp: Stamp) -> Journey | None:
        """The copy kept for ``journey_id`` if it was kept under ``row_stamp``, else ``None``."""
        kept = self._kept.get(journey_id)
        if kept is None or kept[0] != row_stamp:
            return None
        return kept[1]

    def keep(self, row_stamp: Stamp, journey: Journey) -> None:
        """Keep ``journey`` (a working copy, see :func:`trim`) under ``row_stamp``."""
        if journey.version != row_stamp[0]:
            return  # read across a change: never keep a copy its stamp does not describe
        kept = self._kept
        kept.pop(journey.id, None)
        if len(kept) >= self._size:
            del kept[next(iter(kept))]
        kept[journey.id] = (row_stamp, journey)


def working(conn: Db, journey_id: str, copies: Copies | None = None) -> Journey | None:
    """The working copy of the journey with ``journey_id``, or ``None`` if there is none.

    With ``copies``, a copy kept under the summary row's stamp is returned as it is, and
    a copy read afresh is kept.
    """
    row = journey_row(conn, journey_id)
    if row is None:
        return None
    if copies is not None:
        row_stamp = stamp(row)
        found = copies.get(journey_id, row_stamp)
        if found is None:
            found = _read(conn, row)
            copies.keep(row_stamp, found)
        return found
    return _read(conn, row)


def _read(conn: Db, row: Any) -> Journey:
    journey_id = row[0]
    cycle, stage_seq = row[8], row[10]
    history = [r.transition_from_row(t) for t in conn.execute(_MOVES, (journey_id,))]
    records: list[RecordEntry] = [
        r.record_from_row(e) for e in conn.execute(_GUARDED, (journey_id,))
    ]
    seen: set[int] = set()
    for instrument in PAIN_INSTRUMENTS:
        for sql, args in (
            (_LATEST_PAIN, (journey_id, cycle, instrument, stage_seq)),
            (_LATEST_IN_CYCLE, (journey_id, cycle, instrument)),
        ):
            found = conn.execute(sql, args).fetchone()
            if found is not None and found[1] not in seen:
                seen.add(found[1])
                records.append(r.observation_from_row(found))
    return r.journey_from_rows(row, history, records, complete=False)


def amendable(conn: Db, journey: Journey, version: int) -> Journey:
    """``journey`` with the entry at ``version`` and any amendment of it added, so the
    engine can check an amendment of it."""
    known = {e.version for e in journey.records}
    extra: list[RecordEntry] = []
    wanted = [version]
    wanted += [v for (v,) in conn.execute(_AMENDED_BY, (journey.id, version, journey.id, version))]
    for v in wanted:
        if v in known:
            continue
        row = conn.execute(_RECORD_AT, (journey.id, v)).fetchone()
        if row is not None:
            extra.append(r.record_from_row(row))
            continue
        row = conn.execute(_SCORE_AT, (journey.id, v)).fetchone()
        if row is not None:
            extra.append(r.observation_from_row(row))
    if not extra:
        return journey
    merged = tuple(sorted((*journey.records, *extra), key=lambda e: e.version))
    return attrs.evolve(journey, records=merged)


def _keep_latest(
    found: dict[str, tuple[Any, RecordEntry]], key: str, order: Any, entry: RecordEntry
) -> None:
    known = found.get(key)
    if known is None or order > known[0]:
        found[key] = (order, entry)


def trim(journey: Journey) -> Journey:
    """``journey`` cut down to what :func:`working` would read back for it now.

    A write returns this, so the value it returns equals the one a fresh read gives.
    """
    stage_seq, cycle = journey.last_move.seq, journey.cycle
    in_visit: dict[str, tuple[Any, RecordEntry]] = {}
    in_cycle: dict[str, tuple[Any, RecordEntry]] = {}
    amended = {e.amends for e in journey.records if e.amends is not None}
    kept: list[RecordEntry] = []
    for e in journey.records:
        record = e.record
        if isinstance(record, Score):
            if (
                record.instrument not in PAIN_INSTRUMENTS
                or e.cycle != cycle
                or e.version in amended
            ):
                continue
            order = (record.measured_at, e.version)
            if e.stage_seq == stage_seq:
                _keep_latest(in_visit, record.instrument, order, e)
            _keep_latest(in_cycle, record.instrument, (e.stage_seq, *order), e)
        elif record.kind in GUARD_KINDS:
            kept.append(e)
    chosen = {e.version: e for _, e in (*in_visit.values(), *in_cycle.values())}
    kept.extend(chosen.values())
    return attrs.evolve(
        journey,
        records=tuple(sorted(kept, key=lambda e: e.version)),
        known_version=journey.version,
    )
