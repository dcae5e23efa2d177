"""The clinical checks each transition of the default pipeline requires.

A guard returns every requirement that is missing, as a short phrase; the engine
gathers them into one refusal, so a clinician sees all that is missing at once.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import (
    Consent,
    EligibilityAssessment,
    Harvest,
    Injection,
    Processing,
)
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey
from stemjourney.journey._pipeline import Guard, Transition

__all__ = [
    "GuardContext",
    "HARVEST_READY",
    "HARVEST_RECORDED",
    "INJECTION_RECORDED",
    "NONE",
    "PRODUCT_FAILED",
    "PRODUCT_RELEASED",
    "REST_OVER",
    "STORED_PRODUCT",
]


@attrs.frozen
class GuardContext:
    """What a guard may look at: the journey, the move, the protocol."""

    journey: Journey
    transition: Transition
    protocol: Protocol
    occurred_at: datetime
    override_reason: str | None = None


def _nothing(_ctx: GuardContext) -> list[str]:
    return []


def _harvest_ready(ctx: GuardContext) -> list[str]:
    # One pass over the records in force (this runs on every move to harvest).
    j = ctx.journey
    cycle = j.cycle
    assessment: EligibilityAssessment | None = None
    consented = baseline = False
    for e in j.current_records():
        record = e.record
        if isinstance(record, Score):
            baseline = baseline or (record.instrument in PAIN_INSTRUMENTS and e.cycle == cycle)
        elif isinstance(record, EligibilityAssessment):
            assessment = record
        elif isinstance(record, Consent):
            consented = True
    missing = []
    if assessment is None:
        missing.append("an eligibility assessment")
    elif not assessment.eligible:
        missing.append("an eligibility assessment with no contraindication")
    if not consented:
        missing.append("a signed consent")
    if not baseline:
        missing.append(f"a baseline pain score in cycle {cycle}")
    return missing


def _harvest_recorded(ctx: GuardContext) -> list[str]:
    harvests = ctx.journey.in_stage_visit(Harvest)
    if not harvests:
        return ["a harvest record"]
    if harvests[-1].source is not ctx.journey.cell_source:
        return [f"a harvest from the journey's cell source ({ctx.journey.cell_source.value})"]
    return []


def _processing(ctx: GuardContext) -> Processing | None:
    found = ctx.journey.in_stage_visit(Processing)
    return found[-1] if found else None


def _product_released(ctx: GuardContext) -> list[str]:
    product = _processing(ctx)
    if product is None:
        return ["a processing record with the lab's cell counts"]
    return ctx.protocol.release.failures(product)


def _product_failed(ctx: GuardContext) -> list[str]:
    product = _processing(ctx)
    if product is None:
        return ["a processing record with the lab's cell counts"]
    if not ctx.protocol.release.failures(product):
        return ["a product that failed release (this one passed)"]
    return []


def _products(j: Journey, protocol: Protocol) -> tuple[dict[str, Processing], dict[str, int]]:
    """The released products of the journey by id, and how many doses of each were injected."""
    released: dict[str, Processing] = {}
    used: dict[str, int] = {}
    for e in j.current_records():
        record = e.record
        if isinstance(record, Injection):
            used[record.product_id] = used.get(record.product_id, 0) + 1
        elif isinstance(record, Processing) and not protocol.release.failures(record):
            released[record.product_id] = record
    return released, used


def _injection_recorded(ctx: GuardContext) -> list[str]:
    j = ctx.journey
    injections = j.in_stage_visit(Injection)
    if not injections:
        return ["an injection record"]
    shot = injections[-1]
    missing = []
    if shot.site.casefold() != j.site.casefold() or shot.side is not j.side:
        # The site is free text (health information): the message names no site.
        missing.append("an injection at the journey's treated site and side")
    released, used = _products(j, ctx.protocol)
    product = released.get(shot.product_id)
    if product is None:
        missing.append("an injected product that is a released product of this journey")
    elif used.get(shot.product_id, 0) > product.doses:
        missing.append(f"a dose left of product {shot.product_id}")
    return missing


def _stored_product(ctx: GuardContext) -> list[str]:
    j = ctx.journey
    missing = []
    released, used = _products(j, ctx.protocol)
    if not any(used.get(pid, 0) < product.doses for pid, product in released.items()):
        missing.append("a released product with a stored dose left")
    if not any(
        isinstance(e.record, Score)
        and e.record.instrument in PAIN_INSTRUMENTS
        and e.cycle == j.cycle
        for e in j.current_records()
        if e.stage == "follow_up"
    ):
        missing.append(f"a pain score at follow-up in cycle {j.cycle}")
    return missing


def _rest_over(ctx: GuardContext) -> list[str]:
    shot = ctx.journey.latest(Injection, cycle=ctx.journey.cycle)
    if shot is None:
        return ["an injection record"]
    rest = ctx.protocol.minimum_rest
    if ctx.occurred_at - shot.injected_at < rest and ctx.override_reason is None:
        days = rest.total_seconds() / 86400
        return [f"{days:g} days of rest after the injection, or a clinician's override"]
    return []


NONE = Guard("none", "no requirement", _nothing)
HARVEST_READY = Guard(
    "eligible_consented_baseline",
    "an eligibility assessment with no contraindication, a signed consent, a baseline pain score",
    _harvest_ready,
)
HARVEST_RECORDED = Guard(
    "harvest_recorded", "a harvest record from the cell source", _harvest_recorded
)
PRODUCT_RELEASED = Guard(
    "product_released", "a processing record meeting the release criteria", _product_released
)
PRODUCT_FAILED = Guard(
    "product_failed", "a processing record that failed the release criteria", _product_failed
)
INJECTION_RECORDED = Guard(
    "injection_recorded",
    "an injection at the treated site with a released product",
    _injection_recorded,
)
REST_OVER = Guard("rest_over", "the minimum rest after the injection, or an override", _rest_over)
STORED_PRODUCT = Guard(
    "stored_product",
    "a released product with a dose left, and a pain score at follow-up",
    _stored_product,
)
