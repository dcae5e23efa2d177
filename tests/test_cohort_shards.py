"""The cohort report folded on several processes is the report folded in one.

A store in an SQLite file lends its journeys out in shares by id; workers (fresh
interpreters) fold shares read-only and this process merges what they folded. Whatever
the split, the report must equal the one-pass report; a worker that cannot start or
fails leaves its share to this process; shares read across a write are not merged.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import sqlite3
import sys
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest

from _worker_helpers import BROKEN, break_workers, count_starts
from stemjourney import DEFAULT_PROTOCOL, _workers
from stemjourney.demo import build_demo_clinic
from stemjourney.exceptions import ValidationError
from stemjourney.reports import _cohort_shards as shards
from stemjourney.reports import cohort_report
from stemjourney.store import FactShard, Store, open_store

TODAY = date(2026, 6, 1)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic (amendments, adverse events, second cycles, voided journeys)."""
    path = tmp_path_factory.mktemp("shards") / "clinic.db"
    build_demo_clinic(path, patients=60, today=TODAY)
    return path


def _report(store: Store, workers: int | None, instrument: str = "nrs") -> Any:
    return cohort_report(store, on=TODAY, instrument=instrument, workers=workers)


def _count_folds_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many shares each fold in this process took, one entry per fold, as it happens."""
    folded_here: list[int] = []
    plain = shards.fold_shares

    def counted(given: list[FactShard], terms: Any) -> Any:
        folded_here.append(len(given))
        return plain(given, terms)

    monkeypatch.setattr(shards, "fold_shares", counted)
    return folded_here


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("instrument", ["nrs", "koos_pain"])
def test_a_report_folded_on_several_processes_is_the_one_folded_in_one(
    clinic: Path, workers: int, instrument: str
) -> None:
    with open_store(clinic) as store:
        alone = _report(store, 1, instrument)
        assert alone.journeys > 0
        assert alone.groups
        assert _report(store, workers, instrument) == alone


def test_the_shares_hold_every_journey_once_with_the_facts_of_one_read(clinic: Path) -> None:
    with open_store(clinic) as store:
        whole = list(store.iter_outcome_facts(instrument="nrs"))
        lent = store.outcome_fact_shards(5)
        assert len(lent) == 5
        assert sum(share.journeys for share in lent) == len(whole)
        read = []
        heads = set()
        for share in lent:
            with share.read(instrument="nrs") as (head, facts):
                heads.add(head)
                read.extend(facts)
    assert read == whole
    assert len(heads) == 1


def test_workers_fold_their_shares_and_this_process_only_its_own(
    clinic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folded_here = _count_folds_here(monkeypatch)
    with open_store(clinic) as store:
        alone = _report(store, 1)
        assert _report(store, 2) == alone
    assert len(folded_here) == 1  # its own shares; the worker folded the rest
    assert folded_here == [shards.SLICES + 1]


@pytest.mark.parametrize("broken", BROKEN)
def test_a_share_whose_worker_fails_is_folded_here(
    clinic: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    break_workers(monkeypatch, broken, clinic.parent)
    folded_here = _count_folds_here(monkeypatch)
    with open_store(clinic) as store:
        alone = _report(store, 1)
        assert _report(store, 3) == alone
    assert len(folded_here) == 3
    assert folded_here == [shards.SLICES + 1, shards.SLICES, shards.SLICES]  # each once


def test_shares_read_across_a_write_are_folded_again_in_one_pass(
    clinic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clinic.db"
    path.write_bytes(clinic.read_bytes())
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))  # all read here
    reads = 0
    plain_read = FactShard.read

    def read_then_write(self: FactShard, *, instrument: str | None = None) -> Any:
        nonlocal reads
        reads += 1
        if reads == 2:  # after the first share was read, another workstation writes
            with open_store(path) as other:
                other.add_patient("MRN-LATE", actor="desk.b")
        return plain_read(self, instrument=instrument)

    answers: list[bool] = []
    plain_fold = shards.fold_shared

    def told(*args: Any) -> bool:
        answers.append(plain_fold(*args))
        return answers[-1]

    monkeypatch.setattr(FactShard, "read", read_then_write)
    monkeypatch.setattr(shards, "fold_shared", told)
    with open_store(path) as store:
        head = store.head()
        shared = _report(store, 2)
        assert store.head().seq == head.seq + 1
        assert answers == [False]  # not merged: the caller folded the store in one pass
        monkeypatch.setattr(FactShard, "read", plain_read)
        assert shared == _report(store, 2)
        assert answers == [False, True]
    assert reads == 2 * shards.SLICES + 1  # every share of the first report, read here


@pytest.mark.parametrize("count", [2, 3, 4])
@pytest.mark.parametrize("total", [2, 3, 5, 13, 25])
def test_shares_are_split_in_order_this_process_taking_one_more(count: int, total: int) -> None:
    """Every share goes to one process, in order; each worker gets as many, and this
    process (which starts folding at once) as many or one more."""
    given: list[Any] = list(range(total))
    mine, theirs = shards._parts(given, count)
    assert [*mine, *(s for part in theirs for s in part)] == given
    assert len(theirs) == min(count, total) - 1
    assert all(part for part in theirs)
    sizes = {len(part) for part in theirs}
    assert len(sizes) <= 1
    assert not sizes or len(mine) >= next(iter(sizes))
    if total == 2 * shards.SLICES + 1 and count == 2:
        assert (len(mine), len(theirs[0])) == (shards.SLICES + 1, shards.SLICES)


def test_a_worker_reads_its_shares_and_terms_and_writes_what_it_folded(clinic: Path) -> None:
    with open_store(clinic) as store:
        lent = list(store.outcome_fact_shards(3))
    terms = (TODAY, DEFAULT_PROTOCOL, "nrs", "voided", UTC)
    answer = io.BytesIO()
    assert shards.main(io.BytesIO(pickle.dumps((lent[1:], terms))), answer) == 0
    heads, folded = pickle.loads(answer.getvalue())
    expected_heads, expected = shards.fold_shares(lent[1:], terms)
    assert heads == expected_heads
    assert len(heads) == 1
    assert folded[0] == expected[0] > 0
    assert sorted(folded[1]) == sorted(expected[1])


def test_a_sharded_report_leaves_the_file_byte_for_byte(clinic: Path, tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    path.write_bytes(clinic.read_bytes())
    with open_store(path) as store:
        _report(store, 1)
        before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
        _report(store, 2)
        after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before


class _LocalZone(tzinfo):
    """A zone of the caller's own that cannot be pickled (it is defined in a function)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "UTC"

    def __reduce__(self) -> Any:
        raise TypeError("not picklable")


