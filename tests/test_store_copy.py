"""``copy_store``: a whole store into an empty one, the chain kept, on either backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest, through_injection
from stemjourney.exceptions import IntegrityError, ValidationError
from stemjourney.store import Store, copy_store


def _clinic(path: Path) -> Store:
    store = open_file(path)
    add_journey(store)
    ready_for_harvest(store)
    through_injection(store)
    add_journey(store, "p-2", "j-2")
    store.add_patient("mrn-gone", actor="desk", patient_id="p-gone")
    store.delete_patient("p-gone", actor="desk")
    return store


def test_a_copy_holds_every_row_and_the_same_chain(tmp_path: Path) -> None:
    """Every table's rows, the same head, the same journeys; the copy takes new writes."""
    with _clinic(tmp_path / "a.db") as source, open_file(tmp_path / "b.db") as target:
        report = copy_store(source, target)
        head = source.head()
        assert report.head == head == target.head()
        assert target.verify(expected_head=head).ok
        for table, count in report.rows.items():
            query = f"SELECT count(*) FROM {table}"
            found = target.db.execute(query).fetchone()[0]
            assert found == count == source.db.execute(query).fetchone()[0]
        assert report.rows["patient_erasures"] == 1
        assert list(target.iter_journeys()) == list(source.iter_journeys())
        target.record("j-2", sj.nrs(5, DAY0), actor="nurse")
        assert target.verify(expected_head=head).ok
        assert target.head().seq == head.seq + 1


def test_a_store_that_does_not_verify_is_not_copied(tmp_path: Path) -> None:
    """A tampered source is refused; the target stays empty."""
    with _clinic(tmp_path / "a.db"):
        pass
    conn = sqlite3.connect(tmp_path / "a.db")
    conn.execute("DROP TRIGGER observations_no_update")
    conn.execute("UPDATE observations SET value = 0")
    conn.commit()
    conn.close()
    with open_file(tmp_path / "a.db") as source, open_file(tmp_path / "b.db") as target:
        with pytest.raises(IntegrityError, match="the source fails verify"):
            copy_store(source, target)
        assert target.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_the_target_must_be_empty_and_hash_the_same_way(tmp_path: Path) -> None:
    """A target with entries, or with another chain mode or key, is refused unchanged."""
    key = b"k" * 32
    with (
        _clinic(tmp_path / "a.db") as source,
        open_file(tmp_path / "b.db") as full,
        open_file(tmp_path / "c.db", key=key) as keyed,
    ):
        add_journey(full, "p-9", "j-9")
        entries = full.head()
        with pytest.raises(ValidationError, match="target: is not empty"):
            copy_store(source, full)
        assert full.head() == entries
        with pytest.raises(ValidationError, match=r"hashes its chain differently \(chain\)"):
            copy_store(source, keyed)


def test_a_keyed_chain_copies_between_stores_opened_with_its_key(tmp_path: Path) -> None:
    """Source and target opened with the same key: the copy verifies under it."""
    key = b"clinic-key-0123456789"
    with open_file(tmp_path / "a.db", key=key) as source:
        add_journey(source)
        with open_file(tmp_path / "b.db", key=key) as target:
            copy_store(source, target)
            assert target.verify(expected_head=source.head()).ok
