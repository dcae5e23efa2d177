"""Refusals that list everything, what is allowed at that moment, checks on a light state,
ids in a clinic's own spelling, and replay of histories written under older rules."""

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
    Injection,
    Journey,
    JourneyState,
    Pipeline,
    Processing,
    Transition,
    nrs,
)
from stemjourney.exceptions import (
    GuardError,
    IllegalMoveError,
    TimeOrderError,
    ValidationError,
)
from stemjourney.guards import NONE
from stemjourney.testing import ManualClock

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def opened(engine: Engine, at: datetime = T0) -> Journey:
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


def ready(engine: Engine, j: Journey, at: datetime = T0) -> Journey:
    for r in (
        EligibilityAssessment(assessed_at=at),
        Consent(signed_at=at, form_version="v1"),
        nrs(6, at),
    ):
        j, _ = engine.record(j, r, actor="dr.a")
    return j


# -- refusals list everything ------------------------------------------------------------


def test_a_move_too_early_and_missing_records_reports_both() -> None:
    """A move dated before the previous one that also lacks its records names both."""
    engine = Engine(clock=ManualClock(T0 + 10 * D))
    j = engine.move(ready(engine, opened(engine)), "harvest", actor="dr.a", occurred_at=T0 + D)[0]
    with pytest.raises(TimeOrderError) as info:
        engine.move(j, "processing", actor="dr.a", occurred_at=T0 + H)
    assert info.value.problems == (
        f"a time at or after the previous move ({(T0 + D).isoformat()}), or a late-entry reason",
        "a harvest record",
    )
    assert engine.why_not(j, "processing", at=T0 + H) == list(info.value.problems)


def test_a_move_in_the_future_lists_its_missing_records_and_what_is_allowed_now() -> None:
    """Refused for a time in the future: every problem, and the moves allowed at present."""
    clock = ManualClock(T0 + H)
    engine = Engine(clock=clock)
    j = opened(engine)
    with pytest.raises(TimeOrderError) as info:
        engine.move(j, "harvest", actor="dr.a", occurred_at=T0 + 2 * D)
    assert info.value.problems[0].endswith("(not in the future)")
    assert info.value.problems[1:] == (
        "an eligibility assessment",
        "a signed consent",
        "a baseline pain score in cycle 1",
    )
    assert info.value.allowed == ("ineligible", "withdrawn", "voided")
    assert "allowed next: ineligible, withdrawn, voided" in str(info.value)


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (T0 + 2 * D, ("harvest", "ineligible", "withdrawn", "voided")),
        (T0 + 40 * D, ("ineligible", "withdrawn", "voided")),
        (T0 + 100 * D + timedelta(minutes=6), ()),
        (T0 - H, ()),
    ],
)
def test_allowed_is_what_is_allowed_at_that_moment(at: datetime, allowed: tuple[str, ...]) -> None:
    """At a time the records unlock, before they are too old, in the future, before the past."""
    engine = Engine(clock=ManualClock(T0 + 100 * D))
    j = ready(engine, opened(engine))
    assert engine.allowed(j, at=at) == allowed


def test_a_guard_refusal_lists_what_is_allowed_at_the_moves_time() -> None:
    """A move refused by its guard says what is allowed at the time it asked for."""
    engine = Engine(clock=ManualClock(T0 + 100 * D))
    j = ready(engine, opened(engine))
    j = engine.move(j, "harvest", actor="dr.a", occurred_at=T0 + D)[0]
    with pytest.raises(GuardError) as info:
        engine.move(j, "processing", actor="dr.a", occurred_at=T0 + 2 * D)
    assert info.value.allowed == engine.allowed(j, at=T0 + 2 * D) == ("withdrawn", "voided")


def test_an_illegal_move_lists_what_is_allowed_at_its_time() -> None:
    """A move the table lacks, at a sound time, lists the moves allowed at that time."""
    engine = Engine(clock=ManualClock(T0 + 100 * D))
    j = ready(engine, opened(engine))
    with pytest.raises(IllegalMoveError) as info:
        engine.move(j, "recovery", actor="dr.a", occurred_at=T0 + H)
    assert info.value.allowed == ("harvest", "ineligible", "withdrawn", "voided")
    with pytest.raises(IllegalMoveError) as late:
        engine.move(j, "recovery", actor="dr.a", occurred_at=T0 + 101 * D)
    assert late.value.allowed == engine.allowed(j)


