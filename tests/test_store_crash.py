"""Crash safety: a writer killed with SIGKILL at random moments loses no acknowledged write.

Each trial starts the writer of ``tests/_store_writer.py`` (from a forkserver that has
the library imported, so a trial costs milliseconds), waits until it writes, kills it
after a random delay, then reopens the file and checks that every write it
acknowledged is there and that ``verify()`` finds no partial transaction, broken
chain or integrity failure. ``STEMJOURNEY_CRASH_TRIALS`` sets the number of trials
(50 by default; the benchmark harness runs 1,000). The same file takes every trial,
so each trial also recovers the previous one's crash. It runs on an SQLite file and on
PostgreSQL; on PostgreSQL the server itself is also stopped without a shutdown
(``pg_ctl stop -m immediate``) under a writer.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _backends import Where
from _postgres import Cluster, missing_reason
from _store_helpers import CTX, PING_PONG, fast_children
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


def kill_at_random(
    where: Where, acks: Path, seed: int, delay: float, kill: Callable[[Any], None] | None = None
) -> list[list[str]]:
    """Run one writer on ``where``, kill it (SIGKILL, or ``kill(process)``) ``delay``
    seconds into writing; return its acks."""
    import _store_writer

    acks.write_text("")
    ready = CTX.Event()
    proc = CTX.Process(
        target=_store_writer.crash, args=(where.target, seed, str(acks), ready, where.schema)
    )
    proc.start()
    assert ready.wait(60)
    time.sleep(delay)
    assert proc.pid is not None
    if kill is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL
    else:
        kill(proc)
        proc.join(60)
        assert proc.exitcode not in (None, 0)  # the writer lost its server and stopped
    text = acks.read_text()
    complete = text if text.endswith("\n") else text.rpartition("\n")[0]
    return [line.split() for line in complete.splitlines()]


def check(where: Where, acks: list[list[str]], totals: dict[str, int]) -> None:
    """Reopen the store: count what was acknowledged, lost, partial, damaged."""
    totals["trials"] += 1
    with where.open(pipeline=PING_PONG) as store:
        report = store.verify()
        totals["integrity"] += sum("integrity" in p or "damaged" in p for p in report)
        totals["partial"] += sum(not ("integrity" in p or "damaged" in p) for p in report)
        for kind, key, version in acks:
            totals["acknowledged"] += 1
            totals["lost"] += not acked(store, kind, key, int(version))


def test_killed_writers_lose_nothing_acknowledged(
    where: Where, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After every SIGKILL, each acknowledged write is present and verify() is clean."""
    fast_children(monkeypatch)
    rng = random.Random(20261123)
    totals = {"trials": 0, "acknowledged": 0, "lost": 0, "partial": 0, "integrity": 0}
    for trial in range(TRIALS):
        acks = kill_at_random(where, tmp_path / "acks.txt", trial, rng.uniform(0.0, 0.08))
        check(where, acks, totals)
    print(f"\ncrash ({where.backend}): {totals}")
    assert totals["trials"] == TRIALS
    assert totals["acknowledged"] > TRIALS
    assert (totals["lost"], totals["partial"], totals["integrity"]) == (0, 0, 0)


SERVER_TRIALS = 4
"""Immediate stops of the PostgreSQL server under a writer (each restarts it: seconds)."""


def test_a_server_stopped_mid_write_loses_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pg_ctl stop -m immediate`` (no checkpoint, no shutdown: a crash of the server)
    under a writer, then a restart: each acknowledged write is there and verify() is
    clean; the writer's last entry, committed but perhaps not yet sealed, is sealed by
    the next store that writes or asks for the head."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    fast_children(monkeypatch)
    cluster = Cluster()  # its own: the session's cluster keeps running for the other tests
    try:
        where = Where("postgresql", tmp_path, cluster.dsn())
        rng = random.Random(20261202)
        totals = {"trials": 0, "acknowledged": 0, "lost": 0, "partial": 0, "integrity": 0}
        for trial in range(SERVER_TRIALS):
            acks = kill_at_random(
                where,
                tmp_path / "acks.txt",
                trial,
                rng.uniform(0.05, 0.3),
                lambda _proc: cluster.stop("immediate"),
            )
            cluster.start()
            check(where, acks, totals)
        print(f"\nserver crash (postgresql): {totals}")
        assert totals["trials"] == SERVER_TRIALS
        assert totals["acknowledged"] > SERVER_TRIALS
        assert (totals["lost"], totals["partial"], totals["integrity"]) == (0, 0, 0)
    finally:
        cluster.remove()
