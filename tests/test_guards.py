"""The guards and clinical time: recency, each cycle's own records, stage windows, guidance.

Tables of allowed and refused moves at the time edges. The default recency values come
from published practice: an eligibility assessment at most 30 days old (the CMS
pre-procedure history and physical, 42 CFR 482.22(c)(5)(i)), a consent at most 60 days
old (VHA Handbook 1004.01, 38 CFR 17.32), a baseline within the 90-day baseline
look-back that the outcomes use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from stemjourney import (
    DEFAULT_PROTOCOL,
    Consent,
    EligibilityAssessment,
    Engine,
    Harvest,
    Injection,
    Journey,
    Processing,
    Recency,
    nrs,
)
from stemjourney.exceptions import GuardError, ValidationError
from stemjourney.testing import ManualClock

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
S = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
NOW = T0 + 800 * D


def engine_with(**protocol: Any) -> Engine:
    """An engine over the default pipeline; its clock reads well after every move here."""
    return Engine(protocol=attrs.evolve(DEFAULT_PROTOCOL, **protocol), clock=ManualClock(NOW))


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


def prepared(
    engine: Engine,
    j: Journey,
    assessed: datetime,
    signed: datetime,
    measured: datetime,
    *,
    scope: str = "treatment",
) -> Journey:
    """Record an eligibility assessment, a consent and a pain score at the given times."""
    return rec(
        engine,
        j,
        EligibilityAssessment(assessed_at=assessed),
        Consent(signed_at=signed, form_version="v1", scope=scope),
        nrs(6, measured),
    )


def harvest(at: datetime) -> Harvest:
    return Harvest(
        harvested_at=at, source="bone_marrow", body_site="iliac crest", side="left", volume_ml=60
    )


def product(at: datetime, pid: str = "bmac-1", doses: int = 1) -> Processing:
    return Processing(
        product_id=pid,
        started_at=at,
        finished_at=at,
        method="centrifuge",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2.5e7,
        viability_pct=92,
        released=True,
        doses=doses,
    )


def shot(at: datetime, pid: str = "bmac-1", guidance: str = "ultrasound") -> Injection:
    return Injection(
        injected_at=at, site="knee", side="left", guidance=guidance, volume_ml=6, product_id=pid
    )


def treated(engine: Engine, *, start: datetime = T0, doses: int = 1) -> Journey:
    """Cycle 1 from consultation to follow-up: harvest a day after opening, follow-up a
    week after the injection."""
    j = prepared(engine, opened(engine, start), start, start, start)
    day = start + D
    j = mv(engine, j, "harvest", day)
    j = rec(engine, j, harvest(day))
    j = mv(engine, j, "processing", day + H)
    j = rec(engine, j, product(day + H, doses=doses))
    j = mv(engine, j, "injection", day + 2 * H)
    j = rec(engine, j, shot(day + 2 * H))
    j = mv(engine, j, "recovery", day + 3 * H)
    return mv(engine, j, "follow_up", day + 2 * H + 7 * D)


# -- recency -----------------------------------------------------------------------

MOVE = T0 + 200 * D
RECENT = MOVE - D
NOUNS = {
    "eligibility": ("an eligibility assessment", 2),
    "consent": ("a signed consent", 3),
    "baseline": ("a baseline pain score in cycle 1", 4),
}


@pytest.mark.parametrize(
    ("which", "age", "accepted"),
    [
        ("eligibility", 30 * D, True),
        ("eligibility", 30 * D + S, False),
        ("consent", 60 * D, True),
        ("consent", 60 * D + S, False),
        ("baseline", 90 * D, True),
        ("baseline", 90 * D + S, False),
    ],
)
def test_recency_at_the_edges(which: str, age: timedelta, accepted: bool) -> None:
    """A record exactly as old as the protocol allows unlocks the harvest; a second older does not.

    Defaults: eligibility 30 days (CMS 42 CFR 482.22(c)(5)(i): the pre-procedure history
    and physical no more than 30 days before), consent 60 days (VHA Handbook 1004.01,
    38 CFR 17.32), baseline the 90-day look-back.
    """
    engine = engine_with()
    times = {"eligibility": RECENT, "consent": RECENT, "baseline": RECENT, which: MOVE - age}
    j = prepared(engine, opened(engine), times["eligibility"], times["consent"], times["baseline"])
    found = engine.why_not(j, "harvest", at=MOVE)
    if accepted:
        assert found == []
        assert mv(engine, j, "harvest", MOVE).stage == "harvest"
    else:
        noun, version = NOUNS[which]
        limit = timedelta(days=age.days)
        assert found == [
            f"{noun} from the last {age.days} days (on or after {(MOVE - limit).isoformat()}); "
            f"the one at version {version} is older"
        ]


def test_a_refusal_says_which_record_is_too_old_and_what_would_do() -> None:
    """The refusal names the record by its entry version and the earliest time accepted."""
    engine = engine_with()
    j = prepared(engine, opened(engine), MOVE - 31 * D, RECENT, RECENT)
    assert engine.why_not(j, "harvest", at=MOVE) == [
        "an eligibility assessment from the last 30 days (on or after "
        f"{(MOVE - 30 * D).isoformat()}); the one at version 2 is older"
    ]


def test_records_four_hundred_days_old_unlock_nothing() -> None:
    """An assessment, a consent and a baseline 400 days old are each refused, all at once."""
    engine = engine_with()
    old = MOVE - 400 * D
    j = prepared(engine, opened(engine, old), old, old, old)
    with pytest.raises(GuardError) as info:
        mv(engine, j, "harvest", MOVE)
    assert [p.split(" from the last ")[0] for p in info.value.problems] == [
        "an eligibility assessment",
        "a signed consent",
        "a baseline pain score in cycle 1",
    ]


def test_a_clinic_sets_its_own_recency() -> None:
    """A protocol's recency replaces the defaults; an unset baseline follows the look-back."""
    engine = engine_with(
        recency=Recency(eligibility=7 * D, consent=7 * D), baseline_lookback=14 * D
    )
    j = prepared(engine, opened(engine), MOVE - 8 * D, MOVE - 7 * D, MOVE - 15 * D)
    problems = engine.why_not(j, "harvest", at=MOVE)
    assert [p.split(" from the last ")[1].split(" ")[0] for p in problems] == ["7", "14"]
    assert problems[0].startswith("an eligibility assessment")
    assert problems[1].startswith("a baseline pain score")
    assert engine_with(recency=Recency(baseline=5 * D)).protocol.max_age("baseline") == 5 * D


