"""``Store.verify``: clean when nothing was touched; any single-row tampering is found.

The tampering is generated: every column of every row of a small clinic (with
amendments, an import, a deleted patient and a withdrawal) changed, every row deleted,
copied in, and swapped with another, each on a fresh copy of the file, with the
append-only triggers dropped for the change and put back after it (so only the data
tells). verify() must report each one, and never raise.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest, through_injection
from stemjourney.store import Head, Store, VerifyReport
from stemjourney.store._chain import ENTRY_FIELDS, Chain
from stemjourney.store._schema import expected_objects
from stemjourney.store._tables import TABLES
from stemjourney.store._verify_rows import Covered, scan_patients, scan_rows

SKIP = {("store_meta", "value")}
"""Columns whose change is not a tampering of the record (none so far)."""


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed store file: two journeys, records, an amendment, imports, a deleted patient."""
    file = tmp_path_factory.mktemp("verify") / "clinic.db"
    with open_file(file) as store:
        fill(store)
    return file


def fill(store: Store) -> None:
    """Two journeys, records, an amendment, imports, a deleted patient."""
    add_journey(store)
    ready_for_harvest(store)
    through_injection(store)
    journey = store.journey("j-1")
    first = next(e for e in journey.records if isinstance(e.record, sj.Score))
    store.amend("j-1", first.version, sj.nrs(6, DAY0), actor="nurse", reason="typo")
    add_journey(store, "p-2", "j-2")
    store.import_scores([("j-2", "nrs", 4, DAY0), ("j-2", "vas", 35.5, DAY0)], actor="imp")
    store.record("j-2", sj.nrs(3, DAY0 + timedelta(hours=1)), actor="nurse", idempotency_key="k")
    store.move(
        "j-2",
        "withdrawn",
        actor="dr",
        occurred_at=DAY0 + timedelta(hours=2),
        reason=sj.WithdrawalReason(initiated_by="patient", code="patient_choice", detail="d"),
    )
    store.add_patient("mrn-gone", actor="desk", patient_id="p-gone")
    store.delete_patient("p-gone", actor="desk")
    assert store.verify().ok


def _triggers(conn: sqlite3.Connection) -> list[str]:
    return [sql for kind, sql in expected_objects().values() if kind == "trigger"]


def tamper(path: Path, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Run raw SQL with the triggers dropped, as an attacker would, then put them back."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'trigger'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("PRAGMA foreign_keys = OFF")
        for sql in statements:
            conn.execute(sql, params)
        for sql in _triggers(conn):
            conn.execute(sql)
    finally:
        conn.close()


def report(path: Path, **kw: Any) -> VerifyReport:
    """Open the file and verify it."""
    with open_file(path) as store:
        return store.verify(**kw)


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, int]]:
    return [(r[1], r[5]) for r in conn.execute(f"PRAGMA table_info({table})")]


