"""One persisted move against bare SQL, interleaved block by block so all see the same disk.

An fsync on a shared or virtual disk varies several-fold from one second to the
next, so timing the store and the bare SQL one after the other compares the disk
more than the code. Here blocks of ``--block`` moves alternate between:

- ``warm``: the store, its journeys read first (a workstation reads, then moves);
- ``cold``: the store freshly opened (each move loads the journey's history);
- ``same_sql``: bare sqlite3 on a copy of the same store file, running the same
  statements the store runs for a move (read the journey's version, read the
  audit chain's head, INSERT the audit entry, INSERT the transition, UPDATE the
  journey ``WHERE version = ?``) with every value, payload and hash computed
  before the clock starts: the raw database underneath, doing the same writes;
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

import stemjourney as sj
from stemjourney.clinical._codec import canonical_json, time_text
from stemjourney.store import Store, open_store
from stemjourney.store._chain import entry_hash

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


def _same_sql(path: Path, ids: list[str]) -> tuple[sqlite3.Connection, list[tuple[Any, ...]]]:
    """A connection to a copy of the store file, and each move's values, ready beforehand."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    last_id, prev = conn.execute(_HEAD).fetchone()
    recorded = time_text(datetime.now(UTC))
    occurred = time_text(WHEN)
    moves = []
    for jid in ids:
        last_id += 1
        payload = canonical_json(
            {
                "entry": {
                    "journey_id": jid,
                    "seq": 2,
                    "source": "consultation",
                    "target": "harvest",
                    "cycle": 1,
                    "occurred_at": occurred,
                    "recorded_at": recorded,
                    "actor": "bench",
                    "version": 5,
                    "reason": None,
                    "late_reason": None,
                    "override_reason": None,
                }
            }
        )
        fields = (last_id, "move", "p-bench", jid, 5, recorded, "bench", None, payload)
        digest = entry_hash(prev, fields)
        moves.append((jid, (*fields, prev, digest), occurred, recorded))
        prev = digest
    return conn, moves


_HEAD = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"


def _same_sql_moves(conn: sqlite3.Connection, moves: list[tuple[Any, ...]]) -> float:
    start = time.perf_counter()
    for jid, audit, occurred, recorded in moves:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "SELECT id, patient_id, condition, site, side, cell_source, version FROM journeys "
            "WHERE id = ?",
            (jid,),
        ).fetchone()
        conn.execute(_HEAD).fetchone()
        conn.execute(
            "INSERT INTO audit_log (id, action, patient_id, journey_id, version, recorded_at, "
            "actor, idempotency_key, payload, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            audit,
        )
        conn.execute(
            "INSERT INTO transitions (journey_id, seq, version, source, target, cycle, "
            "occurred_at, recorded_at, actor, reason, late_reason, override_reason, audit_id) "
            "VALUES (?, 2, 5, 'consultation', 'harvest', 1, ?, ?, 'bench', NULL, NULL, NULL, ?)",
            (jid, occurred, recorded, audit[0]),
        )
        done = conn.execute(
            "UPDATE journeys SET stage = 'harvest', cycle = 1, version = 5, "
            "closed_at = coalesce(closed_at, NULL), updated_at = ? WHERE id = ? AND version = 4",
            (recorded, jid),
        ).rowcount
        if done != 1:
            raise RuntimeError(f"same-SQL move of {jid} found no row at version 4")
        conn.execute("COMMIT")
    return time.perf_counter() - start


def _store_moves(store: Store, ids: list[str]) -> float:
    start = time.perf_counter()
    for jid in ids:
        store.move(jid, "harvest", actor="bench", occurred_at=WHEN, expected_version=4)
    return time.perf_counter() - start


def measure(blocks: int, block: int) -> dict[str, object]:
    """Interleave the four kinds of move; return microseconds per move and the ratios."""
    count = blocks * block
    times: dict[str, list[float]] = {"warm": [], "cold": [], "same_sql": [], "minimal": []}
    with tempfile.TemporaryDirectory(prefix="stemjourney-move-") as tmp:
        ids = _prepare(Path(tmp) / "warm.db", count)
        for name in ("cold", "same"):
            shutil.copyfile(Path(tmp) / "warm.db", Path(tmp) / f"{name}.db")
        bare = _bare(Path(tmp) / "bare.db", count)
        same, moves = _same_sql(Path(tmp) / "same.db", ids)
        warm = open_store(Path(tmp) / "warm.db")
        cold = open_store(Path(tmp) / "cold.db")
        for jid in ids:
            warm.journey(jid)
        try:
            for b in range(blocks):
                part = ids[b * block : (b + 1) * block]
                times["warm"].append(_store_moves(warm, part))
                times["same_sql"].append(_same_sql_moves(same, moves[b * block : (b + 1) * block]))
                times["minimal"].append(_bare_moves(bare, part))
                times["cold"].append(_store_moves(cold, part))
        finally:
            warm.close()
            cold.close()
            bare.close()
            same.close()
    us = {k: round(statistics.median(v) / block * 1e6, 1) for k, v in times.items()}

    def ratio(ours: str, ref: str) -> float:
        pairs = zip(times[ours], times[ref], strict=True)
        return round(statistics.median(a / b for a, b in pairs), 3)

    return {
        "moves": count,
        "block": block,
        "us_per_move_median": us,
        "ratio_warm": ratio("warm", "same_sql"),
        "ratio_cold": ratio("cold", "same_sql"),
        "ratio_warm_to_minimal": ratio("warm", "minimal"),
        "ratio_cold_to_minimal": ratio("cold", "minimal"),
        "same_sql_to_minimal": ratio("same_sql", "minimal"),
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
