"""One persisted move against bare SQL, interleaved block by block so all see the same disk.

An fsync on a shared or virtual disk varies several-fold from one second to the
next, so timing the store and the bare SQL one after the other compares the disk
more than the code. Here blocks of ``--block`` moves alternate between:

- ``warm``: the store, its journeys read first (a workstation reads, then moves);
- ``cold``: the store freshly opened (each move loads the journey's history);
- ``same_sql``: bare sqlite3 on a copy of the same store file, running the same
  statements the store runs for a move, captured from the store's own connection
  (``set_trace_callback``, see ``_trace``) while it made the same moves on another
  copy beforehand, its journeys read first as the warm store's are: the read of the
  journey's summary row (the working copy the store read is reused while that row is
  unchanged), the audit chain's head, the INSERTs of the audit entry and the
  transition, the UPDATE of the journey ``WHERE version = ?``, with every value and
  hash the store computed: the raw database underneath, doing the same work;
- ``same_sql_cold``: the same, captured from a store that had not read the journeys
  (so it also reads each working copy), the reference of ``cold``;
- ``minimal``: bare sqlite3 on two minimal tables, ``UPDATE ... WHERE version = ?``
  and one INSERT (no audit entry, no index).

All files are in WAL with ``synchronous=FULL`` in one directory, each write its own
``BEGIN IMMEDIATE`` transaction. A ratio is the median over the blocks of (store
block time / the reference block time beside it).

Run: ``python bench/_move.py [--blocks 20] [--block 25]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _trace

import stemjourney as sj
from stemjourney.store import Store, open_store

DAY0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
WHEN = DAY0 + timedelta(days=7)


def _prepare(path: Path, count: int) -> list[str]:
    """A store file with ``count`` journeys ready to move from consultation to harvest."""
    ids = [f"j-{i:06d}" for i in range(count)]
    with open_store(":memory:") as store:
        store.add_patient("mrn-bench", actor="bench", patient_id="p-bench")
        for jid in ids:
            store.open_journey(
                "p-bench",
                condition="osteoarthritis of knee",
                site="knee",
                side="left",
                cell_source="bone_marrow",
                actor="bench",
                occurred_at=DAY0,
                journey_id=jid,
            )
            store.record(jid, sj.nrs(7, DAY0), actor="bench")
            store.record(jid, sj.EligibilityAssessment(assessed_at=DAY0), actor="bench")
            store.record(jid, sj.Consent(signed_at=DAY0, form_version="v3"), actor="bench")
        store.backup(path)
    with open_store(path):
        pass  # WAL, like every store file
    return ids


def _bare(path: Path, count: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE journeys (id TEXT PRIMARY KEY, stage TEXT NOT NULL, "
        "cycle INTEGER NOT NULL, version INTEGER NOT NULL) STRICT"
    )
    conn.execute(
        "CREATE TABLE transitions (journey_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "version INTEGER NOT NULL, source TEXT, target TEXT NOT NULL, cycle INTEGER NOT NULL, "
        "occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL, "
        "PRIMARY KEY (journey_id, seq)) STRICT, WITHOUT ROWID"
    )
    conn.executemany(
        "INSERT INTO journeys VALUES (?, 'consultation', 1, 4)",
        [(f"j-{i:06d}",) for i in range(count)],
    )
    return conn


def _bare_moves(conn: sqlite3.Connection, ids: list[str]) -> float:
    when = WHEN.isoformat(timespec="microseconds")
    start = time.perf_counter()
    for jid in ids:
        conn.execute("BEGIN IMMEDIATE")
        done = conn.execute(
            "UPDATE journeys SET stage = 'harvest', version = 5 WHERE id = ? AND version = 4",
            (jid,),
        ).rowcount
        if done != 1:
            raise RuntimeError(f"bare move of {jid} found no row at version 4")
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.execute(
            "INSERT INTO transitions VALUES (?, 2, 5, 'consultation', 'harvest', 1, ?, ?, 'bench')",
            (jid, when, now),
        )
        conn.execute("COMMIT")
    return time.perf_counter() - start


def _same_sql(
    path: Path, capture_path: Path, ids: list[str], *, warm: bool
) -> tuple[sqlite3.Connection, Any]:
    """A connection to a copy of the store file, and each move's statements, ready beforehand.

    The statements are captured from the store's own connection while it makes the same
    moves, in the same order, on another copy of the file (``_trace``); this copy then
    replays them, so it stays the same as that one. With ``warm``, the capturing store
    reads the journeys first, as the warm store does (a store reuses the working copy
    it read while the journey's row is unchanged, so it runs fewer statements).
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    captures = []
    with open_store(capture_path) as store:
        if warm:
            for jid in ids:
                store.journey(jid)
        for jid in ids:
            _, seen = _trace.capture(store.db.conn, lambda j=jid, s=store: _store_moves(s, [j]))
            captures.append(seen)
    steps = _trace.lift(captures)
    return conn, (steps, captures)


def _same_sql_moves(conn: sqlite3.Connection, moves: list[list[_trace.Step]]) -> float:
    start = time.perf_counter()
    for steps in moves:
        _trace.run(conn, steps)
    return time.perf_counter() - start


def _store_moves(store: Store, ids: list[str]) -> float:
    start = time.perf_counter()
    for jid in ids:
        store.move(jid, "harvest", actor="bench", occurred_at=WHEN, expected_version=4)
    return time.perf_counter() - start


def measure(blocks: int, block: int) -> dict[str, object]:
    """Interleave the four kinds of move; return microseconds per move and the ratios.

    A first block of each kind runs untimed (the same-SQL one checked statement for
    statement against the capture); ``blocks`` timed blocks follow.
    """
    count = (blocks + 1) * block
    times: dict[str, list[float]] = {
        "warm": [],
        "cold": [],
        "same_sql": [],
        "same_sql_cold": [],
        "minimal": [],
    }
    with tempfile.TemporaryDirectory(prefix="stemjourney-move-") as tmp:
        ids = _prepare(Path(tmp) / "warm.db", count)
        for name in ("cold", "same", "capture", "same_cold", "capture_cold"):
            shutil.copyfile(Path(tmp) / "warm.db", Path(tmp) / f"{name}.db")
        bare = _bare(Path(tmp) / "bare.db", count)
        same, (moves, captures) = _same_sql(
            Path(tmp) / "same.db", Path(tmp) / "capture.db", ids, warm=True
        )
        same_cold, (cold_moves, cold_captures) = _same_sql(
            Path(tmp) / "same_cold.db", Path(tmp) / "capture_cold.db", ids, warm=False
        )
        warm = open_store(Path(tmp) / "warm.db")
        cold = open_store(Path(tmp) / "cold.db")
        for jid in ids:
            warm.journey(jid)
        try:
            _store_moves(warm, ids[:block])
            differs = _trace.check(same, moves[0], captures[0])
            differs += _trace.check(same_cold, cold_moves[0], cold_captures[0])
            _same_sql_moves(same, moves[1:block])
            _same_sql_moves(same_cold, cold_moves[1:block])
            _bare_moves(bare, ids[:block])
            _store_moves(cold, ids[:block])
            for b in range(1, blocks + 1):
                part = ids[b * block : (b + 1) * block]
                times["warm"].append(_store_moves(warm, part))
                times["same_sql"].append(_same_sql_moves(same, moves[b * block : (b + 1) * block]))
                times["minimal"].append(_bare_moves(bare, part))
                times["cold"].append(_store_moves(cold, part))
                times["same_sql_cold"].append(
                    _same_sql_moves(same_cold, cold_moves[b * block : (b + 1) * block])
                )
        finally:
            warm.close()
            cold.close()
            bare.close()
            same.close()
            same_cold.close()
    us = {k: round(statistics.median(v) / block * 1e6, 1) for k, v in times.items()}

    def ratio(ours: str, ref: str) -> float:
        pairs = zip(times[ours], times[ref], strict=True)
        return round(statistics.median(a / b for a, b in pairs), 3)

    return {
        "moves": blocks * block,
        "block": block,
        "us_per_move_median": us,
        "ratio_warm": ratio("warm", "same_sql"),
        "ratio_cold": ratio("cold", "same_sql_cold"),
        "ratio_warm_to_minimal": ratio("warm", "minimal"),
        "ratio_cold_to_minimal": ratio("cold", "minimal"),
        "same_sql_to_minimal": ratio("same_sql", "minimal"),
        "same_sql_statements": [sql for sql, _ in moves[0]],
        "same_sql_cold_statements": [sql for sql, _ in cold_moves[0]],
        "same_sql_differs": differs,
    }


def main() -> None:
    """Measure and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps(measure(args.blocks, args.block)))


if __name__ == "__main__":
    main()
