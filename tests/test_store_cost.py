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

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest
from stemjourney.store import Store
from stemjourney.store._state import trim
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
