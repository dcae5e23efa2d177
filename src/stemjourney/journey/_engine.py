"""The engine: which moves are allowed, why one is refused, and the move itself.

The engine holds no journey; it reads the pipeline and the protocol and turns a
journey value into the next one. Persistence wraps it (see ``stemjourney.store``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NoReturn

import attrs

from stemjourney.clinical import _validation as v
from stemjourney.clinical._fields import code, enum_value
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import (
    RECORD_TYPES,
    AdverseEvent,
    IneligibilityReason,
    Record,
    VoidReason,
    WithdrawalReason,
)
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.exceptions import (
    GuardError,
    IllegalMoveError,
    MoveError,
    TimeOrderError,
    ValidationError,
)
from stemjourney.journey._clock import Clock, SystemClock
from stemjourney.journey._guards import AFTER_THE_FACT, GuardContext, new_guard_context
from stemjourney.journey._journey import (
    Journey,
    JourneyState,
    ReasonRecord,
    RecordEntry,
    TransitionEntry,
)
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._table import DEFAULT_PIPELINE

__all__ = ["Engine"]

_ACTOR_MAX = 200
_REASON_MAX = 2000
_AFTER_CLOSE = frozenset({AdverseEvent.kind, Score.kind})
_RECORD_NAMES = ", ".join(t.__name__ for t in RECORD_TYPES) + " or a Score"


class Engine:
    """Moves journeys through a pipeline under a protocol.

    >>> from datetime import datetime, UTC
    >>> engine = Engine()
    >>> j = engine.open("j1", patient_id="p1", condition="knee osteoarthritis", site="knee",
    ...                 side="left", cell_source="bone_marrow", actor="dr.a",
    ...                 occurred_at=datetime(2026, 1, 5, 9, tzinfo=UTC))
    >>> j.stage, j.cycle, j.version
    ('consultation', 1, 1)
    >>> engine.why_not(j, "harvest", at=datetime(2026, 1, 5, 10, tzinfo=UTC))
    ['an eligibility assessment', 'a signed consent', 'a baseline pain score in cycle 1']
    """

    def __init__(
        self,
        pipeline: Pipeline = DEFAULT_PIPELINE,
        protocol: Protocol = DEFAULT_PROTOCOL,
        clock: Clock | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.protocol = protocol
        self.clock: Clock = clock if clock is not None else SystemClock()

    @property
    def pipeline(self) -> Pipeline:
        """The transition table the engine moves journeys through."""
        return self._pipeline

    @pipeline.setter
    def pipeline(self, value: Pipeline) -> None:
        self._pipeline = value
        self._moves = {(t.source, t.target): t for t in value.transitions}

    @property
    def protocol(self) -> Protocol:
        """The protocol the engine's guards apply."""
        return self._protocol

    @protocol.setter
    def protocol(self, value: Protocol) -> None:
        self._protocol = value
        self._skew = value.clock_skew

    def open(
        self,
        journey_id: str,
        *,
        patient_id: str,
        condition: str,
        site: str,
        side: Side | str,
        cell_source: CellSource | str,
        actor: str,
        occurred_at: datetime,
    ) -> Journey:
        """Open a journey at the pipeline's initial stage, in cycle 1."""
        jid = code(journey_id, "journey_id")
        when = v.aware("occurred_at", occurred_at)
        now = self.clock.now()
        self._not_future(jid, self.pipeline.initial, self.pipeline.initial, when, now)
        opening = TransitionEntry(
            journey_id=jid,
            seq=1,
            source=None,
            target=self.pipeline.initial,
            cycle=1,
            occurred_at=when,
            recorded_at=now,
            actor=v.clean_text("actor", actor, max_length=_ACTOR_MAX),
            version=1,
        )
        return Journey(
            jid,
            code(patient_id, "patient_id"),
            v.clean_text("condition", condition, max_length=200),
            v.clean_text("site", site, max_length=200),
            enum_value(Side, side, "side"),
            enum_value(CellSource, cell_source, "cell_source"),
            history=(opening,),
        )

    def allowed(self, journey: Journey, *, at: datetime | None = None) -> tuple[str, ...]:
        """The stages ``journey`` may move to at ``at``, given a reason where one is needed.

        By default ``at`` is the present: the clock's now, or the previous move's time
        when that is a little ahead of the clock (within the skew). A time in the
        future, or before the previous move, allows nothing (a late entry needs its
        reason: ask :meth:`why_not`).
        """
        journey = _a_journey(journey)
        when = self._present(journey) if at is None else v.aware("at", at)
        if self._time_problems(journey, when, self.clock.now(), None):
            return ()
        protocol = self.protocol
        return tuple(
            t.target
            for t in self.pipeline.leaving(journey.stage)
            if not t.guard.check(new_guard_context(journey, t, protocol, when))
        )

    def why_not(
        self,
        journey: Journey,
        target: str,
        *,
        at: datetime | None = None,
        reason: str | ReasonRecord | None = None,
        override_reason: str | None = None,
        late_reason: str | None = None,
    ) -> list[str]:
        """Every requirement the move to ``target`` at ``at`` lacks; empty when it may go ahead.

        The time problems (in the future, before the previous move without
        ``late_reason``) come first, then what the guard finds missing, then the
        reason: exactly the ``problems`` :meth:`move` would refuse with.
        """
        journey = _a_journey(journey)
        when = self._present(journey) if at is None else v.aware("at", at)
        transition = self.pipeline.find(journey.stage, target)
        if transition is None:
            return [f"a transition from '{journey.stage}' (there is none)"]
        missing = self._time_problems(journey, when, self.clock.now(), late_reason)
        ctx = new_guard_context(journey, transition, self.protocol, when, override_reason)
        missing += transition.guard.check(ctx)
        if transition.needs_reason and reason is None:
            missing.append("a reason")
        return missing

    def move(
        self,
        journey: Journey,
        target: str,
        *,
        actor: str,
        occurred_at: datetime,
        reason: str | ReasonRecord | None = None,
        override_reason: str | None = None,
        late_reason: str | None = None,
    ) -> tuple[Journey, TransitionEntry]:
        """Move ``journey`` to ``target``; return the new journey and its history entry.

        ``reason`` (text, or a reason record such as ``WithdrawalReason``) is required
        for the outcomes; ``override_reason`` lets a clinician cut the rest short;
        ``late_reason`` allows a move dated before the previous one.

        A refusal lists everything at once: time problems first, then what the guard
        finds missing. It is a :class:`TimeOrderError` when the time is refused (in
        the future beyond the clock skew, or before the previous move without a
        late-entry reason), a :class:`GuardError` when only requirements are
        missing, an :class:`IllegalMoveError` when the table has no such move; its
        ``allowed`` lists the moves allowed at ``occurred_at``, or at the present
        when that time is refused. Bad arguments raise :class:`ValidationError`.
        The journey is unchanged.
        """
        if type(journey) is not Journey:
            journey = _a_journey(journey)
        checked = _ACTORS.get(actor) if type(actor) is str else None
        actor = _actor(actor) if checked is None else checked
        when = occurred_at
        if type(when) is not datetime or when.tzinfo is not UTC:
            when = v.aware("occurred_at", occurred_at)
        reason_text = reason_record = None
        if reason is not None:
            reason_text, reason_record = _reason(reason)
        override = (
            None if override_reason is None else _reason_text("override_reason", override_reason)
        )
        late = None if late_reason is None else _reason_text("late_reason", late_reason)
        last = journey.history[-1]
        transition = self._moves.get((last.target, target))
        now = self.clock.now()
        if transition is None:
            timely = not self._time_problems(journey, when, now, late)
            self._refuse(
                IllegalMoveError,
                journey,
                target,
                [_no_transition(self.pipeline, last.target)],
                when if timely else self._present(journey),
            )
        problems = None
        if (when > now and when > now + self._skew) or (when < last.occurred_at and late is None):
            problems = self._time_problems(journey, when, now, late)
        missing = transition.guard.check(
            new_guard_context(journey, transition, self._protocol, when, override)
        )
        if transition.needs_reason and reason_text is None:
            missing.append("a reason")
        if problems:
            self._refuse(
                TimeOrderError, journey, target, [*problems, *missing], self._present(journey)
            )
        if missing:
            self._refuse(GuardError, journey, target, missing, when)
        return journey._moved(
            last,
            transition.target,
            last.cycle + 1 if transition.starts_cycle else last.cycle,
            when,
            now,
            actor,
            reason_text,
            late,
            override,
            reason_record,
        )

    def record(
        self,
        journey: Journey,
        record: Record | Score,
        *,
        actor: str,
        amends: int | None = None,
        reason: str | None = None,
    ) -> tuple[Journey, RecordEntry]:
        """Add a clinical record or score to ``journey``; return the new journey and its entry.

        Adverse events and scores may be added to a closed journey (not a voided one);
        other records only while it is open. ``amends`` corrects an earlier entry (by
        its ``version``) and needs a ``reason``; the original stays readable.
        Raises :class:`ValidationError` naming the argument: a ``record`` that is not a
        clinical record or a score, one dated in the future, one the journey's stage
        does not take, a bad amendment.
        """
        journey = _a_journey(journey)
        record = _a_record(record)
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        reason = _optional_reason("reason", reason)
        now = self.clock.now()
        self.check_time("occurred_at", record.occurred_at, now=now)
        original = None
        if amends is not None:
            original = self._check_amendment(journey, record, amends, reason)
        self.check_takes(journey.state, record.kind, amendment=original is not None)
        # An amendment takes the place of the entry it corrects: same cycle and stage visit.
        where = original or journey
        entry = RecordEntry(
            journey_id=journey.id,
            record=record,
            cycle=where.cycle,
            stage=original.stage if original else journey.stage,
            stage_seq=original.stage_seq if original else journey.last_move.seq,
            recorded_at=now,
            actor=actor,
            version=journey.version + 1,
            amends=amends,
            reason=reason,
        )
        return journey.with_record(entry), entry

    def check_record(
        self, state: JourneyState, record: Record | Score, *, now: datetime | None = None
    ) -> None:
        """Check that ``record`` may be added now to a journey in ``state``, or raise.

        The checks :meth:`record` makes before it writes, on the light state alone:
        ``record`` is a clinical record or a score, not dated in the future
        (:meth:`check_time`), of a kind the stage takes (:meth:`check_takes`).
        Raises :class:`ValidationError`.
        """
        record = _a_record(record)
        self.check_time("occurred_at", record.occurred_at, now=now)
        self.check_takes(state, record.kind)

    def check_time(self, field: str, when: object, *, now: datetime | None = None) -> datetime:
        """``when`` in UTC, once checked: aware, and not beyond the clock skew after now.

        ``now`` defaults to the clock's; pass it to check many times against one now.
        Raises :class:`ValidationError` naming ``field``.
        """
        moment = when if type(when) is datetime and when.tzinfo is UTC else v.aware(field, when)
        limit = (self.clock.now() if now is None else now) + self._skew
        if moment > limit:
            raise ValidationError(
                field, "is in the future", f"a time no later than {limit.isoformat()}"
            )
        return moment

    def check_takes(self, state: JourneyState, kind: str, *, amendment: bool = False) -> None:
        """Check that a journey in ``state`` takes a record of ``kind``, or raise.

        An open journey takes every record; a closed one, adverse events, scores and
        amendments; the pipeline's void outcome (a journey opened by mistake), nothing.
        Raises :class:`ValidationError` naming ``record``.
        """
        stage = state.stage
        pipeline = self.pipeline
        if not pipeline.is_outcome(stage):
            return
        if pipeline.is_void(stage) or not (amendment or kind in _AFTER_CLOSE):
            raise ValidationError(
                "record",
                f"journey {state.journey_id} is closed ('{stage}'); a {kind} cannot be added",
                "adverse events, scores and amendments on a closed journey that is not "
                f"'{pipeline.void}'"
                if pipeline.void is not None
                else "adverse events, scores and amendments on a closed journey",
            )

    def amend(
        self,
        journey: Journey,
        version: int,
        record: Record | Score,
        *,
        actor: str,
        reason: str,
    ) -> tuple[Journey, RecordEntry]:
        """Correct the record entry at ``version`` with ``record``, saying why.

        The original stays in the history; the amendment takes its place in force, in
        the same cycle and stage. Raises
        :class:`~stemjourney.exceptions.ValidationError` when there is no such entry,
        it was already amended, or ``record`` is of another kind (or instrument).
        """
        return self.record(journey, record, actor=actor, amends=version, reason=reason)

    def replay(self, journey: Journey, *, strict: bool = False) -> Journey:
        """Rebuild ``journey`` from its opening by re-running every change in order.

        Each move is checked again against the table and against its guard, with the
        record as it stood; a history the engine refuses raises the same error a
        live move would. The rules of :data:`~stemjourney.guards.AFTER_THE_FACT`
        (recency, the stage a record must fall in, each cycle's own records, the
        guidance allowed), which a newer version or a clinic's protocol may tighten
        after a history was written, are re-checked only with ``strict=True``; so a
        file written before them still replays, and verifies.
        """
        journey = _a_journey(journey)
        events: list[TransitionEntry | RecordEntry] = sorted(
            (*journey.history[1:], *journey.records), key=lambda e: e.version
        )
        rebuilt = attrs.evolve(journey, history=journey.history[:1], records=())
        for event in events:
            if isinstance(event, TransitionEntry):
                transition = self.pipeline.find(rebuilt.stage, event.target)
                if transition is None:
                    self._refuse(
                        IllegalMoveError,
                        rebuilt,
                        event.target,
                        [_no_transition(self.pipeline, rebuilt.stage)],
                        event.occurred_at,
                    )
                ctx = GuardContext(
                    rebuilt, transition, self.protocol, event.occurred_at, event.override_reason
                )
                missing = transition.guard.check(ctx)
                if not strict:
                    missing = [m for m in missing if getattr(m, "rule", None) not in AFTER_THE_FACT]
                if missing:
                    self._refuse(GuardError, rebuilt, event.target, missing, event.occurred_at)
                rebuilt = rebuilt.with_move(event)
            else:
                rebuilt = rebuilt.with_record(event)
        return rebuilt

    def _present(self, journey: Journey) -> datetime:
        """Now, or the previous move's time when it is a little ahead of the clock."""
        return max(self.clock.now(), journey.history[-1].occurred_at)

    def _time_problems(
        self, journey: Journey, when: datetime, now: datetime, late: str | None
    ) -> list[str]:
        """What is wrong with ``when`` as the time of the journey's next move."""
        problems = []
        limit = now + self.protocol.clock_skew
        if when > limit:
            problems.append(
                f"a time no later than {limit.isoformat(timespec='seconds')} (not in the future)"
            )
        previous = journey.history[-1].occurred_at
        if when < previous and late is None:
            problems.append(
                f"a time at or after the previous move ({previous.isoformat()}), "
                "or a late-entry reason"
            )
        return problems

    def _not_future(
        self, journey_id: str, stage: str, target: str, when: datetime, now: datetime
    ) -> None:
        limit = now + self.protocol.clock_skew
        if when > limit:
            raise TimeOrderError(
                journey_id,
                stage,
                target,
                [f"a time no later than {limit.isoformat(timespec='seconds')} (not in the future)"],
                (),
            )

    def _check_amendment(
        self, journey: Journey, record: Record | Score, amends: int, reason: str | None
    ) -> RecordEntry:
        """The entry that ``record`` may amend, after checking the amendment is sound."""
        if reason is None:
            raise ValidationError(
                "reason", "is missing for an amendment", "a reason for the correction"
            )
        original = next((e for e in journey.records if e.version == amends), None)
        if original is None:
            raise ValidationError(
                "amends",
                f"journey {journey.id} has no record entry at version {amends}",
                "the version of one of the journey's record entries",
            )
        later = next((e for e in journey.records if e.amends == amends), None)
        if later is not None:
            raise ValidationError(
                "amends",
                f"the entry at version {amends} was already amended by version {later.version}",
                f"the version of the amendment in force (amend version {later.version})",
            )
        if type(original.record) is not type(record):
            raise ValidationError(
                "amends",
                f"a {record.kind} cannot amend a {original.record.kind}",
                f"a {original.record.kind}",
            )
        was = original.record
        if (
            isinstance(record, Score)
            and isinstance(was, Score)
            and record.instrument != was.instrument
        ):
            raise ValidationError(
                "amends",
                f"a {record.instrument} score cannot amend a {was.instrument} score",
                f"a {was.instrument} score",
            )
        return original

    def _refuse(
        self,
        error: type[MoveError],
        journey: Journey,
        target: str,
        problems: Iterable[str],
        at: datetime,
    ) -> NoReturn:
        """Raise ``error``; its ``allowed`` is what may happen at ``at``."""
        raise error(journey.id, journey.stage, target, list(problems), self.allowed(journey, at=at))


