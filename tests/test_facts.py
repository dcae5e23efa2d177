"""What the guards read: kept per stage visit and cycle, so a guard's cost does not grow
with the journey's records; and the engine's fast paths give the constructors' values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import given

from stemjourney import (
    DEFAULT_PIPELINE,
    Consent,
    EligibilityAssessment,
    Engine,
    FollowUpVisit,
    Harvest,
    Injection,
    Journey,
    Processing,
    TransitionEntry,
    nrs,
)
from stemjourney.guards import GuardContext
from stemjourney.journey._facts import JourneyFacts, StageVisit
from stemjourney.testing import DEFAULT_START, ManualClock, Step, move_sequences, play

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


class CountingDict(dict[str, Any]):
    """A mapping that counts the records read out of it."""

    reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        found = super().get(key, default)
        CountingDict.reads += found is not None
        return found

    def __getitem__(self, key: str) -> Any:
        CountingDict.reads += 1
        return super().__getitem__(key)

    def values(self) -> Any:
        found = list(super().values())
        CountingDict.reads += len(found)
        return found


class CountingTuple(tuple[Any, ...]):
    """A tuple that counts the items iterated or indexed out of it."""

    reads = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            CountingTuple.reads += 1
            yield item

    def __getitem__(self, index: Any) -> Any:
        CountingTuple.reads += 1
        return super().__getitem__(index)


def _counting(visit: StageVisit | None) -> StageVisit | None:
    if visit is None:
        return None
    return StageVisit(
        visit.seq,
        visit.stage,
        visit.cycle,
        visit.entered_at,
        CountingDict(visit.latest),
        visit.left_at,
    )


def probe(journey: Journey) -> Journey:
    """``journey`` with its records and its facts' records counted when read."""
    facts = journey.facts
    counted = JourneyFacts(
        _counting(facts.visit),  # type: ignore[arg-type]
        _counting(facts.treated),
        CountingDict(facts.products),
        facts.used,
    )
    copy = attrs.evolve(journey, records=CountingTuple(journey.records))
    object.__setattr__(copy, "_facts", counted)
    return copy


def stages_of_two_cycles(extra: int) -> list[tuple[Journey, datetime]]:
    """A journey before each move of two cycles, ``extra`` scores and visits in each stage."""
    engine = Engine(clock=ManualClock(T0 + 3000 * D))
    j = engine.open(
        "j-1",
        patient_id="p-1",
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="a",
        occurred_at=T0,
    )
    t = T0
    seen: list[tuple[Journey, datetime]] = []

    def add(*records: Any) -> None:
        nonlocal j
        for r in records:
            j = engine.record(j, r, actor="a")[0]

    def padding(at: datetime) -> None:
        for n in range(extra):
            add(nrs(n % 11, at), FollowUpVisit(visited_at=at))

    def move(target: str, at: datetime) -> None:
        nonlocal j
        seen.append((j, at))
        j = engine.move(j, target, actor="a", occurred_at=at)[0]

    for cycle in (1, 2):
        padding(t)
        add(EligibilityAssessment(assessed_at=t), Consent(signed_at=t, form_version="v"))
        add(nrs(6, t))
        move("harvest", t + H)
        padding(t + H)
        add(
            Harvest(
                harvested_at=t + H, source="bone_marrow", body_site="c", side="left", volume_ml=9
            )
        )
        move("processing", t + 2 * H)
        padding(t + 2 * H)
        add(
            Processing(
                product_id=f"p-{cycle}",
                started_at=t + 2 * H,
                finished_at=t + 2 * H,
                method="c",
                manipulation="minimal",
                final_volume_ml=6,
                tnc_per_ml=2e7,
                viability_pct=92,
                released=True,
                doses=2,
            )
        )
        move("injection", t + 3 * H)
        padding(t + 3 * H)
        add(
            Injection(
                injected_at=t + 3 * H,
                site="knee",
                side="left",
                guidance="ultrasound",
                volume_ml=6,
                product_id=f"p-{cycle}",
            )
        )
        move("recovery", t + 4 * H)
        padding(t + 4 * H)
        move("follow_up", t + 3 * H + 7 * D)
        t += 30 * D
    padding(t)
    add(Consent(signed_at=t, form_version="r", scope="repeat_injection"), nrs(4, t))
    seen.append((j, t + H))
    return seen


