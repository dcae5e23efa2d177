"""A Hypothesis state machine that drives journeys through a pipeline beside a plain model.

Subclass :class:`JourneyMachine` to mirror every accepted change into your own
system and check it after each step; run it with ``YourMachine.TestCase``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import (
    AdverseEvent,
    Consent,
    EligibilityAssessment,
    FollowUpVisit,
    Harvest,
    Injection,
    Processing,
)
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import (
    GuardError,
    IllegalMoveError,
    MoveError,
    TimeOrderError,
    ValidationError,
)
from stemjourney.journey._engine import Engine
from stemjourney.journey._guards import GuardContext
from stemjourney.journey._journey import Journey, ReasonRecord, RecordEntry, TransitionEntry
from stemjourney.journey._pipeline import Guard, Pipeline, Transition
from stemjourney.journey._satisfiers import SATISFIERS, Preparation, Satisfier
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.testing import _strategies as s
from stemjourney.testing._clock import ManualClock
from stemjourney.testing._sequences import _retimed

__all__ = ["JourneyMachine", "Refusal"]

Refusal = MoveError | ValidationError
"""What :meth:`JourneyMachine.on_refused` receives: the engine's refusal."""


@functools.cache
def _strategy(factory: Any, *args: Any, **kwargs: Any) -> st.SearchStrategy[Any]:
    # Building strategies is costly: build each once at a fixed time, then retime the draws.
    strategy: st.SearchStrategy[Any] = factory(*args, at=s.DEFAULT_START, **kwargs)
    return strategy


def _is_open(machine: JourneyMachine) -> bool:
    return machine.journey is not None and not machine.pipeline.is_outcome(machine.journey.stage)


def _is_closed(machine: JourneyMachine) -> bool:
    return machine.journey is not None and machine.pipeline.is_outcome(machine.journey.stage)


def _has_records(machine: JourneyMachine) -> bool:
    return machine.journey is not None and bool(machine.journey.records)


