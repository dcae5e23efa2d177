"""The follow-up work-list, as data: who is due or overdue for a visit between two dates.

The visits and their status come from :class:`stemjourney.outcomes.OutcomeFold` (the
schedule's rules); this module picks the rows in the date range and lays them out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.exceptions import ValidationError
from stemjourney.journey._sources import JourneySource, pipeline_of
from stemjourney.outcomes import OutcomeFacts, OutcomeFold, VisitStatus, as_day, visit_status
from stemjourney.outcomes._sources import FactSource, ScheduleSource, outcome_facts
from stemjourney.reports._serialise import plain

__all__ = ["WORK_ITEM_COLUMNS", "WorkItem", "Worklist", "worklist_report"]


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

    def row(self) -> tuple[Any, ...]:
        """The item's fields in declaration order, dates as ISO text (one CSV row)."""
        return tuple(v.isoformat() if isinstance(v, date) else v for v in attrs.astuple(self))


WORK_ITEM_COLUMNS: tuple[str, ...] = tuple(f.name for f in attrs.fields(WorkItem))
"""The names of :meth:`WorkItem.row`'s values, in order."""


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


def worklist_report(
    store: JourneySource | FactSource,
    start: date | datetime,
    end: date | datetime,
    *,
    on: date | datetime | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    tz: tzinfo = UTC,
) -> Worklist:
    """Who is due or overdue for follow-up from ``start`` to ``end`` (both included).

    Reads every journey that has not ended (from a store, or any iterable of
    journeys); a visit is listed while no score completes it (see
    :func:`stemjourney.outcomes.worklist`, which gives the same visits), with its
    status on ``on`` (the ``start`` day unless given). Days are in ``tz``. Raises
    :class:`~stemjourney.exceptions.ValidationError` when ``end`` is before ``start``.
    """
    first, last = as_day("start", start, tz), as_day("end", end, tz)
    if last < first:
        raise ValidationError("end", "is before start", "a day on or after start")
    day = first if on is None else as_day("on", on, tz)
    if (
        isinstance(store, ScheduleSource)
        and tz is UTC
        and store.protocol.schedule == protocol.schedule
    ):
        # The store keeps the schedule: an index range over the planned visits.
        listed = [
            WorkItem(pid, jid, condition, site, side, w[0], w[1], w[3], w[4], w[5], status.value)
            for jid, pid, condition, site, side, w, done in store.iter_scheduled(
                first, last, pending_on=day
            )
            if (status := visit_status(w, done, day)) is not VisitStatus.COMPLETED
        ]
        return Worklist(first, last, day, tuple(listed))
    fold = OutcomeFold(protocol, protocol.instruments[0], on=day, tz=tz)
    stages = pipeline_of(store).open_stages
    # First the injections only, to find the journeys with a visit in range; then the
    # scores of just those, from the earliest window's first day (older ones cannot
    # complete a visit in range).
    found: dict[str, OutcomeFacts] = {}
    since = last
    for facts in outcome_facts(store, stages=stages, with_scores=False):
        windows = [w for w in fold.windows_of(facts) if w[4] <= last and w[5] >= first]
        if windows:
            found[facts.journey_id] = facts
            since = min(since, *(w[4] for w in windows))
    items: list[WorkItem] = []
    if found:
        scored = outcome_facts(
            store,
            journey_ids=list(found),
            scores_since=datetime(since.year, since.month, since.day, tzinfo=tz),
        )
        for facts in scored:
            for visit in fold.visits(facts):
                cycle, label, _, due, opens, closes = visit.window
                if opens > last or closes < first or visit.status is VisitStatus.COMPLETED:
                    continue
                items.append(
                    WorkItem(
                        facts.patient_id,
                        facts.journey_id,
                        facts.condition,
                        facts.site,
                        facts.side,
                        cycle,
                        label,
                        due,
                        opens,
                        closes,
                        visit.status.value,
                    )
                )
    items.sort(key=lambda i: (i.due, i.journey_id, i.cycle))
    return Worklist(first, last, day, tuple(items))
