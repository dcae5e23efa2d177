"""The store's outcome facts, and the reports that read them instead of whole journeys."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import stemjourney as sj
from stemjourney.demo import build_demo_clinic
from stemjourney.exceptions import ValidationError
from stemjourney.reports import cohort_report, worklist_report
from stemjourney.store import OutcomeFacts, Store, open_store

TODAY = date(2026, 11, 23)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic (amendments, adverse events, second cycles) as a store file."""
    path = tmp_path_factory.mktemp("facts") / "clinic.db"
    build_demo_clinic(path, patients=70, today=TODAY)
    return path


def _treated(store: Store, jid: str) -> None:
    """A journey injected twice in cycle 1 (the first one amended), with scores and an AE."""
    store.add_patient(f"mrn-{jid}", actor="desk", patient_id=f"p-{jid}")
    store.open_journey(
        f"p-{jid}",
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="dr",
        occurred_at=T0,
        journey_id=jid,
    )
    for record in (
        sj.nrs(7, T0),
        sj.EligibilityAssessment(assessed_at=T0),
        sj.Consent(signed_at=T0, form_version="v1"),
    ):
        store.record(jid, record, actor="dr")
    t = T0 + 24 * H
    store.move(jid, "harvest", actor="dr", occurred_at=t)
    store.record(
        jid,
        sj.Harvest(harvested_at=t, source="bone_marrow", body_site="iliac crest", side="left",
                   volume_ml=60),
        actor="dr",
    )  # fmt: skip
    store.move(jid, "processing", actor="dr", occurred_at=t + H)
    store.record(
        jid,
        sj.Processing(product_id="bm-1", started_at=t, finished_at=t + H, method="spin",
                      manipulation="minimal", final_volume_ml=6, tnc_per_ml=2e7,
                      viability_pct=90, released=True, doses=2),
        actor="lab",
    )  # fmt: skip
    store.move(jid, "injection", actor="dr", occurred_at=t + 2 * H)
    shot = sj.Injection(
        injected_at=t + 2 * H, site="knee", side="left", guidance="ultrasound", volume_ml=6,
        product_id="bm-1",
    )  # fmt: skip
    journey = store.record(jid, shot, actor="dr")
    store.amend(
        jid, journey.version, shot.__class__(**{**_fields(shot), "volume_ml": 5}),
        actor="dr", reason="volume corrected",
    )  # fmt: skip
    store.record(
        jid,
        sj.AdverseEvent(onset_at=t + 3 * H, site="knee", grade=1, serious=True,
                        relatedness="possible", outcome="recovered", action_taken="ice"),
        actor="dr",
    )  # fmt: skip
    scored = store.record(jid, sj.nrs(5, t + 30 * 24 * H), actor="nurse")
    store.amend(jid, scored.version, sj.nrs(4, t + 30 * 24 * H), actor="nurse", reason="typo")
    store.record(jid, sj.vas(40, t + 31 * 24 * H), actor="nurse")
    later = sj.Injection(
        injected_at=t + 5 * H, site="knee", side="left", guidance="ultrasound", volume_ml=2,
        product_id="bm-1",
    )  # fmt: skip
    store.record(jid, later, actor="dr")


def _fields(record: object) -> dict[str, object]:
    import attrs

    return attrs.asdict(record, recurse=False)  # type: ignore[arg-type]


def test_facts_hold_only_what_is_in_force(tmp_path: Path) -> None:
    """Facts list the amendments in place of what they amend, scores of the asked instrument."""
    with open_store(tmp_path / "s.db") as store:
        _treated(store, "j-1")
        (facts,) = list(store.iter_outcome_facts(instrument="nrs"))
        assert isinstance(facts, OutcomeFacts)
        assert (facts.journey_id, facts.patient_id, facts.stage) == ("j-1", "p-j-1", "injection")
        assert facts.injections == (
            (1, "2026-01-06 11:00:00"),
            (1, "2026-01-06 14:00:00"),
        )
        assert facts.adverse_events == ((1, True),)
        assert [value for _, value in facts.scores] == [7.0, 4.0]
        (every,) = list(store.iter_outcome_facts())
        assert [value for _, value in every.scores] == [7.0, 4.0, 40.0]
        (bare,) = list(store.iter_outcome_facts(with_scores=False))
        assert bare.scores == ()
        (scored,) = list(store.iter_outcome_facts(journey_ids=["j-1"], with_records=False))
        assert (scored.injections, scored.adverse_events) == ((), ())
        assert scored.scores == every.scores