def _no_transition(pipeline: Pipeline, stage: str) -> str:
    if pipeline.is_outcome(stage):
        return f"an open journey ('{stage}' is an outcome; nothing leaves it)"
    return f"a transition from '{stage}' (the pipeline has none)"


def _optional_reason(field: str, value: str | None) -> str | None:
    return None if value is None else v.clean_text(field, value, max_length=_REASON_MAX)


_ACTORS: dict[str, str] = {}
_ACTORS_KEPT = 4096


def _actor(value: object) -> str:
    """``value`` checked as an actor; the few actors a clinic has are checked once each."""
    if type(value) is str:
        found = _ACTORS.get(value)
        if found is not None:
            return found
    checked = v.clean_text("actor", value, max_length=_ACTOR_MAX)
    if type(value) is str and len(_ACTORS) < _ACTORS_KEPT:
        _ACTORS[value] = checked
    return checked


def _reason_text(field: str, value: str) -> str:
    return v.clean_text(field, value, max_length=_REASON_MAX)


def _a_journey(value: object) -> Journey:
    if not isinstance(value, Journey):
        raise ValidationError(
            "journey",
            f"expected a Journey, got {type(value).__name__}",
            "a Journey from Engine.open, a move or a record (or Store.journey)",
        )
    return value


_RECORD_CLASSES = (*RECORD_TYPES, Score)


def _a_record(value: object) -> Record | Score:
    if not isinstance(value, _RECORD_CLASSES):
        raise ValidationError(
            "record",
            f"expected a clinical record or a score, got {type(value).__name__}",
            _RECORD_NAMES,
        )
    return value


_REASON_RECORDS = (WithdrawalReason, IneligibilityReason, VoidReason)


def _reason(value: object) -> tuple[str | None, ReasonRecord | None]:
    """A move's reason as text, and the reason record when one was given."""
    if value is None:
        return None, None
    if isinstance(value, _REASON_RECORDS):
        return v.clean_text("reason", str(value), max_length=_REASON_MAX), value
    if not isinstance(value, str):
        raise ValidationError(
            "reason",
            f"expected text or a reason record, got {type(value).__name__}",
            "text, a WithdrawalReason, an IneligibilityReason or a VoidReason",
        )
    return v.clean_text("reason", value, max_length=_REASON_MAX), None
