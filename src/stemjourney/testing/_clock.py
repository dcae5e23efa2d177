"""A clock a test controls: it stands still until the test moves it."""

from __future__ import annotations

from datetime import datetime, timedelta

from stemjourney.clinical import _validation as v
from stemjourney.exceptions import ValidationError

__all__ = ["ManualClock"]


class ManualClock:
    """A :class:`~stemjourney.Clock` that only moves when told to.

    Pass it to :class:`~stemjourney.Engine` (``Engine(clock=clock)``) to decide what
    "now" is: moves dated after ``now()`` plus the protocol's clock skew are refused.

    >>> from datetime import datetime, UTC
    >>> clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    >>> clock.advance(days=7, hours=2)
    datetime.datetime(2026, 1, 12, 11, 0, tzinfo=datetime.timezone.utc)
    >>> clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    >>> clock.now().isoformat()
    '2026-02-01T00:00:00+00:00'

    Raises :class:`~stemjourney.exceptions.ValidationError` for a naive datetime.
    """

    def __init__(self, start: datetime) -> None:
        self._now = v.aware("start", start)

    def now(self) -> datetime:
        """The time the clock shows, in UTC."""
        return self._now

    def advance(
        self,
        *,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move the clock forward (the arguments of :class:`datetime.timedelta`); return now.

        Raises :class:`~stemjourney.exceptions.ValidationError` for a negative step:
        use :meth:`set` to put the clock back.
        """
        step = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise ValidationError("advance", "is negative", "a step of 0 or more (or use set())")
        self._now += step
        return self._now

    def set(self, when: datetime) -> None:
        """Show ``when`` from now on (aware only; it may be earlier than now)."""
        self._now = v.aware("when", when)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
