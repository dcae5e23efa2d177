"""The engine: each guard of the journey, the time rules, loops, amendments and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from stemjourney import (
    DEFAULT_PROTOCOL,
    AdverseEvent,
    Consent,
    EligibilityAssessment,
    Engine,
    FollowUpVisit,
    Harvest,
    Injection,
    Journey,
    Processing,
    ReleaseCriteria,
    VoidReason,
    WithdrawalReason,
    nrs,
    vas,
)
from stemjourney.exceptions import (
    GuardError,
    IllegalMoveError,
    MoveError,
    TimeOrderError,
    ValidationError,
)
from stemjourney.testing import ManualClock

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def make_engine(**protocol_changes: Any) -> Engine:
    """An engine over the default pipeline whose clock reads a year after T0."""
    protocol = attrs.evolve(DEFAULT_PROTOCOL, **protocol_changes)
    return Engine(protocol=protocol, clock=ManualClock(T0 + 365 * D))


def opened(engine: Engine, at: datetime = T0) -> Journey:
    """A left-knee bone-marrow journey opened at ``at``."""
    return engine.open(
        "j-1",
        patient_id="p-1",
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="dr.a",
        occurred_at=at,
    )


def rec(engine: Engine, j: Journey, *records: Any) -> Journey:
    """Record each record in turn."""
    for r in records:
        j, _ = engine.record(j, r, actor="dr.a")
    return j


def mv(engine: Engine, j: Journey, target: str, at: datetime, **kw: Any) -> Journey:
    """Move and return the new journey."""
    return engine.move(j, target, actor="dr.a", occurred_at=at, **kw)[0]


def harvest(at: datetime, source: str = "bone_marrow") -> Harvest:
    return Harvest(
        harvested_at=at, source=source, body_site="iliac crest", side="left", volume_ml=60
    )


def product(at: datetime, pid: str = "p-1", **kw: Any) -> Processing:
    values: dict[str, Any] = {
        "product_id": pid,
        "started_at": at - H,
        "finished_at": at,
        "method": "centrifuge",
        "manipulation": "minimal",
        "final_volume_ml": 6,
        "tnc_per_ml": 2.5e7,
        "viability_pct": 92,
        "released": True,
    }
    return Processing(**{**values, **kw})


def shot(at: datetime, pid: str = "p-1", site: str = "knee", side: str = "left") -> Injection:
    return Injection(
        injected_at=at, site=site, side=side, guidance="ultrasound", volume_ml=6, product_id=pid
    )


def ready(engine: Engine, j: Journey, at: datetime = T0) -> Journey:
    """Record what the move to harvest needs."""
    return rec(
        engine,
        j,
        EligibilityAssessment(assessed_at=at),
        Consent(signed_at=at, form_version="v1"),
        nrs(7, at),
    )


def renew(engine: Engine, j: Journey, at: datetime, scope: str = "treatment") -> Journey:
    """Record what a new cycle needs at follow-up: a fresh assessment, consent and baseline."""
    return rec(
        engine,
        j,
        EligibilityAssessment(assessed_at=at),
        Consent(signed_at=at, form_version="v2", scope=scope),
        nrs(4, at),
    )


def at_stage(engine: Engine, stage: str, *, doses: int = 1) -> Journey:
    """A journey taken along the happy path of cycle 1 up to ``stage``."""
    j = ready(engine, opened(engine))
    steps = [
        ("harvest", lambda j: j, T0 + D),
        ("processing", lambda j: rec(engine, j, harvest(T0 + D)), T0 + D + H),
        (
            "injection",
            lambda j: rec(engine, j, product(T0 + D + 2 * H, doses=doses)),
            T0 + D + 3 * H,
        ),
        ("recovery", lambda j: rec(engine, j, shot(T0 + D + 3 * H)), T0 + D + 4 * H),
        ("follow_up", lambda j: j, T0 + 9 * D),
    ]
    for target, before, when in steps:
        if j.stage == stage:
            break
        j = mv(engine, before(j), target, when)
    assert j.stage == stage
    return j


# -- opening -------------------------------------------------------------------


def test_open_starts_at_consultation_in_cycle_one() -> None:
    """A journey opens at the initial stage, cycle 1, version 1, with one history entry."""
    j = opened(make_engine())
    assert (j.stage, j.cycle, j.version) == ("consultation", 1, 1)
    assert j.history[0].source is None
    assert j.opened_at == T0
    assert j.summary()["side"] == "left"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("journey_id", "J 1"),
        ("patient_id", ""),
        ("condition", " "),
        ("site", "a\x00"),
        ("side", "up"),
        ("cell_source", "blood"),
        ("actor", ""),
        ("occurred_at", datetime(2026, 1, 5)),
    ],
)
def test_open_refuses_bad_fields(field: str, value: object) -> None:
    """Opening with a bad field is refused, naming it."""
    args: dict[str, Any] = {
        "patient_id": "p-1",
        "condition": "oa",
        "site": "knee",
        "side": "left",
        "cell_source": "adipose",
        "actor": "dr.a",
        "occurred_at": T0,
    }
    journey_id = value if field == "journey_id" else "j-1"
    if field != "journey_id":
        args[field] = value
    with pytest.raises(ValidationError) as info:
        make_engine().open(journey_id, **args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_open_in_the_future_is_refused() -> None:
    """A journey cannot be opened beyond the clock skew."""
    engine = Engine(clock=ManualClock(T0))
    with pytest.raises(TimeOrderError, match="not in the future"):
        opened(engine, T0 + 6 * timedelta(minutes=1))
    assert opened(engine, T0 + 5 * timedelta(minutes=1)).stage == "consultation"


# -- to harvest ------------------------------------------------------------------


def test_harvest_lists_every_missing_requirement_at_once() -> None:
    """With nothing recorded, the move to harvest names all three requirements."""
    engine = make_engine()
    j = opened(engine)
    with pytest.raises(GuardError) as info:
        mv(engine, j, "harvest", T0 + H)
    assert info.value.problems == (
        "an eligibility assessment",
        "a signed consent",
        "a baseline pain score in cycle 1",
    )
    assert info.value.allowed == ("ineligible", "withdrawn", "voided")
    assert "journey j-1 is in 'consultation'; 'harvest' needs" in str(info.value)
    assert engine.why_not(j, "harvest", at=T0 + H) == list(info.value.problems)


@pytest.mark.parametrize("leave_out", [0, 1, 2])
def test_harvest_names_the_one_missing_requirement(leave_out: int) -> None:
    """With two of three recorded, only the third is named."""
    engine = make_engine()
    records = [
        EligibilityAssessment(assessed_at=T0),
        Consent(signed_at=T0, form_version="v1"),
        vas(55, T0),
    ]
    expected = ["an eligibility assessment", "a signed consent", "a baseline pain score in cycle 1"]
    j = rec(engine, opened(engine), *[r for i, r in enumerate(records) if i != leave_out])
    with pytest.raises(GuardError) as info:
        mv(engine, j, "harvest", T0 + H)
    assert info.value.problems == (expected[leave_out],)


def test_contraindication_blocks_harvest() -> None:
    """An assessment that found a contraindication blocks the harvest."""
    engine = make_engine()
    j = ready(engine, opened(engine))
    j = rec(engine, j, EligibilityAssessment(assessed_at=T0 + H, contraindications={"clinic:x"}))
    assert engine.why_not(j, "harvest", at=T0 + 2 * H) == [
        "an eligibility assessment with no contraindication"
    ]
    assert engine.allowed(j, at=T0 + 2 * H) == ("ineligible", "withdrawn", "voided")


def test_harvest_when_ready() -> None:
    """With assessment, consent and baseline score, the move to harvest is accepted."""
    engine = make_engine()
    j = ready(engine, opened(engine))
    assert "harvest" in engine.allowed(j, at=T0 + D)
    j2, entry = engine.move(j, "harvest", actor="dr.b", occurred_at=T0 + D)
    assert (j2.stage, j2.version, entry.seq, entry.source) == ("harvest", 5, 2, "consultation")
    assert entry.actor == "dr.b"
    assert j.stage == "consultation"


# -- to processing ---------------------------------------------------------------


def test_processing_needs_a_harvest_record() -> None:
    """The move to processing needs a harvest recorded at the harvest stage."""
    engine = make_engine()
    j = at_stage(engine, "harvest")
    with pytest.raises(GuardError) as info:
        mv(engine, j, "processing", T0 + 2 * D)
    assert info.value.problems == ("a harvest record",)


def test_processing_needs_the_journeys_cell_source() -> None:
    """A liposuction does not satisfy a bone-marrow journey."""
    engine = make_engine()
    j = rec(engine, at_stage(engine, "harvest"), harvest(T0 + D, source="adipose"))
    assert engine.why_not(j, "processing", at=T0 + 2 * D) == [
        "a harvest from the journey's cell source (bone_marrow)"
    ]


def test_harvest_recorded_before_the_stage_does_not_count() -> None:
    """A harvest recorded at consultation is not a record of this harvest stage."""
    engine = make_engine()
    j = rec(engine, ready(engine, opened(engine)), harvest(T0))
    j = mv(engine, j, "harvest", T0 + D)
    assert engine.why_not(j, "processing", at=T0 + 2 * D) == ["a harvest record"]


# -- to injection ----------------------------------------------------------------


def test_injection_needs_a_processing_record() -> None:
    """The move to injection needs the lab's processing record."""
    engine = make_engine()
    j = at_stage(engine, "processing")
    assert engine.why_not(j, "injection", at=T0 + 2 * D) == [
        "a processing record with the lab's cell counts"
    ]


