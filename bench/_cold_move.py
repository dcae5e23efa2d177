"""A cold move (a freshly opened store, one ``Store.move``, as a CLI call does it) against
the same statements run by hand, at 10, 100 and 1,000 prior history entries.

Each journey is a real one: opened, a baseline pain score, eligibility, consent,
harvest, processing and injection with their records, recovery, follow-up (12
entries, the shortest history that reaches follow-up: the "10" size), then pain
scores at follow-up, one entry each, up to the size (a long follow-up). The move is
follow-up to completed, with its reason (a discharge); the store reads the same
working copy for any move. The journeys are built through the engine and written with
``Store.import_history``; three copies of the file are made:

- ``lib``: the store, timed: ``open_store(path)`` (timed apart), then one
  ``Store.move`` (timed), then ``close()``;
- ``capture``: the same move by the store on its own copy, beforehand, with
  ``set_trace_callback`` on the store's connection (``_trace.capture``): the exact
  statements the move ran, with their values;
- ``hand``: a plain ``sqlite3`` connection opened the same way (WAL,
  ``synchronous=FULL``, foreign keys, busy timeout: timed apart), running the captured
  statements (``_trace.run``: the library's statements with its values, one
  transaction), then closed. It replays the capture file's moves in the same order,
  so its file stays the same as that one.

Moves are interleaved in blocks of ``--block`` (library then hand, hand then library
in the next block, every size in each round), since fsync times on this disk vary
from one second to the next; a ratio is the median over blocks of (library block time
/ hand block time). ``whole`` ratios count the open too.

Run: ``python bench/_cold_move.py [--blocks 20] [--block 5] [--sizes 10,100,1000]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
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
from stemjourney.store import open_store

DAY0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
MOVE_AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
BASE = 12
"""Entries of the shortest journey in follow-up."""
TARGET = "completed"


class _Clock:
    def __init__(self) -> None:
        self.at = DAY0

    def now(self) -> datetime:
        return self.at


def long_journey(engine: sj.Engine, clock: _Clock, jid: str, pid: str, entries: int) -> sj.Journey:
    """A journey in follow-up with ``entries`` history entries, most of them pain scores."""
    h, d = timedelta(hours=1), timedelta(days=1)

    def rec(j: sj.Journey, record: Any, at: datetime) -> sj.Journey:
        clock.at = at + timedelta(minutes=10)
        return engine.record(j, record, actor="bench.nurse")[0]

    def move(j: sj.Journey, target: str, at: datetime) -> sj.Journey:
        clock.at = at + timedelta(minutes=10)
        return engine.move(j, target, actor="bench.dr", occurred_at=at)[0]

    clock.at = DAY0
    j = engine.open(
        jid,
        patient_id=pid,
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="bench.desk",
        occurred_at=DAY0,
    )
    j = rec(j, sj.nrs(7, DAY0), DAY0)
    j = rec(j, sj.EligibilityAssessment(assessed_at=DAY0), DAY0)
    j = rec(j, sj.Consent(signed_at=DAY0, form_version="v3"), DAY0)
    t = DAY0 + 7 * d
    j = move(j, "harvest", t)
    harvest = sj.Harvest(
        harvested_at=t, source="bone_marrow", body_site="posterior iliac crest", side="left",
        volume_ml=60,
    )  # fmt: skip
    j = rec(j, harvest, t)
    j = move(j, "processing", t + h)
    product = sj.Processing(
        product_id=f"{jid}-c1", started_at=t + h, finished_at=t + 2 * h,
        method="density gradient centrifugation", manipulation="minimal", final_volume_ml=6,
        tnc_per_ml=2.5e7, viability_pct=92, released=True,
    )  # fmt: skip
    j = rec(j, product, t + 2 * h)
    j = move(j, "injection", t + 3 * h)
    shot = sj.Injection(
        injected_at=t + 3 * h, site="knee", side="left", guidance="ultrasound", volume_ml=6,
        product_id=f"{jid}-c1",
    )  # fmt: skip
    j = rec(j, shot, t + 3 * h)
    j = move(j, "recovery", t + 4 * h)
    follow = t + 10 * d
    j = move(j, "follow_up", follow)
    scores = entries - BASE
    if scores > 0:
        step = (MOVE_AT - d - follow) / scores
        for k in range(scores):
            at = follow + step * (k + 1)
            j = rec(j, sj.nrs(max(0, 7 - k % 5), at), at)
    assert j.version == entries
    assert j.stage == "follow_up"
    return j


def _prepare(folder: Path, sizes: list[int], count: int) -> dict[int, list[str]]:
    """The three copies of a file holding ``count`` journeys of each size."""
    clock = _Clock()
    engine = sj.Engine(clock=clock)
    ids: dict[int, list[str]] = {}
    lib = folder / "lib.db"
    with open_store(lib) as store:
        for size in sizes:
            ids[size] = []
            journeys, patients = [], []
            for i in range(count):
                jid, pid = f"j-{size}-{i:04d}", f"p-{size}-{i:04d}"
                journeys.append(long_journey(engine, clock, jid, pid, max(size, BASE)))
                patients.append(sj.Patient(id=pid, external_id=f"MRN-{pid}"))
                ids[size].append(jid)
                if len(journeys) >= 50:
                    store.import_history(patients, journeys, actor="bench.import")
                    journeys, patients = [], []
            if journeys:
                store.import_history(patients, journeys, actor="bench.import")
    for name in ("capture", "hand"):
        shutil.copyfile(lib, folder / f"{name}.db")
    return ids


def _move(store: sj.Store, jid: str) -> sj.Journey:
    return store.move(jid, TARGET, actor="bench.dr", occurred_at=MOVE_AT, reason="discharged")


def _captures(path: Path, order: list[str]) -> dict[str, list[str]]:
    """The statements of each move, by the store on its own copy, in ``order``."""
    out = {}
    for jid in order:
        with open_store(path) as store:
            _, out[jid] = _trace.capture(store.db.conn, lambda s=store, j=jid: _move(s, j))
    return out


def _open_hand(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL").fetchone()
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _lib(path: Path, jid: str) -> tuple[float, float]:
    began = time.perf_counter()
    store = open_store(path)
    opened = time.perf_counter()
    _move(store, jid)
    done = time.perf_counter()
    store.close()
    return opened - began, done - opened


def _hand(path: Path, steps: list[_trace.Step]) -> tuple[float, float]:
    began = time.perf_counter()
    conn = _open_hand(path)
    opened = time.perf_counter()
    _trace.run(conn, steps)
    done = time.perf_counter()
    conn.close()
    return opened - began, done - opened


def _profile(path: Path, jids: list[str], top: int) -> list[str]:
    """cProfile of cold moves (open, move, close), the top functions by own time."""
    profile = cProfile.Profile()
    profile.enable()
    for jid in jids:
        with open_store(path) as store:
            _move(store, jid)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
    lines = [x.rstrip() for x in out.getvalue().splitlines() if x.strip()]
    start = next(i for i, x in enumerate(lines) if x.lstrip().startswith("ncalls"))
    return lines[start - 1 : start + 1 + top]


def measure(blocks: int, block: int, sizes: list[int], profile: int) -> dict[str, Any]:
    """Interleave the library's cold moves and the hand-run statements; the figures."""
    warmup = 1
    count = warmup + blocks * block + profile
    with tempfile.TemporaryDirectory(prefix="stemjourney-cold-") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        ids = _prepare(folder, sizes, count)
        prepare_s = time.perf_counter() - began
        # The order the hand file replays the moves in, the capture's order too.
        order = [ids[n][i] for i in range(warmup) for n in sizes]
        for b in range(blocks):
            for n in sizes:
                order += ids[n][warmup + b * block : warmup + (b + 1) * block]
        captured = _captures(folder / "capture.db", order)
        steps: dict[str, list[_trace.Step]] = {}
        templates: dict[int, list[str]] = {}
        for n in sizes:
            chosen = ids[n][: warmup + blocks * block]
            for jid, lifted in zip(chosen, _trace.lift([captured[j] for j in chosen]), strict=True):
                steps[jid] = lifted
            templates[n] = [sql for sql, _ in steps[chosen[0]]]
        times: dict[str, dict[int, list[float]]] = {
            k: {n: [] for n in sizes} for k in ("lib_open", "lib_move", "hand_open", "hand_move")
        }
        mismatches: dict[int, list[str]] = {}
        lib, hand = folder / "lib.db", folder / "hand.db"
        # The hand file replays the capture file's moves in the capture's order.
        for i in range(warmup):
            for n in sizes:
                jid = ids[n][i]
                _lib(lib, jid)
                conn = _open_hand(hand)
                mismatches[n] = _trace.check(conn, steps[jid], captured[jid])
                conn.close()
        for b in range(blocks):
            for n in sizes:
                part = ids[n][warmup + b * block : warmup + (b + 1) * block]
                sums = dict.fromkeys(times, 0.0)
                for turn in ("lib", "hand") if b % 2 == 0 else ("hand", "lib"):
                    for jid in part:
                        if turn == "lib":
                            o, m = _lib(lib, jid)
                        else:
                            o, m = _hand(hand, steps[jid])
                        sums[f"{turn}_open"] += o
                        sums[f"{turn}_move"] += m
                for k, v in sums.items():
                    times[k][n].append(v)
        profiles = {}
        if profile:
            for n in (sizes[0], sizes[-1]):
                profiles[str(n)] = _profile(lib, ids[n][-profile:], 25)
        with open_store(lib) as store:
            ok = store.verify().ok
        with open_store(hand) as store:
            hand_ok = store.verify().ok

    def ratio(n: int, whole: bool) -> float:
        lib_t = times["lib_move"][n]
        hand_t = times["hand_move"][n]
        if whole:
            lib_t = [a + b for a, b in zip(times["lib_open"][n], lib_t, strict=True)]
            hand_t = [a + b for a, b in zip(times["hand_open"][n], hand_t, strict=True)]
        return round(statistics.median(a / b for a, b in zip(lib_t, hand_t, strict=True)), 3)

    def us(k: str, n: int) -> float:
        return round(statistics.median(times[k][n]) / block * 1e6, 1)

    out: dict[str, Any] = {"blocks": blocks, "block": block, "prepare_s": round(prepare_s, 1)}
    for n in sizes:
        out[str(n)] = {
            "prior_entries": max(n, BASE),
            "ratio": ratio(n, whole=False),
            "ratio_whole": ratio(n, whole=True),
            "us_median": {k: us(k, n) for k in times},
            "statements": len(templates[n]),
            "hand_differs": mismatches[n],
        }
    out["growth"] = round(out[str(sizes[-1])]["ratio"] / out[str(sizes[0])]["ratio"], 3)
    out["statements"] = templates[sizes[-1]]
    out["verify_ok"] = ok and hand_ok
    out["profile_top_tottime"] = profiles
    return out


def main() -> None:
    """Measure and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=5)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--profile", type=int, default=10, help="cold moves profiled per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(measure(args.blocks, args.block, sizes, args.profile)))


if __name__ == "__main__":
    main()