def test_allowed_at_the_present_when_the_last_move_is_a_little_ahead() -> None:
    """A move dated within the skew after now still leaves moves allowed at the present."""
    engine = Engine(clock=ManualClock(T0))
    ahead = opened(engine, T0 + timedelta(minutes=4))
    assert engine.allowed(ahead) == ("ineligible", "withdrawn", "voided")
    assert engine.why_not(ahead, "withdrawn", reason="r") == []
    assert engine.allowed(ahead, at=T0) == ()


@pytest.mark.parametrize(
    "thing", [{"kind": "score", "value": 5}, "nrs 5", None, 7, [nrs(5, T0)]], ids=repr
)
def test_a_non_record_is_a_validation_error_naming_the_argument(thing: object) -> None:
    """A dict, text or anything else where a record is expected names ``record``."""
    engine = Engine(clock=ManualClock(T0 + D))
    with pytest.raises(ValidationError) as info:
        engine.record(opened(engine), thing, actor="dr.a")  # type: ignore[arg-type]
    assert info.value.field == "record"
    assert "expected a clinical record or a score" in str(info.value)
    assert "EligibilityAssessment" in info.value.allowed


@pytest.mark.parametrize("call", ["move", "record", "allowed", "why_not", "replay"])
def test_a_non_journey_is_a_validation_error_naming_the_argument(call: str) -> None:
    """A dict where a journey is expected names ``journey``, for every engine verb."""
    engine = Engine(clock=ManualClock(T0 + D))
    args: dict[str, tuple[Any, dict[str, Any]]] = {
        "move": (("harvest",), {"actor": "a", "occurred_at": T0}),
        "record": ((nrs(5, T0),), {"actor": "a"}),
        "allowed": ((), {}),
        "why_not": (("harvest",), {}),
        "replay": ((), {}),
    }
    positional, keywords = args[call]
    with pytest.raises(ValidationError) as info:
        getattr(engine, call)({"stage": "consultation"}, *positional, **keywords)
    assert info.value.field == "journey"


# -- one place for the rules: checks on a light state -----------------------------------


def test_check_record_on_a_light_state() -> None:
    """The record checks run on (id, stage, cycle, seq) alone: kind, time, what the stage takes."""
    engine = Engine(clock=ManualClock(T0))
    open_state = JourneyState("j-1", "follow_up", 2, 7)
    engine.check_record(open_state, Consent(signed_at=T0, form_version="v1"))
    closed = JourneyState("j-1", "completed", 2, 8)
    engine.check_record(closed, nrs(3, T0))
    with pytest.raises(ValidationError, match=r"closed \('completed'\); a consent"):
        engine.check_record(closed, Consent(signed_at=T0, form_version="v1"))
    with pytest.raises(ValidationError, match="voided"):
        engine.check_record(JourneyState("j-1", "voided", 1, 2), nrs(3, T0))
    with pytest.raises(ValidationError) as future:
        engine.check_record(open_state, nrs(3, T0 + timedelta(minutes=6)))
    assert future.value.field == "occurred_at"
    with pytest.raises(ValidationError) as kind:
        engine.check_record(open_state, {"score": 3})  # type: ignore[arg-type]
    assert kind.value.field == "record"
    assert engine.check_time("measured_at", T0, now=T0 - timedelta(minutes=5)) == T0


def test_void_is_a_role_in_the_pipeline_not_a_name() -> None:
    """A pipeline whose void outcome has another name refuses records there, not elsewhere."""
    pipeline = Pipeline(
        [
            Transition("intake", "cancelled", NONE, needs_reason=True),
            Transition("intake", "voided", NONE, needs_reason=True),
        ],
        "intake",
        {"cancelled", "voided"},
        void="cancelled",
    )
    engine = Engine(pipeline, clock=ManualClock(T0))
    with pytest.raises(ValidationError, match="cancelled"):
        engine.check_takes(JourneyState("j-1", "cancelled", 1, 2), "score")
    engine.check_takes(JourneyState("j-1", "voided", 1, 2), "score")


