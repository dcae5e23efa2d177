"""The store's reads and the writes around them: lookups, history, as-of, bulk import, backup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import stemjourney as sj
from _store_helpers import (
    DAY0,
    NOW,
    add_journey,
    clock,
    open_file,
    ready_for_harvest,
    snapshot,
    through_injection,
)
from stemjourney.exceptions import ConflictError, DuplicateError, NotFoundError, ValidationError
from stemjourney.store import Store
from stemjourney.store._queries import SQL


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """The path of the test's database file."""
    return tmp_path / "clinic.db"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    """A store on a file with patient p-1 and journey j-1 (in consultation)."""
    with open_file(path) as s:
        add_journey(s)
        yield s


def test_journey_round_trips_with_history_and_records(store: Store, path: Path) -> None:
    """A journey read back from another connection equals it; a write returns its working copy."""
    ready_for_harvest(store)
    written = through_injection(store)
    with open_file(path) as again:
        whole = again.journey("j-1")
        assert whole == store.journey("j-1")
        assert whole.complete
        assert not written.complete
        assert (written.stage, written.cycle, written.version) == (
            whole.stage,
            whole.cycle,
            whole.version,
        )
        assert [e.target for e in again.journey("j-1").history] == [
            "consultation",
            "harvest",
            "processing",
            "injection",
            "recovery",
        ]


def test_patient_lookups(store: Store) -> None:
    """A patient is found by id and by any spelling of the external id."""
    p = store.add_patient(" MRN-0042 ", actor="desk", display_name="Ana", patient_id="p-2")
    assert store.patient("p-2") == p
    assert store.patient_by_external_id("mrn-0042") == p
    assert store.patient_by_external_id("MRN-9") is None
    with pytest.raises(NotFoundError, match="no patient with id 'p-9'"):
        store.patient("p-9")


def test_generated_ids_are_codes(store: Store) -> None:
    """Without ids given, patients and journeys get unique valid codes."""
    p = store.add_patient("mrn-x", actor="desk")
    j = store.open_journey(
        p.id,
        condition="c",
        site="hip",
        side="right",
        cell_source="adipose",
        actor="dr.a",
        occurred_at=DAY0,
    )
    assert p.id != j.id
    assert store.journeys_of(p.id) == [j]


def test_journeys_of_and_in(store: Store) -> None:
    """Journeys are listed per patient and per stage, by id."""
    add_journey(store, "p-1", "j-2")
    add_journey(store, "p-2", "j-3")
    ready_for_harvest(store, "j-2")
    store.move("j-2", "harvest", actor="dr.lee", occurred_at=DAY0 + timedelta(days=1))
    assert [j.id for j in store.journeys_of("p-1")] == ["j-1", "j-2"]
    assert [j.id for j in store.journeys_in("consultation")] == ["j-1", "j-3"]
    assert [j.id for j in store.journeys_in("harvest")] == ["j-2"]
    assert store.journeys_in("completed") == []
    with pytest.raises(ValidationError, match="stage"):
        store.journeys_in("limbo")
    with pytest.raises(NotFoundError):
        store.journeys_of("p-404")


def test_iter_journeys_streams_in_batches(store: Store) -> None:
    """Every journey comes out once, in id order, whatever the batch size."""
    for i in range(2, 8):
        add_journey(store, "p-1", f"j-{i}")
    for size in (1, 3, 100):
        assert [j.id for j in store.iter_journeys(batch_size=size)] == [
            f"j-{i}" for i in range(1, 8)
        ]


def test_iter_patients_streams_every_patient_in_batches(store: Store) -> None:
    """Every patient comes out once, in id order, those without a journey included."""
    for i in range(2, 6):
        store.add_patient(f"MRN-{i}", actor="desk", patient_id=f"p-{i}")
    for size in (1, 2, 100):
        assert [p.id for p in store.iter_patients(batch_size=size)] == [
            f"p-{i}" for i in range(1, 6)
        ]


def test_allowed_and_why_not(store: Store) -> None:
    """The store answers the engine's questions for a stored journey, at the time asked."""
    soon = DAY0 + timedelta(days=7)
    assert store.allowed("j-1") == ("ineligible", "withdrawn", "voided")
    assert store.why_not("j-1", "harvest", at=soon) == [
        "an eligibility assessment",
        "a signed consent",
        "a baseline pain score in cycle 1",
    ]
    ready_for_harvest(store)
    assert store.why_not("j-1", "harvest", at=soon) == []
    assert "harvest" in store.allowed("j-1", at=soon)
    # A year on, the same records are too old to unlock the harvest.
    assert "harvest" not in store.allowed("j-1", at=NOW)


