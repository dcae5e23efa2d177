"""Outcome facts: the few things the outcome arithmetic reads of a journey, as plain values.

The arithmetic of :mod:`stemjourney.outcomes` (baselines, change, responders, time
points, visit status) needs a journey's identity and stage, the injections and
adverse events in force, and its scores in force; nothing else. An
:class:`OutcomeFacts` holds exactly that. :func:`facts_of` takes it from a journey
value; the store produces the same type straight from its tables
(:meth:`Store.iter_outcome_facts <stemjourney.store.Store.iter_outcome_facts>`), so a
report over a hundred thousand journeys computes the same numbers without rebuilding
every journey.

Times are fixed-width ISO-8601 UTC text, as the store keeps them: they sort as
time does, so "before" and "after" are text comparisons.
"""

from __future__ import annotations

from typing import NamedTuple

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._records import AdverseEvent, Injection
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey

__all__ = ["OutcomeFacts", "facts_of"]


class OutcomeFacts(NamedTuple):
    """One journey as the outcome arithmetic sees it.

    ``injections`` are (cycle, injected_at) and ``adverse_events`` (cycle, serious)
    of the records in force, in version order; ``scores`` are (measured_at, value)
    of the scores in force (of one instrument when one was asked for), in version
    order. Times are UTC text as the store keeps them.
    """

    journey_id: str
    patient_id: str
    condition: str
    site: str
    side: str
    cell_source: str
    stage: str
    injections: tuple[tuple[int, str], ...]
    adverse_events: tuple[tuple[int, bool], ...]
    scores: tuple[tuple[str, float], ...]


def facts_of(journey: Journey, instrument: str | None = None) -> OutcomeFacts:
    """The outcome facts of ``journey``: its scores on ``instrument``, or all of them.

    The store's :meth:`~stemjourney.store.Store.iter_outcome_facts` gives the same
    value for the same journey, read from its tables.
    """
    injections: list[tuple[int, str]] = []
    events: list[tuple[int, bool]] = []
    scores: list[tuple[str, float]] = []
    for entry in journey.current_records():
        record = entry.record
        if isinstance(record, Score):
            if instrument is None or record.instrument == instrument:
                scores.append((time_text(record.measured_at), record.value))
        elif isinstance(record, Injection):
            injections.append((entry.cycle, time_text(record.injected_at)))
        elif isinstance(record, AdverseEvent):
            events.append((entry.cycle, record.serious))
    return OutcomeFacts(
        journey.id,
        journey.patient_id,
        journey.condition,
        journey.site,
        journey.side.value,
        journey.cell_source.value,
        journey.stage,
        tuple(injections),
        tuple(events),
        tuple(scores),
    )