def _other(value: object) -> object:
    """A different value of the same kind."""
    if value is None:
        return 1
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:]
    if isinstance(value, bool | int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    return f"{value}x"


def _cases(path: Path) -> Iterator[tuple[str, str, tuple[Any, ...]]]:
    """(description, SQL, parameters) of every single-row tampering of the file."""
    conn = sqlite3.connect(path)
    try:
        tables = []
        for spec in TABLES:
            columns = _columns(conn, spec.name)
            key = [name for name, pk in sorted(columns, key=lambda c: c[1]) if pk] or ["rowid"]
            names = [name for name, _ in columns]
            rows = conn.execute(f"SELECT {', '.join(names)} FROM {spec.name}").fetchall()
            tables.append((spec.name, names, key, rows))
        yield from tamperings(tables)
    finally:
        conn.close()


Rows = tuple[str, list[str], list[str], list[tuple[Any, ...]]]
"""A table's name, its column names, its key columns and its rows."""


def tamperings(tables: list[Rows]) -> Iterator[tuple[str, str, tuple[Any, ...]]]:
    """(description, SQL, parameters) of every single-row tampering of the tables' rows:
    each column changed and blanked, each row deleted, copied in and swapped with the next."""
    for table, names, key, rows in tables:
        for n, row in enumerate(rows):
            where = " AND ".join(f"{k} = ?" for k in key)
            ids = tuple(row[names.index(k)] for k in key)
            for column, value in zip(names, row, strict=True):
                if (table, column) in SKIP:
                    continue
                yield (
                    f"change {table}.{column} of row {n}",
                    f"UPDATE {table} SET {column} = ? WHERE {where}",
                    (_other(value), *ids),
                )
                if value is not None and column not in key:
                    yield (
                        f"blank {table}.{column} of row {n}",
                        f"UPDATE {table} SET {column} = NULL WHERE {where}",
                        ids,
                    )
            yield f"delete {table} row {n}", f"DELETE FROM {table} WHERE {where}", ids
            copy = list(row)
            for k in key:
                copy[names.index(k)] = _other(copy[names.index(k)])
            marks = ", ".join("?" * len(names))
            yield (
                f"insert a copy of {table} row {n}",
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
                tuple(copy),
            )
            if n + 1 < len(rows):
                nxt = rows[n + 1]
                for column in names:
                    if column in key:
                        continue
                    a, b = row[names.index(column)], nxt[names.index(column)]
                    if a == b:
                        continue
                    other = tuple(nxt[names.index(k)] for k in key)
                    yield (
                        f"swap {table}.{column} of rows {n} and {n + 1}",
                        f"UPDATE {table} SET {column} = CASE WHEN {where} THEN ? ELSE ? END "
                        f"WHERE ({where}) OR ({where})",
                        (*ids, b, a, *ids, *other),
                    )


def tampered_copies(
    clinic: Path, folder: Path, cases: list[tuple[str, str, tuple[Any, ...]]]
) -> Iterator[tuple[str, Path]]:
    """Each of ``cases`` applied to a fresh copy of ``clinic`` in ``folder``: (what was done,
    the copy), the copy removed after; a case the table's own constraints refuse (no
    tampering made) is left out."""
    for n, (what, sql, params) in enumerate(cases):
        copy = folder / f"t{n}.db"
        shutil.copyfile(clinic, copy)
        try:
            tamper(copy, sql, params=params)
        except sqlite3.Error:
            copy.unlink()
            continue
        yield what, copy
        copy.unlink()


def test_untouched_store_verifies_clean(clinic: Path) -> None:
    """A file nobody touched verifies clean, counting its entries and journeys."""
    found = report(clinic)
    assert found.ok, found.problems
    assert found.journeys == 2
    assert found.audit_entries >= 20
    assert bool(found) is False


def test_every_single_row_tampering_is_found_and_nothing_raises(
    clinic: Path, tmp_path: Path
) -> None:
    """Hundreds of generated tamperings: each one is reported, none makes verify() raise."""
    cases = list(_cases(clinic))
    applied = missed = 0
    misses = []
    for what, copy in tampered_copies(clinic, tmp_path, cases):
        applied += 1
        found = report(copy)
        if found.ok:
            missed += 1
            misses.append(what)
    print(f"tampering: cases={len(cases)} applied={applied} detected={applied - missed}")
    assert applied > 300
    assert misses == []


def test_a_dropped_trigger_or_an_altered_view_is_reported(clinic: Path, tmp_path: Path) -> None:
    """The schema is checked: a missing trigger and a changed view are named."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("DROP TRIGGER observations_no_update")
    conn.execute("DROP VIEW journey_current_stage")
    conn.execute("CREATE VIEW journey_current_stage AS SELECT 1 AS journey_id")
    conn.close()
    problems = "\n".join(report(copy).problems)
    assert "schema observations_no_update: the trigger is missing" in problems
    assert "schema journey_current_stage: the view is altered" in problems


def _rehash(path: Path) -> None:
    """Recompute every entry's hash from the rows, as an attacker with the code would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'trigger'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        last = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0]
        covered = Covered(last)
        scan_rows(conn, sj.DEFAULT_PIPELINE, sj.DEFAULT_PROTOCOL, covered, lambda *a: None)
        scan_patients(conn, covered, lambda *a: None)
        chain, prev = Chain(), bytes(32)
        empty = hashlib.sha256().digest()
        for row in conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall():
            entry_id = row[0]
            digest = (
                bytes(covered.digests[32 * entry_id : 32 * entry_id + 32])
                if covered.kinds[entry_id]
                else empty
            )
            prev = chain.entry_hash(prev, row[: len(ENTRY_FIELDS)], digest)
            conn.execute("UPDATE audit_log SET hash = ? WHERE id = ?", (prev, entry_id))
        for sql in _triggers(conn):
            conn.execute(sql)
    finally:
        conn.close()


def test_a_rewritten_chain_needs_the_head_kept_outside(clinic: Path, tmp_path: Path) -> None:
    """A tampered file with every hash recomputed passes alone, but not against its old head."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    with open_file(copy) as store:
        head = store.head()
    tamper(copy, "UPDATE observations SET value = 0 WHERE journey_id = 'j-2' AND version = 2")
    assert not report(copy).ok
    _rehash(copy)
    assert report(copy).ok  # what a chain alone cannot show
    found = report(copy, expected_head=head)
    assert "differs from the expected head: the history was rewritten" in "\n".join(found.problems)
    assert report(clinic, expected_head=str(head)).ok


def test_a_cut_tail_is_found_against_the_head(clinic: Path, tmp_path: Path) -> None:
    """Removing the newest entry with its rows is invisible alone and found against the head."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    with open_file(copy) as store:
        head = store.head()
        store.record("j-1", sj.nrs(2, DAY0 + timedelta(days=60)), actor="nurse")
        newest = store.head()
    last = newest.seq
    tamper(
        copy,
        f"DELETE FROM observations WHERE audit_id = {last}",
        f"DELETE FROM audit_log WHERE seq = {last}",
        "UPDATE journeys SET version = version - 1, "
        f"last_audit_id = {last - 1 - 1} WHERE id = 'j-1'",
    )
    found = report(copy, expected_head=newest)
    assert any("the chain ends at entry" in p for p in found.problems)
    assert report(copy, expected_head=head).ok or not report(copy).ok


def test_a_keyed_chain_finds_a_rewrite_without_an_outside_head(tmp_path: Path) -> None:
    """With an HMAC key, a chain recomputed without the key fails; without the key it is said."""
    key = b"a host secret of 32 bytes......."
    path = tmp_path / "keyed.db"
    with open_file(path, key=key) as store:
        add_journey(store)
        store.record("j-1", sj.nrs(5, DAY0), actor="nurse")
        assert store.verify().ok
    with open_file(path) as unkeyed:
        assert any("pass its key" in p for p in unkeyed.verify().problems)
        with pytest.raises(sj.exceptions.ValidationError, match="key"):
            unkeyed.record("j-1", sj.nrs(4, DAY0), actor="nurse")
    tamper(path, "UPDATE observations SET value = 9 WHERE journey_id = 'j-1'")
    _rehash(path)
    with open_file(path, key=key) as store:
        assert not store.verify().ok
    with pytest.raises(sj.exceptions.ValidationError, match="not this file's key"):
        open_file(path, key=b"another secret of 32 bytes......")


def test_verify_reports_damaged_pages_without_raising(clinic: Path, tmp_path: Path) -> None:
    """Bytes overwritten in the middle of the file are reported, not raised."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    data = bytearray(copy.read_bytes())
    with sqlite3.connect(copy) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r
            for (r,) in conn.execute(
                "SELECT rootpage FROM sqlite_schema WHERE name IN ('audit_log', 'observations')"
            )
        ]
    for root in roots:  # the pages holding the rows; the schema's own pages stay sound
        offset = (root - 1) * page
        data[offset : offset + 12] = b"\xff" * 12
    copy.write_bytes(bytes(data))
    with open_file(copy) as store:
        found = store.verify()
    assert not found.ok
    assert all("DEMO" not in p and "mrn" not in p for p in found.problems)


def test_a_move_the_guards_refuse_is_found_on_replay(clinic: Path, tmp_path: Path) -> None:
    """With replay, a history whose records no longer allow a move is reported."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    tamper(
        copy,
        "UPDATE records SET payload = json_set(payload, '$.side', 'right') "
        "WHERE journey_id = 'j-1' AND kind = 'injection'",
    )
    _rehash(copy)
    assert report(copy).ok
    found = report(copy, replay=True)
    assert any("journeys j-1: replay refused" in p for p in found.problems)