class JourneyMachine(RuleBasedStateMachine):
    """Drives an :class:`~stemjourney.Engine` with a :class:`ManualClock` through journeys.

    Rules record every kind of record (each valid on its own; some help the next
    guard pass, some do not), take every transition of ``pipeline`` (read from
    ``engine.pipeline``, never a copy) after recording what its guard needs, try
    refused moves (no such transition, too early, in the future, without a reason),
    make amendments, end journeys with reasons, and let time pass. When a journey
    has reached an outcome, a rule opens the next one (``j-2``, ``j-3``, ...), so a
    run ends journeys at every stage. A plain model keeps the expected stage, cycle
    and version; after every step the invariants check the journey against it,
    that nothing ever left an outcome, that ``engine.replay(journey) == journey``,
    and then call :meth:`check_consistency`.

    What a guard needs comes from ``satisfiers``, a mapping from each guard to the
    records that satisfy it (by default :data:`stemjourney.guards.SATISFIERS`); a
    pipeline with a guard of its own sets ``satisfiers`` to a mapping that adds it.
    Every guard of the pipeline must have an entry. The transitions taken so far in
    a run are in ``taken``; the machine heads for those not taken yet.

    Override the hooks to mirror each accepted change into your system:
    :meth:`on_opened`, :meth:`on_moved`, :meth:`on_recorded`, :meth:`on_refused`;
    and :meth:`check_consistency` to compare it with the journey. Set ``pipeline``,
    ``protocol``, ``satisfiers`` or ``start`` as class attributes, or override
    :meth:`make_engine`.
    """

    pipeline: Pipeline = DEFAULT_PIPELINE
    protocol: Protocol = DEFAULT_PROTOCOL
    satisfiers: Mapping[Guard, Satisfier] = SATISFIERS
    start: datetime = s.DEFAULT_START
    journey_id = "j-1"

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(self.start)
        self.engine = self.make_engine(self.clock)
        self.pipeline = self.engine.pipeline
        unknown = sorted(
            {t.guard.name for t in self.pipeline.transitions if t.guard not in self.satisfiers}
        )
        if unknown:
            raise ValidationError(
                "satisfiers",
                f"has no entry for the guard(s) {', '.join(unknown)}",
                "an entry for every guard of the pipeline (extend stemjourney.guards.SATISFIERS)",
            )
        self.journey: Journey | None = None
        self.journeys: list[Journey] = []
        self.taken: set[tuple[str, str]] = set()
        self.expected_stage = ""
        self.expected_cycle = 0
        self.expected_version = 0
        self.ended_in: str | None = None
        self.products = 0
        self.goal: Transition | None = None

    # -- hooks ------------------------------------------------------------

    def make_engine(self, clock: ManualClock) -> Engine:
        """The engine under test; by default one over ``pipeline`` and ``protocol``."""
        return Engine(self.pipeline, self.protocol, clock=clock)

    def on_opened(self, journey: Journey) -> None:
        """Called once each journey is opened."""

    def on_moved(self, journey: Journey, entry: TransitionEntry) -> None:
        """Called after each accepted move, with the new journey and its history entry."""

    def on_recorded(self, journey: Journey, entry: RecordEntry) -> None:
        """Called after each accepted record or amendment, with the new journey and entry."""

    def on_refused(self, journey: Journey, error: Refusal) -> None:
        """Called after each refused move or record; ``journey`` is unchanged."""

    def check_consistency(self, journey: Journey) -> None:
        """Called after every step: assert your system agrees with ``journey``."""

    # -- helpers ----------------------------------------------------------

    @property
    def current(self) -> Journey:
        """The journey being driven (after the opening rule has run)."""
        assert self.journey is not None, "the journey is opened by the first rule"
        return self.journey

    def _set(self, journey: Journey) -> None:
        self.journey = journey
        self.journeys[-1] = journey

    def _record(
        self,
        record: Any,
        *,
        at: datetime | None = None,
        amends: int | None = None,
        reason: str | None = None,
    ) -> RecordEntry | None:
        journey = self.current
        record = record if at is None else _retimed(record, at)
        closed = self.pipeline.is_outcome(journey.stage)
        original = next((e for e in journey.records if e.version == amends), None)
        must_refuse = closed and (
            self.pipeline.is_void(journey.stage)
            or not (original is not None or isinstance(record, AdverseEvent | Score))
        )
        try:
            after, entry = self.engine.record(
                journey, record, actor="test.actor", amends=amends, reason=reason
            )
        except ValidationError as err:
            refusal = err
        else:
            assert not must_refuse, f"a {record.kind} was added to a {journey.stage} journey"
            self._set(after)
            self.expected_version += 1
            assert entry.version == self.expected_version
            # An amendment stands where the entry it corrects stood.
            where = original if original is not None else journey
            assert entry.stage == where.stage
            assert entry.cycle == where.cycle
            self.on_recorded(after, entry)
            return entry
        assert must_refuse or (amends is not None and reason is None), refusal
        event("refused: ValidationError")
        self.on_refused(journey, refusal)
        return None

    def _move(
        self,
        target: str,
        at: datetime,
        *,
        reason: str | ReasonRecord | None = None,
        override: str | None = None,
        late: str | None = None,
    ) -> bool:
        """Try the move; check the engine's answer against its own why_not; True if taken."""
        journey = self.current
        transition = self.pipeline.find(journey.stage, target)
        allowed_then = self.engine.allowed(journey, at=at)
        missing = self.engine.why_not(
            journey, target, at=at, reason=reason, override_reason=override, late_reason=late
        )
        future = at > self.clock.now() + self.engine.protocol.clock_skew
        too_early = at < journey.last_move.occurred_at and late is None
        try:
            after, entry = self.engine.move(
                journey,
                target,
                actor="test.actor",
                occurred_at=at,
                reason=reason,
                override_reason=override,
                late_reason=late,
            )
        except MoveError as err:
            refusal = err
        else:
            assert transition is not None, f"{target} is not in the table"
            assert not future, "a move in the future was accepted"
            assert not too_early, "a move before the previous one was accepted"
            assert not missing, missing
            assert target in allowed_then or override is not None or late is not None
            self._set(after)
            self._moved(transition, entry)
            return True
        if isinstance(refusal, IllegalMoveError):
            assert transition is None, refusal
            assert target not in refusal.allowed
        else:
            assert transition is not None, refusal
            assert list(refusal.problems) == missing, (refusal.problems, missing)
            if isinstance(refusal, TimeOrderError):
                assert future or too_early, refusal
                # A refused time: what is allowed is what is allowed at the present.
                assert refusal.allowed == self.engine.allowed(journey)
            else:
                assert isinstance(refusal, GuardError), refusal
                assert not future, refusal
                assert not too_early, refusal
                assert refusal.allowed == allowed_then
                assert target not in allowed_then or (transition.needs_reason and reason is None)
        assert refusal.problems, refusal
        assert refusal.journey_id == journey.id
        assert refusal.stage == journey.stage
        event(f"refused: {type(refusal).__name__}")
        self.on_refused(journey, refusal)
        return False

    def _moved(self, transition: Transition, entry: TransitionEntry) -> None:
        self.expected_stage = transition.target
        self.expected_cycle += 1 if transition.starts_cycle else 0
        self.expected_version += 1
        assert entry.version == self.expected_version
        assert entry.source == transition.source
        assert entry.target == transition.target
        self.taken.add((transition.source, transition.target))
        if self.pipeline.is_outcome(transition.target):
            self.ended_in = transition.target
        event(f"took {transition.source} -> {transition.target}")
        if self.expected_cycle > 1:
            event(f"reached cycle {self.expected_cycle}")
        self.on_moved(self.current, entry)

    def _when(self, data: st.DataObject) -> datetime:
        back = data.draw(st.integers(0, 120), label="minutes before now")
        return max(self.clock.now() - timedelta(minutes=back), self.current.last_move.occurred_at)

    def _reason(self, data: st.DataObject, transition: Transition) -> str | ReasonRecord:
        if transition.target == "withdrawn":
            return data.draw(s.withdrawal_reasons(), label="reason")
        return data.draw(s.free_text(), label="reason")

    def _preparations(self, transition: Transition) -> list[Preparation]:
        ctx = GuardContext(self.current, transition, self.engine.protocol, self.clock.now())
        return list(self.satisfiers[transition.guard](ctx))

    def _stocked(self) -> list[str]:
        """Ids of the products with a dose left, as the guards count them."""
        return [p.product_id for p in self.current.facts.stock()]

    def _open(self) -> None:
        number = len(self.journeys) + 1
        journey_id = self.journey_id if number == 1 else f"{self.journey_id}-{number}"
        self.journey = self.engine.open(
            journey_id,
            patient_id="p-1",
            condition="osteoarthritis of knee",
            site="knee",
            side="left",
            cell_source="bone_marrow",
            actor="test.actor",
            occurred_at=self.clock.now(),
        )
        self.journeys.append(self.journey)
        self.expected_stage = self.pipeline.initial
        self.expected_cycle = 1
        self.expected_version = 1
        self.ended_in = None
        self.goal = None
        self.on_opened(self.journey)

    # -- rules ------------------------------------------------------------

    @initialize(data=st.data())
    def open_journey(self, data: st.DataObject | None = None) -> None:
        """Open the first journey at the pipeline's initial stage, in cycle 1; maybe move on."""
        self._open()
        if data is not None and data.draw(st.booleans(), label="move on at once"):
            self._progress(data)

    @precondition(_is_closed)
    @rule(data=st.data())
    def open_next_journey(self, data: st.DataObject) -> None:
        """Once the journey has reached an outcome, open the next one and take it onward."""
        self._open()
        self._progress(data)

    @rule(minutes=st.integers(0, 60 * 24 * 10))
    def let_time_pass(self, minutes: int) -> None:
        """Time passes (up to ten days)."""
        self.clock.advance(minutes=minutes)

    @precondition(lambda m: m.journey is not None)
    @rule(data=st.data())
    def record(self, data: st.DataObject) -> None:
        """Record one record: one the current stage's guards look at, or any other.

        Eligibility (eligible or not), consent, pain scores, adverse events, harvests
        from the journey's cell source, lab processing (released or not), injections
        at the treated site (mostly of a product in stock, under any guidance), or
        any record at all. Closed journeys get scores and adverse events (refused
        when voided).
        """
        journey, at = self.current, self._when(data)
        options: list[st.SearchStrategy[Any]] = [
            _strategy(s.pain_scores),
            _strategy(s.adverse_events),
        ]
        if _is_open(self):
            options += [
                _strategy(s.eligibility_assessments, eligible=True),
                _strategy(s.eligibility_assessments),
                _strategy(s.consents),
                _strategy(s.records),
                _strategy(s.harvests, source=journey.cell_source),
                _strategy(s.injections, site=journey.site, side=journey.side, product_id="p-0"),
                _strategy(s.processings, criteria=self.engine.protocol.release, product_id="p-0"),
            ]
        record = data.draw(st.one_of(options), label="record")
        if isinstance(record, Injection):
            pid = data.draw(st.sampled_from([*self._stocked(), "p-unknown"]), label="product")
            record = attrs.evolve(record, product_id=pid)
        elif isinstance(record, Processing) and record.product_id == "p-0":
            self.products += 1
            record = attrs.evolve(record, product_id=f"p-{self.products}")
        self._record(record, at=at)

    @precondition(_is_closed)
    @rule(data=st.data())
    def record_on_closed_journey(self, data: st.DataObject) -> None:
        """Try a clinical record on a closed journey: refused, nothing changes."""
        at = self._when(data)
        strategy = st.one_of(_strategy(s.consents), _strategy(s.harvests))
        self._record(data.draw(strategy), at=at)

    @precondition(_has_records)
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        """Amend a record in force with a new one of its kind, with or without a reason."""
        entries = list(self.current.current_records())
        original = data.draw(st.sampled_from(entries), label="amended entry")
        at = self._when(data)
        by_type: dict[type[Any], st.SearchStrategy[Any]] = {
            EligibilityAssessment: _strategy(s.eligibility_assessments),
            Consent: _strategy(s.consents),
            Harvest: _strategy(s.harvests, source=self.current.cell_source),
            Processing: _strategy(s.processings, product_id="p-0"),
            Injection: _strategy(s.injections),
            FollowUpVisit: _strategy(s.follow_up_visits),
            AdverseEvent: _strategy(s.adverse_events),
            Score: _strategy(s.pain_scores, getattr(original.record, "instrument", None)),
        }
        record = data.draw(by_type[type(original.record)], label="amendment")
        if isinstance(record, Processing) and isinstance(original.record, Processing):
            record = attrs.evolve(record, product_id=original.record.product_id)
        reason = data.draw(st.sampled_from(("transcription error", None)), label="reason")
        self._record(record, at=at, amends=original.version, reason=reason)

    @precondition(_is_open)
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        """Move along any transition of the table, ready or not, with or without a reason
        or an override (onward moves three times as often as the outcomes); or, half
        the time, prepare and take moves as :meth:`prepare_and_move` does.
        """
        if data.draw(st.booleans(), label="prepared"):
            self._progress(data)
            return
        options = list(self.pipeline.leaving(self.current.stage))
        ends = [t for t in options if self.pipeline.is_outcome(t.target)]
        onward = [t for t in options if t not in ends]
        end = not onward or data.draw(st.sampled_from((False, False, False, True)), label="end")
        transition = data.draw(st.sampled_from(ends if end else onward), label="transition")
        give_reason = data.draw(st.sampled_from((True, True, True, False)), label="with reason")
        override = data.draw(st.sampled_from((None, None, "clinician override")), label="override")
        self._move(
            transition.target,
            self._when(data),
            reason=self._reason(data, transition) if give_reason else None,
            override=override,
        )

    @precondition(lambda m: m.journey is not None)
    @rule(data=st.data())
    def prepare_and_move(self, data: st.DataObject) -> None:
        """Up to ten times: record what a transition's guard needs, then take it.

        The machine heads for a goal, a transition drawn from those it can still
        reach (the ones not yet taken in this run first), along the shortest way of
        onward moves; what each guard needs comes from ``satisfiers``. A goal that
        cannot be satisfied now (no stored dose left, say) is dropped for another.
        A journey that has reached an outcome is followed by the next one.
        """
        if _is_closed(self):
            self._open()
        self._progress(data)

    def _progress(self, data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(1, 10), label="moves")):
            if not _is_open(self):
                return
            goal = self._goal(data)
            if goal is None:
                return
            transition = self._toward(goal)
            preps = self._preparations(transition)
            if not preps:
                self.goal = None
                continue
            self._prepare_and_take(data, transition, preps)

    def _goal(self, data: st.DataObject) -> Transition | None:
        stage = self.current.stage
        reach = self._reach(stage)
        if self.goal is not None and self.goal.source in reach:
            return self.goal
        candidates = [t for t in self.pipeline.transitions if t.source in reach]
        fresh = [t for t in candidates if (t.source, t.target) not in self.taken]
        if not candidates:
            return None
        # A goal drawn evenly (a seeded Random, not a shrinkable draw, which leans to the
        # first options): every transition gets its turn over a run of examples.
        rng = data.draw(st.randoms(use_true_random=True), label="goal")
        self.goal = rng.choice(fresh or candidates)
        return self.goal

    def _reach(self, stage: str) -> dict[str, Transition | None]:
        """Each stage reachable by onward moves, with the first move toward it (BFS)."""
        first: dict[str, Transition | None] = {stage: None}
        todo = [stage]
        while todo:
            here = todo.pop(0)
            for t in self.pipeline.leaving(here):
                if t.target in first or self.pipeline.is_outcome(t.target):
                    continue
                first[t.target] = first[here] or t
                todo.append(t.target)
        return first

    def _toward(self, goal: Transition) -> Transition:
        if self.current.stage == goal.source:
            self.goal = None
            return goal
        step = self._reach(self.current.stage)[goal.source]
        assert step is not None
        return step

    def _prepare_and_take(
        self, data: st.DataObject, transition: Transition, preps: list[Preparation]
    ) -> None:
        prep = data.draw(st.sampled_from(preps), label="preparation")
        for record in prep.records:
            assert self._record(record) is not None, f"a preparation's {record.kind} was refused"
        at = self.clock.now()
        if prep.not_before is not None and prep.not_before > at:
            self.clock.set(prep.not_before)
            at = prep.not_before
        reason = self._reason(data, transition) if transition.needs_reason else None
        taken = self._move(transition.target, at, reason=reason, override=prep.override_reason)
        assert taken, (
            f"the records the satisfier of guard '{transition.guard.name}' gave did not let "
            f"{transition.source} -> {transition.target} go ahead"
        )

    @precondition(lambda m: m.journey is not None)
    @rule(data=st.data())
    def refused_move(self, data: st.DataObject) -> None:
        """Try a move the engine must refuse: not in the table, too early, or in the future.

        A move dated before the previous one is accepted with a late-entry reason.
        """
        stage = self.current.stage
        leaving = self.pipeline.leaving(stage)
        kinds = ["illegal", "early", "future"] if leaving else ["illegal"]
        kind = data.draw(st.sampled_from(kinds), label="refusal")
        if kind == "illegal":
            targets = [x for x in self.pipeline.stages if self.pipeline.find(stage, x) is None]
            target = data.draw(st.sampled_from(targets), label="target")
            self._move(target, self.clock.now(), reason="a reason")
            return
        onward = [t for t in leaving if not self.pipeline.is_outcome(t.target)] or list(leaving)
        transition = data.draw(st.sampled_from(onward), label="transition")
        if kind == "future":
            at = self.clock.now() + self.engine.protocol.clock_skew + timedelta(minutes=1)
            self._move(transition.target, at, reason="a reason")
            return
        early = timedelta(minutes=data.draw(st.integers(1, 60 * 24 * 30), label="minutes early"))
        late = data.draw(st.sampled_from((None, "entered from paper notes")), label="late reason")
        self._move(
            transition.target, self.current.last_move.occurred_at - early, reason="x", late=late
        )

    # -- invariants -------------------------------------------------------

    @invariant()
    def journey_matches_model(self) -> None:
        """The journey's stage, cycle and version are the model's."""
        if self.journey is None:
            return
        j = self.journey
        assert (j.stage, j.cycle, j.version) == (
            self.expected_stage,
            self.expected_cycle,
            self.expected_version,
        )

    @invariant()
    def nothing_leaves_an_outcome(self) -> None:
        """Once the journey reached an outcome it stays there."""
        if self.journey is not None and self.ended_in is not None:
            assert self.journey.stage == self.ended_in

    @invariant()
    def replay_agrees(self) -> None:
        """Rebuilding the journey from its history gives the same journey."""
        if self.journey is not None:
            assert self.engine.replay(self.journey) == self.journey

    @invariant()
    def user_consistency(self) -> None:
        """The subclass's own check agrees with the journey."""
        if self.journey is not None:
            self.check_consistency(self.journey)
