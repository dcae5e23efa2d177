"""A write costs the same at any history length, and its working copy decides as the whole does.

The cost is counted, not timed: SQLite's progress handler counts the virtual-machine
steps every statement of a write takes (rows read and written), and the count is
the same with ten or a thousand entries of history. The working copy a write reads
(:mod:`stemjourney.store._state`) must let the guards decide exactly as the whole
journey would: that is checked over generated journeys.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest
from stemjourney.exceptions import ConflictError
from stemjourney.store import Store
from stemjourney.store._state import Copies, trim
from stemjourney.testing import DEFAULT_START, ManualClock, move_sequences, play


def _journey_with(store: Store, jid: str, scores: int) -> None:
    """A journey in consultation, ready for harvest, with ``scores`` more pain scores."""
    add_journey(store, f"p-{jid}", jid)
    ready_for_harvest(store, jid)
    for n in range(scores):
        store.record(jid, sj.nrs(n % 11, DAY0 + timedelta(minutes=n)), actor="nurse")
    store.record(jid, sj.AdverseEvent(
        onset_at=DAY0, site="knee", grade=1, serious=False, relatedness="unlikely",
        outcome="recovered", action_taken="none",
    ), actor="dr")  # fmt: skip


def _steps(path: Path, write: str, jid: str) -> tuple[int, int]:
    """(VM steps, statements) of one write from a freshly opened store."""
    with open_file(path) as store:
        conn = store.db.conn
        counted = [0]
        statements: list[str] = []

        def step() -> int:
            counted[0] += 1
            return 0

        conn.set_progress_handler(step, 1)
        conn.set_trace_callback(statements.append)
        if write == "move":
            store.move(jid, "harvest", actor="dr", occurred_at=DAY0 + timedelta(days=7))
        else:
            store.record(jid, sj.nrs(4, DAY0 + timedelta(days=1)), actor="nurse")
        conn.set_progress_handler(None, 1)
        conn.set_trace_callback(None)
    return counted[0], len(statements)


def test_a_cold_write_reads_the_same_at_any_history_length(tmp_path: Path) -> None:
    """A move and a score from a fresh store take the same SQLite steps at 10, 100 and 1,000
    entries (give or take the one-step differences of seeking different keys)."""
    path = tmp_path / "c.db"
    lengths = {"j-0010": 10, "j-0100": 100, "j-1000": 1000}
    with open_file(path) as store:
        for jid, scores in lengths.items():
            _journey_with(store, jid, scores)
    for write in ("record", "move"):
        counts = {jid: _steps(path, write, jid) for jid in lengths}
        steps = [n for n, _ in counts.values()]
        assert len({statements for _, statements in counts.values()}) == 1, counts
        assert max(steps) - min(steps) <= 4, (write, counts)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(steps=move_sequences(valid=True, max_moves=12), data=st.data())
def test_the_working_copy_lets_the_guards_decide_as_the_whole_journey(
    steps: list[object], data: st.DataObject
) -> None:
    """For any journey, every move's verdict on the working copy equals the whole journey's."""
    clock = ManualClock(DEFAULT_START)
    engine = sj.Engine(clock=clock)
    whole = play(engine, steps, clock=clock)  # type: ignore[arg-type]
    working = trim(whole)
    at = whole.last_move.occurred_at + timedelta(days=data.draw(st.integers(0, 400)))
    for target in engine.pipeline.stages:
        assert engine.why_not(working, target, at=at) == engine.why_not(whole, target, at=at)
        assert engine.why_not(working, target, at=at, override_reason="x") == engine.why_not(
            whole, target, at=at, override_reason="x"
        )
    assert engine.allowed(working, at=at) == engine.allowed(whole, at=at)
    assert (working.stage, working.cycle, working.version) == (
        whole.stage,
        whole.cycle,
        whole.version,
    )


def _reads(store: Store, write: Any) -> list[str]:
    """The tables the SELECTs of ``write`` read, in order."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        write()
    finally:
        store.db.conn.set_trace_callback(None)
    return [s.split(" FROM ")[1].split()[0] for s in statements if s.startswith("SELECT")]


def test_a_store_reuses_the_working_copy_it_read_until_another_writer_changes_it(
    tmp_path: Path,
) -> None:
    """A workstation that read a journey writes after one read of its summary row; once
    another store has written, the row's stamp differs and the copy is read again."""
    path = tmp_path / "w.db"
    with open_file(path) as store:
        _journey_with(store, "j-1", 3)
    with open_file(path) as here, open_file(path) as there:
        start = here.journey("j-1").version
        score = sj.nrs(4, DAY0 + timedelta(days=1))
        reused = _reads(here, lambda: here.record("j-1", score, actor="nurse"))
        assert reused[0] == "journeys"
        assert not {"transitions", "records", "observations"} & set(reused)
        there.record("j-1", sj.nrs(3, DAY0 + timedelta(days=2)), actor="nurse")
        at = DAY0 + timedelta(days=7)
        moved = _reads(here, lambda: here.move("j-1", "harvest", actor="dr", occurred_at=at))
        assert {"transitions", "records", "observations"} <= set(moved)
        assert here.journey("j-1") == there.journey("j-1")
        assert here.journey("j-1").version == start + 3
        with pytest.raises(ConflictError):  # another writer's copy is stale now
            there.record("j-1", score, actor="nurse", expected_version=start + 2)


def test_kept_copies_are_bounded_and_never_kept_under_another_version() -> None:
    """The oldest copy goes first past the bound; a copy whose version is not its stamp's
    (read across a change) is not kept."""
    clock = ManualClock(DEFAULT_START)
    engine = sj.Engine(clock=clock)
    journeys = [
        engine.open(
            f"j-{n}",
            patient_id="p-1",
            condition="osteoarthritis of knee",
            site="knee",
            side="left",
            cell_source="bone_marrow",
            actor="dr",
            occurred_at=DEFAULT_START,
        )
        for n in range(3)
    ]
    copies = Copies(size=2)
    for journey in journeys:
        copies.keep((1, "t", 1), journey)
    assert copies.get("j-0", (1, "t", 1)) is None
    assert copies.get("j-1", (1, "t", 1)) is journeys[1]
    assert copies.get("j-2", (1, "t", 2)) is None  # another stamp
    copies.keep((2, "t", 3), journeys[0])  # version 1 under a version-2 stamp
    assert copies.get("j-0", (2, "t", 3)) is None
    assert copies.get("j-2", (1, "t", 1)) is journeys[2]
