"""The harness's steps; each runs in its own process so its peak memory is its own.

Every step takes the work directory and the run's sizes and returns a dict of
figures (it is printed as JSON by ``run.py --step``); ``peak_mb`` is the step's
own peak resident memory.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

import _data
import _fhir
import _refs
import _written
from _measure import best_of, peak_mb, timed

from stemjourney.clinical._codec import time_text
from stemjourney.reports import cohort_report, worklist_report
from stemjourney.reports._cohort_shards import default_workers
from stemjourney.store import open_store

Step = Callable[[Path, dict[str, Any]], dict[str, Any]]
DB = "clinic.db"


def build(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Build the journeys (through the engine, persisted in bulk)."""
    path = work / DB
    _unlink_db(path)
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
    """The ``observations`` rows the store writes for ``rows``, for the raw reference.

    Each journey's versions go on from its summary row; the rows name the journey's
    latest audit entry (an existing one: foreign keys are on).
    """
    conn = sqlite3.connect(path)
    state = {
        row[0]: list(row[1:])
        for row in conn.execute("SELECT id, version, cycle, stage_seq, last_audit_id FROM journeys")
    }
    conn.close()
    out = []
    for jid, instrument, value, at in rows:
        s = state[jid]
        s[0] += 1
        out.append((jid, s[0], instrument, value, None, time_text(at), s[1], s[2], None, s[3]))
    return out


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


_LEAN = (
    "CREATE TABLE lean_scores (journey_id TEXT NOT NULL, instrument TEXT NOT NULL, "
    "value ANY NOT NULL, measured_at TEXT NOT NULL, version INTEGER NOT NULL, "
    "PRIMARY KEY (journey_id, version)) STRICT, WITHOUT ROWID"
)
_LEAN_INSERT = (
    "INSERT INTO lean_scores (journey_id, instrument, value, measured_at, version) "
    "VALUES (?, ?, ?, ?, ?)"
)


def _lean_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The five facts of each score, ready for ``executemany`` (versions from 1 a journey)."""
    versions: dict[str, int] = {}
    out = []
    for jid, instrument, value, at in rows:
        versions[jid] = versions.get(jid, 0) + 1
        out.append((jid, instrument, value, time_text(at), versions[jid]))
    return out


def _lean_batch(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> float:
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(_LEAN_INSERT, rows)
    conn.execute("COMMIT")
    return time.perf_counter() - start


def import_scores(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Bulk import of the NRS scores through ``Store.import_scores``.

    Against two references: ``ratio``, raw ``executemany`` of the same rows into the
    same table of a copy of the file, one transaction (before the import); and
    ``vs_lean``, raw ``executemany`` of the same five facts into a minimal STRICT table
    with only a primary key, one transaction per batch of the import's size,
    interleaved batch by batch with the import (each batch of the import is one call
    of ``import_scores``, one transaction, as its default batch makes it).
    """
    with (work / "plans.pickle").open("rb") as src:
        plans = pickle.load(src)
    rows = _data.score_rows(plans, size["scores"])
    path, raw_path = work / DB, work / "raw.db"
    shutil.copyfile(path, raw_path)
    raw_rows = _raw_rows(raw_path, rows)
    conn = _raw_connection(raw_path)
    raw_s, _ = timed(lambda: _refs.raw_import(conn, raw_rows, OBSERVATIONS_INSERT))
    conn.close()
    raw_rows.clear()
    _unlink_db(raw_path)
    lean_path = work / "lean.db"
    _unlink_db(lean_path)
    lean = _raw_connection(lean_path)
    lean.execute(_LEAN)
    lean_rows = _lean_rows(rows)
    batch = size["batch"]
    store_s: list[float] = []
    lean_s: list[float] = []
    before = path.stat().st_size
    written = 0
    with open_store(path) as store:
        for start in range(0, len(rows), batch):
            began = time.perf_counter()
            written += store.import_scores(rows[start : start + batch], actor="bench.import")
            store_s.append(time.perf_counter() - began)
            lean_s.append(_lean_batch(lean, lean_rows[start : start + batch]))
        scores = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lean.close()
    _unlink_db(lean_path)
    after = path.stat().st_size
    assert written == len(rows)
    ours_s, lean_total = sum(store_s), sum(lean_s)
    return {
        "rows": len(rows),
        "batch_size": batch,
        "raw_rows_per_s": round(len(rows) / raw_s),
        "store_rows_per_s": round(len(rows) / ours_s),
        "lean_rows_per_s": round(len(rows) / lean_total),
        "raw_s": round(raw_s, 2),
        "store_s": round(ours_s, 2),
        "lean_s": round(lean_total, 2),
        "ratio": round(raw_s / ours_s, 3),
        "vs_lean": round(lean_total / ours_s, 3),
        "vs_lean_median_batch": round(
            median(b / a for a, b in zip(store_s, lean_s, strict=True)), 3
        ),
        "scores_in_db": scores,
        "db_bytes": after,
        "db_mb_per_million_scores": round(after / scores, 1),
        "import_mb_per_million_scores": round((after - before) / len(rows), 1),
        "peak_mb": peak_mb(),
    }


