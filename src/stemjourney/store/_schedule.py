"""The follow-up schedule kept in the file: each journey's planned visits, in UTC days.

The visits are :func:`stemjourney.outcomes.plan_windows` of the journey's first
injections under the store's protocol, written in the same transaction as the
injection that plans them (and replanned by an amendment that moves one); a score
inside a window sets the visit's ``first_score_on``
(:func:`stemjourney.outcomes.first_score_on`). The work-list reads it with an index
range; ``verify()`` checks it against the history.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import Injection
from stemjourney.journey._journey import Journey
from stemjourney.outcomes import Window, first_injections, first_score_on, plan_windows
from stemjourney.outcomes._sources import Scheduled
from stemjourney.store._db import Db
from stemjourney.store._tables import JOURNEYS, OBSERVATIONS, RECORDS, SCHEDULE

__all__ = [
    "Planner",
    "Scheduled",
    "iter_scheduled",
    "plan",
    "planned_rows",
    "replan",
    "rescored",
    "scored",
    "scored_many",
]

_DELETE = f"DELETE FROM {SCHEDULE.name} WHERE journey_id = ?"
_INSERT = SCHEDULE.insert()
_FIRST = (
    f"SELECT min(o.measured_at) FROM {OBSERVATIONS.name} AS o"
    " WHERE o.journey_id = ? AND o.measured_at >= ? AND o.measured_at < ?"
    f" AND NOT EXISTS (SELECT 1 FROM {OBSERVATIONS.name} AS n"
    " WHERE n.journey_id = o.journey_id AND n.amends = o.version)"
)
_SCORED = (
    f"UPDATE {SCHEDULE.name} SET first_score_on = ? WHERE journey_id = ? AND opens <= ? "
    "AND closes >= ? AND (first_score_on IS NULL OR first_score_on > ?)"
)
_CONTAINING = SCHEDULE.select("journey_id = ? AND opens <= ? AND closes >= ?")
_SET_FIRST = (
    f"UPDATE {SCHEDULE.name} SET first_score_on = ? "
    "WHERE journey_id = ? AND cycle = ? AND time_point = ?"
)
_OF_MANY = SCHEDULE.select("journey_id IN (SELECT value FROM json_each(?))")
_IN_RANGE = (
    f"SELECT j.id, j.patient_id, j.condition, j.site, j.side, s.cycle, s.time_point, "
    f"s.injected_on, s.due, s.opens, s.closes, s.first_score_on "
    f"FROM {SCHEDULE.name} AS s JOIN {JOURNEYS.name} AS j ON j.id = s.journey_id "
    "WHERE s.closes >= ? AND s.opens <= ? AND j.closed_at IS NULL "
)
_ORDER = "ORDER BY s.due, j.id, s.cycle"
_PENDING = "AND (s.first_score_on IS NULL OR s.first_score_on > ?) "
"""The visits not completed on a day: the first rule of
:func:`stemjourney.outcomes.visit_status` (completed once a score inside the window was
measured by then), in SQL so the read skips them; tested equal to it."""


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _next_day(day: date) -> str:
    return (day + timedelta(days=1)).isoformat()


def planned_rows(
    journey_id: str,
    injections: Iterable[tuple[int, date]],
    days: Sequence[date],
    protocol: Protocol,
) -> list[tuple[Any, ...]]:
    """The schedule rows of a journey whose cycles' injections are ``injections`` (cycle,
    day) and whose scores in force were measured on the sorted ``days``."""
    return Planner(protocol).rows(journey_id, injections, days)


class Planner:
    """:func:`planned_rows` under one protocol, each plan kept by its injection days.

    A clinic has few injection days and many journeys: ``verify()`` checks every
    journey's schedule with one planner, so each distinct plan is worked out and
    written as text once.
    """

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._plans: dict[tuple[tuple[int, date], ...], list[tuple[Window, tuple[Any, ...]]]] = {}

    def rows(
        self, journey_id: str, injections: Iterable[tuple[int, date]], days: Sequence[date]
    ) -> list[tuple[Any, ...]]:
        """The schedule rows of one journey (see :func:`planned_rows`)."""
        firsts = first_injections(injections)
        key = tuple(firsts.items())
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = [
                (window, _row(journey_id, window, None)[1:7])
                for window in plan_windows(firsts, self.protocol)
            ]
        out = []
        for window, texts in plan:
            first = first_score_on(window, days)
            out.append((journey_id, *texts, None if first is None else first.isoformat()))
        return out


def _row(journey_id: str, window: Window, first: date | str | None) -> tuple[Any, ...]:
    cycle, label, injected, due, opens, closes = window
    return (
        journey_id,
        cycle,
        label,
        injected.isoformat(),
        due.isoformat(),
        opens.isoformat(),
        closes.isoformat(),
        first.isoformat() if isinstance(first, date) else first,
    )


def _first_day(conn: Db, journey_id: str, opens: date, closes: date) -> str | None:
    found = conn.execute(_FIRST, (journey_id, opens.isoformat(), _next_day(closes))).fetchone()[0]
    return None if found is None else str(found)[:10]


def plan(conn: Db, journey: Journey, protocol: Protocol) -> None:
    """Write the journey's visits anew from its injections in force (its scores read by day)."""
    injections = [
        (e.cycle, _utc_day(e.record.injected_at))
        for e in journey.current_records()
        if isinstance(e.record, Injection)
    ]
    firsts = first_injections(injections)
    conn.execute(_DELETE, (journey.id,))
    conn.executemany(
        _INSERT,
        [
            _row(journey.id, w, _first_day(conn, journey.id, w[4], w[5]))
            for w in plan_windows(firsts, protocol)
        ],
    )


