"""The cost of one persisted move beside bare sqlite3 doing the same write, in one run.

The store's move (``BEGIN IMMEDIATE``, read the journey, the engine's guards, the
transition row, the hash-chained audit entry, the version-checked UPDATE, COMMIT)
is timed against bare sqlite3 doing ``UPDATE ... WHERE version = ?`` and one INSERT
in one ``BEGIN IMMEDIATE`` transaction on equivalent tables, both in WAL with
``synchronous=FULL`` in the same directory. Prints JSON: microseconds per move (best
of ``--repeat`` rounds) and the ratio. ``warm`` reuses the store's journey cache (the
writing process read the journey before); ``cold`` opens a fresh store first, so each
move loads the journey's history.

Run: ``python bench/store_move.py [--moves 500] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import stemjourney as sj
from stemjourney.store import open_store

DAY0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _prepare(path: Path, moves: int) -> list[str]:
    """A store with ``moves`` journeys, each ready to move from consultation to harvest."""
    ids = []
    with open_store(path) as store:
        store.add_patient("mrn-bench", actor="bench", patient_id="p-bench")
        for i in range(moves):
            jid = f"j-{i:06d}"
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
            ids.append(jid)
    return ids


def _store_moves(path: Path, ids: list[str], *, warm: bool) -> float:
    with open_store(path) as store:
        if warm:
            for jid in ids:
                store.journey(jid)
        when = DAY0 + timedelta(days=7)
        start = time.perf_counter()
        for jid in ids:
            store.move(jid, "harvest", actor="bench", occurred_at=when, expected_version=4)
        return (time.perf_counter() - start) / len(ids)


def _bare(path: Path, moves: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS journeys (id TEXT PRIMARY KEY, stage TEXT NOT NULL, "
        "cycle INTEGER NOT NULL, version INTEGER NOT NULL) STRICT"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS transitions (journey_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "version INTEGER NOT NULL, source TEXT, target TEXT NOT NULL, cycle INTEGER NOT NULL, "
        "occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL, "
        "PRIMARY KEY (journey_id, seq)) STRICT, WITHOUT ROWID"
    )
    conn.execute("DELETE FROM journeys")
    conn.execute("DELETE FROM transitions")
    conn.executemany(
        "INSERT INTO journeys VALUES (?, 'consultation', 1, 4)",
        [(f"j-{i:06d}",) for i in range(moves)],
    )
    when = (DAY0 + timedelta(days=7)).isoformat(timespec="microseconds")
    start = time.perf_counter()
    for i in range(moves):
        jid = f"j-{i:06d}"
        conn.execute("BEGIN IMMEDIATE")
        done = conn.execute(
            "UPDATE journeys SET stage = 'harvest', version = 5 WHERE id = ? AND version = 4",
            (jid,),
        ).rowcount
        assert done == 1
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.execute(
            "INSERT INTO transitions VALUES (?, 2, 5, 'consultation', 'harvest', 1, ?, ?, 'bench')",
            (jid, when, now),
        )
        conn.execute("COMMIT")
    elapsed = (time.perf_counter() - start) / moves
    conn.close()
    return elapsed


def main() -> None:
    """Run the rounds and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moves", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best = {"store_warm": float("inf"), "store_cold": float("inf"), "bare": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            for name in ("store_warm", "store_cold"):
                path = Path(tmp) / f"{name}-{n}.db"
                ids = _prepare(path, args.moves)
                seconds = _store_moves(path, ids, warm=name == "store_warm")
                best[name] = min(best[name], seconds)
            best["bare"] = min(best["bare"], _bare(Path(tmp) / f"bare-{n}.db", args.moves))
    micro = {k: round(v * 1e6, 1) for k, v in best.items()}
    print(
        json.dumps(
            {
                "moves": args.moves,
                "repeat": args.repeat,
                "sqlite": sqlite3.sqlite_version,
                "synchronous": "FULL",
                "us_per_move": micro,
                "ratio_warm": round(best["store_warm"] / best["bare"], 2),
                "ratio_cold": round(best["store_cold"] / best["bare"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