@pytest.mark.parametrize(
    ("changes", "protocol", "missing"),
    [
        ({"released": False}, {}, ["product p-1 released by the lab"]),
        ({"viability_pct": 69.9}, {}, ["viability of at least 70 %"]),
        (
            {"viability_pct": 50, "released": False},
            {},
            ["product p-1 released by the lab", "viability of at least 50 %"],
        ),
        ({}, {"release": ReleaseCriteria(70, min_tnc_total=1e9)}, ["at least 1e+09 total"]),
        ({}, {"release": ReleaseCriteria(70, min_cd34_per_ml=10)}, ["a CD34+ count of at least"]),
        (
            {"cd34_per_ml": 5},
            {"release": ReleaseCriteria(70, min_cd34_per_ml=10)},
            ["a CD34+ count of at least 10 per mL"],
        ),
    ],
)
def test_injection_needs_a_released_product(
    changes: dict[str, Any], protocol: dict[str, Any], missing: list[str]
) -> None:
    """A product that misses a release criterion blocks the injection, naming the criterion."""
    engine = make_engine(**protocol)
    j = at_stage(engine, "processing")
    j = rec(engine, j, product(T0 + D + 2 * H, **changes))
    found = engine.why_not(j, "injection", at=T0 + 2 * D)
    if changes.get("viability_pct") == 50:
        missing = ["product p-1 released by the lab", "viability of at least 70 %"]
    assert len(found) == len(missing)
    for got, want in zip(found, missing, strict=True):
        assert got.startswith(want)


