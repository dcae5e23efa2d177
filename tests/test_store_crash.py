"""Crash safety: a writer killed with SIGKILL at random moments loses no acknowledged write.

Each trial starts the writer of ``tests/_store_writer.py`` (from a forkserver that has
the library imported, so a trial costs milliseconds), waits until it writes, kills it
after a random delay, then reopens the file and checks that every write it
acknowledged is there and that ``verify()`` finds no partial transaction, broken
chain or integrity failure. ``STEMJOURNEY_CRASH_TRIALS`` sets the number of trials
(50 by default; the benchmark harness runs 1,000). The same file takes every trial,
so each trial also recovers the previous one's crash.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from _store_helpers import CTX, PING_PONG, fast_children, open_file
from stemjourney.store import Store

TRIALS = int(os.environ.get("STEMJOURNEY_CRASH_TRIALS", "50"))


def acked(store: Store, kind: str, key: str, version: int) -> bool:
    """True when the acknowledged write is in the file."""
    db = store.db
    if kind == "patient":
        return db.execute("SELECT 1 FROM patients WHERE id = ?", [key]).fetchone() is not None
    table = "transitions" if kind == "move" else "observations"
    found = db.execute(
        f"SELECT 1 FROM {table} WHERE journey_id = ? AND version = ?", [key, version]
    ).fetchone()
    return found is not None


def kill_at_random(path: Path, acks: Path, seed: int, delay: float) -> list[list[str]]:
    """Run one writer on ``path``, SIGKILL it ``delay`` seconds into writing; return its acks."""
    import _store_writer

    acks.write_text("")
    ready = CTX.Event()
    proc = CTX.Process(target=_store_writer.crash, args=(str(path), seed, str(acks), ready))
    proc.start()
    assert ready.wait(60)
    time.sleep(delay)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    text = acks.read_text()
    complete = text if text.endswith("\n") else text.rpartition("\n")[0]
    return [line.split() for line in complete.splitlines()]


def test_killed_writers_lose_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After every SIGKILL, each acknowledged write is present and verify() is clean."""
    fast_children(monkeypatch)
    rng = random.Random(20261123)
    path = tmp_path / "crash.db"
    totals = {"trials": 0, "acknowledged": 0, "lost": 0, "partial": 0, "integrity": 0}
    for trial in range(TRIALS):
        acks = kill_at_random(path, tmp_path / "acks.txt", trial, rng.uniform(0.0, 0.08))
        totals["trials"] += 1
        with open_file(path, pipeline=PING_PONG) as store:
            report = store.verify()
            totals["integrity"] += sum("integrity" in p or "damaged" in p for p in report)
            totals["partial"] += sum(not ("integrity" in p or "damaged" in p) for p in report)
            for kind, key, version in acks:
                totals["acknowledged"] += 1
                totals["lost"] += not acked(store, kind, key, int(version))
    print(f"\ncrash: {totals}")
    assert totals["trials"] == TRIALS
    assert totals["acknowledged"] > TRIALS
    assert (totals["lost"], totals["partial"], totals["integrity"]) == (0, 0, 0)
