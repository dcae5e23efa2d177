"""Scores as values: a pain rating or a questionnaire result, at a moment in time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

import attrs

from stemjourney.clinical import _fields as f
from stemjourney.clinical import _validation as v
from stemjourney.clinical._instruments import INSTRUMENTS
from stemjourney.exceptions import ValidationError

__all__ = ["Score", "check_score_row", "nrs", "vas"]


def _answers(value: object) -> tuple[float | None, ...] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("answers", "expected a sequence", "a tuple of answers or None")
    answers = tuple(value)
    for answer in answers:
        if answer is not None:
            v.number("answers", answer)
    return answers


@attrs.frozen(kw_only=True)
class Score:
    """One score on one instrument at one moment, with the item answers it came from.

    The value is checked against the instrument in :data:`stemjourney.outcomes.INSTRUMENTS`
    (range, whole numbers); with ``answers``, it must be the score they give. A score
    on an instrument not registered only has to be a finite number.

    >>> from datetime import datetime, UTC
    >>> nrs(7, datetime(2026, 1, 5, tzinfo=UTC)).value
    7.0
    """

    kind: ClassVar[str] = "score"
    time_field: ClassVar[str] = "measured_at"
    instrument: str = f.code_field()
    value: float = attrs.field()
    measured_at: datetime = f.moment()
    answers: tuple[float | None, ...] | None = attrs.field(default=None, converter=_answers)

    @value.validator
    def _check_value(self, _attribute: object, value: object) -> None:
        spec = INSTRUMENTS.get(self.instrument)
        if spec is None:
            v.number("value", value)
        else:
            spec.check_score(value, self.answers)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))

    @property
    def occurred_at(self) -> datetime:
        """The time the score was measured."""
        return self.measured_at


def check_score_row(
    instrument: object, value: object, measured_at: object, answers: object = None
) -> tuple[str, float, object, tuple[float | None, ...] | None]:
    """The fields of a score checked by :class:`Score`'s own rules, without building one.

    For a bulk import: a value on a registered instrument with no item answers is
    checked by the instrument's :meth:`~stemjourney.outcomes.Instrument.check_value`,
    as ``Score`` checks it, and ``measured_at`` is returned as given, for the caller
    to check (the engine's :meth:`~stemjourney.Engine.check_time`); anything else is
    built as a ``Score``. Returns ``(instrument, value, measured_at, answers)``;
    raises :class:`~stemjourney.exceptions.ValidationError` naming the field.
    """
    if answers is None and type(instrument) is str:
        spec = INSTRUMENTS.get(instrument)
        if spec is not None:
            return instrument, spec.check_value(value), measured_at, None
    score = Score(
        instrument=instrument,  # type: ignore[arg-type]
        value=value,  # type: ignore[arg-type]
        measured_at=measured_at,  # type: ignore[arg-type]
        answers=answers,
    )
    return score.instrument, score.value, score.measured_at, score.answers


def nrs(value: int, measured_at: datetime) -> Score:
    """A pain score on the 0-10 numeric rating scale (whole numbers only)."""
    return Score(instrument="nrs", value=value, measured_at=measured_at)


def vas(value: float, measured_at: datetime) -> Score:
    """A pain score on the 0-100 mm visual analogue scale."""
    return Score(instrument="vas", value=value, measured_at=measured_at)