def test_failed_product_goes_back_to_harvest() -> None:
    """A product that fails release sends the journey back to harvest in the same cycle."""
    engine = make_engine()
    j = rec(engine, at_stage(engine, "processing"), product(T0 + D + 2 * H, released=False))
    assert engine.allowed(j, at=T0 + 2 * D) == ("harvest", "withdrawn", "voided")
    j = mv(engine, j, "harvest", T0 + 2 * D)
    assert (j.stage, j.cycle) == ("harvest", 1)


def test_passing_product_cannot_go_back_to_harvest() -> None:
    """The loop back to harvest needs a product that failed; a passing one is refused."""
    engine = make_engine()
    j = rec(engine, at_stage(engine, "processing"), product(T0 + D + 2 * H))
    assert engine.why_not(j, "harvest", at=T0 + 2 * D) == [
        "a product that failed release (this one passed)"
    ]
    assert engine.why_not(at_stage(make_engine(), "processing"), "harvest", at=T0 + 2 * D) == [
        "a processing record with the lab's cell counts"
    ]


# -- to recovery -----------------------------------------------------------------


def test_recovery_needs_an_injection_record() -> None:
    """The move to recovery needs an injection record."""
    engine = make_engine()
    assert engine.why_not(at_stage(engine, "injection"), "recovery", at=T0 + 2 * D) == [
        "an injection record"
    ]


@pytest.mark.parametrize(
    ("injection", "missing"),
    [
        ({"site": "hip"}, ["an injection at the journey's treated site and side"]),
        ({"side": "right"}, ["an injection at the journey's treated site and side"]),
        ({"site": "KNEE"}, []),
        ({"pid": "p-9"}, ["an injected product that is a released product of this journey"]),
    ],
)
def test_recovery_checks_the_injection(injection: dict[str, Any], missing: list[str]) -> None:
    """The injection must be at the treated site and side, of a released product."""
    engine = make_engine()
    j = rec(engine, at_stage(engine, "injection"), shot(T0 + D + 3 * H, **injection))
    assert engine.why_not(j, "recovery", at=T0 + 2 * D) == missing


