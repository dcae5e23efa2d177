"""The PostgreSQL figures: one throwaway server (``tests/_postgres.py``), four measurements.

- ``move``: one persisted ``Store.move`` against bare psycopg running the same
  statements with the same values (``_pg_trace``: captured from what the store's
  ``PgConnection`` hands psycopg while it made the same moves on a clone of the same
  database beforehand), interleaved block by block, each move its own transactions
  as the store makes them; the ratio is the median of the per-block ratios, and the
  two databases' rows are checked equal afterwards.
- ``writers``: moves per second with 1, 4 and 16 writer processes, each with its own
  store (its own connection) moving its own ping-pong journeys back and forth, the same
  number of moves each; where a commit waits for the disk (fsync on), throughput rises
  with writers as PostgreSQL flushes their commits together, up to what the CPUs allow
  (the JSON gives a bare commit's time and the CPU a move takes, writer and server).
- ``load``: the bench clinic (the SQLite file the other steps built) into the server,
  timed: its rows with ``COPY``, or with ``copy_store`` (``--load copy_store``, minutes
  slower: it verifies both sides).
- ``cohort`` and ``worklist``: the reports on that PostgreSQL store against the hand
  SQL of ``_refs`` in PostgreSQL's words (``_refs.POSTGRES``) on the same server, the
  answers checked equal.

Where the server or psycopg is missing, prints ``{"skipped": reason}``.

Run: ``python bench/_pg.py --clinic work/clinic.db [--blocks 20] [--block 25]
[--writer-moves 200] [--only move,writers,clinic]`` (``run.py`` runs it after the
SQLite steps, on the clinic they built).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _data
import _move
import _pg_trace
import _refs
from _measure import best_of, peak_mb, timed

from stemjourney.reports import cohort_report, worklist_report
from stemjourney.store import copy_store, open_store
from stemjourney.store._pg_schema import SEQUENCE
from stemjourney.store._tables import STORE_META, TABLES
from stemjourney.testing import ManualClock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _postgres import Cluster, missing_reason  # noqa: E402 (the tests' folder, added above)
from _store_helpers import NEXT, PING_PONG  # noqa: E402 (a pipeline without guards)

CLINIC = "clinic"
"""The database the bench clinic is copied into (the cluster's own)."""


def _admin(cluster: Cluster, sql: str) -> None:
    import psycopg

    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _bare(dsn: str, schema: str = "stemjourney") -> Any:
    """A plain psycopg connection (autocommit, the store's schema on its search path)."""
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(f"SET search_path TO {schema}")
    return conn


# -- one move against the same statements by hand -----------------------------------------


def _moves(store: Any, ids: list[str]) -> float:
    start = time.perf_counter()
    for jid in ids:
        store.move(jid, "harvest", actor="bench", occurred_at=_move.WHEN, expected_version=4)
    return time.perf_counter() - start


def _replays(conn: Any, moves: list[list[_pg_trace.Step]]) -> float:
    start = time.perf_counter()
    for steps in moves:
        _pg_trace.run(conn, steps)
    return time.perf_counter() - start


def move(cluster: Cluster, blocks: int, block: int) -> dict[str, Any]:
    """Interleave blocks of store moves and of the same statements by bare psycopg.

    Three databases start as clones of one (``CREATE DATABASE ... TEMPLATE``) holding
    journeys ready for harvest, copied from a store file: on ``capture`` the store makes
    every move once while its statements are recorded; on ``store`` a store (its
    journeys read first) makes them again, timed; on ``same`` bare psycopg runs the
    recorded statements, timed. Both stores have one fixed clock, so the store and the
    hand-run statements write the same rows, checked equal table by table at the end.
    A first block of each runs untimed.
    """
    count = (blocks + 1) * block
    clock_at = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="stemjourney-pgmove-") as tmp:
        path = Path(tmp) / "ready.db"
        ids = _move._prepare(path, count)
        _admin(cluster, "CREATE DATABASE move_capture")
        with open_store(path) as source, open_store(cluster.dsn("move_capture")) as target:
            copy_store(source, target)
    for name in ("move_store", "move_same"):
        _admin(cluster, f"CREATE DATABASE {name} TEMPLATE move_capture")
    with open_store(cluster.dsn("move_capture"), clock=ManualClock(clock_at)) as store:
        moves = [_pg_trace.capture(store, lambda j=jid, s=store: _moves(s, [j])) for jid in ids]
    store = open_store(cluster.dsn("move_store"), clock=ManualClock(clock_at))
    same = _bare(cluster.dsn("move_same"))
    times: dict[str, list[float]] = {"store": [], "same_sql": []}
    try:
        for jid in ids:
            store.journey(jid)
        _moves(store, ids[:block])
        _replays(same, moves[:block])
        for b in range(1, blocks + 1):
            part = slice(b * block, (b + 1) * block)
            times["store"].append(_moves(store, ids[part]))
            times["same_sql"].append(_replays(same, moves[part]))
        verified = store.verify().ok
        differs = _pg_trace.differences(store.db.raw, same)
    finally:
        store.close()
        same.close()
    ratios = [a / b for a, b in zip(times["store"], times["same_sql"], strict=True)]
    return {
        "moves": blocks * block,
        "block": block,
        "us_per_move_median": {
            k: round(statistics.median(v) / block * 1e6, 1) for k, v in times.items()
        },
        "ratio": round(statistics.median(ratios), 3),
        "statements_per_move": len(moves[0]),
        "transactions_per_move": sum(1 for _, sql, _ in moves[0] if sql == "COMMIT"),
        "same_sql_statements": [sql for _, sql, _ in moves[0]],
        "verify_ok": verified,
        "rows_differ": differs,
    }


