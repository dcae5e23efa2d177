"""Sequences of steps through a pipeline, valid or with refused moves mixed in.

The walk keeps its own journey value (built entry by entry, never through the
engine's ``move``), asks the guard-to-records mapping (:data:`stemjourney.guards.SATISFIERS`,
or the one given) what each move needs and records it, and asks the guards
themselves whether a move would be refused. It never asks the engine: the engine is
what it tests.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import IneligibilityReason, Processing, Record, VoidReason
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import GuardError, IllegalMoveError, TimeOrderError
from stemjourney.journey._guards import GuardContext
from stemjourney.journey._journey import Journey, ReasonRecord, RecordEntry, TransitionEntry
from stemjourney.journey._pipeline import Guard, Pipeline, Transition
from stemjourney.journey._satisfiers import SATISFIERS, Preparation, Satisfier
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.testing import _strategies as s
from stemjourney.testing._steps import ACTOR, MoveStep, OpenStep, RecordStep, Step

__all__ = ["move_sequences"]

R = TypeVar("R", bound=Record | Score)

# Strategies are built once (building them is the costly part) and their records retimed.
_cached: Any = functools.cache


def _retimed(record: R, when: datetime) -> R:
    if isinstance(record, Processing):
        shift = when - record.finished_at
        return attrs.evolve(
            record, started_at=record.started_at + shift, finished_at=record.finished_at + shift
        )
    changes: dict[str, Any] = {type(record).time_field: when}
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


def opened_journey(opening: OpenStep, pipeline: Pipeline) -> Journey:
    """The journey an :class:`OpenStep` opens, built as a value."""
    entry = TransitionEntry(
        opening.journey_id,
        1,
        None,
        pipeline.initial,
        1,
        opening.at,
        opening.at,
        opening.actor,
        1,
    )
    return Journey(
        opening.journey_id,
        opening.patient_id,
        opening.condition,
        opening.site,
        opening.side,
        opening.cell_source,
        history=(entry,),
    )


class _Walk:
    """The walk's model of one journey (a journey value), and the steps drawn so far."""

    def __init__(
        self,
        draw: st.DrawFn,
        opening: OpenStep,
        pipeline: Pipeline,
        protocol: Protocol,
        satisfiers: Mapping[Guard, Satisfier],
    ) -> None:
        self.draw = draw
        self.pipeline = pipeline
        self.protocol = protocol
        self.satisfiers = satisfiers
        self.steps: list[Step] = [opening]
        self.journey = opened_journey(opening, pipeline)
        self.now = opening.at

    @property
    def stage(self) -> str:
        return self.journey.stage

    # -- time and records -------------------------------------------------

    def tick(self, most: int = 4 * 3600) -> datetime:
        self.now += timedelta(seconds=self.draw(st.integers(0, most)))
        return self.now

    def record(self, record: Record | Score) -> None:
        self.steps.append(RecordStep(record=record))
        j = self.journey
        last = j.last_move
        entry = RecordEntry(
            j.id,
            record,
            last.cycle,
            last.target,
            last.seq,
            record.occurred_at,
            ACTOR,
            j.version + 1,
        )
        self.journey = j.with_record(entry)

    def drawn(self, strategy: st.SearchStrategy[R]) -> R:
        """Draw a record and date it at the next tick."""
        return _retimed(self.draw(strategy), self.tick())

    def extras(self) -> None:
        if self.pipeline.is_void(self.stage):
            return
        for _ in range(self.draw(st.integers(0, 2))):
            self.record(self.drawn(_extras(self.pipeline.is_outcome(self.stage))))

    # -- what each guard asks for -----------------------------------------

    def context(self, t: Transition, at: datetime, override: str | None = None) -> GuardContext:
        return GuardContext(self.journey, t, self.protocol, at, override)

    def preparations(self, t: Transition) -> list[Preparation]:
        """The ways the mapping knows to satisfy ``t``'s guard now (none if it has none)."""
        satisfier = self.satisfiers.get(t.guard)
        return [] if satisfier is None else list(satisfier(self.context(t, self.now)))

    def unmet(self, t: Transition) -> bool:
        """True when ``t``'s guard, asked directly, finds something missing now."""
        return bool(t.guard.check(self.context(t, self.now)))

    def satisfy(self, t: Transition) -> MoveStep:
        """Record what ``t`` needs (one of the mapping's preparations), then return the move."""
        at = self.tick()
        options = list(self.satisfiers[t.guard](self.context(t, at)))
        prep = self.draw(st.sampled_from(options))
        for record in prep.records:
            self.record(record)
        if prep.not_before is not None and prep.not_before > at:
            at = prep.not_before
        self.now = at
        left = t.guard.check(self.context(t, at, prep.override_reason))
        if left:
            raise AssertionError(
                f"the preparation for guard '{t.guard.name}' left it unmet: {'; '.join(left)}"
            )
        return MoveStep(
            target=t.target,
            at=at,
            reason=self.reason_for(t),
            override_reason=prep.override_reason,
        )

    def reason_for(self, t: Transition) -> str | ReasonRecord | None:
        if not t.needs_reason:
            return None
        if t.target == "withdrawn":
            return self.draw(s.withdrawal_reasons())
        if self.pipeline.is_void(t.target):
            return VoidReason(code="opened_in_error")
        if t.target == "ineligible":
            codes = self.draw(st.frozensets(s.contraindication_codes(), min_size=1, max_size=3))
            return IneligibilityReason(contraindications=codes)
        return self.draw(s.free_text())

    def moved(self, t: Transition, step: MoveStep) -> None:
        self.steps.append(step)
        j = self.journey
        last = j.last_move
        entry = TransitionEntry(
            j.id,
            last.seq + 1,
            last.target,
            t.target,
            last.cycle + 1 if t.starts_cycle else last.cycle,
            step.at,
            step.at,
            ACTOR,
            j.version + 1,
            None if step.reason is None else str(step.reason),
            None,
            step.override_reason,
        )
        self.journey = j.with_move(entry)

    # -- refused steps ----------------------------------------------------

    def refused(self) -> MoveStep:
        leaving = self.pipeline.leaving(self.stage)
        illegal = [x for x in self.pipeline.stages if self.pipeline.find(self.stage, x) is None]
        kinds = ["illegal"]
        if leaving:
            kinds.append("early")
        unmet = [t for t in leaving if self.unmet(t)]
        unreasoned = [t for t in leaving if t.needs_reason and t not in unmet]
        if unreasoned:
            kinds.append("no reason")
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
                at=self.journey.last_move.occurred_at - back,
                reason="a reason",
                override_reason="an override",
                refused_with=TimeOrderError,
            )
        if kind == "no reason":
            return MoveStep(
                target=self.draw(st.sampled_from(unreasoned)).target,
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
    satisfiers: Mapping[Guard, Satisfier] = SATISFIERS,
) -> list[Step]:
    """Lists of steps that open a journey and drive it through ``pipeline``.

    The first step is an :class:`OpenStep`; then :class:`RecordStep` and
    :class:`MoveStep` follow in time order from ``start``, taking at most
    ``max_moves`` moves (loops and new cycles included) and stopping at an outcome,
    sometimes followed by an adverse event or a score. Before each move the walk
    records what ``satisfiers`` (by default :data:`stemjourney.guards.SATISFIERS`)
    says its guard needs: for the default pipeline an eligibility assessment,
    consent and baseline score of the cycle, a harvest from the journey's cell
    source, a released product, an image-guided injection at the treated site, the
    minimum rest or an override, a consent and baseline for a stored dose.

    With ``valid=True`` the engine must accept every step. With ``valid=False`` at
    least one move is one the engine must refuse, marked with the error it must
    raise in ``refused_with``: a target the table does not allow
    (``IllegalMoveError``), a guard not yet met or an outcome without a reason
    (``GuardError``), a time before the previous move (``TimeOrderError``).

    Run them with :func:`play` on an engine whose clock is a :class:`ManualClock`.
    A transition whose guard has no entry in ``satisfiers`` is never taken (only
    tried, as a refused move, when its guard finds something missing).
    """
    opening = OpenStep(at=start)
    walk = _Walk(draw, opening, pipeline, protocol, satisfiers)
    onward_moves = draw(st.integers(0, max_moves), label="moves before the end")
    refusals = moves = 0
    while True:
        walk.extras()
        if not valid and draw(st.integers(0, 3)) == 0:
            walk.steps.append(walk.refused())
            refusals += 1
        options = [t for t in pipeline.leaving(walk.stage) if walk.preparations(t)]
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
