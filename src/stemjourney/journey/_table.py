"""The default transition table: the clinic's pipeline, read by everything else."""

from __future__ import annotations

from stemjourney.journey._guards import (
    HARVEST_READY,
    HARVEST_RECORDED,
    INJECTION_RECORDED,
    NONE,
    PRODUCT_FAILED,
    PRODUCT_RELEASED,
    REST_OVER,
    STORED_PRODUCT,
)
from stemjourney.journey._pipeline import Pipeline, Stage, Transition

__all__ = ["DEFAULT_PIPELINE"]

S = Stage


def _stops(source: Stage) -> list[Transition]:
    return [
        Transition(source, S.WITHDRAWN, NONE, needs_reason=True),
        Transition(source, S.VOIDED, NONE, needs_reason=True),
    ]


_TABLE: list[Transition] = [
    Transition(S.CONSULTATION, S.HARVEST, HARVEST_READY),
    Transition(S.CONSULTATION, S.INELIGIBLE, NONE, needs_reason=True),
    *_stops(S.CONSULTATION),
    Transition(S.HARVEST, S.PROCESSING, HARVEST_RECORDED),
    *_stops(S.HARVEST),
    Transition(S.PROCESSING, S.INJECTION, PRODUCT_RELEASED),
    Transition(S.PROCESSING, S.HARVEST, PRODUCT_FAILED),
    *_stops(S.PROCESSING),
    Transition(S.INJECTION, S.RECOVERY, INJECTION_RECORDED),
    *_stops(S.INJECTION),
    Transition(S.RECOVERY, S.FOLLOW_UP, REST_OVER),
    *_stops(S.RECOVERY),
    Transition(S.FOLLOW_UP, S.COMPLETED, NONE, needs_reason=True),
    Transition(S.FOLLOW_UP, S.HARVEST, HARVEST_READY, starts_cycle=True),
    Transition(S.FOLLOW_UP, S.INJECTION, STORED_PRODUCT, starts_cycle=True),
    *_stops(S.FOLLOW_UP),
]

DEFAULT_PIPELINE = Pipeline(
    transitions=_TABLE,
    initial=S.CONSULTATION,
    outcomes={S.COMPLETED, S.INELIGIBLE, S.WITHDRAWN, S.VOIDED},
    void=S.VOIDED,
)
"""The pipeline of the product: consultation to follow-up, with its loops and outcomes."""