def test_head_is_the_latest_entry(clinic: Path) -> None:
    """head() names the last entry and its hash; it reads back from its text."""
    with open_file(clinic) as store:
        head = store.head()
        assert head == Head.parse(str(head))
        assert head.seq == store.verify().audit_entries
        assert report(clinic).head == head
    with pytest.raises(sj.exceptions.ValidationError, match="expected_head"):
        Head.parse("12:nothex")


def test_every_action_says_which_rows_its_entry_covers() -> None:
    """verify() knows, for every action the store writes, the kinds of rows its entry may
    cover (a new action without them would go unchecked)."""
    from stemjourney.store._verify import _ENTRY_ROWS
    from stemjourney.store._writes import ACTIONS

    assert set(_ENTRY_ROWS) == set(ACTIONS)
    assert all(_ENTRY_ROWS[a] for a in ACTIONS)


def test_a_journey_whose_patient_row_is_gone_is_named(clinic: Path, tmp_path: Path) -> None:
    """The one reference the row pass does not follow (a journey's patient) is checked by a
    query of its own: the journey is named, with the column, and no stored value."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    with sqlite3.connect(copy) as conn:
        jid, pid = conn.execute("SELECT id, patient_id FROM journeys ORDER BY id").fetchone()
    tamper(copy, "DELETE FROM patients WHERE id = ?", params=(pid,))
    found = report(copy)
    assert f"journeys {jid}, column patient_id: refers to a missing patients row" in (
        found.problems
    ), found.problems


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("transitions", "journey_id"),
        ("records", "journey_id"),
        ("observations", "journey_id"),
        ("schedule", "journey_id"),
        ("transitions", "audit_id"),
        ("records", "audit_id"),
        ("observations", "audit_id"),
        ("patients", "audit_id"),
    ],
)
def test_a_reference_to_a_missing_row_is_found_by_the_row_pass(
    clinic: Path, tmp_path: Path, table: str, column: str
) -> None:
    """Without SQLite's foreign-key pass, a row pointing at no journey or no audit entry is
    still reported, by the table it is in."""
    copy = tmp_path / "c.db"
    shutil.copyfile(clinic, copy)
    missing = "j-nobody" if column == "journey_id" else 10**6
    with sqlite3.connect(copy) as conn:
        first = conn.execute(f"SELECT {column} FROM {table} LIMIT 1").fetchone()[0]
    tamper(copy, f"UPDATE {table} SET {column} = ? WHERE {column} = ?", params=(missing, first))
    found = report(copy)
    assert not found.ok
    # named by the row group it is in (a journey's opening move is under the journey)
    assert any(f"column {column}: names no" in p for p in found.problems), found.problems
