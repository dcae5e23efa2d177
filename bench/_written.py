"""A clinic written change by change through the public API, for its bytes per score.

The benchmark's own journeys (``_data.Builder``, the same seed: journeys 1 to
``journeys`` of the main clinic) and their share of its follow-up scores
(``_data.score_rows``) are written as a clinic writes them: every change one call,
one transaction (``add_patient``, ``open_journey``, ``move`` and ``record`` with each
entry's own times and reasons; each score one ``record``; and an ``amend`` for
about 2 % of the follow-up scores, a corrected transcription), the changes of all
journeys merged in time order (each journey's in its own order), the store's clock
standing at each change's time. With ``writers`` above 1, that many processes share
the journeys (by journey number) and write to the same file at once, as a clinic's
workstations do (one by default: the same file every run).

:func:`dbstat` breaks a file down by table and index (SQLite's ``dbstat``).
"""

from __future__ import annotations

import heapq
import multiprocessing
import random
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import _data

import stemjourney as sj
from stemjourney.store import open_store

AMENDED = 0.02
"""The share of follow-up scores corrected by an amendment."""

Event = tuple[datetime, int, int, str, Any]
"""(time, journey number, order in the journey, kind, what)."""


class _Clock:
    def __init__(self) -> None:
        self.at = _data.NOW

    def now(self) -> datetime:
        return self.at


def _events(n: int, journey: sj.Journey, scores: list[tuple[Any, ...]]) -> list[Event]:
    """One journey's changes in its own order, each at a time never before the last."""
    opening = journey.history[0]
    changes: list[tuple[datetime, str, Any]] = [
        (opening.recorded_at - _data.TEN_MIN, "patient", journey.patient_id),
        (opening.recorded_at, "open", journey),
    ]
    for entry in sorted((*journey.history[1:], *journey.records), key=lambda e: e.version):
        kind = "move" if isinstance(entry, sj.TransitionEntry) else "record"
        changes.append((entry.recorded_at, kind, entry))
    rng = random.Random(n)
    follow: list[tuple[datetime, str, Any]] = []
    for _, _, value, at in scores:
        follow.append((at + _data.TEN_MIN, "score", (value, at)))
        if rng.random() < AMENDED:
            fixed = min(10, max(0, value + rng.choice((-2, -1, 1, 2))))
            follow.append((at + _data.TEN_MIN + _data.H, "amend", (fixed, at)))
    # Each list keeps its own order (a record may be entered after a later move, an
    # amendment comes after its score); the scores fall in between by time.
    merged = heapq.merge(changes, follow, key=lambda c: c[0])
    out: list[Event] = []
    latest = opening.recorded_at - _data.TEN_MIN
    for order, (at, kind, what) in enumerate(merged):
        latest = max(latest, at)
        out.append((latest, n, order, kind, what))
    return out


def _apply(store: sj.Store, clock: _Clock, event: Event, last: dict[int, int]) -> None:
    at, n, _, kind, what = event
    clock.at = at
    if kind == "patient":
        store.add_patient(f"MRN-{what}", actor="bench.desk", patient_id=what)
    elif kind == "open":
        opening = what.history[0]
        store.open_journey(
            what.patient_id,
            condition=what.condition,
            site=what.site,
            side=what.side.value,
            cell_source=what.cell_source.value,
            actor=opening.actor,
            occurred_at=opening.occurred_at,
            journey_id=what.id,
        )
    elif kind == "move":
        store.move(
            what.journey_id,
            what.target,
            actor=what.actor,
            occurred_at=what.occurred_at,
            reason=what.reason_record if what.reason_record is not None else what.reason,
            override_reason=what.override_reason,
            late_reason=what.late_reason,
        )
    elif kind == "record":
        store.record(what.journey_id, what.record, actor=what.actor)
    elif kind == "score":
        value, measured = what
        after = store.record(_ids(n), sj.nrs(value, measured), actor="bench.nurse")
        last[n] = after.version
    else:
        value, measured = what
        store.amend(
            _ids(n),
            last[n],
            sj.nrs(value, measured),
            actor="bench.nurse",
            reason="transcription error",
        )


def _ids(n: int) -> str:
    return _data._ids(n)[0]


_PARTS: list[list[list[Event]]] = []
"""Each writer's journeys as event lists, prepared before the writers are forked."""