def test_failed_product_cannot_be_injected() -> None:
    """An injection of a product that failed release does not count."""
    engine = make_engine()
    j = at_stage(engine, "injection")
    j = rec(
        engine,
        j,
        product(T0 + D + 3 * H, pid="p-2", released=False),
        shot(T0 + D + 3 * H, "p-2"),
    )
    assert engine.why_not(j, "recovery", at=T0 + 2 * D) == [
        "an injected product that is a released product of this journey"
    ]


# -- to follow-up: the rest ------------------------------------------------------


def test_follow_up_needs_the_minimum_rest() -> None:
    """Follow-up before the protocol's rest is over is refused; at 7 days it is allowed."""
    engine = make_engine()
    j = at_stage(engine, "recovery")
    injected = T0 + D + 3 * H
    with pytest.raises(GuardError) as info:
        mv(engine, j, "follow_up", injected + 7 * D - timedelta(seconds=1))
    assert info.value.problems == ("7 days of rest after the injection, or a clinician's override",)
    assert mv(engine, j, "follow_up", injected + 7 * D).stage == "follow_up"


def test_rest_override_needs_a_reason_and_is_kept() -> None:
    """A clinician's override cuts the rest short and is kept in the history."""
    engine = make_engine()
    j = at_stage(engine, "recovery")
    j2, entry = engine.move(
        j, "follow_up", actor="dr.a", occurred_at=T0 + 2 * D, override_reason="review early"
    )
    assert entry.override_reason == "review early"
    with pytest.raises(ValidationError) as info:
        mv(engine, j, "follow_up", T0 + 2 * D, override_reason=" ")
    assert info.value.field == "override_reason"
    assert j2.stage == "follow_up"


def test_custom_rest() -> None:
    """The minimum rest comes from the protocol."""
    engine = make_engine(minimum_rest=timedelta(days=1))
    j = at_stage(engine, "recovery")
    assert engine.why_not(j, "follow_up", at=T0 + 2 * D) == [
        "1 days of rest after the injection, or a clinician's override"
    ]
    assert engine.why_not(j, "follow_up", at=T0 + 2 * D + 3 * H) == []


# -- outcomes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "stage", ["consultation", "harvest", "processing", "injection", "recovery"]
)
@pytest.mark.parametrize(
    "reason",
    [
        WithdrawalReason(initiated_by="patient", code="patient_choice"),
        "moved abroad",
    ],
)
def test_withdrawal_from_any_open_stage_needs_a_reason(stage: str, reason: object) -> None:
    """Withdrawal works from every open stage, with a reason kept as text, and ends the journey."""
    engine = make_engine()
    j = at_stage(engine, stage)
    at = j.last_move.occurred_at + H
    with pytest.raises(GuardError) as info:
        mv(engine, j, "withdrawn", at)
    assert info.value.problems == ("a reason",)
    j, entry = engine.move(j, "withdrawn", actor="dr.a", occurred_at=at, reason=reason)
    assert entry.reason == str(reason)
    assert j.stage == "withdrawn"
    assert engine.allowed(j, at=at) == ()


@pytest.mark.parametrize(
    ("stage", "target", "reason"),
    [
        ("consultation", "ineligible", "pregnancy"),
        ("consultation", "voided", VoidReason(code="wrong_patient")),
        ("follow_up", "completed", "discharged"),
        ("follow_up", "voided", "duplicate"),
    ],
)
def test_outcomes_need_a_reason(stage: str, target: str, reason: object) -> None:
    """Every outcome is refused without a reason and accepted with one."""
    engine = make_engine()
    j = at_stage(engine, stage)
    at = j.last_move.occurred_at + H
    assert engine.why_not(j, target, at=at) == ["a reason"]
    assert engine.why_not(j, target, at=at, reason="x") == []
    assert mv(engine, j, target, at, reason=reason).stage == target


@pytest.mark.parametrize("outcome", ["completed", "withdrawn", "voided"])
def test_nothing_leaves_an_outcome(outcome: str) -> None:
    """From an outcome every move is illegal, and the message says it is an outcome."""
    engine = make_engine()
    j = mv(engine, at_stage(engine, "follow_up"), outcome, T0 + 10 * D, reason="done")
    for target in engine.pipeline.stages:
        with pytest.raises(IllegalMoveError) as info:
            mv(engine, j, target, T0 + 11 * D, reason="again")
        assert info.value.problems == (
            f"an open journey ('{outcome}' is an outcome; nothing leaves it)",
        )
        assert info.value.allowed == ()


