"""Concurrency: processes racing on shared journeys lose no update and never see 'locked'.

Each of ``STEMJOURNEY_RACE_PROCESSES`` processes (8 by default) tries
``STEMJOURNEY_RACE_MOVES`` moves (200 by default) on two shared journeys, each move
made against the version the process read. Every attempt either lands or is a
conflict error; the journeys' histories hold exactly the moves that landed.

Then the same processes each land ``STEMJOURNEY_RACE_MOVES`` writes (50 by default)
on ONE journey with 1,000 prior history entries, moves and scores each made against
the version read and retried after a conflict: all of them are in its history.

Both tests run on an SQLite file and on PostgreSQL (a schema of the tests' throwaway
cluster), where writers do not take turns but lock the journey's row.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from _backends import Where
from _store_helpers import CTX, DAY0, NEXT, PING_PONG, add_journey, fast_children

PROCESSES = int(os.environ.get("STEMJOURNEY_RACE_PROCESSES", "8"))
MOVES = int(os.environ.get("STEMJOURNEY_RACE_MOVES", "200"))


def test_racing_writers_lose_no_update(where: Where, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moves that land all appear in the history; every other attempt was a conflict (on
    SQLite's one writer at a time and on PostgreSQL's many)."""
    import _store_writer

    fast_children(monkeypatch)
    path = where.target
    with where.open(pipeline=PING_PONG) as store:
        add_journey(store, "p-w", "j-0")
        add_journey(store, "p-w", "j-1")
    start = CTX.Event()
    results = CTX.Queue()
    procs = [
        CTX.Process(target=_store_writer.race, args=(path, n, MOVES, start, results, where.schema))
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    start.set()
    counts = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    landed = sum(c["moves"] for c in counts)
    conflicts = sum(c["conflicts"] for c in counts)
    busy = sum(c["busy"] for c in counts)
    with where.open(pipeline=PING_PONG) as store:
        history = sum(len(j.history) - 1 for j in store.iter_journeys())
        versions = sum(j.version - 1 for j in store.iter_journeys())
        assert store.verify().ok
    print(
        f"\nrace ({where.backend}): processes={PROCESSES} attempts={PROCESSES * MOVES} "
        f"landed={landed} conflicts={conflicts} lost={landed - history} locked={busy}"
    )
    assert landed + conflicts == PROCESSES * MOVES
    assert (history, versions) == (landed, landed)
    assert busy == 0
    assert landed > 0


LONG_PRIOR = 1000
"""History entries of the long journey before the race (scores and moves)."""
LONG_WRITES = int(os.environ.get("STEMJOURNEY_RACE_MOVES", "50"))
"""Writes each process lands on the long journey (half as many on PostgreSQL, whose
writers do not queue for one lock but conflict and retry: several attempts per write)."""


def test_racing_writers_on_one_long_journey(where: Where, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers racing on ONE journey with a long history, each write (a move or a score)
    made against the version read and retried on conflict: every write lands, in the
    history once, and no writer ever sees 'locked'."""
    import _store_writer

    fast_children(monkeypatch)
    path = where.target
    writes = max(1, LONG_WRITES // 2) if where.postgres else LONG_WRITES
    jid = _store_writer.LONG
    with where.open(pipeline=PING_PONG) as store:
        add_journey(store, "p-w", jid)
        for n in range(1, 5):  # a few moves, then a long run of scores in the stage
            j = store.journey(jid)
            store.move(jid, NEXT[j.stage], actor="setup", occurred_at=DAY0 + n * timedelta(hours=1))
        rows = [
            (jid, "nrs", n % 11, DAY0 + timedelta(hours=5, minutes=n))
            for n in range(LONG_PRIOR - store.journey(jid).version)
        ]
        store.import_scores(rows, actor="setup")
        prior = store.journey(jid).version
    assert prior >= LONG_PRIOR
    start = CTX.Event()
    results = CTX.Queue()
    procs = [
        CTX.Process(
            target=_store_writer.race_long,
            args=(path, n, writes, start, results, where.schema),
        )
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    start.set()
    counts = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    landed = sum(c["writes"] for c in counts)
    conflicts = sum(c["conflicts"] for c in counts)
    busy = sum(c["busy"] for c in counts)
    with where.open(pipeline=PING_PONG) as store:
        journey = store.journey(jid)
        entries = [*journey.history[1:], *journey.records]
        by_actor = [sum(e.actor == f"w{n}" for e in entries) for n in range(PROCESSES)]
        assert store.verify().ok
    found = sum(by_actor)
    print(
        f"\nrace-long ({where.backend}): processes={PROCESSES} writes={PROCESSES * writes} "
        f"prior={prior} landed={landed} conflicts={conflicts} lost={landed - found} locked={busy}"
    )
    assert by_actor == [writes] * PROCESSES
    assert journey.version == prior + landed == prior + PROCESSES * writes
    assert busy == 0