def test_what_cannot_be_sent_to_a_worker_is_folded_here(
    clinic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_workers(module: str, payload: bytes) -> None:
        raise AssertionError("no worker may start")

    monkeypatch.setattr(_workers, "start", no_workers)
    with open_store(clinic) as store:
        zone = _LocalZone()
        alone = cohort_report(store, on=TODAY, instrument="nrs", tz=zone, workers=1)
        assert cohort_report(store, on=TODAY, instrument="nrs", tz=zone, workers=2) == alone
        assert _report(store, None) == _report(store, 1)  # fewer journeys than PARALLEL_FROM
    with open_store(":memory:") as memory:
        assert memory.outcome_fact_shards(2) == ()
        assert _report(memory, 2).journeys == 0
    conn = sqlite3.connect(clinic)
    try:
        with open_store(conn) as theirs:  # a caller's connection: perhaps an encrypted build
            assert theirs.outcome_fact_shards(2) == ()
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [0, -1, True, 2.0, "2"])
def test_workers_is_a_positive_integer(clinic: Path, workers: Any) -> None:
    with open_store(clinic) as store, pytest.raises(ValidationError) as raised:
        _report(store, workers)
    assert raised.value.field == "workers"
    with open_store(clinic) as store, pytest.raises(ValidationError) as raised:
        store.outcome_fact_shards(0)
    assert raised.value.field == "parts"


def test_a_large_store_folds_on_the_cores_this_process_may_use(
    clinic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert 1 <= shards.default_workers() <= _workers.MAX_WORKERS
    monkeypatch.setattr(shards, "default_workers", lambda: 2)
    started = count_starts(monkeypatch)
    with open_store(clinic) as store:
        alone = _report(store, 1)
        assert _report(store, None) == alone
        assert started == []  # fewer journeys than PARALLEL_FROM: no worker is worth starting
        monkeypatch.setattr(shards, "PARALLEL_FROM", 10)
        assert _report(store, None) == alone
    assert started == [True]
