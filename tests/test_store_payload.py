"""A record's payload holds its own fields only: not its kind and time (the row's columns
hold them) and not the fields left at an empty default; reading the row gives the record
back, field for field."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file
from stemjourney.clinical._codec import encode_record, time_text
from stemjourney.exceptions import ValidationError
from stemjourney.journey._journey import RecordEntry
from stemjourney.store._rows import record_data, record_from_row, record_payload, record_row
from stemjourney.testing import records

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


@given(records())
def test_a_record_row_reads_back_as_the_record(record: sj.Record) -> None:
    entry = RecordEntry(
        journey_id="j-1",
        record=record,
        cycle=1,
        stage="consultation",
        stage_seq=1,
        recorded_at=AT,
        actor="dr.a",
        version=2,
    )
    row = record_row(entry, 7)
    payload = json.loads(row[4])
    assert "kind" not in payload
    assert type(record).time_field not in payload
    assert None not in payload.values()
    assert [] not in payload.values()
    assert record_data(row[2], row[3], row[4]) == encode_record(record)
    back = record_from_row((*row, "consultation", "2026-01-05 09:00:00", "dr.a", None))
    assert back.record == record


def test_empty_fields_are_left_out_and_come_back() -> None:
    screening = sj.EligibilityAssessment(assessed_at=AT)
    assert record_payload(screening) == "{}"
    assert record_data("eligibility", "2026-01-05 09:00:00", "{}") == encode_record(screening)


def test_a_default_that_is_not_empty_is_kept() -> None:
    """Only empty defaults are left out: a stored consent keeps its scope, so a later
    default could not change what an old row says."""
    consent = sj.Consent(signed_at=AT, form_version="v3")
    assert json.loads(record_payload(consent)) == {"form_version": "v3", "scope": "treatment"}


def test_the_store_keeps_each_fact_once(tmp_path: Path) -> None:
    """Through the public API: the payload holds neither kind nor time, and the record read
    back is the one recorded."""
    path = tmp_path / "c.db"
    with open_file(path) as store:
        journey = add_journey(store)
        screening = sj.EligibilityAssessment(assessed_at=DAY0, assessor="dr.a")
        store.record(journey.id, screening, actor="dr.a")
        assert store.journey(journey.id).records[-1].record == screening
        assert store.verify().ok
    conn = sqlite3.connect(path)
    kind, occurred, payload = conn.execute(
        "SELECT kind, occurred_at, payload FROM records"
    ).fetchone()
    conn.close()
    assert (kind, occurred) == ("eligibility", time_text(DAY0))
    assert json.loads(payload) == {"assessor": "dr.a"}


def test_a_damaged_payload_is_refused_without_its_text() -> None:
    """Neither the message nor the args carry the stored text (it may be health data)."""
    for payload in ('{"form_version": "Jane Doe', '["Jane Doe"]'):
        with pytest.raises(ValidationError) as raised:
            record_data("consent", "2026-01-05 09:00:00", payload)
        assert raised.value.__cause__ is None
        assert "Jane" not in str(raised.value)
        assert "Jane" not in repr(raised.value.args)


def test_a_moves_clinical_time_is_kept_in_its_audit_entry_only(tmp_path: Path) -> None:
    """A move's row does not repeat the clinical time its audit entry holds; the journey
    read back (warm and from a new store) has it, and verify() checks it."""
    path = tmp_path / "c.db"
    with open_file(path) as store:
        add_journey(store)
        later = DAY0 + timedelta(days=3)
        moved = store.move(
            "j-1", "withdrawn", actor="dr.lee", occurred_at=later, reason="moved away"
        )
        assert moved.history[-1].occurred_at == later
    with open_file(path) as store:
        history = store.journey("j-1").history
        assert [e.occurred_at for e in history] == [DAY0, later]
        assert store.verify().ok
    conn = sqlite3.connect(path)
    try:
        columns = [c[1] for c in conn.execute("PRAGMA table_info(transitions)")]
        assert "occurred_at" not in columns
        entries = conn.execute(
            "SELECT a.action, a.occurred_at FROM transitions AS t "
            "JOIN audit_log AS a ON a.id = t.audit_id ORDER BY t.seq"
        ).fetchall()
        assert entries == [("journey_opened", time_text(DAY0)), ("move", time_text(later))]
    finally:
        conn.close()