def test_illegal_move_names_the_allowed_moves() -> None:
    """A move the table lacks is an IllegalMoveError listing what may happen next."""
    engine = make_engine()
    j = ready(engine, opened(engine))
    with pytest.raises(IllegalMoveError) as info:
        mv(engine, j, "recovery", T0 + H)
    assert info.value.problems == ("a transition from 'consultation' (the pipeline has none)",)
    assert info.value.allowed == ("harvest", "ineligible", "withdrawn", "voided")
    assert engine.why_not(j, "recovery", at=T0 + H) == [
        "a transition from 'consultation' (there is none)"
    ]


# -- time rules ------------------------------------------------------------------


def test_naive_move_time_is_refused() -> None:
    """A move dated with a naive datetime is refused, naming occurred_at."""
    engine = make_engine()
    with pytest.raises(ValidationError) as info:
        mv(engine, ready(engine, opened(engine)), "harvest", datetime(2026, 1, 6))
    assert info.value.field == "occurred_at"


def test_naive_query_time_is_refused() -> None:
    """allowed() and why_not() refuse a naive 'at'."""
    engine = make_engine()
    j = opened(engine)
    with pytest.raises(ValidationError):
        engine.allowed(j, at=datetime(2026, 1, 6))
    with pytest.raises(ValidationError):
        engine.why_not(j, "harvest", at=datetime(2026, 1, 6))


def test_queries_default_to_the_clock() -> None:
    """Without 'at', allowed() and why_not() judge at the clock's now."""
    clock = ManualClock(T0 + 3 * H)
    engine = Engine(clock=clock)
    j = at_stage(Engine(clock=ManualClock(T0 + 365 * D)), "recovery")
    clock.set(T0 + 2 * D)
    assert "follow_up" not in engine.allowed(j)
    assert engine.why_not(j, "follow_up")
    clock.set(T0 + 30 * D)
    assert "follow_up" in engine.allowed(j)
    assert engine.why_not(j, "follow_up") == []


def test_move_in_the_future_is_refused_beyond_the_skew() -> None:
    """A move dated after now plus the clock skew is a TimeOrderError; within it is accepted."""
    clock = ManualClock(T0 + D)
    engine = Engine(clock=clock)
    j = ready(engine, opened(engine))
    with pytest.raises(TimeOrderError) as info:
        mv(engine, j, "harvest", T0 + D + timedelta(minutes=5, seconds=1))
    assert "not in the future" in info.value.problems[0]
    assert mv(engine, j, "harvest", T0 + D + timedelta(minutes=5)).stage == "harvest"


def test_move_before_the_previous_needs_a_late_reason() -> None:
    """A move dated before the previous one is refused unless it carries a late-entry reason."""
    engine = make_engine()
    j = mv(engine, ready(engine, opened(engine)), "harvest", T0 + D)
    j = rec(engine, j, harvest(T0 + D))
    with pytest.raises(TimeOrderError) as info:
        mv(engine, j, "processing", T0 + D - timedelta(seconds=1))
    assert "or a late-entry reason" in info.value.problems[0]
    assert info.value.allowed == ("processing", "withdrawn", "voided")
    j2, entry = engine.move(
        j,
        "processing",
        actor="lab",
        occurred_at=T0 + H,
        late_reason="entered from paper notes",
    )
    assert entry.late_reason == "entered from paper notes"
    assert j2.stage == "processing"


def test_move_at_the_same_time_as_the_previous_is_accepted() -> None:
    """Two moves may share a time."""
    engine = make_engine()
    j = mv(engine, ready(engine, opened(engine)), "harvest", T0)
    assert j.history[-1].occurred_at == j.history[-2].occurred_at


def test_move_time_in_another_zone_is_stored_in_utc() -> None:
    """A move dated in another zone is the same instant, stored in UTC."""
    engine = make_engine()
    local = datetime(2026, 1, 6, 14, tzinfo=timezone(timedelta(hours=5)))
    j = mv(engine, ready(engine, opened(engine)), "harvest", local)
    assert j.last_move.occurred_at == datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert j.last_move.occurred_at.tzinfo is UTC


