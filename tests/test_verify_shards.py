"""``verify()`` on several processes reports what ``verify()`` in one process reports.

The journeys of a store in an SQLite file are checked in ranges of ids, each but the
first by a worker (a fresh interpreter reading the file read-only); this process merges
their problems and digests before the chain pass. Whatever the split, clean or tampered,
the report must hold the same problems as the one-process report; a worker that cannot
start, fails, or read under another chain head leaves its range to this process.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest

from _worker_helpers import BROKEN, break_workers, count_starts
from stemjourney import DEFAULT_PIPELINE, Pipeline, _workers
from stemjourney.demo import build_demo_clinic
from stemjourney.exceptions import ValidationError
from stemjourney.store import VerifyReport, open_store
from stemjourney.store import _verify_shards as shards
from stemjourney.store._shards import ranges_of
from stemjourney.store._verify_rows import Covered, scan_rows
from test_store_verify import _cases, tamper, tampered_copies

TODAY = date(2026, 6, 1)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic: amendments, imports, second cycles, withdrawals, voided journeys."""
    path = tmp_path_factory.mktemp("verify-shards") / "clinic.db"
    build_demo_clinic(path, patients=24, today=TODAY)
    return path


def _verify(path: Path, workers: int | None, **kw: Any) -> VerifyReport:
    with open_store(path, **kw) as store:
        return store.verify(workers=workers)


def _same(one: VerifyReport, many: VerifyReport) -> None:
    """The same problems (an entry two ranges name is reported at the merge, so the order
    may differ there), the same counts and head."""
    assert sorted(many.problems) == sorted(one.problems)
    assert (many.audit_entries, many.journeys, many.head) == (
        one.audit_entries,
        one.journeys,
        one.head,
    )