def records_looked_at(extra: int) -> list[int]:
    """How many records each guard out of each stage reads, for journeys padded by ``extra``."""
    counts = []
    for journey, at in stages_of_two_cycles(extra):
        for transition in DEFAULT_PIPELINE.leaving(journey.stage):
            seen = probe(journey)
            CountingDict.reads = CountingTuple.reads = 0
            transition.guard.check(GuardContext(seen, transition, Engine().protocol, at))
            assert CountingTuple.reads == 0, "a guard scanned the journey's records"
            counts.append(CountingDict.reads)
    return counts


def test_the_records_a_guard_looks_at_do_not_grow_with_the_record() -> None:
    """Every guard of two cycles reads as many records with 1,000 extra entries per stage as
    with 10, and never scans the journey's records."""
    few = records_looked_at(5)
    many = records_looked_at(500)
    assert few == many
    assert max(few) <= 4  # the stored-dose guard: a consent, a baseline, two products
    assert sum(few) > 0


def _same(a: JourneyFacts, b: JourneyFacts) -> bool:
    def visit(v: StageVisit | None) -> object:
        if v is None:
            return None
        return (v.seq, v.stage, v.cycle, v.entered_at, dict(v.latest), v.left_at)

    return (visit(a.visit), visit(a.treated), dict(a.products), dict(a.used)) == (
        visit(b.visit),
        visit(b.treated),
        dict(b.products),
        dict(b.used),
    )


@given(move_sequences(valid=False))
def test_facts_kept_as_the_journey_changes_equal_facts_built_from_scratch(
    steps: list[Step],
) -> None:
    """After any sequence, the facts kept move by move are the facts built from the record."""
    clock = ManualClock(DEFAULT_START)
    engine = Engine(clock=clock)
    journey = play(engine, steps, clock=clock)
    rebuilt = attrs.evolve(journey)
    assert _same(journey.facts, JourneyFacts.of(rebuilt))


def test_a_long_chain_of_unread_changes_is_resolved_in_order() -> None:
    """Facts not read for many changes are brought up to date when read, in order."""
    journey = stages_of_two_cycles(3)[-1][0]
    fresh = attrs.evolve(journey)
    engine = Engine(clock=ManualClock(T0 + 3000 * D))
    chained = fresh
    assert _same(chained.facts, JourneyFacts.of(journey))
    for n in range(300):
        chained = engine.record(chained, nrs(n % 11, T0 + 61 * D), actor="a")[0]
    assert _same(chained.facts, JourneyFacts.of(attrs.evolve(chained)))
    assert chained.facts.visit.get("pain") is chained.records[-1]


def test_the_engines_move_builds_the_values_its_constructors_would() -> None:
    """The move's entry and journey equal ones built with TransitionEntry(...) and evolve."""
    journey, at = stages_of_two_cycles(1)[1]
    engine = Engine(clock=ManualClock(T0 + 3000 * D))
    after, entry = engine.move(journey, "processing", actor="a", occurred_at=at)
    expected = TransitionEntry(
        journey.id,
        journey.last_move.seq + 1,
        journey.stage,
        "processing",
        journey.cycle,
        at,
        T0 + 3000 * D,
        "a",
        journey.version + 1,
    )
    assert entry == expected
    assert repr(entry) == repr(expected)
    assert hash(entry) == hash(expected)
    assert after == attrs.evolve(journey, history=(*journey.history, expected))
    assert type(after) is Journey
    assert attrs.asdict(entry) == attrs.asdict(expected)
