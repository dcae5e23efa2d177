"""The clinical checks each transition of the default pipeline requires.

A guard returns every requirement that is missing, as a short phrase; the engine
gathers them into one refusal, so a clinician sees all that is missing at once.

Guards read the journey's :attr:`~stemjourney.Journey.facts` (the stage visit the
journey is in, the cycle's injection, the product stock), never a scan of its
records, so their cost does not grow with the record. A record counts only when its
clinical time falls inside the stage visit it was made in: from the move into the
stage to the move being checked. The records that unlock a treatment (eligibility,
consent, baseline) must also be recent enough by the protocol's
:class:`~stemjourney.Recency`, and be made in the stage the move leaves, so a new
cycle needs its own. Phrases name records by their entry ``version`` and stages by
their bounds, never by what the records hold.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import Consent, EligibilityAssessment, Harvest, Injection
from stemjourney.journey._facts import PAIN, JourneyFacts, StageVisit
from stemjourney.journey._journey import Journey, RecordEntry
from stemjourney.journey._pipeline import Guard, Transition

__all__ = [
    "AFTER_THE_FACT",
    "GuardContext",
    "Requirement",
    "HARVEST_READY",
    "HARVEST_RECORDED",
    "INJECTION_RECORDED",
    "NONE",
    "PRODUCT_FAILED",
    "PRODUCT_RELEASED",
    "REST_OVER",
    "STORED_PRODUCT",
]


class Requirement(str):
    """A missing requirement as a guard phrases it, with the ``rule`` it comes from.

    A plain ``str`` everywhere (messages, ``problems``, ``why_not``); ``rule`` is
    ``"recency"``, ``"window"``, ``"cycle"`` or ``"guidance"`` for the clinical-time and
    guidance rules (see :data:`AFTER_THE_FACT`), ``None`` for the others. A guard of
    your own may return plain strings.
    """

    rule: str | None

    def __new__(cls, text: str, rule: str | None = None) -> Requirement:
        made = super().__new__(cls, text)
        made.rule = rule
        return made


AFTER_THE_FACT = frozenset({"recency", "window", "cycle", "guidance"})
"""The rules :meth:`Engine.replay <stemjourney.Engine.replay>` re-checks only when strict.

How old a record may be, the stage it must fall in, each cycle's own records, the
guidance allowed: rules a newer version or a clinic's protocol may tighten after a
history was written, so a history written before them still replays.
"""


@attrs.frozen
class GuardContext:
    """What a guard may look at: the journey, the move, the protocol and the move's time."""

    journey: Journey
    transition: Transition
    protocol: Protocol
    occurred_at: datetime
    override_reason: str | None = None

    @property
    def facts(self) -> JourneyFacts:
        """The journey's facts (see :attr:`stemjourney.Journey.facts`)."""
        return self.journey.facts


_NEW = object.__new__
_CTX_SETTERS = tuple(getattr(GuardContext, a.name).__set__ for a in attrs.fields(GuardContext))


def new_guard_context(
    journey: Journey,
    transition: Transition,
    protocol: Protocol,
    occurred_at: datetime,
    override_reason: str | None = None,
) -> GuardContext:
    """A :class:`GuardContext`, the same value its constructor gives, built directly
    (the engine's hot path: it has no validators or converters)."""
    ctx: GuardContext = _NEW(GuardContext)
    s_journey, s_transition, s_protocol, s_at, s_override = _CTX_SETTERS
    s_journey(ctx, journey)
    s_transition(ctx, transition)
    s_protocol(ctx, protocol)
    s_at(ctx, occurred_at)
    s_override(ctx, override_reason)
    return ctx


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _bounds(visit: StageVisit, until: datetime) -> tuple[datetime, datetime]:
    """The stage visit from its start to ``until``, the move that leaves it.

    A late entry may date that move before the start: the bounds are then the two
    times in the order they fall.
    """
    start = visit.entered_at
    return (start, until) if start <= until else (until, start)


def _outside(noun: str, visit: StageVisit, until: datetime, entry: RecordEntry) -> str:
    low, high = _bounds(visit, until)
    return Requirement(
        f"{noun} dated within '{visit.stage}' (from {_iso(low)} to {_iso(high)}); "
        f"the one at version {entry.version} is dated outside it",
        "window",
    )