def test_record_in_the_future_is_refused() -> None:
    """A record dated beyond the clock skew is refused, naming occurred_at."""
    engine = Engine(clock=ManualClock(T0))
    j = opened(engine)
    with pytest.raises(ValidationError) as info:
        engine.record(j, nrs(5, T0 + 6 * timedelta(minutes=1)), actor="dr.a")
    assert info.value.field == "occurred_at"
    assert engine.record(j, nrs(5, T0 + timedelta(minutes=5)), actor="dr.a")[0].version == 2


def test_move_refuses_bad_actor_and_reasons() -> None:
    """Actor, reason and late reason are checked as text."""
    engine = make_engine()
    j = at_stage(engine, "follow_up")
    for kwargs, field in [
        ({"actor": ""}, "actor"),
        ({"actor": "dr.a", "reason": "\x00"}, "reason"),
        ({"actor": "dr.a", "reason": "x", "late_reason": ""}, "late_reason"),
    ]:
        with pytest.raises(ValidationError) as info:
            engine.move(j, "completed", occurred_at=T0 + 10 * D, **kwargs)
        assert info.value.field == field


# -- loops and cycles ------------------------------------------------------------


def test_follow_up_back_to_harvest_starts_a_new_cycle() -> None:
    """From follow-up another harvest starts cycle 2, with the cycle's own records."""
    engine = make_engine()
    j = at_stage(engine, "follow_up")
    j = renew(engine, j, T0 + 40 * D)
    j, entry = engine.move(j, "harvest", actor="dr.a", occurred_at=T0 + 50 * D)
    assert (j.stage, j.cycle, entry.cycle) == ("harvest", 2, 2)
    j = rec(engine, j, harvest(T0 + 50 * D))
    j = mv(engine, j, "processing", T0 + 50 * D + H)
    j = rec(engine, j, product(T0 + 50 * D + 2 * H, pid="p-2"))
    j = mv(engine, j, "injection", T0 + 50 * D + 3 * H)
    j = rec(engine, j, shot(T0 + 50 * D + 3 * H, "p-2"))
    j = mv(engine, j, "recovery", T0 + 50 * D + 4 * H)
    assert engine.why_not(j, "follow_up", at=T0 + 52 * D)
    j = mv(engine, j, "follow_up", T0 + 58 * D)
    assert (j.stage, j.cycle) == ("follow_up", 2)
    assert engine.replay(j) == j


def test_stored_product_goes_straight_to_injection() -> None:
    """With a stored dose, a consent and a baseline for cycle 2, follow-up may go to injection."""
    engine = make_engine()
    j = at_stage(engine, "follow_up", doses=2)
    since = "(made in 'follow_up', since 2026-01-14T09:00:00+00:00)"
    assert engine.why_not(j, "injection", at=T0 + 40 * D) == [
        f"a signed consent covering a repeat injection for cycle 2 {since}",
        f"a baseline pain score for cycle 2 {since}",
    ]
    j = rec(
        engine,
        j,
        nrs(5, T0 + 40 * D),
        Consent(signed_at=T0 + 40 * D, form_version="r1", scope="repeat_injection"),
    )
    j = mv(engine, j, "injection", T0 + 41 * D)
    assert (j.stage, j.cycle) == ("injection", 2)
    j = rec(engine, j, shot(T0 + 41 * D))
    j = mv(engine, j, "recovery", T0 + 41 * D + H)
    j = mv(engine, j, "follow_up", T0 + 49 * D)
    j = renew(engine, j, T0 + 50 * D)
    assert engine.why_not(j, "injection", at=T0 + 51 * D) == [
        "a released product with a stored dose left"
    ]


def test_a_dose_cannot_be_injected_twice() -> None:
    """A single-dose product injected in an earlier cycle has no dose left for recovery."""
    engine = make_engine()
    j = at_stage(engine, "follow_up", doses=1)
    assert "a released product with a stored dose left" in engine.why_not(
        j, "injection", at=T0 + 40 * D
    )
    j = renew(engine, j, T0 + 40 * D)
    j = mv(engine, j, "harvest", T0 + 41 * D)
    j = rec(engine, j, harvest(T0 + 41 * D))
    j = mv(engine, j, "processing", T0 + 41 * D + H)
    j = rec(engine, j, product(T0 + 41 * D + 2 * H, pid="p-2"))
    j = mv(engine, j, "injection", T0 + 41 * D + 3 * H)
    j = rec(engine, j, shot(T0 + 41 * D + 3 * H, "p-1"))
    assert engine.why_not(j, "recovery", at=T0 + 42 * D) == ["a dose left of product p-1"]