_INJECTIONS = (
    f"SELECT r.cycle, r.occurred_at FROM {RECORDS.name} AS r WHERE r.journey_id = ? "
    "AND r.kind = 'injection' AND NOT EXISTS (SELECT 1 FROM "
    f"{RECORDS.name} AS n WHERE n.journey_id = r.journey_id AND n.amends = r.version)"
)
_DAYS = (
    f"SELECT DISTINCT substr(o.measured_at, 1, 10) FROM {OBSERVATIONS.name} AS o "
    "WHERE o.journey_id = ? AND NOT EXISTS (SELECT 1 FROM "
    f"{OBSERVATIONS.name} AS n WHERE n.journey_id = o.journey_id AND n.amends = o.version) "
    "ORDER BY 1"
)


def replan(conn: Db, journey_ids: Iterable[str], protocol: Protocol) -> None:
    """Write the visits of ``journey_ids`` anew from their rows (an upgrade, a new protocol)."""
    planner = Planner(protocol)
    for jid in journey_ids:
        injections = [
            (cycle, date.fromisoformat(at[:10])) for cycle, at in conn.execute(_INJECTIONS, (jid,))
        ]
        days = [date.fromisoformat(d) for (d,) in conn.execute(_DAYS, (jid,))]
        conn.execute(_DELETE, (jid,))
        conn.executemany(_INSERT, planner.rows(jid, injections, days))


def scored(conn: Db, journey_id: str, measured_at: datetime) -> None:
    """A new score in force: it completes the visit whose window holds its day."""
    day = _utc_day(measured_at).isoformat()
    conn.execute(_SCORED, (day, journey_id, day, day, day))


def rescored(conn: Db, journey_id: str, moments: Iterable[datetime]) -> None:
    """A score amended: work out again the first score of each visit holding these days."""
    for moment in moments:
        day = _utc_day(moment).isoformat()
        for row in conn.execute(_CONTAINING, (journey_id, day, day)).fetchall():
            opens, closes = date.fromisoformat(row[5]), date.fromisoformat(row[6])
            first = _first_day(conn, journey_id, opens, closes)
            conn.execute(_SET_FIRST, (first, journey_id, row[1], row[2]))


def scored_many(conn: Db, days: dict[str, list[str]]) -> None:
    """Many new scores in force (a bulk import): the first score day of each visit, at once.

    ``days`` holds each journey's new scores' UTC days as ISO text (``YYYY-MM-DD``, as the
    schedule keeps them, so text order is day order).
    """
    if not days:
        return
    ordered = {jid: sorted(set(texts)) for jid, texts in days.items()}
    updates = []
    ids = list(ordered)
    for start in range(0, len(ids), 5000):
        for row in conn.execute(_OF_MANY, (json.dumps(ids[start : start + 5000]),)):
            texts = ordered[row[0]]
            at = bisect_left(texts, row[5])  # the first new day on or after the window opens
            if at == len(texts) or texts[at] > row[6]:
                continue
            first = texts[at]
            if row[7] is None or first < row[7]:
                updates.append((first, row[0], row[1], row[2]))
    conn.executemany(_SET_FIRST, updates)


def iter_scheduled(
    conn: Db, first: date, last: date, pending_on: date | None = None
) -> Iterator[Scheduled]:
    """The visits of journeys not ended whose window meets ``first`` to ``last``, by due day;
    with ``pending_on``, only those not completed on that day."""
    if pending_on is None:
        rows = conn.execute(_IN_RANGE + _ORDER, (first.isoformat(), last.isoformat()))
    else:
        args = (first.isoformat(), last.isoformat(), pending_on.isoformat())
        rows = conn.execute(_IN_RANGE + _PENDING + _ORDER, args)
    for row in rows:
        window: Window = (
            row[5],
            row[6],
            date.fromisoformat(row[7]),
            date.fromisoformat(row[8]),
            date.fromisoformat(row[9]),
            date.fromisoformat(row[10]),
        )
        done = None if row[11] is None else date.fromisoformat(row[11])
        yield row[0], row[1], row[2], row[3], row[4], window, done
