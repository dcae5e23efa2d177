"""A ready journey for examples and tests: treated once, with scores around the injection."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import (
    Consent,
    EligibilityAssessment,
    Harvest,
    Injection,
    Processing,
    Record,
)
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CellSource, Guidance, Manipulation, Side
from stemjourney.journey._engine import Engine
from stemjourney.journey._journey import Journey
from stemjourney.testing._clock import ManualClock

__all__ = ["EXAMPLE_INJECTION", "treated_journey"]

EXAMPLE_INJECTION = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
"""When :func:`treated_journey` injects, unless told otherwise."""

_ACTOR = "test.actor"


def treated_journey(
    scores: Iterable[tuple[float, float] | Score] = ((-3, 7),),
    *,
    instrument: str = "nrs",
    injected_at: datetime = EXAMPLE_INJECTION,
    journey_id: str = "j-1",
    patient_id: str = "p-1",
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Journey:
    """A knee journey treated once at ``injected_at`` and now in follow-up, through the engine.

    ``scores`` are ``(days after the injection, value)`` pairs on ``instrument``
    (negative days are before it; fractions are parts of a day) or :class:`Score`
    values. The consultation, harvest (two days before), processing and injection
    come with their records, each within its stage (the eligibility assessment and
    the consent a week before the harvest, or at the opening when that is later, so
    they are recent enough); follow-up starts after the protocol's rest. A pain score
    more than two days before the injection, within the protocol's baseline look-back
    of the harvest, is needed to unlock the harvest.

    >>> j = treated_journey(scores=[(-3, 7), (42, 3)])
    >>> j.stage, [s.value for s in j.scores()]
    ('follow_up', [7.0, 3.0])
    >>> treated_journey(scores=[(-60, 8), (42, 4)]).stage
    'follow_up'
    """
    given = [
        s
        if isinstance(s, Score)
        else Score(
            instrument=instrument, value=s[1], measured_at=injected_at + timedelta(days=s[0])
        )
        for s in scores
    ]
    opened = min([injected_at - timedelta(days=30), *(s.measured_at for s in given)])
    harvest = injected_at - timedelta(days=2)
    rest = injected_at + protocol.minimum_rest
    latest = max([rest, *(s.measured_at for s in given)])
    engine = Engine(protocol=protocol, clock=ManualClock(latest + timedelta(days=1)))
    journey = engine.open(
        journey_id,
        patient_id=patient_id,
        condition="osteoarthritis of knee",
        site="knee",
        side=Side.LEFT,
        cell_source=CellSource.BONE_MARROW,
        actor=_ACTOR,
        occurred_at=opened,
    )
    product = "bm-1"
    consulted = max(opened, harvest - timedelta(days=7))
    steps: list[tuple[datetime, int, Record | Score | str]] = [
        (consulted, 0, EligibilityAssessment(assessed_at=consulted)),
        (consulted, 0, Consent(signed_at=consulted, form_version="v1")),
        (harvest, 1, "harvest"),
        (
            harvest,
            2,
            Harvest(
                harvested_at=harvest,
                source=CellSource.BONE_MARROW,
                body_site="iliac crest",
                side=Side.LEFT,
                volume_ml=60,
            ),
        ),
        (harvest + timedelta(hours=1), 1, "processing"),
        (
            harvest + timedelta(hours=3),
            2,
            Processing(
                product_id=product,
                started_at=harvest + timedelta(hours=1),
                finished_at=harvest + timedelta(hours=3),
                method="density gradient",
                manipulation=Manipulation.MINIMAL,
                final_volume_ml=6,
                tnc_per_ml=2e7,
                viability_pct=92,
                released=True,
            ),
        ),
        (injected_at - timedelta(minutes=30), 1, "injection"),
        (
            injected_at,
            2,
            Injection(
                injected_at=injected_at,
                site="knee",
                side=Side.LEFT,
                guidance=Guidance.ULTRASOUND,
                volume_ml=6,
                product_id=product,
            ),
        ),
        (injected_at + timedelta(hours=1), 1, "recovery"),
        (rest, 1, "follow_up"),
        *((s.measured_at, 3, s) for s in given),
    ]
    steps.sort(key=lambda step: (step[0], step[1]))
    for _, _, step in steps:
        if isinstance(step, str):
            journey, _ = engine.move(journey, step, actor=_ACTOR, occurred_at=_when(steps, step))
        else:
            journey, _ = engine.record(journey, step, actor=_ACTOR)
    return journey


def _when(steps: list[tuple[datetime, int, Record | Score | str]], stage: str) -> datetime:
    return next(at for at, _, step in steps if step == stage)