# -- ids in a clinic's own spelling --------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("BMAC-2026-0042", "bmac-2026-0042"),
        ("  bmac-2026-0042 ", "bmac-2026-0042"),
        ("\uff22\uff2d\uff21\uff23-\uff12\uff10\uff12\uff16", "bmac-2026"),  # full width
        ("Lab.Lot:17_b", "lab.lot:17_b"),
    ],
)
def test_product_ids_are_normalised_as_external_ids_are(given: str, kept: str) -> None:
    """Upper case, full-width forms and surrounding spaces are the lab's spelling of one id."""
    made = Processing(
        product_id=given,
        started_at=T0,
        finished_at=T0,
        method="c",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2e7,
        viability_pct=92,
        released=True,
    )
    assert made.product_id == kept


@pytest.mark.parametrize("given", ["BMAC 2026", "bmac/42", "", "-bmac", "x" * 65, 42])
def test_ids_that_are_not_ids_are_refused_naming_the_field(given: object) -> None:
    """Inner spaces, slashes, a leading dash, over 64 characters, a number: refused."""
    with pytest.raises(ValidationError) as info:
        Injection(
            injected_at=T0,
            site="knee",
            side="left",
            guidance="ultrasound",
            volume_ml=6,
            product_id=given,  # type: ignore[arg-type]
        )
    assert info.value.field == "product_id"
    assert "upper case" in info.value.allowed


def test_an_injection_finds_its_product_whatever_the_spelling() -> None:
    """A product processed as 'bmac-2026-0042' is injected from a label 'BMAC-2026-0042'."""
    engine = Engine(clock=ManualClock(T0 + 30 * D))
    j = ready(engine, opened(engine))
    j = engine.move(j, "harvest", actor="a", occurred_at=T0 + D)[0]
    from stemjourney import Harvest

    j = engine.record(
        j,
        Harvest(
            harvested_at=T0 + D, source="bone_marrow", body_site="crest", side="left", volume_ml=9
        ),
        actor="a",
    )[0]
    j = engine.move(j, "processing", actor="a", occurred_at=T0 + D + H)[0]
    lab = Processing(
        product_id="bmac-2026-0042",
        started_at=T0 + D + H,
        finished_at=T0 + D + H,
        method="c",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2e7,
        viability_pct=92,
        released=True,
    )
    j = engine.record(j, lab, actor="lab")[0]
    j = engine.move(j, "injection", actor="a", occurred_at=T0 + D + 2 * H)[0]
    label = Injection(
        injected_at=T0 + D + 2 * H,
        site="knee",
        side="left",
        guidance="ultrasound",
        volume_ml=6,
        product_id="BMAC-2026-0042",
    )
    j = engine.record(j, label, actor="a")[0]
    assert engine.why_not(j, "recovery", at=T0 + D + 3 * H) == []


# -- replay of histories written under older rules ---------------------------------------


def test_replay_is_lenient_about_rules_tightened_after_the_fact_and_strict_on_request() -> None:
    """A history written under a protocol allowing landmark guidance replays under the
    default one, unless strict; a history missing a record fails either way."""
    lenient = attrs.evolve(DEFAULT_PROTOCOL, injection_guidance={"landmark", "ultrasound"})
    then = Engine(protocol=lenient, clock=ManualClock(T0 + 30 * D))
    j = ready(then, opened(then))
    from stemjourney import Harvest

    j = then.move(j, "harvest", actor="a", occurred_at=T0 + D)[0]
    j = then.record(
        j,
        Harvest(
            harvested_at=T0 + D, source="bone_marrow", body_site="crest", side="left", volume_ml=9
        ),
        actor="a",
    )[0]
    j = then.move(j, "processing", actor="a", occurred_at=T0 + D + H)[0]
    lab = Processing(
        product_id="p-1",
        started_at=T0 + D + H,
        finished_at=T0 + D + H,
        method="c",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2e7,
        viability_pct=92,
        released=True,
    )
    j = then.record(j, lab, actor="lab")[0]
    j = then.move(j, "injection", actor="a", occurred_at=T0 + D + 2 * H)[0]
    landmark = Injection(
        injected_at=T0 + D + 2 * H,
        site="knee",
        side="left",
        guidance="landmark",
        volume_ml=6,
        product_id="p-1",
    )
    j = then.record(j, landmark, actor="a")[0]
    j = then.move(j, "recovery", actor="a", occurred_at=T0 + D + 3 * H)[0]
    now = Engine(clock=ManualClock(T0 + 30 * D))
    assert now.replay(j) == j
    with pytest.raises(GuardError, match="guidance"):
        now.replay(j, strict=True)
    with pytest.raises(GuardError, match="a signed consent"):
        now.replay(attrs.evolve(j, records=()))
