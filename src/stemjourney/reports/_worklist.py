"""The follow-up work-list, as data: who is due or overdue for a visit between two dates."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs

from stemjourney._journey import Journey
from stemjourney._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney._sources import stream
from stemjourney.outcomes import worklist
from stemjourney.reports._serialise import plain

__all__ = ["WorkItem", "Worklist", "worklist_report"]

_FOLLOWED = ("recovery", "follow_up")


@attrs.frozen
class WorkItem:
    """One visit to arrange: which journey, which time point, its window and status."""

    patient_id: str
    journey_id: str
    condition: str
    site: str
    side: str
    cycle: int
    time_point: str
    due: date
    window_start: date
    window_end: date
    status: str


@attrs.frozen
class Worklist:
    """The visits not yet done whose window is open at some day from ``start`` to ``end``.

    ``status`` of each item is read on ``on`` (the ``start`` day unless given).
    """

    start: date
    end: date
    on: date
    items: tuple[WorkItem, ...]

    def as_dict(self) -> dict[str, Any]:
        """The work-list as plain data (dates as ISO text), ready for JSON."""
        out: dict[str, Any] = plain(self)
        return out


def _followed(source: Any) -> list[Journey]:
    finder = getattr(source, "journeys_in", None)
    if finder is not None:
        return [j for stage in _FOLLOWED for j in finder(stage)]
    return [j for j in stream(source) if j.stage in _FOLLOWED]


def worklist_report(
    store: Any,
    start: date,
    end: date,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Worklist:
    """Who is due or overdue for follow-up from ``start`` to ``end`` (both included).

    Reads the journeys in recovery or follow-up (``journeys_in`` of a store, or any
    iterable of journeys); a visit is listed while it has no score
    inside its window (see :func:`stemjourney.outcomes.worklist`). Raises
    :class:`~stemjourney.exceptions.ValidationError` when ``end`` is before ``start``.
    """
    day = start if on is None else on
    journeys = {j.id: j for j in _followed(store)}
    states = worklist(journeys.values(), start, end, protocol=protocol, on=day)
    items = []
    for state in states:
        j = journeys[state.journey_id]
        visit = state.visit
        items.append(
            WorkItem(
                j.patient_id,
                j.id,
                j.condition,
                j.site,
                j.side.value,
                visit.cycle,
                visit.label,
                visit.due,
                visit.opens,
                visit.closes,
                state.status.value,
            )
        )
    return Worklist(start, end, day, tuple(items))