# -- records ---------------------------------------------------------------------


def test_record_entry_carries_stage_cycle_and_version() -> None:
    """A record entry knows its stage, the move that entered it, its cycle and version."""
    engine = make_engine()
    j = at_stage(engine, "harvest")
    j2, entry = engine.record(j, harvest(T0 + D), actor="nurse")
    assert (entry.stage, entry.stage_seq, entry.cycle) == ("harvest", 2, 1)
    assert entry.version == j.version + 1 == j2.version
    assert entry.recorded_at == T0 + 365 * D


@pytest.mark.parametrize("outcome", ["completed", "withdrawn"])
def test_closed_journey_takes_adverse_events_and_scores_only(outcome: str) -> None:
    """A completed or withdrawn journey takes adverse events and scores, nothing else."""
    engine = make_engine()
    j = mv(engine, at_stage(engine, "follow_up"), outcome, T0 + 10 * D, reason="done")
    ae = AdverseEvent(
        onset_at=T0 + 11 * D,
        site="knee",
        grade=1,
        serious=False,
        relatedness="unlikely",
        outcome="recovered",
        action_taken="none",
    )
    j = rec(engine, j, ae, nrs(2, T0 + 12 * D))
    with pytest.raises(ValidationError) as info:
        rec(engine, j, FollowUpVisit(visited_at=T0 + 13 * D))
    assert info.value.field == "record"
    assert f"journey j-1 is closed ('{outcome}')" in str(info.value)


def test_voided_journey_takes_nothing() -> None:
    """A voided journey refuses even scores and adverse events."""
    engine = make_engine()
    j = mv(engine, opened(engine), "voided", T0 + H, reason=VoidReason(code="duplicate"))
    with pytest.raises(ValidationError, match="closed \\('voided'\\)"):
        rec(engine, j, nrs(2, T0 + 2 * H))


# -- amendments ------------------------------------------------------------------


def test_amendment_replaces_the_original_in_force_but_keeps_it() -> None:
    """An amendment takes the original's place; the original stays in the record."""
    engine = make_engine()
    j = rec(engine, opened(engine), nrs(7, T0))
    original = j.records[0]
    j, entry = engine.record(j, nrs(6, T0), actor="dr.a", amends=original.version, reason="typo")
    assert entry.amends == original.version
    assert entry.reason == "typo"
    assert [s.value for s in j.scores()] == [6.0]
    assert original in j.records


def test_amendment_can_remove_what_a_guard_needs() -> None:
    """Amending the eligibility to one with a contraindication blocks the harvest again."""
    engine = make_engine()
    j = ready(engine, opened(engine))
    first = j.records[0].version
    bad = EligibilityAssessment(assessed_at=T0, contraindications={"pregnancy"})
    j, _ = engine.record(j, bad, actor="dr.a", amends=first, reason="missed at first")
    assert engine.why_not(j, "harvest", at=T0 + D) == [
        "an eligibility assessment with no contraindication"
    ]


@pytest.mark.parametrize(
    ("amends", "reason", "record", "field"),
    [
        (2, None, nrs(6, T0), "reason"),
        (99, "typo", nrs(6, T0), "amends"),
        (1, "typo", nrs(6, T0), "amends"),
        (2, "typo", Consent(signed_at=T0, form_version="v2"), "amends"),
        (2, " ", nrs(6, T0), "reason"),
    ],
)
def test_bad_amendments_are_refused(
    amends: int, reason: str | None, record: Any, field: str
) -> None:
    """An amendment needs a reason and must point at a record entry of its own kind."""
    engine = make_engine()
    j = rec(engine, opened(engine), nrs(7, T0))
    with pytest.raises(ValidationError) as info:
        engine.record(j, record, actor="dr.a", amends=amends, reason=reason)
    assert info.value.field == field


def test_an_amended_entry_cannot_be_amended_again() -> None:
    """Only the latest amendment of a record may be amended: one record stays in force."""
    engine = make_engine()
    j = rec(engine, opened(engine), nrs(7, T0))
    j, fix = engine.record(j, nrs(6, T0), actor="dr.a", amends=2, reason="typo")
    with pytest.raises(ValidationError) as info:
        engine.record(j, nrs(5, T0), actor="dr.a", amends=2, reason="typo again")
    assert info.value.field == "amends"
    assert f"version {fix.version}" in str(info.value)
    j, _ = engine.record(j, nrs(5, T0), actor="dr.a", amends=fix.version, reason="typo again")
    assert [s.value for s in j.scores()] == [5.0]