@pytest.mark.parametrize(
    ("field", "value"),
    [("eligibility", -D), ("consent", 30), ("baseline", "90 days")],
)
def test_recency_refuses_what_is_not_a_duration(field: str, value: object) -> None:
    """Recency takes durations of 0 or more, naming the field it refuses."""
    with pytest.raises(ValidationError) as info:
        Recency(**{field: value})
    assert info.value.field == field


def test_the_protocol_refuses_a_recency_that_is_not_one() -> None:
    """Protocol.recency must be a Recency value."""
    with pytest.raises(ValidationError) as info:
        attrs.evolve(DEFAULT_PROTOCOL, recency={"consent": 5})
    assert info.value.field == "recency"


# -- each cycle its own requirements -------------------------------------------------


def test_a_new_cycle_needs_its_own_assessment_consent_and_baseline() -> None:
    """Going back to harvest, cycle 1's records unlock nothing: cycle 2 needs its own."""
    engine = engine_with()
    j = treated(engine)
    started = j.last_move.occurred_at
    since = f"(made in 'follow_up', since {started.isoformat()})"
    assert engine.why_not(j, "harvest", at=started + 20 * D) == [
        f"an eligibility assessment for cycle 2 {since}",
        f"a signed consent for cycle 2 {since}",
        f"a baseline pain score for cycle 2 {since}",
    ]
    j = prepared(engine, j, started + 19 * D, started + 19 * D, started + 19 * D)
    j = mv(engine, j, "harvest", started + 20 * D)
    assert (j.stage, j.cycle) == ("harvest", 2)


