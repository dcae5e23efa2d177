"""The demo clinic: synthetic, repeatable, varied, and built through the real rules."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

import stemjourney as sj
from stemjourney.demo import CONDITIONS, DemoClinic, demo_clinic, synthetic_clinic
from stemjourney.demo import _build as demo_build
from stemjourney.demo._build import DemoSummary, build_demo_clinic, split_trailing_scores
from stemjourney.demo._script import AddStep, AmendStep, JourneyScript, MoveStep
from stemjourney.demo._synthetic import _FIRST, _LAST
from stemjourney.exceptions import DuplicateError, NotFoundError
from stemjourney.store import open_store

TODAY = date(2026, 11, 23)
MIDNIGHT = datetime.combine(TODAY, time(0), UTC)


@pytest.fixture(scope="module")
def clinic() -> DemoClinic:
    return demo_clinic(seed=2026, patients=300, today=TODAY)


def test_the_same_seed_gives_the_same_clinic() -> None:
    """A seed and a today fix the clinic; another seed gives another one."""
    first = synthetic_clinic(4, 20, TODAY)
    assert first == synthetic_clinic(4, 20, TODAY)
    assert first != synthetic_clinic(5, 20, TODAY)


def test_patients_are_clearly_synthetic() -> None:
    """External ids run DEMO-0001 up; names come from the small invented lists."""
    people = synthetic_clinic(8, 50, TODAY)
    assert [p.external_id for p in people] == [f"DEMO-{n:04d}" for n in range(1, 51)]
    for person in people:
        first, last = person.display_name.split(" ")
        assert first in _FIRST
        assert last in _LAST
        age = (TODAY - person.birth_date).days / 365.25
        assert 35 <= age <= 89


def test_nothing_is_dated_on_or_after_today() -> None:
    """Every opening, move and record falls before the demo's today."""
    for person in synthetic_clinic(9, 120, TODAY):
        for journey in person.journeys:
            assert journey.opened_at < MIDNIGHT
            assert all(when < MIDNIGHT for when in journey.when)


def test_moves_are_in_time_order() -> None:
    """Within a journey each move is at or after the one before it."""
    for person in synthetic_clinic(10, 120, TODAY):
        for journey in person.journeys:
            moves = [journey.opened_at, *(s.at for s in journey.steps if isinstance(s, MoveStep))]
            assert moves == sorted(moves)


def test_the_clinic_covers_conditions_sources_and_outcomes(clinic: DemoClinic) -> None:
    """All conditions, both cell sources, every outcome and repeat cycles appear."""
    journeys = clinic.journeys
    assert {j.condition for j in journeys} == {c.name for c in CONDITIONS}
    assert {j.cell_source.value for j in journeys} == {"bone_marrow", "adipose"}
    stages = Counter(j.stage for j in journeys)
    for stage in ("completed", "withdrawn", "ineligible", "voided", "follow_up", "consultation"):
        assert stages[stage] > 0, stage
    assert stages["follow_up"] > stages["completed"] > stages["ineligible"]
    assert sum(j.cycle > 1 for j in journeys) >= 10
    assert len(clinic.patients) == 300
    assert len(journeys) > 300


def test_loops_happen_through_both_paths(clinic: DemoClinic) -> None:
    """Repeat cycles come from stored product and from re-harvest; failed products loop back."""
    loops = Counter(
        (e.source, e.target) for j in clinic.journeys for e in j.history if e.source is not None
    )
    assert loops[("follow_up", "injection")] > 0
    assert loops[("follow_up", "harvest")] > 0
    assert loops[("processing", "harvest")] > 0
    overrides = [e for j in clinic.journeys for e in j.history if e.override_reason]
    assert overrides


def test_the_demo_clinic_keeps_every_rule_of_clinical_time(clinic: DemoClinic) -> None:
    """Every demo journey replays strictly: fresh records for each new cycle, records within
    their stage, recent enough, image-guided injections, as a careful clinic works."""
    engine = sj.Engine(clock=sj.SystemClock())
    for journey in clinic.journeys:
        assert engine.replay(journey, strict=True) == journey


def test_new_cycles_start_from_a_fresh_assessment_consent_and_baseline(clinic: DemoClinic) -> None:
    """Before a new cycle the demo records its own baseline and consent (and assessment)."""
    engine = sj.Engine(clock=sj.SystemClock())
    renewals = 0
    for journey in clinic.journeys:
        for move in journey.history:
            if move.source == "follow_up" and move.target in ("harvest", "injection"):
                visit = [e for e in journey.records if e.stage_seq == move.seq - 1]
                kinds = {e.record.kind for e in visit}
                assert {"consent", "score"} <= kinds
                if move.target == "harvest":
                    assert "eligibility" in kinds
                renewals += 1
    assert renewals > 0
    assert engine.protocol.injection_guidance == sj.IMAGE_GUIDANCE