def _prepare(journeys: int, scores: int, writers: int) -> None:
    plans: list[_data.Plan] = []
    built: list[sj.Journey] = []
    for job in _data.jobs(journeys):
        chunk = _data.chunk(job)
        plans.extend(chunk.plans)
        built.extend(chunk.journeys)
    by_journey: dict[str, list[tuple[Any, ...]]] = {}
    for row in _data.score_rows(plans, scores):
        by_journey.setdefault(row[0], []).append(row)
    _PARTS[:] = [[] for _ in range(writers)]
    for j in built:
        n = int(j.id[2:])
        _PARTS[n % writers].append(_events(n, j, by_journey.get(j.id, [])))


def _writer(job: tuple[str, int]) -> dict[str, int]:
    """Write one writer's journeys, their changes in time order; the calls by kind."""
    path, part = job
    counts: dict[str, int] = {}
    clock = _Clock()
    last: dict[int, int] = {}
    with open_store(path, clock=clock, busy_timeout=60) as store:
        for event in heapq.merge(*_PARTS[part]):
            _apply(store, clock, event, last)
            counts[event[3]] = counts.get(event[3], 0) + 1
    return counts


def write(path: Path, journeys: int, scores: int, writers: int = 1) -> dict[str, int]:
    """Write the clinic into a new file at ``path``; return the calls made, by kind."""
    _prepare(journeys, scores, writers)
    with open_store(path):
        pass  # the schema, before the writers start
    jobs = [(str(path), part) for part in range(writers)]
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        done = pool.map(_writer, jobs)
    total: dict[str, int] = {}
    for counts in done:
        for kind, count in counts.items():
            total[kind] = total.get(kind, 0) + count
    return total


def dbstat(path: Path) -> dict[str, dict[str, Any]]:
    """Bytes of each table and index of the file, largest first: pages, payload, unused
    bytes, rows (the cells of its leaf pages) and bytes per row."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT name, count(*), sum(pgsize), sum(payload), sum(unused), "
        "sum(CASE WHEN pagetype = 'leaf' THEN ncell ELSE 0 END) "
        "FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC"
    ).fetchall()
    total = (
        conn.execute("PRAGMA page_count").fetchone()[0]
        * conn.execute("PRAGMA page_size").fetchone()[0]
    )
    conn.close()
    return {
        name: {
            "bytes": size,
            "share": round(size / total, 3),
            "pages": pages,
            "payload": payload,
            "unused": unused,
            "rows": cells,
            "bytes_per_row": round(size / cells, 1) if cells else None,
        }
        for name, pages, size, payload, unused, cells in rows
    }


def _int_bytes(value: int) -> int:
    if value in (0, 1):
        return 0
    for size, limit in ((1, 1 << 7), (2, 1 << 15), (3, 1 << 23), (4, 1 << 31), (6, 1 << 47)):
        if -limit <= value < limit:
            return size
    return 8


def _varint(value: int) -> int:
    size = 1
    while value >= 0x80 and size < 9:
        value >>= 7
        size += 1
    return size


def _cost(value: Any) -> int:
    """Bytes of one value in an SQLite record: its serial type (header) and its data."""
    if value is None:
        return 1
    if isinstance(value, int):
        return 1 + _int_bytes(value)
    if isinstance(value, float):
        return 9
    data = len(value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value)
    return _varint(2 * data + 13) + data


COLUMN_TABLES = ("audit_log", "records", "observations", "transitions", "journeys", "patients")


def column_bytes(path: Path, tables: tuple[str, ...] = COLUMN_TABLES) -> dict[str, Any]:
    """Average bytes of each column as stored in a table's records (serial type and data;
    an INTEGER PRIMARY KEY is the rowid, outside the record), and of the whole record."""
    conn = sqlite3.connect(path)
    out: dict[str, Any] = {}
    for table in tables:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        names = [c[1] for c in info]
        rowid = next((c[1] for c in info if c[5] == 1 and c[2].upper() == "INTEGER"), None)
        pk = "SELECT 1 FROM pragma_index_list(?) WHERE origin = 'pk'"
        if conn.execute(pk, (table,)).fetchone():
            rowid = None  # WITHOUT ROWID or a composite key: every column is in the record
        sums = [0] * len(names)
        rows = 0
        stored = ", ".join(names)  # table_info leaves out generated columns: not stored
        for row in conn.execute(f"SELECT {stored} FROM {table}"):  # noqa: S608 (constant names)
            rows += 1
            for i, value in enumerate(row):
                sums[i] += _cost(value)
        skip = names.index(rowid) if rowid else -1
        columns = {
            n: round(s / rows, 1) if rows else 0.0
            for i, (n, s) in enumerate(zip(names, sums, strict=True))
            if i != skip
        }
        out[table] = {
            "rows": rows,
            "record_bytes": round(sum(columns.values()) + 1, 1),
            "columns": dict(sorted(columns.items(), key=lambda kv: -kv[1])),
        }
    conn.close()
    return out