def test_a_contraindication_arising_between_cycles_blocks_the_new_harvest() -> None:
    """A fresh assessment that finds new anticoagulation blocks cycle 2's harvest."""
    engine = engine_with()
    j = treated(engine)
    at = j.last_move.occurred_at + 30 * D
    j = rec(
        engine,
        j,
        EligibilityAssessment(assessed_at=at, contraindications={"anticoagulation"}),
        Consent(signed_at=at, form_version="v2"),
        nrs(5, at),
    )
    assert engine.why_not(j, "harvest", at=at + H) == [
        "an eligibility assessment with no contraindication"
    ]


def test_records_dated_before_the_follow_up_began_do_not_count_for_the_new_cycle() -> None:
    """An old assessment entered during follow-up is outside the stage it was entered in."""
    engine = engine_with()
    j = treated(engine)
    started = j.last_move.occurred_at
    at = started + 10 * D
    j = prepared(engine, j, started - S, at, at)
    (problem,) = engine.why_not(j, "harvest", at=at + H)
    assert problem.startswith("an eligibility assessment dated within 'follow_up' (from ")
    assert problem.endswith("is dated outside it")


def test_a_repeat_injection_consent_does_not_unlock_a_harvest() -> None:
    """A consent covering only a repeat injection is not a consent for a new harvest."""
    engine = engine_with()
    j = treated(engine)
    at = j.last_move.occurred_at + 10 * D
    j = prepared(engine, j, at, at, at, scope="repeat_injection")
    assert engine.why_not(j, "harvest", at=at + H) == [
        "a signed consent covering a treatment cycle (the one at version 14 covers a "
        "repeat injection only)"
    ]


@pytest.mark.parametrize("scope", ["repeat_injection", "treatment", "treatment_and_registry"])
def test_a_stored_dose_needs_a_consent_covering_it_and_the_new_baseline(scope: str) -> None:
    """The stored-product loop needs the new cycle's baseline and a consent for a repeat."""
    engine = engine_with()
    j = treated(engine, doses=2)
    started = j.last_move.occurred_at
    at = started + 40 * D
    since = f"(made in 'follow_up', since {started.isoformat()})"
    assert engine.why_not(j, "injection", at=at) == [
        f"a signed consent covering a repeat injection for cycle 2 {since}",
        f"a baseline pain score for cycle 2 {since}",
    ]
    j = rec(engine, j, Consent(signed_at=at, form_version="r1", scope=scope), nrs(5, at))
    j = mv(engine, j, "injection", at + H)
    assert (j.stage, j.cycle) == ("injection", 2)


def test_a_stale_consent_for_a_stored_dose_is_refused() -> None:
    """A repeat-injection consent older than 60 days no longer covers the stored dose."""
    engine = engine_with()
    j = treated(engine, doses=2)
    at = j.last_move.occurred_at + 10 * D
    j = rec(engine, j, Consent(signed_at=at, form_version="r1", scope="repeat_injection"))
    j = rec(engine, j, nrs(5, at + 61 * D))
    (problem,) = engine.why_not(j, "injection", at=at + 61 * D)
    assert problem.startswith("a signed consent covering a repeat injection from the last 60")


# -- records within their stage -------------------------------------------------------

ENTERED = T0 + D  # the move to harvest


@pytest.mark.parametrize(
    ("harvested", "accepted"),
    [(ENTERED - S, False), (ENTERED, True), (ENTERED + H, True), (ENTERED + H + S, False)],
)
def test_a_harvest_record_falls_within_the_harvest_stage(
    harvested: datetime, accepted: bool
) -> None:
    """A harvest dated before the move to harvest, or after the move out, does not count."""
    engine = engine_with()
    j = mv(engine, prepared(engine, opened(engine), T0, T0, T0), "harvest", ENTERED)
    j = rec(engine, j, harvest(harvested))
    found = engine.why_not(j, "processing", at=ENTERED + H)
    if accepted:
        assert found == []
    else:
        assert found == [
            f"a harvest record dated within 'harvest' (from {ENTERED.isoformat()} to "
            f"{(ENTERED + H).isoformat()}); the one at version 6 is dated outside it"
        ]


