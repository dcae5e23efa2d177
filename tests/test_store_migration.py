"""Files written by an older stemjourney open, migrate forward and still verify."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

import stemjourney as sj
from stemjourney.store import SCHEMA_VERSION, open_store
from stemjourney.testing import ManualClock

SCHEMA_1 = Path(__file__).parent / "data" / "schema1.db"
"""A six-patient demo clinic written by stemjourney at schema version 1."""

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A copy of the schema-1 file, so the fixture itself is never changed."""
    copy = tmp_path / "clinic.db"
    shutil.copyfile(SCHEMA_1, copy)
    return copy


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        found: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return found
    finally:
        conn.close()


def test_a_schema_1_file_migrates_and_verifies(old_file: Path) -> None:
    """Opening a schema-1 file migrates it; every old entry keeps its hash and verifies."""
    assert _version(old_file) == 1
    with open_store(old_file, clock=ManualClock(NOW)) as store:
        report = store.verify()
        assert report.ok, report.problems
        assert report.audit_entries == 168  # the 167 of schema 1, and the migration's own
        assert sum(1 for _ in store.iter_journeys()) > 0
    assert _version(old_file) == SCHEMA_VERSION


def test_a_migrated_file_keeps_a_withdrawal_reason_whole(old_file: Path) -> None:
    """After migration a withdrawal stores its code and detail, and the file still verifies."""
    with open_store(old_file, clock=ManualClock(NOW)) as store:
        journey = next(j for j in store.iter_journeys() if not store.pipeline.is_outcome(j.stage))
        reason = sj.WithdrawalReason(
            initiated_by="patient", code="lost_to_follow_up", detail="abroad"
        )
        after = store.move(journey.id, "withdrawn", actor="dr.a", occurred_at=NOW, reason=reason)
        assert after.last_move.reason_record == reason
        assert after.last_move.reason == "withdrawn by patient: lost_to_follow_up"
        assert store.verify().ok
    with open_store(old_file, clock=ManualClock(NOW)) as again:
        assert again.journey(journey.id).last_move.reason_record == reason