# -- replay ----------------------------------------------------------------------


def test_replay_rebuilds_the_journey() -> None:
    """Replaying a journey's history gives back the same journey."""
    engine = make_engine()
    j = at_stage(engine, "follow_up")
    j = rec(engine, j, nrs(3, T0 + 40 * D))
    j, _ = engine.record(j, nrs(2, T0 + 40 * D), actor="dr.a", amends=j.version, reason="typo")
    j = mv(engine, j, "completed", T0 + 41 * D, reason="discharged")
    assert engine.replay(j) == j


def test_replay_refuses_a_history_the_table_forbids() -> None:
    """A tampered history with a move the table lacks fails replay with IllegalMoveError."""
    engine = make_engine()
    j = at_stage(engine, "harvest")
    bad = attrs.evolve(j.history[-1], target="recovery")
    with pytest.raises(IllegalMoveError):
        engine.replay(attrs.evolve(j, history=(*j.history[:-1], bad)))


def test_replay_refuses_a_history_a_guard_forbids() -> None:
    """A tampered history without the records a move needed fails replay with GuardError."""
    engine = make_engine()
    j = at_stage(engine, "harvest")
    with pytest.raises(GuardError) as info:
        engine.replay(attrs.evolve(j, records=()))
    assert "a signed consent" in info.value.problems


def test_replay_keeps_overrides() -> None:
    """A move that needed an override replays because the override is in its entry."""
    engine = make_engine()
    j = mv(engine, at_stage(engine, "recovery"), "follow_up", T0 + 2 * D, override_reason="ok")
    assert engine.replay(j) == j


def test_errors_are_move_errors() -> None:
    """All refusals of a move share MoveError, itself a StemJourneyError."""
    from stemjourney import StemJourneyError

    for cls in (GuardError, IllegalMoveError, TimeOrderError):
        assert issubclass(cls, MoveError)
    assert issubclass(MoveError, StemJourneyError)


def test_open_checks_the_journey_id_before_the_time() -> None:
    """A bad journey id is refused as such, never echoed in a time error."""
    engine = Engine(clock=ManualClock(T0))
    with pytest.raises(ValidationError) as info:
        engine.open(
            "Jane Doe",
            patient_id="p-1",
            condition="oa",
            site="knee",
            side="left",
            cell_source="adipose",
            actor="dr.a",
            occurred_at=T0 + D,
        )
    assert info.value.field == "journey_id"
    assert "Jane" not in str(info.value)


def test_rest_guard_without_an_injection() -> None:
    """In a pipeline where rest can follow anything, no injection means no rest to judge."""
    from stemjourney import Pipeline, Transition
    from stemjourney.guards import NONE, REST_OVER

    pipeline = Pipeline(
        [Transition("consultation", "follow_up", REST_OVER), Transition("follow_up", "end", NONE)],
        "consultation",
        {"end"},
    )
    engine = Engine(pipeline, clock=ManualClock(T0 + D))
    assert engine.why_not(opened(engine), "follow_up", at=T0 + H) == ["an injection record"]


def test_an_amendment_takes_the_stage_and_cycle_of_the_entry_it_corrects() -> None:
    """An amendment made later stands in the stage visit and cycle of the original entry."""
    engine = make_engine()
    journey = rec(
        engine,
        opened(engine),
        nrs(7, T0),
        EligibilityAssessment(assessed_at=T0),
        Consent(signed_at=T0, form_version="v1"),
    )
    original = journey.records[0]
    journey = mv(engine, journey, "harvest", T0 + D)
    corrected = nrs(6, T0)
    journey, entry = engine.record(
        journey, corrected, actor="dr.a", amends=original.version, reason="typo"
    )
    assert (entry.stage, entry.stage_seq, entry.cycle) == (
        original.stage,
        original.stage_seq,
        original.cycle,
    )
    assert journey.stage == "harvest"


def test_a_score_cannot_be_amended_by_another_instrument() -> None:
    """Amending an NRS score with a VAS score is refused, naming the instrument allowed."""
    engine = make_engine()
    journey = rec(engine, opened(engine), nrs(7, T0))
    original = journey.records[0]
    with pytest.raises(ValidationError, match="a nrs score"):
        engine.record(
            journey,
            vas(40, T0),
            actor="dr.a",
            amends=original.version,
            reason="wrong scale",
        )
