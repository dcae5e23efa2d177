"""Baselines per journey and per cycle, and change from baseline with direction handled.

The baseline on an instrument is the last score on or before the day of the
injection (the journey's first, or a cycle's), no older than the protocol's
``baseline_lookback``. When there is none, :class:`Baseline` says so and why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

import attrs

from stemjourney.clinical._instruments import get_instrument
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import Injection
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ValidationError
from stemjourney.journey._journey import Journey

__all__ = ["Baseline", "Change", "baseline", "change", "day_of", "injection_dates"]


def day_of(moment: datetime, tz: tzinfo = UTC) -> date:
    """The calendar day of ``moment`` in the clinic's timezone ``tz``."""
    return moment.astimezone(tz).date()


def injection_dates(journey: Journey) -> dict[int, datetime]:
    """The first injection of each cycle that has one, by cycle, in cycle order."""
    found: dict[int, datetime] = {}
    for entry in journey.current_records():
        if isinstance(entry.record, Injection):
            at = entry.record.injected_at
            if entry.cycle not in found or at < found[entry.cycle]:
                found[entry.cycle] = at
    return dict(sorted(found.items()))


@attrs.frozen
class Change:
    """A score against its baseline, as an improvement: positive is better.

    ``points`` is the improvement in the instrument's units (a fall on NRS, a rise on
    KOOS). ``percent`` is the improvement as a share of the room the baseline left
    (its distance from the best end of the scale): ``(b - v) / b`` on NRS, VAS and ODI,
    ``(v - b) / (100 - b)`` on KOOS and ASES; ``None`` when the baseline was already
    at the best end.
    """

    instrument: str
    baseline: float
    value: float
    points: float
    percent: float | None

    @property
    def delta(self) -> float:
        """The raw difference, ``value - baseline``, whatever the direction."""
        return self.value - self.baseline


def change(before: Score, after: Score) -> Change:
    """The change from ``before`` to ``after`` on one instrument.

    >>> from datetime import datetime, UTC
    >>> from stemjourney import nrs
    >>> change(nrs(8, datetime(2025, 1, 6, tzinfo=UTC)), nrs(4, datetime(2025, 3, 3, tzinfo=UTC)))
    Change(instrument='nrs', baseline=8.0, value=4.0, points=4.0, percent=50.0)
    """
    if before.instrument != after.instrument:
        raise ValidationError(
            "after",
            f"is a {after.instrument} score, the baseline is {before.instrument}",
            "two scores on the same instrument",
        )
    spec = get_instrument(after.instrument)
    sign = 1 if spec.higher_is_better else -1
    points = sign * (after.value - before.value)
    room = abs(spec.best - before.value)
    percent = None if room == 0 else points * 100 / room
    return Change(after.instrument, before.value, after.value, points, percent)


@attrs.frozen
class Baseline:
    """The baseline on one instrument for a journey (``cycle`` ``None``) or one cycle.

    ``score`` is ``None`` when there is no baseline; ``reason`` then says why.
    """

    journey_id: str
    instrument: str
    cycle: int | None
    injected_at: datetime | None
    score: Score | None
    reason: str | None = None

    @property
    def found(self) -> bool:
        """Whether a baseline score was found."""
        return self.score is not None

    @property
    def value(self) -> float | None:
        """The baseline value, or ``None``."""
        return None if self.score is None else self.score.value

    def change_to(self, score: Score) -> Change | None:
        """The change from this baseline to ``score``; ``None`` without a baseline."""
        return None if self.score is None else change(self.score, score)


def baseline(
    journey: Journey,
    instrument: str,
    *,
    cycle: int | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    tz: tzinfo = UTC,
) -> Baseline:
    """The baseline of ``journey`` on ``instrument``: for the journey, or for ``cycle``.

    The last score measured on or before the injection day (in ``tz``), no more than
    ``protocol.baseline_lookback`` before it. Nothing is guessed: without an
    injection or a score in that span, the result has no score and a reason.
    """
    injections = injection_dates(journey)
    if cycle is None:
        injected = next(iter(injections.values()), None)
        where = "the journey"
    else:
        injected = injections.get(cycle)
        where = f"cycle {cycle}"
    if injected is None:
        return Baseline(
            journey.id, instrument, cycle, None, None, f"no injection recorded in {where}"
        )
    day = day_of(injected, tz)
    lookback = protocol.baseline_lookback
    found = None
    for score in journey.scores(instrument):
        measured = day_of(score.measured_at, tz)
        if measured <= day and timedelta(days=(day - measured).days) <= lookback:
            found = score
    if found is None:
        days = lookback.total_seconds() / 86400
        return Baseline(
            journey.id,
            instrument,
            cycle,
            injected,
            None,
            f"no {instrument} score in the {days:g} days up to the injection on {day.isoformat()}",
        )
    return Baseline(journey.id, instrument, cycle, injected, found)