def _commit_us(dsn: str, commits: int = 200) -> float:
    """Microseconds of one bare commit of a one-row INSERT (its WAL flushed to disk)."""
    conn = _bare(dsn, "public")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commits (n bigint)")
        start = time.perf_counter()
        for n in range(commits):
            conn.execute("INSERT INTO bench_commits VALUES (%s)", (n,))
        return round((time.perf_counter() - start) / commits * 1e6, 1)
    finally:
        conn.close()


# -- writers side by side -----------------------------------------------------------------


def _writer(dsn: str, ids: list[str], moves: int, barrier: Any, results: Any) -> None:
    """Move the writer's own journeys back and forth, ``moves`` in all, round robin."""
    with open_store(dsn, schema="writers", pipeline=PING_PONG) as store:
        state = {jid: store.journey(jid) for jid in ids}
        backend = store.db.execute("SELECT pg_backend_pid()").fetchone()[0]
        barrier.wait()
        start = time.monotonic()
        cpu = time.process_time(), _cpu_of(backend)
        for n in range(moves):
            jid = ids[n % len(ids)]
            j = state[jid]
            state[jid] = store.move(
                jid,
                NEXT[j.stage],
                actor="bench.writer",
                occurred_at=datetime.now(UTC),
                expected_version=j.version,
            )
        end = time.monotonic()
        client, server = time.process_time() - cpu[0], _cpu_of(backend) - cpu[1]
        results.put((start, end, moves, client, server))


def _cpu_of(pid: int) -> float:
    """CPU seconds a process has used (Linux's ``/proc``; 0 where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _round(dsn: str, groups: list[list[str]], moves: int) -> tuple[float, float, float]:
    """Moves per second of one writer process per group of journeys, side by side (all
    the moves over the time from the first writer's start to the last one's end), and
    the CPU seconds per move of the writers and of their server processes."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(groups))
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(dsn, ids, moves, barrier, results)) for ids in groups
    ]
    for proc in procs:
        proc.start()
    found = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a writer failed (exit code {proc.exitcode})")
    start, end = min(f[0] for f in found), max(f[1] for f in found)
    made = sum(f[2] for f in found)
    return made / (end - start), sum(f[3] for f in found) / made, sum(f[4] for f in found) / made