def _unlink_db(path: Path) -> None:
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


OBSERVATIONS_INSERT = (
    "INSERT INTO observations (journey_id, version, instrument, value, answers, measured_at, "
    "cycle, stage_seq, amends, audit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _cpu_since(before: os.times_result) -> float:
    """CPU seconds of this process and its finished workers since ``before``."""
    now = os.times()
    return (now.user + now.system + now.children_user + now.children_system) - (
        before.user + before.system + before.children_user + before.children_system
    )


def cohort(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """The cohort report against the SQL reference (numbers checked equal) and against
    its floor: plain sqlite3 reading the rows the report needs, no computing.

    The report and the floor run interleaved in this process, each first on a freshly
    opened connection (cold: SQLite's page cache empty), then ``rounds`` more times
    (warm); ``vs_floor`` is the ratio of the warm medians. ``ratio`` is the report's
    best warm run to the reference's best of ``repeat``. The report folds the store on
    this machine's cores, as a caller's report does by default: its CPU seconds (this
    process and its workers) are reported beside its wall time, and the same report
    folded in this process alone (``workers=1``) runs interleaved too, checked equal,
    as ``vs_floor_one_process``.
    """
    repeat = size["repeat"]
    rounds = max(3, repeat + 1)
    report_s: list[float] = []
    report_cpu: list[float] = []
    alone_s: list[float] = []
    same_alone = True
    floor_s: list[float] = []
    with open_store(work / DB) as store:
        journeys = store.db.execute("SELECT count(*) FROM journeys").fetchone()[0]
        scores = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    floor_conn = sqlite3.connect(work / DB, isolation_level=None)
    with open_store(work / DB) as store:
        for _ in range(rounds + 1):
            cpu = os.times()
            seconds, report = timed(lambda: cohort_report(store, on=_data.TODAY, instrument="nrs"))
            report_s.append(seconds)
            report_cpu.append(_cpu_since(cpu))
            seconds, alone = timed(
                lambda: cohort_report(store, on=_data.TODAY, instrument="nrs", workers=1)
            )
            alone_s.append(seconds)
            same_alone = same_alone and alone == report
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
    alone_warm = median(alone_s[1:])
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
        "report_workers": default_workers(),
        "report_cpu_warm_s": round(median(report_cpu[1:]), 2),
        "one_process_warm_s": round(alone_warm, 2),
        "vs_floor_one_process": round(alone_warm / floor_warm, 3),
        "one_process_agrees": same_alone,
        "runs_s": {
            "report": [round(t, 2) for t in report_s],
            "floor": [round(t, 2) for t in floor_s],
            "one_process": [round(t, 2) for t in alone_s],
        },
        "report_peak_mb": report_peak,
        "agree": not found and same_alone,
        "differences": found,
        "peak_mb": peak_mb(),
    }


class _FactsOnly:
    """The store seen only as a source of outcome facts: the work-list then folds every
    open journey's facts (the design before the store kept the schedule)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "iter_scheduled":
            raise AttributeError(name)
        return getattr(self._store, name)


def worklist(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """One week's work-list against hand SQL over the schedule table (``ratio``) and
    against the work-list folded from every open journey's facts (``speedup``), in
    interleaved rounds (medians); rows checked equal to both and to the independent SQL
    that computes the visits from the injections (``_refs.worklist``)."""
    rounds = max(5, size["repeat"])
    start = _data.TODAY
    end = start + timedelta(days=6)
    ours: list[float] = []
    hand: list[float] = []
    folded: list[float] = []
    with open_store(work / DB) as store:
        conn = sqlite3.connect(work / DB)
        for n in range(rounds):
            s, report = timed(lambda: worklist_report(store, start, end))
            ours.append(s)
            s, rows = timed(lambda: _refs.scheduled(conn, start, end))
            hand.append(s)
            if n < 2:  # the folded design is ten times slower: two rounds tell
                s, slow = timed(lambda: worklist_report(_FactsOnly(store), start, end))
                folded.append(s)
        report_peak = peak_mb()
        computed = [tuple(r) for r in _refs.worklist(conn, start, end)]
        conn.close()
    items = _refs.worklist_items(report)
    only_ref, only_ours = set(computed) - set(items), set(items) - set(computed)
    ratios = [a / b for a, b in zip(ours, hand, strict=True)]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "items": len(items),
        "report_s": round(median(ours), 4),
        "schedule_sql_s": round(median(hand), 4),
        "folded_s": round(median(folded), 3),
        "ratio": round(median(ratios), 3),
        "speedup": round(median(folded) / median(ours), 1),
        "report_peak_mb": report_peak,
        "agree": rows == items == computed and slow.items == report.items,
        "differences": {
            "reference_only": sorted(only_ref)[:3],
            "library_only": sorted(only_ours)[:3],
        },
        "peak_mb": peak_mb(),
    }


def verify(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """``Store.verify()`` over the whole clinic, against its floor (``_refs.verify_floor``:
    plain sqlite3 reading every row of every table in verify's order, SHA-256 of each).

    The file is read through once first, so the operating system's cache holds it for
    both. Then ``max(2, repeat)`` rounds, the library first in one round and the floor
    first in the next: a store is opened and verifies three times (cold: the first run
    after opening; warm: the run after it; both on this machine's cores, as a caller's
    verify() is by default; then ``workers=1``, checked equal: ``vs_floor_one_process``
    against the warm floor), then a plain connection reads twice, or the other way round.
    A ratio is the median of the rounds' ratios of wall time (``_cpu``: of the CPU time
    of this process and its workers, less moved by other work on a shared machine). Beside them,
    SQLite's own check that verify runs (``quick_check``), and ``foreign_key_check``, which
    it no longer runs (its row pass follows every reference but a journey's patient, which
    one query checks), timed alone on a plain connection: part of verify's time that the
    floor does not do, and what it saves.
    """
    path = work / DB
    with path.open("rb") as whole:
        while whole.read(1 << 24):
            pass
    runs: dict[str, list[float]] = {
        "cold": [],
        "warm": [],
        "one_process": [],
        "floor_cold": [],
        "floor_warm": [],
    }
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    report: Any = None
    same_alone = True
    rows: dict[str, int] = {}
    for turn in range(max(2, size["repeat"])):
        for side in ("library", "floor") if turn % 2 == 0 else ("floor", "library"):
            if side == "library":
                with open_store(path) as store:
                    for kind in ("cold", "warm", "one_process"):
                        began = os.times()
                        workers = 1 if kind == "one_process" else None
                        seconds, found = timed(lambda w=workers: store.verify(workers=w))
                        cpu[kind].append(_cpu_since(began))
                        runs[kind].append(seconds)
                        same_alone = same_alone and (report is None or found == report)
                        report = found
            else:
                conn = sqlite3.connect(path, isolation_level=None)
                for kind in ("floor_cold", "floor_warm"):
                    began = os.times()
                    seconds, rows = timed(lambda c=conn: _refs.verify_floor(c))
                    cpu[kind].append(_cpu_since(began))
                    runs[kind].append(seconds)
                conn.close()
    checks_conn = sqlite3.connect(path, isolation_level=None)
    quick_s, _ = timed(lambda: checks_conn.execute("PRAGMA quick_check").fetchall())
    fk_s, _ = timed(lambda: checks_conn.execute("PRAGMA foreign_key_check").fetchall())
    checks_conn.close()
    entries = report.audit_entries

    def ratio(ours: str, floor: str, times: dict[str, list[float]] = runs) -> float:
        pairs = zip(times[ours], times[floor], strict=True)
        return round(median(a / b for a, b in pairs), 3)

    return {
        "ok": report.ok,
        "problems": list(report.problems[:5]),
        "audit_entries": entries,
        "journeys": report.journeys,
        "rows_read": rows,
        "seconds": round(median(runs["cold"]), 1),
        **{f"{k}_s": round(median(v), 2) for k, v in runs.items()},
        "vs_floor_cold": ratio("cold", "floor_cold"),
        "vs_floor": ratio("warm", "floor_warm"),
        "workers": default_workers(),
        "vs_floor_one_process": ratio("one_process", "floor_warm"),
        "one_process_agrees": same_alone,
        "runs_s": {k: [round(t, 2) for t in v] for k, v in runs.items()},
        "cpu_s": {k: [round(t, 2) for t in v] for k, v in cpu.items()},
        "vs_floor_cpu": ratio("warm", "floor_warm", cpu),
        "vs_floor_cold_cpu": ratio("cold", "floor_cold", cpu),
        "sqlite_checks_s": {"quick_check": round(quick_s, 2), "foreign_key_check": round(fk_s, 2)},
        "s_per_million_audit_entries": round(median(runs["cold"]) / entries * 1e6, 1),
        "peak_mb": peak_mb(),
    }


def fhir(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """The FHIR export of the whole clinic against plain sqlite3 and json.dumps (``_fhir``),
    one run of each: both are steady CPU work (CPU time is compared, a run takes about a
    minute and a half), the figure sits far from its target, and a second round would
    add three minutes to a bench that must finish in 25."""
    del size
    return _fhir.fhir_step(work / DB, 1)


def written(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Bytes per score of a clinic written change by change through the public API
    (``_written``: the first ``written_journeys`` journeys of the clinic and their share
    of its scores, one call and one transaction per change), beside the bulk-built
    clinic's; a ``dbstat`` breakdown of both files by table and index."""
    journeys = min(size["written_journeys"], size["journeys"])
    scores = round(size["scores"] * journeys / size["journeys"])
    with tempfile.TemporaryDirectory(prefix="stemjourney-written-", dir=_ram_disk(work)) as tmp:
        path = Path(tmp) / "written.db"
        seconds, calls = timed(lambda: _written.write(path, journeys, scores))
        out: dict[str, Any] = {
            "journeys": journeys,
            "calls": calls,
            "seconds": round(seconds, 1),
            "folder": str(path.parent.parent),
        }
        _bytes_of(out, "written", path)
    _bytes_of(out, "bulk", work / DB)
    out["bytes_per_score"] = out["written"]["bytes_per_score"]
    out["peak_mb"] = peak_mb()
    return out


def _ram_disk(work: Path) -> Path:
    """Where to write the change-by-change clinic: only its bytes are measured, so a RAM
    disk when there is one (its quarter-million fsyncs take many minutes on a shared
    virtual disk and change nothing in the file), else the work directory."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else work


def _bytes_of(out: dict[str, Any], name: str, file: Path) -> None:
    """The file's bytes per score held, its ``dbstat`` breakdown and the average bytes of
    each column of its tables, into ``out[name]``."""
    with open_store(file) as store:
        held = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
        ok = store.verify().ok if name == "written" else None
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stat = _written.dbstat(file)
    file_bytes = file.stat().st_size
    out[name] = {
        "scores_held": held,
        "file_bytes": file_bytes,
        "bytes_per_score": round(file_bytes / held, 1),
        "verify_ok": ok,
        "dbstat": {
            k: {**v, "bytes_per_score": round(v["bytes"] / held, 1)} for k, v in stat.items()
        },
        "column_bytes": _written.column_bytes(file),
    }


STEPS: dict[str, Step] = {
    "build": build,
    "import": import_scores,
    "cohort": cohort,
    "worklist": worklist,
    "verify": verify,
    "fhir": fhir,
    "written": written,
}


def run_step(name: str, work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Run one step here and return its figures with its wall time."""
    start = time.perf_counter()
    out = STEPS[name](work, size)
    out["step_s"] = round(time.perf_counter() - start, 1)
    return out