def _for_cycle(noun: str, ctx: GuardContext, visit: StageVisit) -> str:
    """The phrase for a missing record: for a new cycle, say it must be the cycle's own."""
    if not ctx.transition.starts_cycle:
        return noun
    return Requirement(
        f"{noun} for cycle {visit.cycle + 1} (made in '{visit.stage}', since "
        f"{_iso(visit.entered_at)})",
        "cycle",
    )


def _usable(
    ctx: GuardContext, visit: StageVisit, slot: str, noun: str, what: str, missing: list[str]
) -> RecordEntry | None:
    """The visit's latest ``slot`` entry when it is inside the visit and recent enough.

    Otherwise append the phrase that says what would be accepted, and return ``None``.
    """
    entry = visit.latest.get(slot)
    at = ctx.occurred_at
    if entry is None:
        missing.append(_for_cycle(noun, ctx, visit))
        return None
    when = entry.record.occurred_at
    low, high = _bounds(visit, at)
    if not low <= when <= high:
        missing.append(_outside(noun, visit, at, entry))
        return None
    limit = ctx.protocol.max_age(what)
    if at - when > limit:
        missing.append(
            Requirement(
                f"{noun} from the last {limit.total_seconds() / 86400:g} days (on or after "
                f"{_iso(at - limit)}); the one at version {entry.version} is older",
                "recency",
            )
        )
        return None
    return entry


def _nothing(_ctx: GuardContext) -> list[str]:
    return []


def _harvest_ready(ctx: GuardContext) -> list[str]:
    visit = ctx.journey.facts.visit
    missing: list[str] = []
    assessed = _usable(
        ctx, visit, EligibilityAssessment.kind, "an eligibility assessment", "eligibility", missing
    )
    if assessed is not None and assessed.record.contraindications:  # type: ignore[union-attr]
        missing.append("an eligibility assessment with no contraindication")
    consent = _usable(ctx, visit, Consent.kind, "a signed consent", "consent", missing)
    if consent is not None and not consent.record.scope.covers("harvest"):  # type: ignore[union-attr]
        missing.append(
            f"a signed consent covering a treatment cycle (the one at version "
            f"{consent.version} covers a repeat injection only)"
        )
    noun = "a baseline pain score"
    if not ctx.transition.starts_cycle:
        noun = f"a baseline pain score in cycle {visit.cycle}"
    _usable(ctx, visit, PAIN, noun, "baseline", missing)
    return missing


def _in_visit(ctx: GuardContext, slot: str, noun: str, missing: list[str]) -> RecordEntry | None:
    """The current visit's latest ``slot`` entry; a phrase when it is missing or outside."""
    visit = ctx.journey.facts.visit
    entry = visit.latest.get(slot)
    if entry is None:
        missing.append(noun)
        return None
    low, high = _bounds(visit, ctx.occurred_at)
    if not low <= entry.record.occurred_at <= high:
        missing.append(_outside(noun, visit, ctx.occurred_at, entry))
    return entry


def _harvest_recorded(ctx: GuardContext) -> list[str]:
    missing: list[str] = []
    entry = _in_visit(ctx, Harvest.kind, "a harvest record", missing)
    source = ctx.journey.cell_source
    if entry is not None and entry.record.source is not source:  # type: ignore[union-attr]
        missing.append(f"a harvest from the journey's cell source ({source.value})")
    return missing


_LAB = "a processing record with the lab's cell counts"


def _product_released(ctx: GuardContext) -> list[str]:
    missing: list[str] = []
    entry = _in_visit(ctx, "processing", _LAB, missing)
    if entry is not None:
        missing += ctx.protocol.release.failures(entry.record)  # type: ignore[arg-type]
    return missing


def _product_failed(ctx: GuardContext) -> list[str]:
    missing: list[str] = []
    entry = _in_visit(ctx, "processing", _LAB, missing)
    if entry is not None and not ctx.protocol.release.failures(entry.record):  # type: ignore[arg-type]
        missing.append("a product that failed release (this one passed)")
    return missing