def test_journey_as_of_gives_the_record_as_it_stood(path: Path) -> None:
    """As of a past moment, the journey holds only what was recorded by then."""
    c = clock()
    with open_file(path, clock=c) as store:
        add_journey(store)
        mid = c.advance(minutes=30)
        c.advance(minutes=30)
        ready_for_harvest(store)
        c.advance(hours=1)
        store.move("j-1", "harvest", actor="dr.lee", occurred_at=DAY0 + timedelta(days=1))
        then = store.journey_as_of("j-1", mid)
        assert (then.stage, then.version, then.records) == ("consultation", 1, ())
        assert store.journey_as_of("j-1", c.now()) == store.journey("j-1")
        with pytest.raises(NotFoundError):
            store.journey_as_of("j-1", mid - timedelta(days=1))


def test_amendment_replaces_in_force_and_keeps_the_original(store: Store) -> None:
    """An amended score is out of force but still in the history, with the reason."""
    store.record("j-1", sj.nrs(9, DAY0), actor="nurse.kim")
    written = store.amend(
        "j-1", 2, sj.nrs(6, DAY0), actor="nurse.kim", reason="typo", expected_version=2
    )
    assert [s.value for s in written.scores()] == [6.0]
    j = store.journey("j-1")
    assert [s.value for s in j.scores()] == [6.0]
    assert [e.record.value for e in j.records] == [9.0, 6.0]  # type: ignore[union-attr]
    assert j.records[1].amends == 2
    rows = store.db.execute("SELECT version, amends_version, reason FROM amendments").fetchall()
    assert rows == [(3, 2, "typo")]
    latest = store.db.execute("SELECT value FROM journey_latest_score").fetchall()
    assert latest == [(6.0,)]


def test_idempotent_writes_apply_once(store: Store) -> None:
    """A write resubmitted with the same key returns the current value and writes nothing."""
    p = store.add_patient("mrn-7", actor="desk", idempotency_key="k-p")
    assert store.add_patient("mrn-7", actor="desk", idempotency_key="k-p") == p
    j = store.record("j-1", sj.nrs(7, DAY0), actor="nurse", idempotency_key="k-r")
    before = snapshot(store)
    assert store.record("j-1", sj.nrs(7, DAY0), actor="nurse", idempotency_key="k-r") == j
    assert snapshot(store) == before
    opened = store.open_journey(
        p.id,
        condition="c",
        site="hip",
        side="left",
        cell_source="adipose",
        actor="dr",
        occurred_at=DAY0,
        idempotency_key="k-o",
    )
    again = store.open_journey(
        p.id,
        condition="c",
        site="hip",
        side="left",
        cell_source="adipose",
        actor="dr",
        occurred_at=DAY0,
        idempotency_key="k-o",
    )
    assert again == opened
    moved = store.move(
        "j-1", "withdrawn", actor="dr", occurred_at=DAY0, reason="moved", idempotency_key="k-m"
    )
    assert (
        store.move("j-1", "withdrawn", actor="dr", occurred_at=DAY0, idempotency_key="k-m") == moved
    )
    with pytest.raises(DuplicateError, match="idempotency_key was already used"):
        store.record("j-1", sj.nrs(7, DAY0), actor="nurse", idempotency_key="k-m")


def test_stale_expected_version_is_a_conflict(store: Store) -> None:
    """A write made against an old version is refused with both versions named."""
    store.record("j-1", sj.nrs(7, DAY0), actor="nurse", expected_version=1)
    with pytest.raises(ConflictError, match="expected version 1, found 2"):
        store.record("j-1", sj.nrs(6, DAY0), actor="nurse", expected_version=1)


def test_delete_patient_without_history(store: Store) -> None:
    """A patient added by mistake can be deleted; the audit log keeps that it happened."""
    store.add_patient("mrn-oops", actor="desk", patient_id="p-oops")
    store.delete_patient("p-oops", actor="desk")
    with pytest.raises(NotFoundError):
        store.patient("p-oops")
    with pytest.raises(NotFoundError):
        store.delete_patient("p-oops", actor="desk")
    actions = [r[0] for r in store.db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[-1] == "patient_deleted"
    assert store.verify().ok


def test_import_scores_in_batches(store: Store) -> None:
    """Imported scores land with consecutive versions, one audit entry per journey per batch."""
    add_journey(store, "p-1", "j-2")
    rows = [("j-1" if i % 2 else "j-2", "nrs", i % 11, DAY0 + timedelta(days=i)) for i in range(25)]
    rows.append(("j-1", "vas", 42.5, DAY0, None))
    assert store.import_scores(rows, actor="import", batch_size=10) == 26
    j1 = store.journey("j-1")
    assert j1.version == 1 + 13
    assert [s.value for s in j1.scores("vas")] == [42.5]
    count = store.db.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'scores_imported'"
    ).fetchone()[0]
    assert count == 6
    assert store.verify().ok


