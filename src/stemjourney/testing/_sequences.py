"""Sequences of steps through a pipeline, valid or with refused moves mixed in.

The walk keeps its own small model of the clinical record (what was assessed,
consented, harvested, released, injected, and when), reads the transition table
for the moves it may take, and records what each guard of the default pipeline
asks for before it moves. It never asks the engine: the engine is what it tests.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import IneligibilityReason, Processing, Record, VoidReason
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import GuardError, IllegalMoveError, TimeOrderError
from stemjourney.journey._journey import ReasonRecord
from stemjourney.journey._pipeline import Pipeline, Transition
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.testing import _strategies as s
from stemjourney.testing._steps import MoveStep, OpenStep, RecordStep, Step

__all__ = ["move_sequences"]

_KNOWN_GUARDS = frozenset(
    {
        "none",
        "eligible_consented_baseline",
        "harvest_recorded",
        "product_released",
        "product_failed",
        "injection_recorded",
        "rest_over",
        "stored_product",
    }
)

R = TypeVar("R", bound=Record | Score)

_TIME_FIELDS = {
    "eligibility": "assessed_at",
    "consent": "signed_at",
    "harvest": "harvested_at",
    "injection": "injected_at",
    "follow_up_visit": "visited_at",
    "adverse_event": "onset_at",
    "score": "measured_at",
}

# Strategies are built once (building them is the costly part) and their records retimed.
_cached: Any = functools.cache


def _retimed(record: R, when: datetime) -> R:
    if isinstance(record, Processing):
        shift = when - record.finished_at
        return attrs.evolve(
            record, started_at=record.started_at + shift, finished_at=record.finished_at + shift
        )
    changes: dict[str, Any] = {_TIME_FIELDS[record.kind]: when}
    return attrs.evolve(record, **changes)


@functools.cache
def _extras(closed: bool) -> st.SearchStrategy[Record | Score]:
    options: list[st.SearchStrategy[Record | Score]] = [
        s.adverse_events(at=s.DEFAULT_START),
        s.pain_scores(at=s.DEFAULT_START),
    ]
    if not closed:
        options.append(s.follow_up_visits(at=s.DEFAULT_START))
    return st.one_of(options)


class _Walk:
    """The walk's model of one journey, and the steps drawn so far."""

    def __init__(
        self, draw: st.DrawFn, opening: OpenStep, pipeline: Pipeline, protocol: Protocol
    ) -> None:
        self.draw = draw
        self.opening = opening
        self.pipeline = pipeline
        self.protocol = protocol
        self.steps: list[Step] = [opening]
        self.stage = pipeline.initial
        self.cycle = 1
        self.now = opening.at
        self.last_move_at = opening.at
        self.eligible = False
        self.consented = False
        self.pain_cycles: set[int] = set()
        self.follow_up_pain_cycles: set[int] = set()
        self.visit: dict[str, bool] = {}
        self.doses: dict[str, list[int]] = {}
        self.injected_at: datetime | None = None

    # -- time and records -------------------------------------------------

    def tick(self, most: int = 4 * 3600) -> datetime:
        self.now += timedelta(seconds=self.draw(st.integers(0, most)))
        return self.now

    def record(self, record: Record | Score) -> None:
        self.steps.append(RecordStep(record=record))
        if isinstance(record, Score):
            self.pain_cycles.add(self.cycle)
            if self.stage == "follow_up":
                self.follow_up_pain_cycles.add(self.cycle)

    def drawn(self, strategy: st.SearchStrategy[R]) -> R:
        """Draw a record and date it at the next tick."""
        return _retimed(self.draw(strategy), self.tick())

    def pain_score(self) -> None:
        self.record(self.drawn(_cached(s.pain_scores)(at=s.DEFAULT_START)))

    def extras(self) -> None:
        if self.stage == "voided":
            return
        for _ in range(self.draw(st.integers(0, 2))):
            self.record(self.drawn(_extras(self.pipeline.is_outcome(self.stage))))

    # -- what each guard asks for -----------------------------------------

    def doses_left(self) -> list[str]:
        return [pid for pid, (doses, used) in self.doses.items() if used < doses]

    def satisfiable(self, t: Transition) -> bool:
        name = t.guard.name
        if name == "stored_product":
            return bool(self.doses_left())
        if name == "injection_recorded":
            return bool(self.doses_left())
        if name == "rest_over":
            return self.injected_at is not None
        return name in _KNOWN_GUARDS

    def unmet(self, t: Transition) -> bool:
        """True when the walk's model says ``t``'s guard fails now."""
        name = t.guard.name
        if name == "eligible_consented_baseline":
            return not (self.eligible and self.consented and self.cycle in self.pain_cycles)
        if name == "harvest_recorded":
            return "harvest" not in self.visit
        if name == "product_released":
            return not self.visit.get("processing", False)
        if name == "product_failed":
            return self.visit.get("processing", True)
        if name == "injection_recorded":
            return "injection" not in self.visit
        if name == "rest_over":
            return self.injected_at is None or (
                self.now - self.injected_at < self.protocol.minimum_rest
            )
        if name == "stored_product":
            return not self.doses_left() or self.cycle not in self.follow_up_pain_cycles
        return False

    def satisfy(self, t: Transition) -> MoveStep:
        """Record what ``t`` needs, then return the move."""
        draw, name = self.draw, t.guard.name
        override = None
        if name == "eligible_consented_baseline":
            if not self.eligible:
                self.record(
                    self.drawn(
                        _cached(s.eligibility_assessments)(eligible=True, at=s.DEFAULT_START)
                    )
                )
                self.eligible = True
            if not self.consented:
                self.record(self.drawn(_cached(s.consents)(at=s.DEFAULT_START)))
                self.consented = True
            if self.cycle not in self.pain_cycles:
                self.pain_score()
        elif name == "harvest_recorded":
            self.record(
                self.drawn(_cached(s.harvests)(source=self.opening.cell_source, at=s.DEFAULT_START))
            )
            self.visit["harvest"] = True
        elif name in ("product_released", "product_failed"):
            passes = name == "product_released"
            pid = f"p-{len(self.doses) + 1}"
            strategy = _cached(s.processings)(
                passes, criteria=self.protocol.release, product_id=pid, at=s.DEFAULT_START
            )
            product = self.drawn(strategy)
            self.record(product)
            self.visit["processing"] = passes
            if passes:
                self.doses[pid] = [product.doses, 0]
        elif name == "injection_recorded" and "injection" not in self.visit:
            pid = draw(st.sampled_from(self.doses_left()))
            shot = _cached(s.injections)(
                site=self.opening.site, side=self.opening.side, product_id=pid, at=s.DEFAULT_START
            )
            self.record(self.drawn(shot))
            self.doses[pid][1] += 1
            self.visit["injection"] = True
            self.injected_at = self.now
        elif name == "rest_over":
            assert self.injected_at is not None
            if draw(st.booleans()):
                override = "clinician override: early review"
            else:
                self.now = max(self.now, self.injected_at + self.protocol.minimum_rest)
        elif name == "stored_product" and self.cycle not in self.follow_up_pain_cycles:
            self.pain_score()
        return MoveStep(
            target=t.target,
            at=self.tick(),
            reason=self.reason_for(t),
            override_reason=override,
        )

    def reason_for(self, t: Transition) -> str | ReasonRecord | None:
        if not t.needs_reason:
            return None
        if t.target == "withdrawn":
            return self.draw(s.withdrawal_reasons())
        if t.target == "voided":
            return VoidReason(code="opened_in_error")
        if t.target == "ineligible":
            codes = self.draw(st.frozensets(s.contraindication_codes(), min_size=1, max_size=3))
            return IneligibilityReason(contraindications=codes)
        return self.draw(s.free_text())

    def moved(self, t: Transition, step: MoveStep) -> None:
        self.steps.append(step)
        self.stage = t.target
        self.last_move_at = step.at
        self.visit = {}
        if t.starts_cycle:
            self.cycle += 1
            self.injected_at = None

    # -- refused steps ----------------------------------------------------

    def refused(self) -> MoveStep:
        leaving = self.pipeline.leaving(self.stage)
        illegal = [x for x in self.pipeline.stages if self.pipeline.find(self.stage, x) is None]
        kinds = ["illegal"]
        if leaving:
            kinds.append("early")
        if any(t.needs_reason and t.guard.name == "none" for t in leaving):
            kinds.append("no reason")
        unmet = [t for t in leaving if t.guard.name != "none" and self.unmet(t)]
        if unmet:
            kinds.append("unmet")
        kind = self.draw(st.sampled_from(kinds))
        if kind == "illegal":
            return MoveStep(
                target=self.draw(st.sampled_from(illegal)),
                at=self.now,
                reason="a reason",
                refused_with=IllegalMoveError,
            )
        if kind == "early":
            back = timedelta(seconds=self.draw(st.integers(1, 30 * 86400)))
            return MoveStep(
                target=self.draw(st.sampled_from(leaving)).target,
                at=self.last_move_at - back,
                reason="a reason",
                override_reason="an override",
                refused_with=TimeOrderError,
            )
        if kind == "no reason":
            options = [t for t in leaving if t.needs_reason and t.guard.name == "none"]
            return MoveStep(
                target=self.draw(st.sampled_from(options)).target,
                at=self.now,
                refused_with=GuardError,
            )
        return MoveStep(
            target=self.draw(st.sampled_from(unmet)).target,
            at=self.now,
            reason="a reason",
            refused_with=GuardError,
        )