def test_pain_trajectories_are_realistic(clinic: DemoClinic) -> None:
    """Baselines are NRS 5-9; most improve by 30 % or more, some do not, a few relapse."""
    changes = []
    for journey in clinic.journeys:
        pain = journey.scores("nrs")
        assert pain or journey.stage == "voided"
        if pain:
            assert 3 <= pain[0].value <= 10
        if len(pain) >= 3 and journey.cycle == 1:
            changes.append((pain[0].value - min(p.value for p in pain[1:])) / pain[0].value)
    improved = sum(c >= 0.3 for c in changes) / len(changes)
    assert 0.45 < improved < 0.9
    assert any(c < 0.2 for c in changes)
    baselines = Counter(int(j.scores("nrs")[0].value) for j in clinic.journeys if j.scores("nrs"))
    assert set(baselines) >= {5, 6, 7, 8, 9}


def test_questionnaires_follow_the_condition(clinic: DemoClinic) -> None:
    """Knees get KOOS, backs ODI, necks NDI, shoulders ASES and QuickDASH; all scored."""
    expected = {
        "osteoarthritis of knee": {"koos_pain", "koos_adl"},
        "spinal disc degeneration": {"odi"},
        "chronic neck and shoulder pain": {"ndi"},
        "osteoarthritis of shoulder": {"ases", "quickdash"},
        "tendon injury": {"quickdash"},
    }
    for condition, instruments in expected.items():
        found = {
            s.instrument for j in clinic.journeys if j.condition == condition for s in j.scores()
        }
        assert instruments <= found, condition
    hips = {s.instrument for j in clinic.journeys if "hip" in j.condition for s in j.scores()}
    assert hips <= {"nrs", "vas"}
    odi = [s for j in clinic.journeys for s in j.scores("odi")]
    assert all(s.answers is not None and 0 <= s.value <= 100 for s in odi)


def test_adverse_events_are_mostly_mild(clinic: DemoClinic) -> None:
    """Adverse events are mostly grade 1-2; grade 3 is rare."""
    grades = Counter(
        e.record.grade
        for j in clinic.journeys
        for e in j.current_records()
        if isinstance(e.record, sj.AdverseEvent)
    )
    total = sum(grades.values())
    assert total > 20
    assert (grades[1] + grades[2]) / total > 0.9
    assert set(grades) <= {1, 2, 3}


