"""Concurrency: processes racing on shared journeys lose no update and never see 'locked'.

Each of ``STEMJOURNEY_RACE_PROCESSES`` processes (4 by default) tries
``STEMJOURNEY_RACE_MOVES`` moves (200 by default) on two shared journeys, each move
made against the version the process read. Every attempt either lands or is a
conflict error; the journeys' histories hold exactly the moves that landed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _store_helpers import CTX, PING_PONG, add_journey, fast_children, open_file

PROCESSES = int(os.environ.get("STEMJOURNEY_RACE_PROCESSES", "4"))
MOVES = int(os.environ.get("STEMJOURNEY_RACE_MOVES", "200"))


def test_racing_writers_lose_no_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moves that land all appear in the history; every other attempt was a conflict."""
    import _store_writer

    fast_children(monkeypatch)
    path = tmp_path / "race.db"
    with open_file(path, pipeline=PING_PONG) as store:
        add_journey(store, "p-w", "j-0")
        add_journey(store, "p-w", "j-1")
    start = CTX.Event()
    results = CTX.Queue()
    procs = [
        CTX.Process(target=_store_writer.race, args=(str(path), n, MOVES, start, results))
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
    with open_file(path, pipeline=PING_PONG) as store:
        history = sum(len(j.history) - 1 for j in store.iter_journeys())
        versions = sum(j.version - 1 for j in store.iter_journeys())
        assert store.verify().ok
    print(
        f"\nrace: processes={PROCESSES} attempts={PROCESSES * MOVES} landed={landed} "
        f"conflicts={conflicts} lost={landed - history} locked={busy}"
    )
    assert landed + conflicts == PROCESSES * MOVES
    assert (history, versions) == (landed, landed)
    assert busy == 0
    assert landed > 0