@st.composite
def move_sequences(
    draw: st.DrawFn,
    valid: bool = True,
    *,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    protocol: Protocol = DEFAULT_PROTOCOL,
    start: datetime = s.DEFAULT_START,
    max_moves: int = 12,
) -> list[Step]:
    """Lists of steps that open a journey and drive it through ``pipeline``.

    The first step is an :class:`OpenStep`; then :class:`RecordStep` and
    :class:`MoveStep` follow in time order from ``start``, taking at most
    ``max_moves`` moves (loops and new cycles included) and stopping at an outcome,
    sometimes followed by an adverse event or a score. Before each move the walk
    records what its guard asks for (an eligibility assessment, consent and a
    baseline score; a harvest from the journey's cell source; a released product;
    an injection at the treated site; the minimum rest or an override).

    With ``valid=True`` the engine must accept every step. With ``valid=False`` at
    least one move is one the engine must refuse, marked with the error it must
    raise in ``refused_with``: a target the table does not allow
    (``IllegalMoveError``), a guard not yet met or an outcome without a reason
    (``GuardError``), a time before the previous move (``TimeOrderError``).

    Run them with :func:`play` on an engine whose clock is a :class:`ManualClock`.
    Guards are known by the names the default pipeline uses; transitions of a custom
    pipeline with other guards are not taken.
    """
    opening = OpenStep(at=start)
    walk = _Walk(draw, opening, pipeline, protocol)
    onward_moves = draw(st.integers(0, max_moves), label="moves before the end")
    refusals = moves = 0
    while True:
        walk.extras()
        if not valid and draw(st.integers(0, 3)) == 0:
            walk.steps.append(walk.refused())
            refusals += 1
        options = [t for t in pipeline.leaving(walk.stage) if walk.satisfiable(t)]
        ends = [t for t in options if pipeline.is_outcome(t.target)]
        onward = [t for t in options if not pipeline.is_outcome(t.target)]
        if moves >= onward_moves or not onward:
            end_now: bool = bool(ends) and draw(st.booleans(), label="end the journey")
            if end_now:
                chosen = draw(st.sampled_from(ends))
                walk.moved(chosen, walk.satisfy(chosen))
                walk.extras()
            break
        chosen = draw(st.sampled_from(onward))
        walk.moved(chosen, walk.satisfy(chosen))
        moves += 1
    if not valid and refusals == 0:
        walk.steps.append(walk.refused())
    return walk.steps