def test_some_follow_ups_are_overdue_and_some_due_soon(clinic: DemoClinic) -> None:
    """On the demo's today some visits are overdue and some fall due in the coming weeks."""
    overdue = due_soon = 0
    schedule = sj.DEFAULT_PROTOCOL.schedule
    for journey in clinic.journeys:
        if journey.stage != "follow_up":
            continue
        shot = journey.latest(sj.Injection, cycle=journey.cycle)
        assert shot is not None
        done = {
            e.record.time_point
            for e in journey.current_records()
            if isinstance(e.record, sj.FollowUpVisit) and e.cycle == journey.cycle
        }
        for visit in schedule:
            if visit.label in done:
                continue
            due = visit.due(shot.injected_at)
            if due < MIDNIGHT - timedelta(days=visit.window_days // 2 + 1):
                overdue += 1
            elif due < MIDNIGHT + timedelta(days=30):
                due_soon += 1
            break
    assert overdue >= 5
    assert due_soon >= 5


def test_amendments_and_ineligible_candidates_are_in_the_record(clinic: DemoClinic) -> None:
    """Some scores are corrected by amendment; ineligible candidates carry their reasons."""
    amended = [e for j in clinic.journeys for e in j.records if e.amends is not None]
    assert amended
    ineligible = [j for j in clinic.journeys if j.stage == "ineligible"]
    assert all(
        j.last_move.reason and j.last_move.reason.startswith("ineligible:") for j in ineligible
    )


def test_in_memory_clinic_answers_like_a_store(clinic: DemoClinic) -> None:
    """The in-memory clinic finds patients and their journeys, and refuses unknown ids."""
    assert clinic.patient("demo-0001").external_id == "DEMO-0001"
    assert all(j.patient_id == "demo-0002" for j in clinic.journeys_of("demo-0002"))
    assert sum(1 for _ in clinic.iter_journeys()) == len(clinic.journeys)
    with pytest.raises(NotFoundError, match="no patient with id 'nobody'"):
        clinic.patient("nobody")


def test_trailing_scores_split_keeps_amendment_targets() -> None:
    """Scores after the last move go to bulk, except those an amendment points at."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    steps = (
        AddStep(sj.nrs(7, at), "rn"),
        MoveStep("withdrawn", at, "x"),
        AddStep(sj.nrs(5, at), "rn"),
        AddStep(sj.nrs(4, at), "rn"),
        AmendStep(3, sj.nrs(3, at), "typo", "rn"),
    )
    script = JourneyScript("k", "c", "knee", "left", "adipose", at, steps)
    head, bulk = split_trailing_scores(script)
    assert [s.record.value for s in bulk] == [5.0]
    assert head.steps[:2] == steps[:2]
    assert head.steps[2] == steps[3]
    amend = head.steps[3]
    assert isinstance(amend, AmendStep)
    assert amend.target_step == 2


@pytest.mark.parametrize("bulk", [False, True])
def test_the_database_matches_the_engine_built_clinic(tmp_path: Path, bulk: bool) -> None:
    """Built through the store, the clinic verifies and agrees with the in-memory one."""
    path = tmp_path / "demo.db"
    seen: list[tuple[int, int]] = []
    summary = build_demo_clinic(
        path, seed=3, patients=25, today=TODAY, bulk_scores=bulk, progress=lambda *a: seen.append(a)
    )
    assert seen[-1] == (25, 25)
    memory = demo_clinic(seed=3, patients=25, today=TODAY)
    with open_store(path) as store:
        assert store.verify().ok
        stored = {j.id: j for j in store.iter_journeys()}
        assert store.patient("demo-0007").display_name == memory.patient("demo-0007").display_name
    assert set(stored) == {j.id for j in memory.journeys}
    for journey in memory.journeys:
        twin = stored[journey.id]
        assert (twin.stage, twin.cycle) == (journey.stage, journey.cycle)
        assert twin.scores() == journey.scores()
        assert twin.history[-1].occurred_at == journey.history[-1].occurred_at
    assert summary.patients == 25
    assert summary.journeys == len(memory.journeys)
    assert summary.by_stage == dict(Counter(j.stage for j in memory.journeys))
    assert summary.scores == sum(len(j.scores()) for j in memory.journeys)
    assert summary.seconds > 0


def test_an_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    """An existing file is refused; with overwrite it is replaced by a fresh clinic."""
    path = tmp_path / "demo.db"
    build_demo_clinic(path, seed=1, patients=3, today=TODAY, bulk_scores=False)
    with pytest.raises(DuplicateError, match="a file already exists there"):
        build_demo_clinic(path, seed=1, patients=3, today=TODAY)
    summary = build_demo_clinic(path, seed=2, patients=4, today=TODAY, overwrite=True,
                                bulk_scores=False)  # fmt: skip
    assert summary.patients == 4
    with open_store(path) as store:
        assert len(list(store.iter_journeys())) == summary.journeys


def test_today_defaults_to_the_current_date(tmp_path: Path) -> None:
    """Without ``today`` the demo is dated up to the current UTC date."""
    before = datetime.now(UTC).date()
    summary = build_demo_clinic(tmp_path / "d.db", seed=1, patients=2, bulk_scores=False)
    assert before <= summary.today <= datetime.now(UTC).date()


def test_summary_lines_name_the_counts() -> None:
    """The summary prints counts by stage and cycle, scores, events and the time taken."""
    summary = DemoSummary(
        seed=1,
        today=TODAY,
        patients=3,
        journeys=4,
        by_stage={"follow_up": 3, "withdrawn": 1},
        by_cycle={1: 3, 2: 1},
        scores=20,
        adverse_events=2,
        seconds=1.25,
    )
    text = "\n".join(summary.lines())
    assert "3 patients, 4 journeys (cycle 1: 3, cycle 2: 1)" in text
    assert "follow_up 3, withdrawn 1" in text
    assert "20 scores, 2 adverse events" in text
    assert re.search(r"built in 1\.\d s", text)


def test_questionnaires_can_be_left_out() -> None:
    """Without a questionnaire maker only pain scores are written."""
    people = synthetic_clinic(6, 30, TODAY, questionnaire=None)
    instruments = {
        step.record.instrument
        for person in people
        for journey in person.journeys
        for step in journey.steps
        if isinstance(step, AddStep) and isinstance(step.record, sj.Score)
    }
    assert instruments <= {"nrs", "vas"}


def test_a_large_clinic_is_written_straight_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the memory limit the store writes to the file directly, with the same result."""
    monkeypatch.setattr(demo_build, "MEMORY_BUILD_LIMIT", 0)
    direct = build_demo_clinic(tmp_path / "direct.db", seed=4, patients=6, today=TODAY)
    monkeypatch.setattr(demo_build, "MEMORY_BUILD_LIMIT", 100)
    copied = build_demo_clinic(tmp_path / "copied.db", seed=4, patients=6, today=TODAY)
    assert direct == copied
    for name in ("direct.db", "copied.db"):
        with open_store(tmp_path / name) as store:
            assert store.verify().ok
            assert len(list(store.iter_journeys())) == direct.journeys
        assert (tmp_path / name).stat().st_mode & 0o077 == 0
