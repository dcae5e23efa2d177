"""The engine: which moves are allowed, why one is refused, and the move itself.

The engine holds no journey; it reads the pipeline and the protocol and turns a
journey value into the next one. Persistence wraps it (see ``stemjourney.store``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NoReturn

import attrs

from stemjourney.clinical import _validation as v
from stemjourney.clinical._fields import code, enum_value
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import (
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
from stemjourney.journey._guards import GuardContext
from stemjourney.journey._journey import Journey, ReasonRecord, RecordEntry, TransitionEntry
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._table import DEFAULT_PIPELINE

__all__ = ["Engine"]

_ACTOR_MAX = 200
_REASON_MAX = 2000


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
        """The stages ``journey`` may move to at ``at`` (now by default), given a reason."""
        when = self.clock.now() if at is None else v.aware("at", at)
        return tuple(
            t.target
            for t in self.pipeline.leaving(journey.stage)
            if not t.guard.check(GuardContext(journey, t, self.protocol, when))
        )

    def why_not(
        self,
        journey: Journey,
        target: str,
        *,
        at: datetime | None = None,
        reason: str | ReasonRecord | None = None,
        override_reason: str | None = None,
    ) -> list[str]:
        """Every requirement the move to ``target`` lacks; empty when it may go ahead."""
        when = self.clock.now() if at is None else v.aware("at", at)
        transition = self.pipeline.find(journey.stage, target)
        if transition is None:
            return [f"a transition from '{journey.stage}' (there is none)"]
        ctx = GuardContext(journey, transition, self.protocol, when, override_reason)
        missing = transition.guard.check(ctx)
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

        Raises :class:`IllegalMoveError`, :class:`GuardError`, :class:`TimeOrderError`
        or :class:`ValidationError`; the journey is unchanged.
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        when = v.aware("occurred_at", occurred_at)
        reason_text, reason_record = _reason(reason)
        override = _optional_reason("override_reason", override_reason)
        late = _optional_reason("late_reason", late_reason)
        transition = self.pipeline.find(journey.stage, target)
        if transition is None:
            self._refuse(
                IllegalMoveError,
                journey,
                target,
                [_no_transition(self.pipeline, journey.stage)],
                when,
            )
        now = self.clock.now()
        self._not_future(journey.id, journey.stage, target, when, now)
        previous = journey.last_move.occurred_at
        if when < previous and late is None:
            self._refuse(
                TimeOrderError,
                journey,
                target,
                [
                    f"a time at or after the previous move ({previous.isoformat()}), "
                    "or a late-entry reason"
                ],
                when,
            )
        missing = transition.guard.check(
            GuardContext(journey, transition, self.protocol, when, override)
        )
        if transition.needs_reason and reason_text is None:
            missing.append("a reason")
        if missing:
            self._refuse(GuardError, journey, target, missing, when)
        last = journey.last_move
        entry = TransitionEntry(
            journey_id=journey.id,
            seq=last.seq + 1,
            source=journey.stage,
            target=transition.target,
            cycle=last.cycle + 1 if transition.starts_cycle else last.cycle,
            occurred_at=when,
            recorded_at=now,
            actor=actor,
            version=journey.version + 1,
            reason=reason_text,
            late_reason=late,
            override_reason=override,
            reason_record=reason_record,
        )
        return journey.with_move(entry), entry

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
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        reason = _optional_reason("reason", reason)
        when = record.occurred_at
        now = self.clock.now()
        if when > now + self.protocol.clock_skew:
            raise ValidationError(
                "occurred_at", "is in the future", f"a time before {now + self.protocol.clock_skew}"
            )
        original = None
        if amends is not None:
            original = self._check_amendment(journey, record, amends, reason)
        stage = journey.stage
        if self.pipeline.is_outcome(stage) and (
            stage == "voided" or not (original or isinstance(record, AdverseEvent | Score))
        ):
            raise ValidationError(
                "record",
                f"journey {journey.id} is closed ('{stage}'); a {record.kind} cannot be added",
                "adverse events, scores and amendments on a completed, withdrawn or "
                "ineligible journey",
            )
        # An amendment takes the place of the entry it corrects: same cycle and stage visit.
        where = original or journey
        entry = RecordEntry(
            journey_id=journey.id,
            record=record,
            cycle=where.cycle,
            stage=original.stage if original else stage,
            stage_seq=original.stage_seq if original else journey.last_move.seq,
            recorded_at=now,
            actor=actor,
            version=journey.version + 1,
            amends=amends,
            reason=reason,
        )
        return journey.with_record(entry), entry

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

    def replay(self, journey: Journey) -> Journey:
        """Rebuild ``journey`` from its opening by re-running every change in order.

        Guards are checked again against the record as it stood; a history the
        engine would refuse raises the same error a live move would.
        """
        events: list[TransitionEntry | RecordEntry] = sorted(
            (*journey.history[1:], *journey.records), key=lambda e: e.version
        )
        rebuilt = attrs.evolve(journey, history=journey.history[:1], records=())
        for event in events:
            if isinstance(event, TransitionEntry):
                if self.pipeline.find(rebuilt.stage, event.target) is None:
                    self._refuse(
                        IllegalMoveError,
                        rebuilt,
                        event.target,
                        [_no_transition(self.pipeline, rebuilt.stage)],
                        event.occurred_at,
                    )
                transition = self.pipeline.find(rebuilt.stage, event.target)
                assert transition is not None
                ctx = GuardContext(
                    rebuilt, transition, self.protocol, event.occurred_at, event.override_reason
                )
                missing = transition.guard.check(ctx)
                if missing:
                    self._refuse(GuardError, rebuilt, event.target, missing, event.occurred_at)
                rebuilt = rebuilt.with_move(event)
            else:
                rebuilt = rebuilt.with_record(event)
        return rebuilt

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
        when: datetime,
    ) -> NoReturn:
        raise error(
            journey.id, journey.stage, target, list(problems), self.allowed(journey, at=when)
        )


def _no_transition(pipeline: Pipeline, stage: str) -> str:
    if pipeline.is_outcome(stage):
        return f"an open journey ('{stage}' is an outcome; nothing leaves it)"
    return f"a transition from '{stage}' (the pipeline has none)"


def _optional_reason(field: str, value: str | None) -> str | None:
    return None if value is None else v.clean_text(field, value, max_length=_REASON_MAX)


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
