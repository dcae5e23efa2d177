"""Treatment rounds in time: the first injection of each cycle, and which cycle a score follows.

These two rules place every score of every report, so they are written here once:

- a cycle *starts* at its first injection in force (the earliest ``injected_at`` of
  the injection records of that cycle; an amended injection counts as amended);
- a score *follows* the latest cycle whose first injection came strictly before it.
  A score measured before the first injection (or at the same instant) follows none.

Times may be aware datetimes or the store's fixed-width UTC text: both compare in
time order, and each function compares only times of one kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import TypeVar

from stemjourney.clinical._records import Injection
from stemjourney.journey._journey import Journey

__all__ = ["cycle_of", "day_of", "first_injections", "injection_dates"]

T = TypeVar("T", datetime, date, str)


def day_of(moment: datetime, tz: tzinfo = UTC) -> date:
    """The calendar day of ``moment`` in the clinic's timezone ``tz``."""
    return moment.astimezone(tz).date()


def first_injections(injections: Iterable[tuple[int, T]]) -> dict[int, T]:
    """The first injection time of each cycle, by cycle, in cycle order.

    ``injections`` are (cycle, injected_at) pairs of the injections in force.

    >>> first_injections([(1, "2026-02-03"), (1, "2026-02-01"), (2, "2026-08-01")])
    {1: '2026-02-01', 2: '2026-08-01'}
    """
    found: dict[int, T] = {}
    for cycle, at in injections:
        known = found.get(cycle)
        if known is None or at < known:
            found[cycle] = at
    return dict(sorted(found.items()))


def injection_dates(journey: Journey) -> dict[int, datetime]:
    """The first injection of each cycle of ``journey`` that has one, by cycle, in cycle order."""
    return first_injections(
        (e.cycle, e.record.injected_at)
        for e in journey.current_records()
        if isinstance(e.record, Injection)
    )


def cycle_of(at: T, firsts: Mapping[int, T]) -> int | None:
    """The cycle a score measured at ``at`` follows, or ``None`` before the first injection.

    ``firsts`` is :func:`first_injections`' result.

    >>> firsts = {1: "2026-02-01", 2: "2026-08-01"}
    >>> [cycle_of(at, firsts) for at in ("2026-01-31", "2026-03-01", "2026-08-01")]
    [None, 1, 1]
    """
    found = None
    latest = None
    for cycle, start in firsts.items():
        if start < at and (latest is None or start >= latest):
            found, latest = cycle, start
    return found
