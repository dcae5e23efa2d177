"""Scores as values: a pain rating or a questionnaire result, at a moment in time."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from stemjourney import _fields as f
from stemjourney import _validation as v

__all__ = ["PAIN_INSTRUMENTS", "Score", "nrs", "vas"]

PAIN_INSTRUMENTS: dict[str, tuple[float, float, bool]] = {
    "nrs": (0, 10, True),
    "vas": (0, 100, False),
}
"""Pain scales: (lowest, highest, integers only). NRS 0-10 points, VAS 0-100 mm."""


@attrs.frozen(kw_only=True)
class Score:
    """One score on one instrument at one moment, with the item answers it came from.

    >>> from datetime import datetime, UTC
    >>> nrs(7, datetime(2026, 1, 5, tzinfo=UTC)).value
    7.0
    """

    kind: ClassVar[str] = "score"
    instrument: str = f.code_field()
    value: float = attrs.field()
    measured_at: datetime = f.moment()
    answers: tuple[int | None, ...] | None = attrs.field(default=None)

    @value.validator
    def _check_value(self, _attribute: object, value: object) -> None:
        spec = PAIN_INSTRUMENTS.get(self.instrument)
        if spec is None:
            v.number("value", value)
            return
        low, high, integer = spec
        v.number("value", value, low=low, high=high, integer=integer)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))

    @property
    def occurred_at(self) -> datetime:
        """The time the score was measured."""
        return self.measured_at


def nrs(value: int, measured_at: datetime) -> Score:
    """A pain score on the 0-10 numeric rating scale (whole numbers only)."""
    return Score(instrument="nrs", value=value, measured_at=measured_at)


def vas(value: float, measured_at: datetime) -> Score:
    """A pain score on the 0-100 mm visual analogue scale."""
    return Score(instrument="vas", value=value, measured_at=measured_at)