def _count_scans_here(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """The journey range of each row pass this process runs, as it runs it."""
    ranges: list[tuple[Any, Any]] = []
    plain = shards.scan_rows

    def counted(*args: Any) -> Any:
        ranges.append(args[5] if len(args) > 5 else (None, None))
        return plain(*args)

    monkeypatch.setattr(shards, "scan_rows", counted)
    return ranges


@pytest.mark.parametrize("workers", [2, 3])
def test_a_clean_store_checked_on_several_processes_gives_the_one_process_report(
    clinic: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _count_scans_here(monkeypatch)
    one = _verify(clinic, 1)
    assert one.ok, one.problems
    assert here == [(None, None)]
    here.clear()
    many = _verify(clinic, workers)
    assert many == one
    assert len(here) == 1  # the first range here, the others in the workers
    assert here[0][0] is None
    assert here[0][1] is not None


def test_tampered_stores_checked_on_several_processes_give_the_one_process_report(
    clinic: Path, tmp_path: Path
) -> None:
    """A spread of the generated single-row tamperings (every table, every kind): the
    same problems, found in either way."""
    cases = list(_cases(clinic))
    compared = 0
    for what, copy in tampered_copies(clinic, tmp_path, cases[:: max(1, len(cases) // 60)]):
        one = _verify(copy, 1)
        assert not one.ok, what
        _same(one, _verify(copy, 3))
        compared += 1
    assert compared >= 30


def test_an_entry_named_by_rows_of_two_ranges_is_reported(clinic: Path, tmp_path: Path) -> None:
    copy = tmp_path / "clinic.db"
    shutil.copyfile(clinic, copy)
    conn = sqlite3.connect(copy)
    ids = [row[0] for row in conn.execute("SELECT id FROM journeys ORDER BY id")]
    early = conn.execute(
        "SELECT audit_id FROM observations WHERE journey_id = ? ORDER BY version LIMIT 1",
        (ids[0],),
    ).fetchone()[0]
    late = conn.execute(
        "SELECT version FROM observations WHERE journey_id = ? ORDER BY version LIMIT 1",
        (ids[-1],),
    ).fetchone()[0]
    conn.close()
    tamper(
        copy,
        "UPDATE observations SET audit_id = ? WHERE journey_id = ? AND version = ?",
        params=(early, ids[-1], late),
    )
    one = _verify(copy, 1)
    named = [p for p in one.problems if "another row group" in p]
    assert named == [
        f"observations {ids[-1]}, column audit_id: names an audit entry another row group has"
    ]
    _same(one, _verify(copy, 2))


@pytest.mark.parametrize("broken", BROKEN)
def test_a_range_whose_worker_fails_is_checked_here(
    clinic: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    one = _verify(clinic, 1)
    break_workers(monkeypatch, broken, clinic.parent)
    here = _count_scans_here(monkeypatch)
    assert _verify(clinic, 3) == one
    assert len(here) == 3  # every range, each once, in order
    assert here[0][0] is None
    assert here[-1][1] is None
    assert [r[1] for r in here[:-1]] == [r[0] for r in here[1:]]


def test_ranges_read_under_another_head_are_checked_here(
    clinic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that read after a write landed (its head is not this read's) is not merged."""
    one = _verify(clinic, 1)
    monkeypatch.setattr(shards, "last_entry", lambda conn: (0, bytes(32)))
    here = _count_scans_here(monkeypatch)
    assert _verify(clinic, 2) == one
    assert len(here) == 2


def test_a_pipeline_that_cannot_be_sent_to_a_worker_is_checked_here(
    clinic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_workers(module: str, payload: bytes) -> None:
        raise AssertionError("no worker may start")

    first = DEFAULT_PIPELINE.transitions[0]
    local_guard = attrs.evolve(first, guard=lambda *args: first.guard(*args))
    pipeline = Pipeline(
        (local_guard, *DEFAULT_PIPELINE.transitions[1:]),
        DEFAULT_PIPELINE.initial,
        DEFAULT_PIPELINE.outcomes,
        DEFAULT_PIPELINE.void,
    )
    one = _verify(clinic, 1, pipeline=pipeline)
    monkeypatch.setattr(_workers, "start", no_workers)
    assert _verify(clinic, 2, pipeline=pipeline) == one
    assert _verify(clinic, None) == one  # fewer journeys than SHARED_FROM
    with open_store(":memory:") as memory:
        assert memory.verify(workers=2).ok
    conn = sqlite3.connect(clinic)
    try:
        with open_store(conn) as theirs:  # a caller's connection: perhaps an encrypted build
            assert theirs.verify(workers=2) == one
    finally:
        conn.close()


def test_a_large_store_is_checked_on_the_cores_this_process_may_use(
    clinic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _verify(clinic, 1)
    monkeypatch.setattr(_workers, "default_workers", lambda: 2)
    started = count_starts(monkeypatch)
    assert _verify(clinic, None) == one
    assert started == []
    monkeypatch.setattr(shards, "SHARED_FROM", 10)
    assert _verify(clinic, None) == one
    assert started == [True]


def test_text_that_is_not_utf8_is_reported_the_same_on_several_processes(
    clinic: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "clinic.db"
    shutil.copyfile(clinic, copy)
    conn = sqlite3.connect(copy)
    last = conn.execute("SELECT max(id) FROM journeys").fetchone()[0]
    conn.close()
    tamper(
        copy,
        "UPDATE journeys SET stage = CAST(X'ff' AS TEXT) WHERE id = ?",
        params=(last,),
    )
    one = _verify(copy, 1)
    assert not one.ok
    _same(one, _verify(copy, 3))


@pytest.mark.parametrize("workers", [0, -1, True, 2.0, "2"])
def test_workers_is_a_positive_integer(clinic: Path, workers: Any) -> None:
    with open_store(clinic) as store, pytest.raises(ValidationError) as raised:
        store.verify(workers=workers)
    assert raised.value.field == "workers"


def test_a_worker_checks_its_range_and_answers_what_one_pass_finds_there(clinic: Path) -> None:
    """The worker's own code, run here: its range's problems, digests and last entries are
    what this process's row pass finds over the same range."""
    conn = sqlite3.connect(clinic)
    try:
        first, stop, _ = ranges_of(conn, 2)[1]
        last = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0]
        with open_store(clinic) as store:
            pipeline, protocol = store.engine.pipeline, store.engine.protocol
        here = Covered(last)
        problems: list[tuple[Any, ...]] = []
        updated = scan_rows(
            conn, pipeline, protocol, here, lambda *p: problems.append(p), (first, stop)
        )
    finally:
        conn.close()
    task = (str(clinic), first, stop, pipeline, protocol, last)
    answer = io.BytesIO()
    assert shards.main(io.BytesIO(pickle.dumps(task)), answer) == 0
    head, found, theirs, taken = pickle.loads(answer.getvalue())
    with open_store(clinic) as store:
        assert head == (store.head().seq, bytes.fromhex(store.head().hash))
    assert found == problems == []
    assert theirs == updated
    assert len(taken[0]) == len(here.taken) > 0
    merged = Covered(last)
    merged.merge(taken, lambda *p: problems.append(p))
    assert problems == []
    assert bytes(merged.digests) == bytes(here.digests)
    assert merged.owners == here.owners


def test_verify_on_several_processes_leaves_the_file_byte_for_byte(
    clinic: Path, tmp_path: Path
) -> None:
    path = tmp_path / "clinic.db"
    path.write_bytes(clinic.read_bytes())
    with open_store(path) as store:
        store.verify(workers=1)
        before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
        assert store.verify(workers=3).ok
        after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before


def test_a_file_the_ranges_cannot_be_set_up_on_is_checked_in_one_pass(
    clinic: Path, tmp_path: Path
) -> None:
    """The chain head without a hash (a CHECK bypassed): setting up the ranges fails, so
    the one pass runs and reports the file as one process does."""
    copy = tmp_path / "clinic.db"
    shutil.copyfile(clinic, copy)
    tamper(
        copy,
        "PRAGMA ignore_check_constraints = ON",
        "UPDATE audit_log SET hash = NULL WHERE seq = (SELECT max(seq) FROM audit_log)",
    )
    one = _verify(copy, 1)
    assert not one.ok
    assert one.journeys > 0
    assert _verify(copy, 2) == one


@pytest.mark.parametrize("workers", [1, 2])
def test_a_row_naming_a_journey_after_every_journey_is_reported(
    clinic: Path, tmp_path: Path, workers: int
) -> None:
    copy = tmp_path / "clinic.db"
    shutil.copyfile(clinic, copy)
    conn = sqlite3.connect(copy)
    row = conn.execute("SELECT * FROM schedule LIMIT 1").fetchone()
    conn.close()
    ghost = "\U0010ffff" * 5
    marks = ", ".join("?" * len(row))
    tamper(copy, f"INSERT INTO schedule VALUES ({marks})", params=(ghost, *row[1:]))
    found = _verify(copy, workers)
    assert f"schedule {ghost}, column journey_id: names no journey" in found.problems
