"""What satisfies each built-in guard: the records (and the wait, or override) a move needs.

:data:`SATISFIERS` maps each guard of :mod:`stemjourney.guards` to a function that,
given the context of a planned move, returns the ways to satisfy the guard from the
journey as it stands: each a :class:`Preparation` of records to add (dated at the
move's time), the earliest time the move may then be made, and an override to give
with it. The test machine and the sequences of :mod:`stemjourney.testing` read this
mapping, never guard names; a pipeline with guards of its own passes a mapping that
adds them.

>>> from datetime import datetime, UTC
>>> from stemjourney import DEFAULT_PIPELINE, DEFAULT_PROTOCOL, Engine
>>> from stemjourney.guards import GuardContext
>>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
>>> j = Engine().open("j-1", patient_id="p-1", condition="oa", site="knee", side="left",
...                   cell_source="bone_marrow", actor="dr.a", occurred_at=at)
>>> move = DEFAULT_PIPELINE.find("consultation", "harvest")
>>> [r.kind for r in SATISFIERS[move.guard](GuardContext(j, move, DEFAULT_PROTOCOL, at))[0].records]
['eligibility', 'consent', 'score']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

import attrs

from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import (
    Consent,
    EligibilityAssessment,
    Harvest,
    Injection,
    Processing,
    Record,
)
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import (
    CellSource,
    ConsentScope,
    Guidance,
    Manipulation,
    Side,
)
from stemjourney.journey._guards import (
    HARVEST_READY,
    HARVEST_RECORDED,
    INJECTION_RECORDED,
    NONE,
    PRODUCT_FAILED,
    PRODUCT_RELEASED,
    REST_OVER,
    STORED_PRODUCT,
    GuardContext,
)
from stemjourney.journey._pipeline import Guard

__all__ = ["SATISFIERS", "Preparation", "Satisfier"]


def _records(value: Iterable[Record | Score]) -> tuple[Record | Score, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Preparation:
    """One way to satisfy a guard: records to add, then the move, perhaps later or overridden.

    ``records`` are added in order before the move; ``not_before`` is the earliest
    time the move may then be dated (``None``: the planned time); ``override_reason``
    is given with the move instead of waiting.
    """

    records: tuple[Record | Score, ...] = attrs.field(default=(), converter=_records)
    not_before: datetime | None = None
    override_reason: str | None = None


Satisfier = Callable[[GuardContext], Sequence[Preparation]]
"""The ways to satisfy one guard for the move in a context, at its ``occurred_at``.

Empty when no record added now can satisfy it (no stored dose left, say).
"""


def _pain(protocol: Protocol, at: datetime) -> Score:
    instrument = next((i for i in protocol.instruments if i in PAIN_INSTRUMENTS), "nrs")
    low, high, _ = PAIN_INSTRUMENTS[instrument]
    return Score(instrument=instrument, value=round((low + high) * 0.6), measured_at=at)


def _harvest_ready(ctx: GuardContext) -> Sequence[Preparation]:
    at = ctx.occurred_at
    consent = Consent(signed_at=at, form_version="v1", scope=ConsentScope.TREATMENT)
    records = (EligibilityAssessment(assessed_at=at), consent, _pain(ctx.protocol, at))
    return [Preparation(records=records)]


def _harvest_recorded(ctx: GuardContext) -> Sequence[Preparation]:
    source = ctx.journey.cell_source
    harvest = Harvest(
        harvested_at=ctx.occurred_at,
        source=source,
        body_site="posterior iliac crest" if source is CellSource.BONE_MARROW else "abdomen",
        side=Side.BILATERAL,
        volume_ml=60,
    )
    return [Preparation(records=(harvest,))]


def _product(ctx: GuardContext, *, passes: bool, doses: int = 1) -> Processing:
    criteria = ctx.protocol.release
    at = ctx.occurred_at
    volume = 6.0
    tnc = 2e7
    if criteria.min_tnc_total is not None:
        tnc = min(1e12, max(tnc, math.ceil(criteria.min_tnc_total / volume) * 1.01))
    cd34 = (
        1e5 if criteria.min_cd34_per_ml is None else min(1e12, max(1e5, criteria.min_cd34_per_ml))
    )
    return Processing(
        product_id=f"p-v{ctx.journey.version + 1}",
        started_at=at,
        finished_at=at,
        method="density gradient centrifugation",
        manipulation=Manipulation.MINIMAL,
        final_volume_ml=volume,
        tnc_per_ml=tnc,
        viability_pct=min(100.0, max(criteria.min_viability_pct, 92.0)),
        released=passes,
        cd34_per_ml=cd34,
        doses=doses,
    )


def _product_released(ctx: GuardContext) -> Sequence[Preparation]:
    return [
        Preparation(records=(_product(ctx, passes=True),)),
        Preparation(records=(_product(ctx, passes=True, doses=2),)),
    ]


def _product_failed(ctx: GuardContext) -> Sequence[Preparation]:
    return [Preparation(records=(_product(ctx, passes=False),))]


def _released_with_a_dose(ctx: GuardContext) -> list[str]:
    failures = ctx.protocol.release.failures
    return [p.product_id for p in ctx.journey.facts.stock() if not failures(p)]


def _guidance(protocol: Protocol) -> Guidance:
    allowed = protocol.injection_guidance
    for preferred in (Guidance.ULTRASOUND, Guidance.FLUOROSCOPY):
        if preferred in allowed:
            return preferred
    return sorted(allowed)[0]


def _injection_recorded(ctx: GuardContext) -> Sequence[Preparation]:
    j = ctx.journey
    return [
        Preparation(
            records=(
                Injection(
                    injected_at=ctx.occurred_at,
                    site=j.site,
                    side=j.side,
                    guidance=_guidance(ctx.protocol),
                    volume_ml=4,
                    product_id=pid,
                ),
            )
        )
        for pid in _released_with_a_dose(ctx)
    ]


def _rest_over(ctx: GuardContext) -> Sequence[Preparation]:
    treated = ctx.journey.facts.treated
    entry = None if treated is None else treated.latest.get(Injection.kind)
    if treated is None or entry is None or treated.left_at is None:
        return []
    injected = entry.record.occurred_at
    if (
        not min(treated.entered_at, treated.left_at)
        <= injected
        <= max(treated.entered_at, treated.left_at)
    ):
        return []  # an injection amended out of its stage: no record added now helps
    rest_until = injected + ctx.protocol.minimum_rest
    wait = Preparation(not_before=max(rest_until, ctx.occurred_at))
    if rest_until <= ctx.occurred_at:
        return [wait]
    return [wait, Preparation(override_reason="clinician's override: recovery reviewed early")]


def _stored_product(ctx: GuardContext) -> Sequence[Preparation]:
    if not _released_with_a_dose(ctx):
        return []
    at = ctx.occurred_at
    consent = Consent(signed_at=at, form_version="r1", scope=ConsentScope.REPEAT_INJECTION)
    return [Preparation(records=(consent, _pain(ctx.protocol, at)))]


def _nothing(_ctx: GuardContext) -> Sequence[Preparation]:
    return [Preparation()]


SATISFIERS: Mapping[Guard, Satisfier] = MappingProxyType(
    {
        NONE: _nothing,
        HARVEST_READY: _harvest_ready,
        HARVEST_RECORDED: _harvest_recorded,
        PRODUCT_RELEASED: _product_released,
        PRODUCT_FAILED: _product_failed,
        INJECTION_RECORDED: _injection_recorded,
        REST_OVER: _rest_over,
        STORED_PRODUCT: _stored_product,
    }
)
"""Each built-in guard mapped to what satisfies it (see :class:`Preparation`)."""
