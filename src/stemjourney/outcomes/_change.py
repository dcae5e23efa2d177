"""Change from baseline, with the instrument's direction handled.

The rule, in one place: ``points`` is the improvement in the instrument's units (a
fall on NRS, VAS, ODI, NDI and QuickDASH, where lower is better; a rise on KOOS and
ASES, where higher is better); ``delta`` is ``value - baseline`` as measured; and
``percent`` is the improvement as a per cent of the baseline's distance from the
instrument's best score. That is the OMERACT-OARSI relative change (Pham et al.,
Osteoarthritis Cartilage 2004): per cent of the baseline where lower is better,
of ``100 - baseline`` for KOOS and ASES. It is undefined (``None``) when the
baseline is already the best score, and for an instrument that is not registered
(its direction is unknown, so no change is computed at all).
"""

from __future__ import annotations

import math

import attrs

from stemjourney.clinical._instruments import INSTRUMENTS
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import NotFoundError, ValidationError

__all__ = ["Change", "change", "change_of", "improvement"]


@attrs.frozen
class Change:
    """A score against its baseline, as an improvement: positive is better.

    ``points`` is the improvement in the instrument's units; ``percent`` that
    improvement as a per cent of the room the baseline left (its distance from the
    best score), ``None`` when the baseline was already the best score.
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


def improvement(
    higher_is_better: bool, best: float, baseline: float, value: float
) -> tuple[float, float | None]:
    """The improvement from ``baseline`` to ``value``, in points and in per cent of the
    baseline's distance from ``best`` (``None`` when the baseline is the best score, or so
    close to it that the per cent is beyond any number).

    >>> improvement(False, 0, 8, 6), improvement(True, 100, 40, 60)
    ((2.0, 25.0), (20.0, 33.333333333333336))
    >>> improvement(False, 0, 5e-324, 1.0)  # a VAS baseline a hair above 0 mm
    (-1.0, None)
    """
    before, after = float(baseline), float(value)
    points = after - before if higher_is_better else before - after
    room = abs(best - before)
    if room == 0:
        return points, None
    percent = points * 100 / room
    return points, percent if math.isfinite(percent) else None


def change_of(instrument: str, baseline: float, value: float) -> Change | None:
    """The change from ``baseline`` to ``value`` on ``instrument``; ``None`` if unregistered.

    >>> change_of("nrs", 8, 4)
    Change(instrument='nrs', baseline=8.0, value=4.0, points=4.0, percent=50.0)
    >>> round(change_of("koos_adl", 29.4, 86.8).percent, 1)
    81.3
    >>> change_of("nrs", 0, 3).percent is None, change_of("clinic:unknown", 1, 2)
    (True, None)
    """
    spec = INSTRUMENTS.get(instrument)
    if spec is None:
        return None
    points, percent = improvement(spec.higher_is_better, spec.best, baseline, value)
    return Change(instrument, float(baseline), float(value), points, percent)


def change(before: Score, after: Score) -> Change:
    """The change from ``before`` to ``after`` on one registered instrument.

    Raises :class:`~stemjourney.exceptions.ValidationError` for scores on two
    instruments, :class:`~stemjourney.exceptions.NotFoundError` for an instrument
    that is not registered.

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
    found = change_of(after.instrument, before.value, after.value)
    if found is None:
        raise NotFoundError("instrument", after.instrument)
    return found
