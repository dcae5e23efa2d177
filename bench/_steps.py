"""The harness's steps; each runs in its own process so its peak memory is its own.

Every step takes the work directory and the run's sizes and returns a dict of
figures (it is printed as JSON by ``run.py --step``); ``peak_mb`` is the step's
own peak resident memory.
"""

from __future__ import annotations

import pickle
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

import _data
import _fhir
import _refs
from _measure import best_of, peak_mb, timed

from stemjourney.clinical._codec import time_text
from stemjourney.reports import cohort_report, worklist_report
from stemjourney.store import open_store

Step = Callable[[Path, dict[str, Any]], dict[str, Any]]
DB = "clinic.db"


def build(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Build the journeys (through the engine, persisted in bulk)."""
    path = work / DB
    seconds, plans = timed(lambda: _data.build(path, size["journeys"], workers=2))
    with (work / "plans.pickle").open("wb") as out:
        pickle.dump(plans, out)
    conn = sqlite3.connect(path)
    counts = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
        for t in ("patients", "journeys", "audit_log", "observations")
    }
    conn.close()
    return {"seconds": round(seconds, 1), "injected_journeys": len(plans), **counts}


def _raw_rows(path: Path, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The 14-column rows the store writes for ``rows``, for the raw reference."""
    conn = sqlite3.connect(path)
    state = {
        row[0]: list(row[1:])
        for row in conn.execute(
            "SELECT j.id, j.version, j.cycle, j.stage, "
            "(SELECT max(seq) FROM transitions WHERE journey_id = j.id), "
            "(SELECT min(id) FROM audit_log WHERE journey_id = j.id) FROM journeys AS j"
        )
    }
    conn.close()
    now = time_text(_data.NOW + timedelta(hours=12))
    out = []
    for jid, instrument, value, at in rows:
        s = state[jid]
        s[0] += 1
        out.append(
            (jid, s[0], instrument, float(value), None, time_text(at), s[1], s[2], s[3], now,
             "bench.import", None, None, s[4])
        )  # fmt: skip
    return out


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def import_scores(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Bulk import of the NRS scores through ``Store.import_scores`` against raw executemany."""
    with (work / "plans.pickle").open("rb") as src:
        plans = pickle.load(src)
    rows = _data.score_rows(plans, size["scores"])
    path, raw_path = work / DB, work / "raw.db"
    shutil.copyfile(path, raw_path)
    raw_rows = _raw_rows(raw_path, rows)
    conn = _raw_connection(raw_path)
    sql = (
        "INSERT INTO observations (journey_id, version, instrument, value, answers, measured_at, "
        "cycle, stage, stage_seq, recorded_at, actor, amends, reason, audit_id) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    raw_s, _ = timed(lambda: _refs.raw_import(conn, raw_rows, sql))
    conn.close()
    raw_rows.clear()
    raw_path.unlink()
    for extra in ("-wal", "-shm"):
        Path(f"{raw_path}{extra}").unlink(missing_ok=True)
    before = path.stat().st_size
    with open_store(path) as store:
        ours_s, written = timed(
            lambda: store.import_scores(rows, actor="bench.import", batch_size=size["batch"])
        )
        scores = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = path.stat().st_size
    assert written == len(rows)
    return {
        "rows": len(rows),
        "batch_size": size["batch"],
        "raw_rows_per_s": round(len(rows) / raw_s),
        "store_rows_per_s": round(len(rows) / ours_s),
        "raw_s": round(raw_s, 2),
        "store_s": round(ours_s, 2),
        "ratio": round(raw_s / ours_s, 3),
        "scores_in_db": scores,
        "db_bytes": after,
        "db_mb_per_million_scores": round(after / scores, 1),
        "import_mb_per_million_scores": round((after - before) / len(rows), 1),
        "peak_mb": peak_mb(),
    }


def cohort(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """The cohort report against the SQL reference (numbers checked equal) and against
    its floor: plain sqlite3 reading the rows the report needs, no computing.

    The report and the floor run interleaved in this process, each first on a freshly
    opened connection (cold: SQLite's page cache empty), then ``rounds`` more times
    (warm); ``vs_floor`` is the ratio of the warm medians. ``ratio`` is the report's
    best warm run to the reference's best of ``repeat``.
    """
    repeat = size["repeat"]
    rounds = max(3, repeat + 1)
    report_s: list[float] = []
    floor_s: list[float] = []
    with open_store(work / DB) as store:
        journeys = store.db.execute("SELECT count(*) FROM journeys").fetchone()[0]
        scores = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    floor_conn = sqlite3.connect(work / DB, isolation_level=None)
    with open_store(work / DB) as store:
        for _ in range(rounds + 1):
            seconds, report = timed(lambda: cohort_report(store, on=_data.TODAY, instrument="nrs"))
            report_s.append(seconds)
            seconds, floor_rows = timed(lambda: _refs.cohort_floor(floor_conn, "nrs"))
            floor_s.append(seconds)
        report_peak = peak_mb()
    floor_conn.close()
    conn = sqlite3.connect(work / DB, isolation_level=None)
    ref_s, ref = best_of(repeat, lambda: _refs.cohort(conn, _data.TODAY))
    conn.close()
    ours = _refs.from_report(report)
    found = _refs.differences(ours, ref)
    report_warm, floor_warm = median(report_s[1:]), median(floor_s[1:])
    return {
        "journeys": journeys,
        "scores": scores,
        "groups": len(report.groups),
        "report_s": round(min(report_s[1:]), 2),
        "sql_s": round(ref_s, 2),
        "ratio": round(min(report_s[1:]) / ref_s, 3),
        "floor_rows": floor_rows,
        "report_cold_s": round(report_s[0], 2),
        "report_warm_s": round(report_warm, 2),
        "floor_cold_s": round(floor_s[0], 2),
        "floor_warm_s": round(floor_warm, 2),
        "vs_floor": round(report_warm / floor_warm, 3),
        "vs_floor_cold": round(report_s[0] / floor_s[0], 3),
        "runs_s": {
            "report": [round(t, 2) for t in report_s],
            "floor": [round(t, 2) for t in floor_s],
        },
        "report_peak_mb": report_peak,
        "agree": not found,
        "differences": found,
        "peak_mb": peak_mb(),
    }


def worklist(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """One week's work-list against indexed SQL; rows checked equal."""
    repeat = size["repeat"]
    start = _data.TODAY
    end = start + timedelta(days=6)
    with open_store(work / DB) as store:
        ours_s, report = best_of(repeat, lambda: worklist_report(store, start, end))
        report_peak = peak_mb()
        conn = sqlite3.connect(work / DB)
        ref_s, ref = best_of(repeat, lambda: _refs.worklist(conn, start, end))
        conn.close()
    items = _refs.worklist_items(report)
    rows = [tuple(r) for r in ref]
    only_ref, only_ours = set(rows) - set(items), set(items) - set(rows)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "items": len(items),
        "report_s": round(ours_s, 3),
        "sql_s": round(ref_s, 3),
        "ratio": round(ours_s / ref_s, 3),
        "report_peak_mb": report_peak,
        "agree": rows == items,
        "differences": {
            "reference_only": sorted(only_ref)[:3],
            "library_only": sorted(only_ours)[:3],
        },
        "peak_mb": peak_mb(),
    }


def verify(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """``Store.verify()`` over the whole clinic."""
    with open_store(work / DB) as store:
        seconds, report = timed(store.verify)
    entries = report.audit_entries
    return {
        "ok": report.ok,
        "problems": list(report.problems[:5]),
        "audit_entries": entries,
        "journeys": report.journeys,
        "seconds": round(seconds, 1),
        "s_per_million_audit_entries": round(seconds / entries * 1e6, 1),
        "peak_mb": peak_mb(),
    }


def fhir(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """The FHIR export of the whole clinic against plain sqlite3 and json.dumps (``_fhir``)."""
    return _fhir.fhir_step(work / DB, size["repeat"])


STEPS: dict[str, Step] = {
    "build": build,
    "import": import_scores,
    "cohort": cohort,
    "worklist": worklist,
    "verify": verify,
    "fhir": fhir,
}


def run_step(name: str, work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Run one step here and return its figures with its wall time."""
    start = time.perf_counter()
    out = STEPS[name](work, size)
    out["step_s"] = round(time.perf_counter() - start, 1)
    return out
