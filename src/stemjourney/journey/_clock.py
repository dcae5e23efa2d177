"""Where "now" comes from: the system clock, or one a test controls."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Protocol

__all__ = ["Clock", "SystemClock", "today"]


class Clock(Protocol):
    """Anything with a ``now()`` that returns an aware datetime."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


def today(tz: tzinfo = UTC) -> date:
    """Today's date in ``tz`` (UTC unless given): the default day of every report."""
    return datetime.now(tz).date()
