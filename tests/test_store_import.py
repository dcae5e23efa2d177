"""The bulk score import's batched reads and writes: same rows, same errors as row by row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stemjourney import Score
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.store import Store, open_store

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _store(path: Path) -> Store:
    store = open_store(path)
    store.add_patient("mrn-1", actor="desk", patient_id="p-1")
    for jid in ("j-1", "j-2"):
        store.open_journey(
            "p-1",
            condition="osteoarthritis of knee",
            site="knee",
            side="left",
            cell_source="bone_marrow",
            actor="dr",
            occurred_at=T0,
            journey_id=jid,
        )
    return store


def test_one_audit_entry_per_journey_chained_in_the_order_met(tmp_path: Path) -> None:
    """Journeys interleaved in a batch get one entry each, in first-met order; verify passes."""
    with _store(tmp_path / "s.db") as store:
        rows = [
            (jid, "nrs", n % 11, T0 + timedelta(days=n)) for n in range(6) for jid in ("j-2", "j-1")
        ]
        assert store.import_scores(rows, actor="bench", batch_size=4) == 12
        entries = store.db.execute(
            "SELECT a.journey_id, max(o.version) FROM audit_log AS a JOIN observations AS o"
            " ON o.audit_id = a.seq WHERE a.action = 'scores_imported' GROUP BY a.seq"
            " ORDER BY a.seq"
        ).fetchall()
        assert entries == [("j-2", 3), ("j-1", 3), ("j-2", 5), ("j-1", 5), ("j-2", 7), ("j-1", 7)]
        assert store.verify().ok


def test_a_malformed_row_is_reported_as_before_and_nothing_of_its_batch_stays(
    tmp_path: Path,
) -> None:
    """A short row is named by its number, a row that is no sequence fails as len() does."""
    with _store(tmp_path / "s.db") as store:
        good = ("j-1", "nrs", 5, T0)
        with pytest.raises(ValidationError, match=r"rows\[1\]\.row"):
            store.import_scores([good, ("j-1", "nrs"), 7], actor="bench")
        with pytest.raises(TypeError, match="len"):
            store.import_scores([good, 7], actor="bench")  # type: ignore[list-item]
        with pytest.raises(NotFoundError, match="j-9"):
            store.import_scores([good, ("j-9", "nrs", 5, T0)], actor="bench")
        with pytest.raises(ValidationError, match=r"rows\[1\]\.journey_id"):
            store.import_scores([good, (42, "nrs", 5, T0)], actor="bench")
        assert store.db.execute("SELECT count(*) FROM observations").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("instrument", "value", "measured_at"),
    [
        ("nrs", 11, T0),
        ("nrs", 4.5, T0),
        ("vas", -1.0, T0),
        ("odi", 101, T0),
        ("nrs", True, T0),
        ("nrs", "5", T0),
        ("nrs", 5, datetime(2026, 1, 5)),
        ("NRS", 5, T0),
    ],
)
def test_a_row_is_refused_as_the_score_itself_would_be(
    tmp_path: Path, instrument: object, value: object, measured_at: datetime
) -> None:
    """A bad row gets the error Score gives for the same fields, numbered by its row."""
    with pytest.raises(ValidationError) as direct:
        Score(instrument=instrument, value=value, measured_at=measured_at)  # type: ignore[arg-type]
    with _store(tmp_path / "s.db") as store, pytest.raises(ValidationError) as bulk:
        store.import_scores(
            [("j-1", "nrs", 5, T0), ("j-1", instrument, value, measured_at)], actor="b"
        )
    assert bulk.value.field == f"rows[1].{direct.value.field}"
    assert (bulk.value.problem, bulk.value.allowed) == (direct.value.problem, direct.value.allowed)


def test_the_import_asks_the_engine_about_time_and_closed_journeys(tmp_path: Path) -> None:
    """A score in the future is refused as Engine.check_time refuses it; a journey in the
    pipeline's void outcome takes none, as Engine.check_takes says."""
    with _store(tmp_path / "s.db") as store:
        future = store.engine.clock.now() + store.protocol.clock_skew + timedelta(minutes=1)
        with pytest.raises(ValidationError) as late:
            store.import_scores([("j-1", "nrs", 5, future)], actor="b")
        with pytest.raises(ValidationError) as direct:
            store.engine.check_time("measured_at", future)
        assert late.value.field == "rows[0].measured_at"
        assert late.value.problem == direct.value.problem
        store.move("j-2", "voided", actor="dr", occurred_at=T0 + timedelta(hours=1), reason="dup")
        with pytest.raises(ValidationError) as voided:
            store.import_scores([("j-2", "nrs", 5, T0)], actor="b")
        assert voided.value.field == "rows[0].journey_id"
        assert "journey j-2 is closed ('voided')" in str(voided.value)
        store.move("j-1", "withdrawn", actor="dr", occurred_at=T0 + timedelta(hours=1), reason="r")
        assert store.import_scores([("j-1", "nrs", 5, T0)], actor="b") == 1


def test_a_row_in_another_zone_is_stored_in_utc(tmp_path: Path) -> None:
    """A row timed in another zone is the same instant, stored in UTC like a single score."""
    from datetime import timezone

    local = datetime(2026, 1, 5, 14, tzinfo=timezone(timedelta(hours=5)))
    with _store(tmp_path / "s.db") as store:
        store.import_scores([("j-1", "nrs", 5, local)], actor="b")
        (score,) = store.journey("j-1").scores()
        assert score.measured_at == T0
        assert score.measured_at.tzinfo is UTC
        assert store.verify().ok
