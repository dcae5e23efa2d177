"""The bulk score import's batched reads and writes: same rows, same errors as row by row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
            " ON o.audit_seq = a.seq WHERE a.action = 'scores_imported' GROUP BY a.seq"
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