def test_import_scores_with_answers_and_other_instruments(store: Store) -> None:
    """Rows on other instruments are checked by the Score class itself."""
    assert store.import_scores([("j-1", "custom", 12.5, DAY0)], actor="import") == 1
    assert store.journey("j-1").scores("custom")[0].value == 12.5
    assert store.verify().ok


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (("j-1", "nrs", 11, DAY0), "rows[1].value"),
        (("j-1", "nrs", -1, DAY0), "rows[1].value"),
        (("j-1", "nrs", 7.5, DAY0), "rows[1].value"),
        (("j-1", "nrs", float("nan"), DAY0), "rows[1].value"),
        (("j-1", "vas", float("inf"), DAY0), "rows[1].value"),
        (("j-1", "nrs", True, DAY0), "rows[1].value"),
        (("j-1", "nrs", "7", DAY0), "rows[1].value"),
        (("j-1", "nrs", 7, DAY0.replace(tzinfo=None)), "rows[1].measured_at"),
        (("j-1", "nrs", 7, NOW + timedelta(hours=1)), "rows[1].measured_at"),
        (("j-1", "nrs", 7), "rows[1].row"),
        ((42, "nrs", 7, DAY0), "rows[1].journey_id"),
    ],
)
def test_import_refuses_bad_rows_and_writes_nothing_of_the_batch(
    store: Store, row: tuple[object, ...], field: str
) -> None:
    """A bad row is named by its number and field; its whole batch is rolled back."""
    before = snapshot(store)
    with pytest.raises(ValidationError) as caught:
        store.import_scores([("j-1", "nrs", 5, DAY0), row], actor="import")
    assert caught.value.field == field
    assert snapshot(store) == before


def test_import_refuses_unknown_and_voided_journeys(store: Store) -> None:
    """Scores go only to journeys that exist and are not voided."""
    with pytest.raises(NotFoundError):
        store.import_scores([("j-404", "nrs", 5, DAY0)], actor="import")
    store.move(
        "j-1", "voided", actor="dr", occurred_at=DAY0, reason=sj.VoidReason(code="duplicate")
    )
    before = snapshot(store)
    with pytest.raises(ValidationError, match="voided"):
        store.import_scores([("j-1", "nrs", 5, DAY0)], actor="import")
    assert snapshot(store) == before


def test_backup_is_a_sound_copy(store: Store, tmp_path: Path) -> None:
    """The backup holds the same journeys and verifies clean."""
    ready_for_harvest(store)
    target = tmp_path / "backup.db"
    store.backup(target)
    with open_file(target) as copy:
        assert copy.journey("j-1") == store.journey("j-1")
        assert copy.verify().ok


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("journeys_of", "journeys_by_patient"),
        ("journeys_in", "journeys_by_stage"),
        ("patient_by_key", "external_key"),
        ("transitions", "PRIMARY KEY"),
        ("observations", "PRIMARY KEY"),
        ("records", "PRIMARY KEY"),
        ("transitions_of_many", "PRIMARY KEY"),
    ],
)
def test_queries_use_their_index(store: Store, name: str, index: str) -> None:
    """Each lookup is served by an index, never a scan of the whole table."""
    args = ["x"] * SQL[name].count("?")
    if name.endswith("_of_many"):
        args = ['["j-1"]']
    plan = " | ".join(r[3] for r in store.db.execute("EXPLAIN QUERY PLAN " + SQL[name], args))
    assert index in plan or "sqlite_autoindex" in plan, plan
    assert "SCAN journeys" not in plan
    assert "SCAN transitions" not in plan


def test_the_working_copy_and_idempotency_use_their_indexes(store: Store) -> None:
    """A write's pain-score lookup and guard records use indexes; keys the partial one."""
    from stemjourney.store._state import _GUARDED, _LATEST_IN_CYCLE, _LATEST_PAIN

    for sql, args in ((_LATEST_PAIN, ["j-1", 1, "nrs", 1]), (_LATEST_IN_CYCLE, ["j-1", 1, "nrs"])):
        plan = " ".join(r[3] for r in store.db.execute("EXPLAIN QUERY PLAN " + sql, args))
        assert "INDEX observations_by_cycle" in plan
        assert "SCAN" not in plan
        assert "TEMP B-TREE" not in plan
    plan = " ".join(r[3] for r in store.db.execute("EXPLAIN QUERY PLAN " + _GUARDED, ["j-1"]))
    assert "INDEX records_by_kind" in plan
    assert "SCAN" not in plan
    plan = " ".join(
        r[3]
        for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT action FROM audit_log WHERE idempotency_key = ?", ["k"]
        )
    )
    assert "audit_log_idempotency_key" in plan
