"""The follow-up work-list, as data: who is due or overdue for a visit between two dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.exceptions import ValidationError
from stemjourney.journey._journey import Journey
from stemjourney.journey._sources import stream
from stemjourney.outcomes import worklist
from stemjourney.outcomes._schedule import PlannedVisit, Window, plan_windows
from stemjourney.outcomes._schedule import _day as day_in
from stemjourney.reports._serialise import plain

__all__ = ["WORK_ITEM_COLUMNS", "WorkItem", "Worklist", "worklist_report"]

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


def _followed(source: Any) -> list[Journey]:
    finder = getattr(source, "journeys_in", None)
    if finder is not None:
        return [j for stage in _FOLLOWED for j in finder(stage)]
    return [j for j in stream(source) if j.stage in _FOLLOWED]


class _Days:
    """UTC days of the store's time text, parsed once per day."""

    def __init__(self) -> None:
        self.known: dict[str, date] = {}

    def __call__(self, text: str) -> date:
        key = text[:10]
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = date.fromisoformat(key)
        return found


def _from_facts(
    facts_of: Any, first: date, last: date, on: date, protocol: Protocol
) -> list[WorkItem]:
    """The work-list from the store's plain rows: the same rows :func:`worklist` gives.

    The visits are planned once per set of injection days (a clinic has few days
    and many journeys), and only the journeys with a visit in range have their
    scores read: those measured from the earliest window's first day.
    """
    day = _Days()
    planned: dict[tuple[tuple[int, str], ...], list[Window]] = {}
    found: dict[str, tuple[Any, list[Window]]] = {}
    for facts in facts_of(stages=_FOLLOWED, with_scores=False):
        firsts: dict[int, str] = {}
        for cycle, at in facts.injections:
            known = firsts.get(cycle)
            if known is None or at < known:
                firsts[cycle] = at
        key = tuple((cycle, at[:10]) for cycle, at in sorted(firsts.items()))
        windows = planned.get(key)
        if windows is None:
            injected = {cycle: day(text) for cycle, text in key}
            windows = planned[key] = [
                w for w in plan_windows(injected, protocol) if w[4] <= last and w[5] >= first
            ]
        if windows:
            found[facts.journey_id] = (facts, windows)
    items: list[WorkItem] = []
    if not found:
        return items
    # A visit is completed by a score inside its window: older scores cannot matter.
    since = min(w[4] for _, windows in found.values() for w in windows)
    for scored in facts_of(
        journey_ids=list(found),
        with_scores=True,
        with_records=False,
        scores_since=datetime(since.year, since.month, since.day, tzinfo=UTC),
    ):
        facts, windows = found[scored.journey_id]
        days = [d for d in (day(at) for at, _ in scored.scores) if d <= on]
        for w in windows:
            visit = PlannedVisit(facts.journey_id, facts.patient_id, *w)
            if any(visit.opens <= d <= visit.closes for d in days):
                continue
            items.append(
                WorkItem(
                    facts.patient_id,
                    facts.journey_id,
                    facts.condition,
                    facts.site,
                    facts.side,
                    visit.cycle,
                    visit.label,
                    visit.due,
                    visit.opens,
                    visit.closes,
                    visit.status_on(on).value,
                )
            )
    items.sort(key=lambda i: (i.due, i.journey_id, i.cycle))
    return items


def worklist_report(
    store: Any,
    start: date,
    end: date,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Worklist:
    """Who is due or overdue for follow-up from ``start`` to ``end`` (both included).

    Reads the journeys in recovery or follow-up (from a store, or any iterable of
    journeys); a visit is listed while it has no score
    inside its window (see :func:`stemjourney.outcomes.worklist`). Raises
    :class:`~stemjourney.exceptions.ValidationError` when ``end`` is before ``start``.
    """
    day = start if on is None else on
    facts_of = getattr(store, "iter_outcome_facts", None)
    if facts_of is not None:
        first, last = day_in("start", start, UTC), day_in("end", end, UTC)
        if last < first:
            raise ValidationError("end", "is before start", "a day on or after start")
        items = _from_facts(facts_of, first, last, day_in("on", day, UTC), protocol)
        return Worklist(start, end, day, tuple(items))
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