def test_facts_filter_by_stage_and_id(tmp_path: Path) -> None:
    """Stages and ids pick the journeys; the batch size does not change what comes back."""
    with open_store(tmp_path / "s.db") as store:
        for jid in ("j-1", "j-2", "j-3"):
            _treated(store, jid)
        store.move("j-2", "withdrawn", actor="dr", occurred_at=T0 + 40 * 24 * H, reason="moved")
        ids = [f.journey_id for f in store.iter_outcome_facts(stages=["injection"], batch_size=1)]
        assert ids == ["j-1", "j-3"]
        picked = store.iter_outcome_facts(journey_ids=["j-3", "j-2", "j-3"], batch_size=1)
        assert [f.journey_id for f in picked] == ["j-2", "j-3"]
        with pytest.raises(ValidationError, match="batch_size"):
            list(store.iter_outcome_facts(batch_size=0))


def test_facts_since_leave_out_older_scores_and_every_amended_one(tmp_path: Path) -> None:
    """``scores_since`` keeps recent scores; an original stays out though its amendment is older."""
    with open_store(tmp_path / "s.db") as store:
        _treated(store, "j-1")
        journey = store.journey("j-1")
        vas_version = next(
            e.version
            for e in journey.records
            if isinstance(e.record, sj.Score) and e.record.instrument == "vas"
        )
        store.amend(
            "j-1", vas_version, sj.vas(30, T0 + 2 * 24 * H), actor="nurse", reason="wrong day"
        )
        since = T0 + 24 * H + 30 * 24 * H - H
        (facts,) = store.iter_outcome_facts(journey_ids=["j-1"], scores_since=since)
        assert facts.scores == (("2026-02-05 09:00:00", 4.0),)
        (both,) = store.iter_outcome_facts(
            journey_ids=["j-1"], stages=["injection"], scores_since=since, instrument="vas"
        )
        assert both.scores == ()
        assert list(store.iter_outcome_facts(journey_ids=["j-1"], stages=["recovery"])) == []
        with pytest.raises(ValidationError, match="scores_since"):
            list(store.iter_outcome_facts(journey_ids=["j-1"], scores_since=datetime(2026, 1, 1)))


def test_reports_from_facts_equal_reports_from_journeys_on_edge_cases(tmp_path: Path) -> None:
    """Two injections in a cycle, a voided journey, an empty store: both paths agree."""
    with open_store(tmp_path / "s.db") as store:
        empty = worklist_report(store, TODAY, TODAY)
        assert empty.items == ()
        _treated(store, "j-1")
        _treated(store, "j-2")
        store.move("j-1", "recovery", actor="dr", occurred_at=T0 + 24 * H + 6 * H)
        store.add_patient("mrn-v", actor="desk", patient_id="p-v")
        store.open_journey(
            "p-v", condition="osteoarthritis of knee", site="knee", side="left",
            cell_source="bone_marrow", actor="dr", occurred_at=T0, journey_id="j-v",
        )  # fmt: skip
        store.move("j-v", "voided", actor="dr", occurred_at=T0 + H, reason="duplicate")
        journeys = list(store.iter_journeys())
        on = date(2026, 3, 1)
        assert cohort_report(store, on=on) == cohort_report(journeys, on=on)
        start = date(2026, 2, 1)
        fast = worklist_report(store, start, start + timedelta(days=90))
        assert fast == worklist_report(journeys, start, start + timedelta(days=90))
        # Every journey that has not ended is followed from its injection, whatever its stage.
        assert {i.journey_id for i in fast.items} == {"j-1", "j-2"}


@pytest.mark.parametrize("instrument", ["nrs", "vas", "koos_pain", "odi"])
def test_cohort_from_facts_equals_cohort_from_journeys(clinic: Path, instrument: str) -> None:
    """The cohort report read from the store's rows equals the one folded from its journeys."""
    with open_store(clinic) as store:
        journeys = list(store.iter_journeys())
        for on in (date(2025, 6, 1), TODAY):
            fast = cohort_report(store, on=on, instrument=instrument)
            slow = cohort_report(journeys, on=on, instrument=instrument)
            assert fast == slow
    assert any(g.rows[0].patients for g in slow.groups) or instrument != "nrs"


@pytest.mark.parametrize(
    ("start", "days", "on"),
    [
        (TODAY, 6, None),
        (TODAY - timedelta(days=200), 30, None),
        (TODAY, 0, TODAY + timedelta(days=9)),
    ],
)
def test_worklist_from_facts_equals_worklist_from_journeys(
    clinic: Path, start: date, days: int, on: date | None
) -> None:
    """The work-list read from the store's rows equals the one planned from its journeys."""
    end = start + timedelta(days=days)
    with open_store(clinic) as store:
        fast = worklist_report(store, start, end, on=on)
        slow = worklist_report(list(store.iter_journeys()), start, end, on=on)
    assert fast == slow
    assert fast.items or days == 0


def test_worklist_from_facts_checks_its_days(clinic: Path) -> None:
    """An end before the start is refused on the store path too."""
    with open_store(clinic) as store, pytest.raises(ValidationError, match="end"):
        worklist_report(store, TODAY, TODAY - timedelta(days=1))