def writers(
    cluster: Cluster, counts: tuple[int, ...], moves: int, per_writer: int, repeat: int
) -> dict[str, Any]:
    """Moves per second with each number of writer processes in ``counts``.

    Every writer has journeys of its own (``per_writer`` fresh ones each round, so every
    round's journeys have the same short history) and makes ``moves`` version-checked
    moves on them; the rounds run ``repeat`` times in turn, up and down (1, 4, 16, 16,
    4, 1), and a count's figure is the median of its rounds. Afterwards the store
    verifies and holds exactly the moves made.
    """
    _admin(cluster, "CREATE DATABASE writers")
    dsn = cluster.dsn("writers")
    order = [c for r in range(repeat) for c in (counts if r % 2 == 0 else counts[::-1])]
    plan: list[list[list[str]]] = []
    with open_store(dsn, schema="writers", pipeline=PING_PONG) as store:
        store.add_patient("mrn-writers", actor="bench", patient_id="p-writers")
        for r, count in enumerate(order):
            groups = [[f"w{r:02d}-{g:02d}-{k}" for k in range(per_writer)] for g in range(count)]
            for jid in (jid for ids in groups for jid in ids):
                store.open_journey(
                    "p-writers",
                    condition="osteoarthritis of knee",
                    site="knee",
                    side="left",
                    cell_source="bone_marrow",
                    actor="bench",
                    occurred_at=_move.DAY0,
                    journey_id=jid,
                )
            plan.append(groups)
        before = store.db.execute("SELECT count(*) FROM transitions").fetchone()[0]
    runs: dict[int, list[float]] = {c: [] for c in counts}
    cpu: dict[int, list[tuple[float, float]]] = {c: [] for c in counts}
    for count, groups in zip(order, plan, strict=True):
        per_s, client, server = _round(dsn, groups, moves)
        runs[count].append(per_s)
        cpu[count].append((client, server))
    with open_store(dsn, schema="writers", pipeline=PING_PONG) as store:
        made = store.db.execute("SELECT count(*) FROM transitions").fetchone()[0] - before
        verified = store.verify().ok
    per_s = {c: round(statistics.median(v), 1) for c, v in runs.items()}
    one = statistics.median(sum(x) for x in cpu[counts[0]])
    return {
        "moves_per_writer": moves,
        "journeys_per_writer": per_writer,
        "moves_per_s": per_s,
        "runs_moves_per_s": {c: [round(x, 1) for x in v] for c, v in runs.items()},
        **{f"speedup_{c}": round(per_s[c] / per_s[counts[0]], 3) for c in counts[1:]},
        "cpu_us_per_move": {
            c: {
                "writer": round(statistics.median(x[0] for x in v) * 1e6),
                "server": round(statistics.median(x[1] for x in v) * 1e6),
            }
            for c, v in cpu.items()
        },
        # the most writers could gain if the CPU were all there is: the machine's CPUs over
        # the CPUs one writer and its server process keep busy
        "cpu_bound_speedup": round((os.cpu_count() or 1) / (one * per_s[counts[0]]), 2),
        "commit_us": _commit_us(dsn),
        "cpus": os.cpu_count(),
        "moves_made": made,
        "moves_expected": moves * sum(order),
        "verify_ok": verified,
    }


# -- the clinic on the server: the reports against hand SQL --------------------------------


def _copy_rows(clinic: Path, dsn: str) -> dict[str, int]:
    """Every row of the clinic file's tables into the new store's, with PostgreSQL's
    ``COPY`` (one transaction), the id sequence moved past the entries; what the store
    checks on the way in (``copy_store``: verify() of both sides) is left out."""
    source = sqlite3.connect(clinic)
    conn = _bare(dsn)
    rows: dict[str, int] = {}
    try:
        with conn.transaction():
            for table in TABLES:
                if table is STORE_META:
                    continue
                names = ", ".join(table.names)
                rows[table.name] = 0
                with conn.cursor().copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in source.execute(f"SELECT {names} FROM {table.name}"):  # noqa: S608
                        copy.write_row(row)
                        rows[table.name] += 1
            conn.execute(f"SELECT setval('{SEQUENCE}', max(id)) FROM audit_log")  # noqa: S608
    finally:
        conn.close()
        source.close()
    return rows


def load(cluster: Cluster, clinic: Path, how: str) -> dict[str, Any]:
    """The bench clinic into the server, then ``ANALYZE`` (the planner's statistics).

    ``copy_store`` (the source verified first, the copy verified before it commits:
    about 10,000 rows/s here, over 7 minutes for the whole clinic) or, by default, the
    same rows with ``COPY``; either way the copy's chain head is checked against the
    file's, and its row counts against the file's.
    """
    dsn = cluster.dsn(CLINIC)
    with open_store(clinic) as source, open_store(dsn) as target:
        if how == "copy_store":
            seconds, report = timed(lambda: copy_store(source, target))
            rows = report.rows
        else:
            seconds, rows = timed(lambda: _copy_rows(clinic, dsn))
        same_head = source.head() == target.head()
    conn = _bare(dsn)
    analyze_s, _ = timed(lambda: conn.execute("ANALYZE"))
    size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    held = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in rows}  # noqa: S608
    conn.close()
    return {
        "how": how,
        "seconds": round(seconds, 1),
        "analyze_s": round(analyze_s, 1),
        "rows": rows,
        "rows_per_s": round(sum(rows.values()) / seconds),
        "database_bytes": size,
        "same_head": same_head,
        "same_rows": held == rows,
    }


