"""A Hypothesis state machine that drives one journey through a pipeline beside a plain model.

Subclass :class:`JourneyMachine` to mirror every accepted change into your own
system and check it after each step; run it with ``YourMachine.TestCase``.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

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
from stemjourney.journey._journey import Journey, ReasonRecord, RecordEntry, TransitionEntry
from stemjourney.journey._pipeline import Pipeline, Transition
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.testing import _strategies as s
from stemjourney.testing._clock import ManualClock
from stemjourney.testing._sequences import _KNOWN_GUARDS, _retimed

__all__ = ["JourneyMachine"]

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


def _guards_here(machine: JourneyMachine) -> set[str]:
    return {t.guard.name for t in machine.pipeline.leaving(machine.current.stage)}


class JourneyMachine(RuleBasedStateMachine):
    """Drives an :class:`~stemjourney.Engine` with a :class:`ManualClock` through one journey.

    Rules record every kind of record (each valid on its own; some help the next
    guard pass, some do not), move along every transition of ``pipeline`` (read from
    ``engine.pipeline.transitions``, never a copy), try refused moves (no such
    transition, too early, in the future, without a reason), make amendments, end
    journeys with reasons, and let time pass. A plain model keeps the expected stage,
    cycle and version; after every step the invariants check the journey against it,
    that nothing ever left an outcome, that ``engine.replay(journey) == journey``,
    and then call :meth:`check_consistency`.

    Override the hooks to mirror each accepted change into your system:
    :meth:`on_opened`, :meth:`on_moved`, :meth:`on_recorded`, :meth:`on_refused`;
    and :meth:`check_consistency` to compare it with the journey. Set ``pipeline``,
    ``protocol`` or ``start`` as class attributes, or override :meth:`make_engine`.
    """

    pipeline: Pipeline = DEFAULT_PIPELINE
    protocol: Protocol = DEFAULT_PROTOCOL
    start: datetime = s.DEFAULT_START
    journey_id = "j-1"

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(self.start)
        self.engine = self.make_engine(self.clock)
        self.pipeline = self.engine.pipeline
        self.journey: Journey | None = None
        self.expected_stage = ""
        self.expected_cycle = 0
        self.expected_version = 0
        self.ended_in: str | None = None
        self.products = 0

    # -- hooks ------------------------------------------------------------

    def make_engine(self, clock: ManualClock) -> Engine:
        """The engine under test; by default one over ``pipeline`` and ``protocol``."""
        return Engine(self.pipeline, self.protocol, clock=clock)

    def on_opened(self, journey: Journey) -> None:
        """Called once the journey is opened."""

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
        """The journey (after the opening rule has run)."""
        assert self.journey is not None, "the journey is opened by the first rule"
        return self.journey

    def _record(
        self,
        record: Any,
        *,
        at: datetime | None = None,
        amends: int | None = None,
        reason: str | None = None,
    ) -> None:
        journey = self.current
        record = record if at is None else _retimed(record, at)
        closed = self.pipeline.is_outcome(journey.stage)
        original = next((e for e in journey.records if e.version == amends), None)
        must_refuse = closed and (
            journey.stage == "voided"
            or not (original is not None or isinstance(record, AdverseEvent | Score))
        )
        try:
            self.journey, entry = self.engine.record(
                journey, record, actor="test.actor", amends=amends, reason=reason
            )
        except ValidationError as err:
            refusal = err
        else:
            assert not must_refuse, f"a {record.kind} was added to a {journey.stage} journey"
            self.expected_version += 1
            assert entry.version == self.expected_version
            # An amendment stands where the entry it corrects stood.
            where = original if original is not None else journey
            assert entry.stage == where.stage
            assert entry.cycle == where.cycle
            self.on_recorded(self.current, entry)
            return
        assert must_refuse or (amends is not None and reason is None), refusal
        event("refused: ValidationError")
        self.on_refused(journey, refusal)

    def _move(
        self,
        target: str,
        at: datetime,
        *,
        reason: str | ReasonRecord | None = None,
        override: str | None = None,
        late: str | None = None,
    ) -> None:
        journey = self.current
        transition = self.pipeline.find(journey.stage, target)
        allowed = self.engine.allowed(journey, at=at)
        reason_text = None if reason is None else str(reason)
        missing = self.engine.why_not(
            journey, target, at=at, reason=reason_text, override_reason=override
        )
        future = at > self.clock.now() + self.engine.protocol.clock_skew
        too_early = at < journey.last_move.occurred_at and late is None
        try:
            self.journey, entry = self.engine.move(
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
            assert target in allowed or override is not None
            self._moved(transition, entry)
            return
        if isinstance(refusal, IllegalMoveError):
            assert transition is None, refusal
            assert target not in refusal.allowed
        elif isinstance(refusal, TimeOrderError):
            assert transition is not None, refusal
            assert future or too_early, refusal
        else:
            assert isinstance(refusal, GuardError), refusal
            assert transition is not None, refusal
            assert list(refusal.problems) == missing, (refusal.problems, missing)
            assert target not in allowed or (transition.needs_reason and reason is None)
        assert refusal.problems, refusal
        assert refusal.journey_id == journey.id
        assert refusal.stage == journey.stage
        event(f"refused: {type(refusal).__name__}")
        self.on_refused(journey, refusal)

    def _moved(self, transition: Transition, entry: TransitionEntry) -> None:
        self.expected_stage = transition.target
        self.expected_cycle += 1 if transition.starts_cycle else 0
        self.expected_version += 1
        assert entry.version == self.expected_version
        assert entry.source == transition.source
        assert entry.target == transition.target
        if self.pipeline.is_outcome(transition.target):
            self.ended_in = transition.target
        event(f"reached {transition.target}")
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

    def _released_with_doses(self) -> list[str]:
        journey = self.current
        used: dict[str, int] = {}
        released: dict[str, int] = {}
        for e in journey.current_records():
            rec = e.record
            if isinstance(rec, Processing) and not self.engine.protocol.release.failures(rec):
                released[rec.product_id] = rec.doses
            elif isinstance(rec, Injection):
                used[rec.product_id] = used.get(rec.product_id, 0) + 1
        return sorted(pid for pid, doses in released.items() if used.get(pid, 0) < doses)

    # -- rules ------------------------------------------------------------

    @initialize()
    def open_journey(self) -> None:
        """Open the journey at the pipeline's initial stage, in cycle 1."""
        self.journey = self.engine.open(
            self.journey_id,
            patient_id="p-1",
            condition="osteoarthritis of knee",
            site="knee",
            side="left",
            cell_source="bone_marrow",
            actor="test.actor",
            occurred_at=self.clock.now(),
        )
        self.expected_stage = self.pipeline.initial
        self.expected_cycle = 1
        self.expected_version = 1
        self.on_opened(self.journey)

    @rule(minutes=st.integers(0, 60 * 24 * 10))
    def let_time_pass(self, minutes: int) -> None:
        """Time passes (up to ten days)."""
        self.clock.advance(minutes=minutes)

    @precondition(lambda m: m.journey is not None)
    @rule(data=st.data())
    def record(self, data: st.DataObject) -> None:
        """Record one record: one the current stage's guards look at, or any other.

        Eligibility (eligible or not), consent, pain scores, adverse events, harvests
        from the journey's cell source, lab processing (released or not),
        injections at the treated site (mostly of a released product), or any record
        at all. Closed journeys get scores and adverse events (refused when voided).
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
                _strategy(
                    s.injections,
                    site=journey.site,
                    side=journey.side,
                    product_id=data.draw(
                        st.sampled_from([*self._released_with_doses(), "p-unknown"]),
                        label="product",
                    ),
                ),
            ]
            if "product_released" in _guards_here(self):
                self.products += 1
                options.append(
                    _strategy(
                        s.processings,
                        criteria=self.engine.protocol.release,
                        product_id=f"p-{self.products}",
                    )
                )
        self._record(data.draw(st.one_of(options), label="record"), at=at)

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
            Processing: _strategy(
                s.processings,
                product_id=getattr(original.record, "product_id", "p-0"),
            ),
            Injection: _strategy(s.injections),
            FollowUpVisit: _strategy(s.follow_up_visits),
            AdverseEvent: _strategy(s.adverse_events),
            Score: _strategy(s.pain_scores, getattr(original.record, "instrument", None)),
        }
        record = data.draw(by_type[type(original.record)], label="amendment")
        reason = data.draw(st.sampled_from(("transcription error", None)), label="reason")
        self._record(record, at=at, amends=original.version, reason=reason)

    @precondition(_is_open)
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        """Move along any transition of the table, with or without a reason or an override.

        Onward moves are tried three times as often as the outcomes.
        """
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

    @precondition(_is_open)
    @rule(data=st.data())
    def prepare_and_move_onward(self, data: st.DataObject) -> None:
        """Up to three times: record what an onward move's guard asks for, then move."""
        for _ in range(data.draw(st.integers(1, 3), label="moves")):
            onward = [
                t
                for t in self.pipeline.leaving(self.current.stage)
                if not self.pipeline.is_outcome(t.target) and self._can_prepare(t)
            ]
            if not onward:
                return
            transition = data.draw(st.sampled_from(onward), label="transition")
            for strategy in self._preparations(transition):
                self.clock.advance(minutes=data.draw(st.integers(0, 90), label="minutes"))
                self._record(data.draw(strategy, label="preparation"), at=self.clock.now())
            override = None
            if transition.guard.name == "rest_over":
                if data.draw(st.booleans(), label="override the rest"):
                    override = "clinician override"
                else:
                    self.clock.advance(days=self.engine.protocol.minimum_rest.days + 1)
            self._move(transition.target, self.clock.now(), override=override)

    def _can_prepare(self, transition: Transition) -> bool:
        if transition.guard.name in ("stored_product", "injection_recorded"):
            return bool(self._released_with_doses())
        return transition.guard.name in _KNOWN_GUARDS

    def _preparations(self, transition: Transition) -> list[st.SearchStrategy[Any]]:
        journey, name = self.current, transition.guard.name
        if name == "eligible_consented_baseline":
            return [
                _strategy(s.eligibility_assessments, eligible=True),
                _strategy(s.consents),
                _strategy(s.pain_scores),
            ]
        if name == "harvest_recorded":
            return [_strategy(s.harvests, source=journey.cell_source)]
        if name in ("product_released", "product_failed"):
            self.products += 1
            return [
                _strategy(
                    s.processings,
                    name == "product_released",
                    criteria=self.engine.protocol.release,
                    product_id=f"p-{self.products}",
                )
            ]
        if name == "injection_recorded":
            pid = self._released_with_doses()[0]
            return [_strategy(s.injections, site=journey.site, side=journey.side, product_id=pid)]
        if name == "stored_product":
            return [_strategy(s.pain_scores)]
        return []

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