def _at_injection(engine: Engine) -> Journey:
    j = mv(engine, prepared(engine, opened(engine), T0, T0, T0), "harvest", ENTERED)
    j = mv(engine, rec(engine, j, harvest(ENTERED)), "processing", ENTERED + H)
    return mv(engine, rec(engine, j, product(ENTERED + H)), "injection", ENTERED + 2 * H)


@pytest.mark.parametrize(
    ("injected", "accepted"),
    [
        (ENTERED + 2 * H - S, False),
        (ENTERED + 2 * H, True),
        (ENTERED + 3 * H, True),
        (ENTERED + 3 * H + S, False),
        (ENTERED + 2 * H - 20 * D, False),
    ],
)
def test_an_injection_record_falls_within_the_injection_stage(
    injected: datetime, accepted: bool
) -> None:
    """Not before the move to injection, nor after the move to recovery (20 days early: no)."""
    engine = engine_with()
    j = rec(engine, _at_injection(engine), shot(injected))
    found = engine.why_not(j, "recovery", at=ENTERED + 3 * H)
    if accepted:
        assert found == []
    else:
        (problem,) = found
        assert problem.startswith(
            f"an injection record dated within 'injection' (from {(ENTERED + 2 * H).isoformat()}"
        )


@pytest.mark.parametrize(("after", "accepted"), [(7 * D - S, False), (7 * D, True)])
def test_the_rest_is_counted_from_the_injections_clinical_time(
    after: timedelta, accepted: bool
) -> None:
    """Seven days from the injection itself, not from the move to recovery an hour later."""
    engine = engine_with()
    injected = ENTERED + 2 * H + 30 * timedelta(minutes=1)
    j = rec(engine, _at_injection(engine), shot(injected))
    j = mv(engine, j, "recovery", ENTERED + 3 * H)
    assert (engine.why_not(j, "follow_up", at=injected + after) == []) is accepted


def test_an_injection_amended_out_of_its_stage_no_longer_starts_the_rest() -> None:
    """An injection amended to 20 days before its stage cannot count for the rest."""
    engine = engine_with()
    j = rec(engine, _at_injection(engine), shot(ENTERED + 2 * H))
    j = mv(engine, j, "recovery", ENTERED + 3 * H)
    version = j.records[-1].version
    j, _ = engine.amend(j, version, shot(ENTERED - 20 * D), actor="dr.a", reason="wrong date")
    (problem,) = engine.why_not(j, "follow_up", at=ENTERED + 30 * D)
    assert problem.startswith("an injection record dated within 'injection' (from ")
    assert f"the one at version {j.version} is dated outside it" in problem


# -- guidance -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("guidance", "allowed", "accepted"),
    [
        ("ultrasound", None, True),
        ("fluoroscopy", None, True),
        ("landmark", None, False),
        ("landmark", {"ultrasound", "landmark"}, True),
        ("fluoroscopy", {"ultrasound"}, False),
    ],
)
def test_the_protocol_says_how_an_injection_may_be_guided(
    guidance: str, allowed: set[str] | None, accepted: bool
) -> None:
    """Image guidance by default; a clinic's protocol may allow landmark guidance."""
    changes = {} if allowed is None else {"injection_guidance": allowed}
    engine = engine_with(**changes)
    j = rec(engine, _at_injection(engine), shot(ENTERED + 2 * H, guidance=guidance))
    found = engine.why_not(j, "recovery", at=ENTERED + 3 * H)
    if accepted:
        assert found == []
    else:
        assert found == [
            f"an injection under {' or '.join(sorted(allowed or {'fluoroscopy', 'ultrasound'}))}"
            f" guidance (the protocol does not allow {guidance})"
        ]


@pytest.mark.parametrize("value", [set(), "ultrasound", {"robotic"}])
def test_the_protocol_refuses_bad_guidance(value: object) -> None:
    """injection_guidance is a non-empty set of guidance values."""
    with pytest.raises(ValidationError) as info:
        attrs.evolve(DEFAULT_PROTOCOL, injection_guidance=value)
    assert info.value.field == "injection_guidance"