def cohort(cluster: Cluster, repeat: int) -> dict[str, Any]:
    """``cohort_report`` on the PostgreSQL store against ``_refs.cohort`` in PostgreSQL's
    words on the same server (numbers checked equal); best of ``repeat`` each, in turn."""
    report_s: list[float] = []
    ref_s: list[float] = []
    report: Any = None
    ref: Any = None
    conn = _bare(cluster.dsn(CLINIC))
    with open_store(cluster.dsn(CLINIC)) as store:
        for _ in range(repeat):
            seconds, report = timed(lambda: cohort_report(store, on=_data.TODAY, instrument="nrs"))
            report_s.append(seconds)
            seconds, ref = timed(lambda: _refs.cohort(conn, _data.TODAY, dialect=_refs.POSTGRES))
            ref_s.append(seconds)
    conn.close()
    found = _refs.differences(_refs.from_report(report), ref)
    return {
        "journeys": report.journeys,
        "groups": len(report.groups),
        "report_s": round(min(report_s), 2),
        "sql_s": round(min(ref_s), 2),
        "ratio": round(min(report_s) / min(ref_s), 3),
        "runs_s": {"report": [round(t, 2) for t in report_s], "sql": [round(t, 2) for t in ref_s]},
        "agree": not found,
        "differences": found,
    }


def worklist(cluster: Cluster, repeat: int) -> dict[str, Any]:
    """One week's ``worklist_report`` on the PostgreSQL store against ``_refs.worklist`` in
    PostgreSQL's words (rows checked equal); best of ``repeat`` each."""
    start = _data.TODAY
    end = start + timedelta(days=6)
    conn = _bare(cluster.dsn(CLINIC))
    with open_store(cluster.dsn(CLINIC)) as store:
        ours_s, report = best_of(repeat, lambda: worklist_report(store, start, end))
        ref_s, ref = best_of(
            repeat, lambda: _refs.worklist(conn, start, end, dialect=_refs.POSTGRES)
        )
    conn.close()
    items = _refs.worklist_items(report)
    rows = [tuple(r) for r in ref]
    return {
        "items": len(items),
        "report_s": round(ours_s, 3),
        "sql_s": round(ref_s, 3),
        "ratio": round(ours_s / ref_s, 3),
        "agree": rows == items,
        "differences": {
            "reference_only": sorted(set(rows) - set(items))[:3],
            "library_only": sorted(set(items) - set(rows))[:3],
        },
    }


def main() -> None:
    """Measure and print the figures as JSON (``skipped`` with the reason when it cannot)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clinic", type=Path)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--writer-moves", type=int, default=200, help="moves of each writer")
    parser.add_argument("--writer-journeys", type=int, default=4, help="journeys of each writer")
    parser.add_argument("--writer-repeat", type=int, default=3, help="rounds of each count")
    parser.add_argument("--repeat", type=int, default=2, help="runs per report timing")
    parser.add_argument(
        "--load", choices=("copy", "copy_store"), default="copy", help="how the clinic goes in"
    )
    parser.add_argument("--only", default="move,writers,clinic", help="parts to run")
    args = parser.parse_args()
    reason = missing_reason()
    if reason is not None:
        print(json.dumps({"skipped": reason}))
        return
    started = time.perf_counter()
    out: dict[str, Any] = {}
    cluster = Cluster()
    try:
        only = args.only.split(",")
        if "move" in only:
            out["move"] = move(cluster, args.blocks, args.block)
        if "writers" in only:
            out["writers"] = writers(
                cluster, (1, 4, 16), args.writer_moves, args.writer_journeys, args.writer_repeat
            )
        if "clinic" in only and args.clinic is not None:
            out["load"] = load(cluster, args.clinic, args.load)
            out["cohort"] = cohort(cluster, args.repeat)
            out["worklist"] = worklist(cluster, args.repeat)
    finally:
        cluster.remove()
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