def _guidance_phrase(protocol: Protocol) -> str:
    return " or ".join(sorted(g.value for g in protocol.injection_guidance))


def _injection_recorded(ctx: GuardContext) -> list[str]:
    missing: list[str] = []
    entry = _in_visit(ctx, Injection.kind, "an injection record", missing)
    if entry is None:
        return missing
    shot: Injection = entry.record  # type: ignore[assignment]
    j = ctx.journey
    if shot.site.casefold() != j.site.casefold() or shot.side is not j.side:
        # The site is free text (health information): the message names no site.
        missing.append("an injection at the journey's treated site and side")
    allowed = ctx.protocol.injection_guidance
    if shot.guidance not in allowed:
        missing.append(
            Requirement(
                f"an injection under {_guidance_phrase(ctx.protocol)} guidance (the protocol "
                f"does not allow {shot.guidance.value})",
                "guidance",
            )
        )
    facts = j.facts
    product = facts.product(shot.product_id)
    if product is None or ctx.protocol.release.failures(product):
        missing.append("an injected product that is a released product of this journey")
    elif facts.doses_left(shot.product_id) < 0:
        missing.append(f"a dose left of product {shot.product_id}")
    return missing


def _stored_product(ctx: GuardContext) -> list[str]:
    facts = ctx.journey.facts
    missing: list[str] = []
    failures = ctx.protocol.release.failures
    if not any(not failures(product) for product in facts.stock()):
        missing.append("a released product with a stored dose left")
    visit = facts.visit
    _usable(
        ctx, visit, Consent.kind, "a signed consent covering a repeat injection", "consent", missing
    )
    _usable(ctx, visit, PAIN, "a baseline pain score", "baseline", missing)
    return missing


def _rest_over(ctx: GuardContext) -> list[str]:
    treated = ctx.journey.facts.treated
    entry = None if treated is None else treated.latest.get(Injection.kind)
    if treated is None or entry is None or treated.left_at is None:
        return ["an injection record"]
    injected = entry.record.occurred_at
    low, high = _bounds(treated, treated.left_at)
    if not low <= injected <= high:
        return [_outside("an injection record", treated, treated.left_at, entry)]
    rest = ctx.protocol.minimum_rest
    if ctx.occurred_at - injected < rest and ctx.override_reason is None:
        days = rest.total_seconds() / 86400
        return [f"{days:g} days of rest after the injection, or a clinician's override"]
    return []


NONE = Guard("none", "no requirement", _nothing)
HARVEST_READY = Guard(
    "eligible_consented_baseline",
    "an eligibility assessment with no contraindication, a signed consent covering a "
    "treatment cycle and a baseline pain score, each made in the stage the move leaves (a "
    "new cycle needs its own) and recent enough by the protocol's recency (30 days, 60 days "
    "and the 90-day baseline look-back by default)",
    _harvest_ready,
)
HARVEST_RECORDED = Guard(
    "harvest_recorded",
    "a harvest record from the journey's cell source, dated within the harvest stage",
    _harvest_recorded,
)
PRODUCT_RELEASED = Guard(
    "product_released",
    "a processing record dated within the processing stage, its product meeting the "
    "protocol's release criteria",
    _product_released,
)
PRODUCT_FAILED = Guard(
    "product_failed",
    "a processing record dated within the processing stage, its product failing the "
    "release criteria",
    _product_failed,
)
INJECTION_RECORDED = Guard(
    "injection_recorded",
    "an injection record dated within the injection stage, at the treated site and side, "
    "under guidance the protocol allows (ultrasound or fluoroscopy by default), of a "
    "released product with a dose left",
    _injection_recorded,
)
REST_OVER = Guard(
    "rest_over",
    "the protocol's minimum rest (7 days by default) since the injection's clinical time, "
    "or a clinician's override",
    _rest_over,
)
STORED_PRODUCT = Guard(
    "stored_product",
    "a released product with a stored dose left, and a signed consent covering a repeat "
    "injection and a baseline pain score for the new cycle, both made in follow-up and "
    "recent enough by the protocol's recency",
    _stored_product,
)
