"""The baseline: the score every change is measured from.

The rule, in one place (see the docs page "How outcomes are computed"): the baseline
on an instrument is the **last score on that instrument measured strictly before the
clinical time of the first injection** of the journey (or of the cycle, for cycle
views), and **no longer before it than the protocol's** ``baseline_lookback`` (90
days by default). A score taken after the injection, even minutes after on the same
day, is never a baseline. When there is none, :class:`Baseline` says so and why.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TypeVar

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey
from stemjourney.outcomes._change import Change, change
from stemjourney.outcomes._cycles import injection_dates

__all__ = ["Baseline", "baseline", "baseline_index", "no_baseline_reason"]

T = TypeVar("T", datetime, str)


def baseline_index(times: Sequence[T], injected: T, earliest: T) -> int | None:
    """Where the baseline is among time-ordered ``times``: the last one strictly before
    ``injected`` and not before ``earliest`` (the injection less the look-back).

    Equal times keep their order (the later entry wins), so pass scores sorted by
    time with a stable sort of the version order.

    >>> baseline_index(["01", "05", "09"], "09", "02"), baseline_index(["01"], "09", "02")
    (1, None)
    """
    last = bisect_left(times, injected) - 1
    if last < 0 or times[last] < earliest:
        return None
    return last


def no_baseline_reason(
    instrument: str, where: str, before: datetime | None, lookback: timedelta
) -> str:
    """Why there is no baseline: ``before`` is the last score before the injection, if any."""
    days = f"{lookback.total_seconds() / 86400:g}"
    if before is None:
        return (
            f"no {instrument} score before the injection of {where} "
            "(a score after the injection is never a baseline)"
        )
    return (
        f"the last {instrument} score before the injection of {where} is older than "
        f"the protocol's look-back of {days} days"
    )


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

    The last score measured strictly before the first injection (of the journey, or
    of ``cycle``), no more than ``protocol.baseline_lookback`` before it. Nothing is
    guessed: without an injection or a score in that span, the result has no score
    and a reason. ``tz`` is accepted for symmetry with the schedule functions; the
    rule compares clinical times, not days.

    >>> from datetime import timedelta
    >>> from stemjourney.testing import treated_journey
    >>> j = treated_journey(scores=[(-3, 7), (0, 2), (42, 4)])
    >>> b = baseline(j, "nrs")
    >>> b.value, b.score.measured_at < b.injected_at
    (7.0, True)
    """
    del tz
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
    scores = journey.scores(instrument)
    lookback = protocol.baseline_lookback
    times = [s.measured_at for s in scores]
    found = baseline_index(times, injected, injected - lookback)
    if found is None:
        before = bisect_left(times, injected)
        last = times[before - 1] if before else None
        reason = no_baseline_reason(instrument, where, last, lookback)
        return Baseline(journey.id, instrument, cycle, injected, None, reason)
    return Baseline(journey.id, instrument, cycle, injected, scores[found])
