"""The store's schema and connection settings: what a new file holds and what opening checks."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
import sqlite_utils

import stemjourney as sj
from _store_helpers import TABLES, add_journey, open_file
from stemjourney.exceptions import ReadOnlyError, SchemaError, StorageError
from stemjourney.store import APPLICATION_ID, SCHEMA_VERSION, open_store
from stemjourney.store._chain import Chain
from stemjourney.store._upgrade import UPGRADES, prepare
from stemjourney.testing import memory_store


def test_new_file_is_private_and_marked(tmp_path: Path) -> None:
    """A new file is owner-only, carries the application id and the schema version."""
    path = tmp_path / "clinic.db"
    with open_file(path) as store:
        assert store.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_settings_hold_on_every_open(tmp_path: Path) -> None:
    """WAL, synchronous=FULL, foreign keys and the busy timeout are set on each open."""
    path = tmp_path / "clinic.db"
    open_file(path).close()
    with open_file(path, busy_timeout=2.5) as store:
        pragma = {
            name: store.db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 2500,
    }


def test_tables_are_strict_and_readable(tmp_path: Path) -> None:
    """Every table is STRICT, and the views answer for an empty and a full store."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        for table in TABLES:
            sql = store.db.execute(
                "SELECT sql FROM sqlite_schema WHERE name = ?", [table]
            ).fetchone()[0]
            assert "STRICT" in sql, table
        views = set(store.db.view_names())
        assert {
            "journey_current_stage",
            "journey_latest_score",
            "amendments",
            "transition_trail",
            "observations_in_force",
        } <= views
        row = store.db.execute("SELECT journey_id, stage FROM journey_current_stage").fetchall()
        assert row == [("j-1", "consultation")]
        trail = store.db.execute("SELECT from_stage, to_stage, hash FROM transition_trail")
        assert [r[:2] for r in trail] == [(None, "consultation")]


def test_existing_file_reopens_without_migrating(tmp_path: Path) -> None:
    """Reopening a current file keeps its data and its version."""
    path = tmp_path / "c.db"
    with open_file(path) as store:
        add_journey(store)
    with open_file(path) as store:
        assert store.journey("j-1").stage == "consultation"
        assert prepare(store.db.conn, Chain(), store.engine) is True
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer stemjourney is refused, naming both versions."""
    path = tmp_path / "c.db"
    open_file(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError, match=f"schema version {SCHEMA_VERSION + 1} is newer"):
        open_file(path)


def test_other_application_is_refused(tmp_path: Path) -> None:
    """A file with another application's id is refused."""
    path = tmp_path / "c.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 42")
    with pytest.raises(SchemaError, match="application_id is 42"):
        open_file(path)


def test_foreign_tables_without_an_id_are_refused(tmp_path: Path) -> None:
    """A plain SQLite file holding someone else's tables is not taken over."""
    path = tmp_path / "c.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(SchemaError, match="another application's tables"):
        open_file(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_schema").fetchall() == [("invoices",)]


def test_upgrades_are_from_older_versions_only() -> None:
    """Only older schema versions are upgraded, in increasing order."""
    assert list(UPGRADES) == sorted(set(UPGRADES))
    assert all(v < SCHEMA_VERSION for v in UPGRADES)


def test_caller_connection_and_database_are_accepted(tmp_path: Path) -> None:
    """A caller's sqlite3 connection or sqlite_utils Database works, and stays open."""
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    with open_store(conn) as store:
        add_journey(store)
    assert conn.execute("SELECT count(*) FROM journeys").fetchone()[0] == 1
    db = sqlite_utils.Database(tmp_path / "b.db")
    with sj.open_store(db) as store:
        add_journey(store)
        assert store.db is db
    assert db["journeys"].count == 1
    conn.close()
    db.close()


def test_connection_with_open_transaction_is_refused(tmp_path: Path) -> None:
    """Settings cannot be checked on a connection in a transaction, so it is refused."""
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    conn.execute("BEGIN")
    with pytest.raises(StorageError, match="transaction open"):
        open_store(conn)
    conn.close()


def test_query_only_connection_cannot_create_the_schema() -> None:
    """A connection that may not write cannot become a new store: a read-only error."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    with pytest.raises(ReadOnlyError):
        open_store(conn)


def test_wrong_target_type_is_refused() -> None:
    """open_store says what it accepts when given something else."""
    with pytest.raises(TypeError, match=r"sqlite_utils\.Database"):
        open_store(42)  # type: ignore[arg-type]


def test_memory_store_behaves_like_a_file() -> None:
    """The testing helper's in-memory store keeps the same rules."""
    with memory_store() as store:
        add_journey(store)
        with pytest.raises(sj.exceptions.DuplicateError):
            add_journey(store)
        assert store.verify().ok


def test_an_entrys_seq_is_its_id_on_sqlite(tmp_path: Path) -> None:
    """Entries are sealed as they are written on SQLite, so an entry's seq is its id,
    computed from it and not stored (no index of seq); PostgreSQL, which seals after the
    commit, stores seq with a unique index instead (docs/backends.md, "The hash chain")."""
    from stemjourney.store._pg_schema import INDEXES

    path = tmp_path / "c.db"
    with open_file(path) as store:
        add_journey(store)
        head = store.head()
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, seq FROM audit_log").fetchall()
        assert rows
        assert all(entry == seq for entry, seq in rows)
        assert (len(rows), head.seq) == (rows[-1][0], rows[-1][1])
        indexed = [r[1] for r in conn.execute("PRAGMA index_list(audit_log)")]
        assert not [n for n in indexed if "autoindex" in n]
        assert "seq" not in [c[1] for c in conn.execute("PRAGMA table_info(audit_log)")]
        conn.execute("DROP TRIGGER audit_log_no_update")
        with pytest.raises(sqlite3.OperationalError, match="generated column"):
            conn.execute("UPDATE audit_log SET seq = seq + 1 WHERE id = 1")
    finally:
        conn.close()
    assert "UNIQUE INDEX audit_log_seq ON audit_log (seq)" in INDEXES["audit_log_seq"]
