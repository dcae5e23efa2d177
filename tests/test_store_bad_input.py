"""Bad input at the store: each refusal has its own error, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest

import stemjourney as sj
from _backends import Where, history_error, raw
from _store_helpers import DAY0, NOW, add_journey, ready_for_harvest, snapshot
from stemjourney.exceptions import (
    ConflictError,
    DuplicateError,
    GuardError,
    IllegalMoveError,
    IntegrityError,
    NotFoundError,
    StemJourneyError,
    TimeOrderError,
    ValidationError,
)
from stemjourney.store import Store


@pytest.fixture
def store(where: Where) -> Iterator[Store]:
    """A store whose journey j-1 is ready for harvest (version 4), on each backend."""
    with where.open() as s:
        add_journey(s)
        ready_for_harvest(s)
        yield s


def refused(store: Store, error: type[BaseException], write: Callable[[], Any]) -> BaseException:
    """Run ``write``, expect ``error``, and check the file did not change."""
    before = snapshot(store)
    with pytest.raises(error) as caught:
        write()
    assert snapshot(store) == before
    if store.backend.name == "sqlite":
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.verify().ok
    return caught.value


T1 = DAY0 + timedelta(days=1)


@pytest.mark.parametrize("value", [11, -1, 7.5, float("nan"), float("inf"), True, "7"], ids=repr)
def test_bad_pain_values(store: Store, value: object) -> None:
    """NRS values outside 0-10, fractions, NaN, infinity, bools and strings are refused."""
    error = refused(
        store, ValidationError, lambda: store.record("j-1", sj.nrs(value, T1), actor="n")
    )  # type: ignore[arg-type]
    assert error.field == "value"  # type: ignore[attr-defined]


def mv(target: str = "harvest", **kw: Any) -> Callable[[Store], Any]:
    """A move of j-1 to ``target`` with the given fields over sensible defaults."""
    return lambda s: s.move("j-1", target, **{"actor": "dr", "occurred_at": T1, **kw})


def add(external_id: str = "mrn-2", **kw: Any) -> Callable[[Store], Any]:
    """Adding a patient with the given fields over sensible defaults."""
    return lambda s: s.add_patient(external_id, **{"actor": "desk", **kw})


def fix(version: int, reason: str | None) -> Callable[[Store], Any]:
    """Amending the entry at ``version`` of j-1 with an NRS score."""
    return lambda s: s.amend("j-1", version, sj.nrs(5, DAY0), actor="n", reason=reason)  # type: ignore[arg-type]


def opening(patient_id: str = "p-1", **kw: Any) -> Callable[[Store], Any]:
    """Opening a journey with the given fields over sensible defaults."""
    fields = {
        "condition": "c",
        "site": "knee",
        "side": "left",
        "cell_source": "adipose",
        "actor": "dr",
        "occurred_at": DAY0,
        **kw,
    }
    return lambda s: s.open_journey(patient_id, **fields)


@pytest.mark.parametrize(
    ("write", "field"),
    [
        (mv(occurred_at=T1.replace(tzinfo=None)), "occurred_at"),
        (mv(actor=""), "actor"),
        (mv(actor="   "), "actor"),
        (mv(actor=None), "actor"),
        (mv(actor="dr\x00x"), "actor"),
        (mv("withdrawn", reason="a\x07b"), "reason"),
        (mv("withdrawn", reason="x" * 2001), "reason"),
        (mv(expected_version=True), "expected_version"),
        (mv(idempotency_key=""), "idempotency_key"),
        (add(display_name="A\x1bB"), "display_name"),
        (add(display_name="x" * 201), "display_name"),
        (add(""), "external_id"),
        (add(birth_date="1970-01-01"), "birth_date"),
        (add(patient_id="P 2"), "id"),
        (add(actor=None), "actor"),
        (lambda s: s.delete_patient("p-1", actor=""), "actor"),
        (fix(2, None), "reason"),
        (fix(2, ""), "reason"),
        (fix(99, "typo"), "amends"),
        (fix(3, "typo"), "amends"),
        (lambda s: s.record("j-1", sj.nrs(5, NOW + timedelta(hours=1)), actor="n"), "occurred_at"),
        (opening(side="up"), "side"),
        (opening(condition=""), "condition"),
        (opening(journey_id="J 1"), "journey_id"),
        (lambda s: s.journey_as_of("j-1", DAY0.replace(tzinfo=None)), "moment"),
        (lambda s: s.import_scores([], actor="x", batch_size=0), "batch_size"),
    ],
)
def test_bad_fields_name_the_field(store: Store, write: Callable[[Store], Any], field: str) -> None:
    """Each bad field is refused with a validation error naming it."""
    caught = refused(store, ValidationError, lambda: write(store))
    assert caught.field == field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("write", "error"),
    [
        (mv(occurred_at=NOW + timedelta(hours=1)), TimeOrderError),
        (mv(occurred_at=DAY0 - timedelta(days=1)), TimeOrderError),
        (mv("injection"), IllegalMoveError),
        (mv("completed", reason="done"), IllegalMoveError),
        (mv("withdrawn"), GuardError),
        (mv(expected_version=3), ConflictError),
        (lambda s: s.move("j-404", "harvest", actor="dr", occurred_at=T1), NotFoundError),
        (lambda s: s.record("j-404", sj.nrs(5, T1), actor="n"), NotFoundError),
        (lambda s: s.journey("j-404"), NotFoundError),
        (opening("p-404"), NotFoundError),
        (lambda s: add_journey(s, "p-1", "j-1"), DuplicateError),
        (add("mrn-x", patient_id="p-1"), DuplicateError),
        (lambda s: s.delete_patient("p-1", actor="desk"), IntegrityError),
    ],
)
def test_refused_writes_raise_their_own_error(
    store: Store, write: Callable[[Store], Any], error: type[StemJourneyError]
) -> None:
    """Illegal, unguarded, stale, unknown and duplicate writes each raise their own error."""
    refused(store, error, lambda: write(store))


def test_late_entry_needs_a_reason(store: Store) -> None:
    """A move dated before the previous one goes ahead only with a late-entry reason."""
    store.move("j-1", "harvest", actor="dr", occurred_at=T1)
    early = T1 - timedelta(hours=2)
    refused(store, TimeOrderError, lambda: mv("withdrawn", occurred_at=early, reason="r")(store))
    j = store.move(
        "j-1", "withdrawn", actor="dr", occurred_at=early, reason="r", late_reason="paper chart"
    )
    assert j.last_move.late_reason == "paper chart"
    closed = store.db.execute("SELECT closed_at FROM journeys WHERE id = 'j-1'").fetchone()[0]
    assert closed.startswith(early.date().isoformat())


def test_move_out_of_an_outcome_is_illegal(store: Store) -> None:
    """Nothing leaves an outcome: a withdrawn journey cannot move again."""
    store.move("j-1", "withdrawn", actor="dr", occurred_at=T1, reason="patient choice")
    error = refused(store, IllegalMoveError, lambda: mv()(store))
    assert "outcome" in str(error)


@pytest.mark.parametrize(
    "spelling",
    ["MRN-1", " mrn-1 ", "Mrn-1\t", "\uff2d\uff32\uff2e-1"],
    ids=["upper", "spaces", "tab", "fullwidth"],
)
def test_external_ids_that_differ_only_in_form_are_duplicates(store: Store, spelling: str) -> None:
    """External ids equal after case, spaces and Unicode normalisation are one id."""
    store.add_patient("mrn-1", actor="desk", patient_id="p-a")
    error = refused(store, DuplicateError, lambda: store.add_patient(spelling, actor="desk"))
    assert "p-a" in str(error)
    assert "mrn" not in str(error).lower()


def test_composed_and_decomposed_accents_are_one_external_id(store: Store) -> None:
    """An accented id typed composed or decomposed is the same id."""
    store.add_patient("jos\u00e9-1", actor="desk")
    refused(store, DuplicateError, lambda: store.add_patient("jose\u0301-1", actor="desk"))


def test_messages_carry_no_names(store: Store) -> None:
    """A refusal about a patient never repeats their name or birth date."""
    store.add_patient(
        "mrn-9", actor="desk", display_name="Maria Lopez", birth_date=date(1970, 5, 6)
    )
    with pytest.raises(DuplicateError) as caught:
        store.add_patient("MRN-9", actor="desk", display_name="Maria Lopez")
    assert "Maria" not in str(caught.value)
    assert "1970" not in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        "Zoë 👩🏽‍⚕️ Ødegård",
        "מרים כהן",
        "مريم الحسن",
        "Robert'); DROP TABLE patients;--",
        "1 OR 1=1; DELETE FROM audit_log",
    ],
)
def test_names_round_trip_exactly_and_sql_is_literal(store: Store, name: str) -> None:
    """Emoji, right-to-left and SQL-looking text are stored and read back unchanged."""
    store.add_patient("mrn-z", actor="desk", display_name=name, patient_id="p-z")
    assert store.patient("p-z").display_name == name
    assert (
        store.db.execute("SELECT display_name FROM patients WHERE id = 'p-z'").fetchone()[0] == name
    )
    assert snapshot(store)[1] == 2  # patients
    assert store.verify().ok


@pytest.mark.parametrize("table", ["audit_log", "transitions", "records", "observations"])
def test_raw_sql_cannot_change_history(store: Store, table: str) -> None:
    """UPDATE and DELETE on any history table are refused by the database itself."""
    conn, refused_by = raw(store), history_error(store)
    before = snapshot(store)
    with pytest.raises(refused_by, match="append-only: UPDATE"):
        conn.execute(f"UPDATE {table} SET journey_id = 'mallory'")
    with pytest.raises(refused_by, match="append-only: DELETE"):
        conn.execute(f"DELETE FROM {table}")
    assert snapshot(store) == before


def test_raw_sql_cannot_delete_or_rewrite_a_journey(store: Store) -> None:
    """A journey row cannot be deleted, re-pointed to another patient or rolled back."""
    conn, refused_by = raw(store), history_error(store)
    with pytest.raises(refused_by, match="void the journey"):
        conn.execute("DELETE FROM journeys")
    with pytest.raises(refused_by, match="identity"):
        conn.execute("UPDATE journeys SET patient_id = 'p-2', version = version + 1")
    with pytest.raises(refused_by, match="version only grows"):
        conn.execute("UPDATE journeys SET version = 1")
    with pytest.raises(refused_by, match="cannot be deleted"):
        conn.execute("DELETE FROM patients")
    assert store.verify().ok


def test_voiding_keeps_everything(store: Store) -> None:
    """A voided journey keeps its history and records, and takes no more records."""
    before = store.journey("j-1")
    store.move("j-1", "voided", actor="dr", occurred_at=T1, reason=sj.VoidReason(code="duplicate"))
    j = store.journey("j-1")
    assert j.history[:-1] == before.history
    assert j.records == before.records
    assert j.last_move.reason == "voided: duplicate"
    assert j.last_move.reason_record == sj.VoidReason(code="duplicate")
    refused(store, ValidationError, lambda: store.record("j-1", sj.nrs(3, T1), actor="n"))


def test_an_erased_patients_id_is_not_given_again(store: Store) -> None:
    """The record keeps a deletion under the patient's id: the id is not re-used."""
    store.add_patient("mrn-gone", actor="desk", patient_id="p-gone")
    store.delete_patient("p-gone", actor="desk")
    error = refused(
        store,
        DuplicateError,
        lambda: store.add_patient("mrn-gone", actor="desk", patient_id="p-gone"),
    )
    assert "p-gone" in str(error)
    assert store.add_patient("mrn-gone", actor="desk").id != "p-gone"
