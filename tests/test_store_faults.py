"""Faults at the store's edge: disk full, read-only, locked, corrupt, not a database.

Each turns into its own stemjourney error with a clear message, and a refused write
leaves the file as it was (row counts and hash chain unchanged, integrity ok).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, quick_check, ready_for_harvest, snapshot
from stemjourney.exceptions import (
    BusyError,
    CorruptDatabaseError,
    DiskFullError,
    IntegrityError,
    NotADatabaseError,
    ReadOnlyError,
    StorageError,
)
from stemjourney.store import open_store
from stemjourney.store._errors import translate


def filled(path: Path, scores: int = 0) -> Path:
    """A closed store file with journey j-1 ready for harvest and ``scores`` more scores."""
    with open_file(path) as store:
        add_journey(store)
        ready_for_harvest(store)
        for _ in range(scores):
            store.record("j-1", sj.nrs(5, DAY0), actor="nurse")
    return path


def test_disk_full_writes_nothing(tmp_path: Path) -> None:
    """When the page limit is reached the write is refused whole, and the store goes on."""
    with open_file(filled(tmp_path / "c.db")) as store:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages + 2}")
        written, before, refusal = 0, snapshot(store), None
        while refusal is None and written < 1000:
            before = snapshot(store)
            try:
                store.add_patient(f"mrn-{written}", actor="desk", display_name="x" * 200)
                written += 1
            except DiskFullError as error:
                refusal = error
        assert written > 1
        assert "nothing was written" in str(refusal)
        assert snapshot(store) == before
        assert quick_check(store) == "ok"
        assert store.verify().ok
        store.db.execute(f"PRAGMA max_page_count = {pages * 10}")
        store.add_patient(f"mrn-{written}", actor="desk")
        assert store.verify().ok


def test_read_only_connection_refuses_writes_but_reads(tmp_path: Path) -> None:
    """A mode=ro connection (root ignores file modes) reads, and refuses writes clearly."""
    path = filled(tmp_path / "c.db")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    with open_store(conn) as store:
        assert store.journey("j-1").version == 4
        before = snapshot(store)
        with pytest.raises(ReadOnlyError, match="read-only"):
            store.record("j-1", sj.nrs(5, DAY0), actor="nurse")
        assert snapshot(store) == before
        assert store.verify().ok
    conn.close()


def test_locked_past_the_timeout_is_a_busy_error(tmp_path: Path) -> None:
    """A write waiting longer than busy_timeout for another writer fails with BusyError."""
    path = filled(tmp_path / "c.db")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with open_file(path, busy_timeout=0.05) as store:
        before = snapshot(store)
        with pytest.raises(BusyError, match="busy timeout"):
            store.record("j-1", sj.nrs(5, DAY0), actor="nurse")
        assert snapshot(store) == before
        other.execute("ROLLBACK")
        store.record("j-1", sj.nrs(5, DAY0), actor="nurse")
        assert store.verify().ok
    other.close()


def test_corrupt_page_is_reported(tmp_path: Path) -> None:
    """A damaged data page makes reads fail with CorruptDatabaseError and verify report it."""
    path = filled(tmp_path / "c.db", scores=200)
    with sqlite3.connect(path) as conn:
        root = conn.execute(
            "SELECT rootpage FROM sqlite_schema WHERE name = 'observations'"
        ).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xa5" * size)
    with open_file(path) as store:
        with pytest.raises(CorruptDatabaseError, match="restore it from a backup"):
            store.journey("j-1")
        found = store.verify()
        assert not found.ok
        assert any("damaged" in p or "integrity_check" in p for p in found)


@pytest.mark.parametrize(
    ("offset", "data", "error"),
    [
        (0, b"not sqlite at all", NotADatabaseError),
        (16, b"\x00\x03", NotADatabaseError),
        (4096 * 3, b"\xa5" * 4096 * 40, CorruptDatabaseError),
    ],
    ids=["magic", "page-size", "schema-pages"],
)
def test_corrupt_header_or_schema_is_refused_at_open(
    tmp_path: Path, offset: int, data: bytes, error: type[StorageError]
) -> None:
    """A damaged header or schema is refused when the store opens, with its own error."""
    path = filled(tmp_path / "c.db", scores=300)
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)
    with pytest.raises(error):
        open_file(path)


def test_text_file_is_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite is refused as such."""
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(NotADatabaseError, match="not an SQLite database"):
        open_file(path)


def test_missing_directory_cannot_be_opened(tmp_path: Path) -> None:
    """A path in a missing directory is a storage error naming the cause."""
    with pytest.raises(StorageError, match=r"cannot be created \(No such file"):
        open_file(tmp_path / "missing" / "c.db")


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), 5, BusyError),
        (sqlite3.OperationalError("database or disk is full"), 13, DiskFullError),
        (sqlite3.OperationalError("attempt to write a readonly database"), 8, ReadOnlyError),
        (sqlite3.DatabaseError("database disk image is malformed"), 11, CorruptDatabaseError),
        (sqlite3.DatabaseError("file is not a database"), 26, NotADatabaseError),
        (sqlite3.OperationalError("unable to open database file"), 14, StorageError),
        (sqlite3.IntegrityError("FOREIGN KEY constraint failed"), 19, IntegrityError),
        (sqlite3.OperationalError("no such table: x"), 1, StorageError),
    ],
)
def test_sqlite_errors_map_to_ours(
    error: sqlite3.Error, code: int, expected: type[Exception]
) -> None:
    """Each SQLite failure maps to one stemjourney error, by code and by message."""
    by_text = translate(error, "op")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    by_code = translate(error, "op")
    assert type(by_text) is expected
    assert type(by_code) is expected
    assert str(by_code).startswith("op: ")
