"""Where the store's time goes: cProfile of ``verify()`` and of the bulk score import, and
the import's SQL alone on the store's table and on a lean one.

Not part of ``make bench`` (profiling slows Python code several-fold, unevenly): run it
on a work directory a bench run left (``python bench/run.py --work DIR``; or only its
``build`` and ``import`` steps) to see which functions take the time behind
``verify_vs_floor`` and ``import_vs_lean``. Prints JSON: each operation's seconds
without and with the profiler, and its functions by own time and by cumulative time
(each with its share of the profiled total).

``import_sql`` times raw ``executemany`` of the same score rows, one transaction per
half, into copies of the clinic: the store's ``observations`` table as it is (its
indexes, foreign keys on), with foreign keys off, without its secondary indexes too, and
a lean five-fact table with only a primary key: what the table itself costs.

Run: ``python bench/_profile.py --work DIR [--what verify,import,import_sql] [--rows N]``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import pstats
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _data

from stemjourney.store import open_store


def _top(profile: cProfile.Profile, key: str, top: int, only: str = "") -> list[dict[str, Any]]:
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(file).name}:{line}({name})" if line else name
        if only and only not in file:
            continue
        rows.append(
            {
                "function": where,
                "calls": calls,
                "own_s": round(own, 3),
                "own_share": round(own / total, 3),
                "cumulative_s": round(cumulative, 3),
                "cumulative_share": round(cumulative / total, 3),
            }
        )
    rows.sort(key=lambda r: -r[key])
    return rows[:top]


def _profiled(work: Callable[[], Any], top: int) -> dict[str, Any]:
    began = time.perf_counter()
    work()
    plain = time.perf_counter() - began
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    work()
    profile.disable()
    return {
        "seconds": round(plain, 2),
        "profiled_seconds": round(time.perf_counter() - began, 2),
        "by_own_time": _top(profile, "own_s", top),
        "library_by_cumulative_time": _top(profile, "cumulative_s", top, only="stemjourney"),
    }


def _rows(plans: list[_data.Plan], count: int) -> list[tuple[Any, ...]]:
    """``count`` score rows drawn as the bench draws its million (another seed)."""
    return _data.score_rows(plans, max(count, _data.SCORES), seed=_data.SEED + 7)[:count]


def main() -> None:
    """Profile and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--what", default="verify,import,import_sql")
    parser.add_argument("--rows", type=int, default=100_000, help="score rows imported")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    what = args.what.split(",")
    if "verify" in what:
        with open_store(args.work / "clinic.db") as store:
            out["verify"] = _profiled(store.verify, args.top)
    if "import" in what:
        with (args.work / "plans.pickle").open("rb") as src:
            plans = pickle.load(src)
        rows = _rows(plans, args.rows)
        with tempfile.TemporaryDirectory(prefix="stemjourney-profile-") as tmp:
            copy = Path(tmp) / "clinic.db"
            shutil.copyfile(args.work / "clinic.db", copy)
            half = len(rows) // 2
            with open_store(copy) as store:
                parts = iter((rows[:half], rows[half:]))
                out["import"] = _profiled(
                    lambda: store.import_scores(next(parts), actor="bench.profile"), args.top
                )
                out["import"]["rows_each_run"] = half
    if "import_sql" in what:
        out["import_sql"] = _import_sql(args.work, args.rows)
    print(json.dumps(out, indent=1))


def _import_sql(work: Path, count: int) -> dict[str, Any]:
    """Seconds of raw ``executemany`` of the same rows into the store's table and others."""
    from _steps import _LEAN, _LEAN_INSERT, OBSERVATIONS_INSERT, _lean_rows, _raw_rows

    with (work / "plans.pickle").open("rb") as src:
        plans = pickle.load(src)
    rows = _rows(plans, count)
    out: dict[str, Any] = {"rows": len(rows)}
    kinds = {
        "observations": ("ON", False),
        "observations_no_foreign_keys": ("OFF", False),
        "observations_no_foreign_keys_no_index": ("OFF", True),
    }
    with tempfile.TemporaryDirectory(prefix="stemjourney-profile-") as tmp:
        copy = Path(tmp) / "clinic.db"
        shutil.copyfile(work / "clinic.db", copy)
        ready = _raw_rows(copy, rows)
        for name, (keys, drop) in kinds.items():
            shutil.copyfile(work / "clinic.db", copy)
            conn = sqlite3.connect(copy, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(f"PRAGMA foreign_keys = {keys}")
            if drop:
                for (index,) in conn.execute(_SECONDARY).fetchall():
                    conn.execute(f"DROP INDEX {index}")
            out[name + "_s"] = round(_halves(conn, OBSERVATIONS_INSERT, ready), 3)
            conn.close()
        lean_path = Path(tmp) / "lean.db"
        conn = sqlite3.connect(lean_path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(_LEAN)
        out["lean_s"] = round(_halves(conn, _LEAN_INSERT, _lean_rows(rows)), 3)
        conn.close()
    return out


_SECONDARY = (
    "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'observations' "
    "AND sql IS NOT NULL"
)
"""The secondary indexes of ``observations`` (not its primary key)."""


def _halves(conn: sqlite3.Connection, sql: str, rows: list[Any]) -> float:
    half = len(rows) // 2
    began = time.perf_counter()
    for part in (rows[:half], rows[half:]):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, part)
        conn.execute("COMMIT")
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
