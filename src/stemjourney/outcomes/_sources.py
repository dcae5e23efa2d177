"""Outcome facts from any source: a store answers with its own SQL, journeys are read here.

This is the one way a report gets :class:`~stemjourney.outcomes.OutcomeFacts`: from a
store's :meth:`~stemjourney.store.Store.iter_outcome_facts`, or, for journey values,
:func:`~stemjourney.outcomes.facts_of`. Both give the same facts for the same journey.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._protocol import Protocol as ClinicProtocol
from stemjourney.journey._sources import JourneySource, stream
from stemjourney.outcomes._facts import OutcomeFacts, facts_of
from stemjourney.outcomes._schedule import Window

__all__ = [
    "FactShare",
    "FactSource",
    "ScheduleSource",
    "Scheduled",
    "ShardedFactSource",
    "outcome_facts",
]

Scheduled = tuple[str, str, str, str, str, Window, date | None]
"""One planned visit of a journey that has not ended: (journey_id, patient_id, condition,
site, side, its window, the day of the first score inside it or ``None``)."""


@runtime_checkable
class FactSource(Protocol):
    """A source that reads outcome facts itself (``stemjourney.store.Store`` does)."""

    def iter_outcome_facts(
        self,
        *,
        instrument: str | None = None,
        stages: Sequence[str] | None = None,
        journey_ids: Iterable[str] | None = None,
        with_scores: bool = True,
        scores_since: datetime | None = None,
    ) -> Iterator[OutcomeFacts]:
        """The facts of every journey (or those in ``stages``, or of ``journey_ids``)."""
        ...


class FactShare(Protocol):
    """A share of a source's journeys that another process can read (picklable): about
    ``journeys`` of them."""

    journeys: int

    def read(
        self, *, instrument: str | None = None
    ) -> AbstractContextManager[tuple[object, Iterator[OutcomeFacts]]]:
        """The head the share was read under (equal heads: the same store) and its facts."""
        ...


@runtime_checkable
class ShardedFactSource(Protocol):
    """A source whose journeys other processes can read in shares (a store in an SQLite
    file can)."""

    def outcome_fact_shards(self, parts: int) -> Sequence[FactShare]:
        """The journeys as ``parts`` shares by id; empty when no other process can read them."""
        ...


@runtime_checkable
class ScheduleSource(Protocol):
    """A source that keeps the follow-up schedule itself (``stemjourney.store.Store`` does),
    planned under its ``protocol`` in UTC days."""

    @property
    def protocol(self) -> ClinicProtocol:
        """The protocol the schedule was planned with."""
        ...

    def iter_scheduled(
        self, first: date, last: date, *, pending_on: date | None = None
    ) -> Iterator[Scheduled]:
        """The visits whose window meets ``first`` to ``last``, by due day, journey, cycle;
        with ``pending_on``, only those not completed on that day."""
        ...


def outcome_facts(
    source: JourneySource | FactSource,
    *,
    instrument: str | None = None,
    stages: Sequence[str] | None = None,
    journey_ids: Iterable[str] | None = None,
    with_scores: bool = True,
    scores_since: datetime | None = None,
) -> Iterator[OutcomeFacts]:
    """The outcome facts of every journey of ``source`` (a store gives them by journey id).

    Only those in ``stages`` and of ``journey_ids`` when given; ``instrument`` keeps
    the scores of one instrument (``None`` keeps them all); ``with_scores=False``
    keeps none; ``scores_since`` (with ``journey_ids``) keeps those measured then or
    later.
    """
    if isinstance(source, FactSource):
        return source.iter_outcome_facts(
            instrument=instrument,
            stages=stages,
            journey_ids=journey_ids,
            with_scores=with_scores,
            scores_since=scores_since,
        )
    return _from_journeys(source, instrument, stages, journey_ids, with_scores, scores_since)


def _from_journeys(
    source: JourneySource,
    instrument: str | None,
    stages: Sequence[str] | None,
    journey_ids: Iterable[str] | None,
    with_scores: bool,
    scores_since: datetime | None,
) -> Iterator[OutcomeFacts]:
    wanted = None if stages is None else frozenset(stages)
    ids = None if journey_ids is None else frozenset(journey_ids)
    since = None if scores_since is None or ids is None else time_text(scores_since)
    for journey in stream(source):
        if (wanted is not None and journey.stage not in wanted) or (
            ids is not None and journey.id not in ids
        ):
            continue
        facts = facts_of(journey, instrument)
        if not with_scores:
            facts = facts._replace(scores=())
        elif since is not None:
            facts = facts._replace(scores=tuple(s for s in facts.scores if s[0] >= since))
        yield facts
