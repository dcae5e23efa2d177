"""Store.import_history: whole journeys written as they were, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

import stemjourney as sj
from stemjourney.exceptions import DuplicateError, GuardError, NotFoundError, ValidationError
from stemjourney.store import open_store
from stemjourney.testing import ManualClock, treated_journey

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _store(path: Path) -> sj.Store:
    return open_store(path, clock=ManualClock(NOW))


def test_imported_journeys_read_back_equal_and_verify(tmp_path: Path) -> None:
    """A journey imported whole reads back equal, entry for entry, and the file verifies."""
    journey = treated_journey(scores=[(-3, 8), (42, 5), (91, 3)])
    patient = sj.Patient(id="p-1", external_id="MRN-1", display_name="Ann Example")
    with _store(tmp_path / "s.db") as store:
        assert store.import_history([patient], [journey], actor="migration") == (1, 1)
        assert store.journey("j-1") == journey
        assert store.patient("p-1") == patient
        assert store.verify().ok


def test_nothing_is_written_when_one_journey_is_refused(tmp_path: Path) -> None:
    """A journey the engine would refuse stops the import; no patient or journey is left."""
    good = treated_journey(journey_id="j-1", patient_id="p-1")
    bad = treated_journey(journey_id="j-2", patient_id="p-1")
    # Drop the injection record: the move to recovery no longer has what it needs.
    bad = attrs.evolve(
        bad, records=tuple(e for e in bad.records if not isinstance(e.record, sj.Injection))
    )
    patient = sj.Patient(id="p-1", external_id="MRN-1")
    with _store(tmp_path / "s.db") as store:
        with pytest.raises(GuardError):
            store.import_history([patient], [good, bad], actor="migration")
        assert list(store.iter_patients()) == []
        assert list(store.iter_journeys()) == []
        assert store.verify().ok


def test_ids_already_taken_and_unknown_patients_are_refused(tmp_path: Path) -> None:
    """A taken journey id or external id, or a journey of an unknown patient, is refused."""
    journey = treated_journey()
    patient = sj.Patient(id="p-1", external_id="MRN-1")
    with _store(tmp_path / "s.db") as store:
        with pytest.raises(NotFoundError):
            store.import_history([], [journey], actor="migration")
        store.import_history([patient], [journey], actor="migration")
        with pytest.raises(DuplicateError, match="journey_id"):
            store.import_history([], [journey], actor="migration")
        twin = sj.Patient(id="p-2", external_id=" mrn-1 ")
        with pytest.raises(DuplicateError, match="external_id"):
            store.import_history([twin], [], actor="migration")
        with pytest.raises(ValidationError, match="journeys"):
            store.import_history([], ["j-1"], actor="migration")  # type: ignore[list-item]
        assert store.verify().ok


def test_an_imported_journey_can_be_written_on(tmp_path: Path) -> None:
    """After the import the journey moves on like any other."""
    journey = treated_journey()
    with _store(tmp_path / "s.db") as store:
        store.import_history([sj.Patient(id="p-1", external_id="MRN-1")], [journey], actor="m")
        after = store.record("j-1", sj.nrs(4, NOW - timedelta(days=1)), actor="nurse")
        assert after.version == journey.version + 1
        assert store.verify().ok
