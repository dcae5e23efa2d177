"""``Store.verify``: clean when nothing was touched, and each kind of tampering is found."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest, through_injection
from stemjourney.store import Store, VerifyReport


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A closed store file holding two patients, one journey to recovery, imported scores."""
    file = tmp_path / "clinic.db"
    with open_file(file) as store:
        add_journey(store)
        ready_for_harvest(store)
        through_injection(store)
        add_journey(store, "p-2", "j-2")
        store.import_scores([("j-2", "nrs", 4, DAY0), ("j-2", "nrs", 3, DAY0)], actor="import")
    return file


def tamper(path: Path, *statements: str) -> None:
    """Run raw SQL on the file with the append-only triggers dropped, as an attacker would."""
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("PRAGMA foreign_keys = OFF")
    for sql in statements:
        conn.execute(sql)
    conn.close()


def report(path: Path) -> VerifyReport:
    """Open the file and verify it."""
    with open_file(path) as store:
        return store.verify()


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    """The fixture's file, open."""
    with open_file(path) as s:
        yield s


def test_untouched_store_verifies_clean(store: Store) -> None:
    """An untouched store gives an empty report covering every entry and journey."""
    found = store.verify()
    assert found.ok
    assert len(found) == 0
    assert not found
    assert list(found) == []
    assert (found.audit_entries, found.journeys) == (15, 2)


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (
            ["UPDATE audit_log SET actor = 'mallory' WHERE id = 3"],
            "entry 3 does not match its hash",
        ),
        (["UPDATE audit_log SET payload = '{}' WHERE id = 4"], "audit entry 4 (record) differs"),
        (["DELETE FROM audit_log WHERE id = 5"], "entry 6 follows 4"),
        (["DELETE FROM audit_log WHERE id = 5"], "does not chain"),
        (["DELETE FROM audit_log WHERE id = 5"], "foreign_key_check"),
        (["UPDATE transitions SET actor = 'mallory' WHERE seq = 2"], "differs from its rows"),
        (
            ["UPDATE journeys SET stage = 'follow_up', version = version + 1 WHERE id = 'j-1'"],
            "stored stage and cycle differ",
        ),
        (
            ["UPDATE journeys SET version = version + 1 WHERE id = 'j-1'"],
            "versions are not 1..12",
        ),
        (
            ["UPDATE patients SET display_name = 'X' WHERE id = 'p-1'"],
            "patient p-1: the row differs",
        ),
        (
            [
                "INSERT INTO patients VALUES ('p-9', 'm9', 'm9', NULL, NULL, "
                "'2026-01-01T00:00:00.000000+00:00', 'x')"
            ],
            "patient p-9: no audit entry added it",
        ),
        (
            ["UPDATE observations SET value = 9 WHERE journey_id = 'j-2' AND version = 2"],
            "(scores_imported) differs from its rows",
        ),
        (
            [
                "UPDATE records SET payload = json_set(payload, '$.contraindications', "
                "json('[\"pregnancy\"]')) WHERE kind = 'eligibility'"
            ],
            "replaying its history fails",
        ),
        (
            ["UPDATE transitions SET audit_id = 1 WHERE journey_id = 'j-1' AND seq = 2"],
            "rows refer to audit entry 1 of another journey",
        ),
    ],
)
def test_tampering_is_found(path: Path, statements: list[str], expected: str) -> None:
    """Changing, removing or forging any row is reported, with ids only."""
    tamper(path, *statements)
    found = report(path)
    assert not found.ok
    assert any(expected in problem for problem in found), found.problems


def test_a_move_the_guards_refuse_is_found_on_replay(path: Path) -> None:
    """A forged move the engine would refuse, fully re-hashed, still fails the replay."""
    with open_file(path) as store:
        store.move("j-2", "withdrawn", actor="dr", occurred_at=DAY0 + timedelta(days=1), reason="r")
    tamper(
        path,
        "UPDATE transitions SET target = 'harvest' WHERE journey_id = 'j-2' AND seq = 2",
        "UPDATE journeys SET stage = 'harvest', version = version + 1 WHERE id = 'j-2'",
    )
    problems = " ".join(report(path))
    assert "journey j-2: replaying its history fails" in problems
