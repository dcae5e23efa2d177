"""Scores from item answers: validated, scored by the published rule, kept for audit.

A questionnaire :class:`~stemjourney.Score` holds the item answers next to the
score they give, so :func:`recompute` can check it at any time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from stemjourney.clinical._instruments import KOOS_SUBSCALES, get_instrument
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ValidationError

__all__ = ["KOOS_ITEMS", "recompute", "score_koos", "score_questionnaire"]

KOOS_ITEMS = sum(count for _name, _prefix, count in KOOS_SUBSCALES.values())
"""How many items the whole KOOS form has (42)."""


def score_questionnaire(
    instrument: str, answers: Sequence[float | None], measured_at: datetime
) -> Score:
    """Score ``answers`` on ``instrument`` and return the score with its answers.

    ``answers`` holds one answer per item in the order of the form, ``None`` for an
    item left blank. The instrument's missing-answer rule decides whether the
    answers are enough. For KOOS, score one subscale (``koos_pain``...) here, or all
    five with :func:`score_koos`. For ASES the first answer is the pain VAS in cm.

    Raises :class:`~stemjourney.exceptions.ValidationError` naming the item and what it
    allows, or saying how many answers the instrument needs;
    :class:`~stemjourney.exceptions.NotFoundError` for an unknown instrument.

    >>> from datetime import datetime, UTC
    >>> odi = score_questionnaire("odi", [2, 2, 2, 2, 2, 2, 1, 1, 1, 1],
    ...                           datetime(2025, 3, 3, tzinfo=UTC))
    >>> odi.value, odi.answers
    (32.0, (2, 2, 2, 2, 2, 2, 1, 1, 1, 1))
    >>> score_questionnaire("odi", [9] * 10, datetime(2025, 3, 3, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    stemjourney.exceptions.ValidationError: answers[s1]: is out of range; allowed: 0 to 5 for odi
    """
    if instrument == "koos":
        raise ValidationError(
            "instrument",
            "'koos' has five subscales",
            f"one of {', '.join(KOOS_SUBSCALES)}, or score_koos() for all five",
        )
    spec = get_instrument(instrument)
    if not spec.items:
        raise ValidationError(
            "instrument",
            f"{instrument} is entered as a value, not item answers",
            "a questionnaire (build its Score with nrs(), vas() or Score())",
        )
    value = spec.score(answers)
    return Score(instrument=instrument, value=value, measured_at=measured_at, answers=answers)


def _koos_parts(
    answers: Sequence[float | None] | Mapping[str, Sequence[float | None]],
) -> dict[str, Sequence[float | None]]:
    if isinstance(answers, Mapping):
        unknown = sorted(set(answers) - set(KOOS_SUBSCALES))
        if unknown:
            raise ValidationError(
                "answers", f"has unknown KOOS subscale {unknown[0]!r}", ", ".join(KOOS_SUBSCALES)
            )
        return {code: answers[code] for code in KOOS_SUBSCALES if code in answers}
    if (
        isinstance(answers, str | bytes)
        or not isinstance(answers, Sequence)
        or len(answers) != KOOS_ITEMS
    ):
        raise ValidationError(
            "answers",
            "is not the whole KOOS form",
            f"{KOOS_ITEMS} answers in the order of the form (S1-S7, P1-P9, A1-A17, "
            "SP1-SP5, Q1-Q4), or a mapping of subscale code to its answers",
        )
    parts: dict[str, Sequence[float | None]] = {}
    start = 0
    for code, (_name, _prefix, count) in KOOS_SUBSCALES.items():
        parts[code] = answers[start : start + count]
        start += count
    return parts


def score_koos(
    answers: Sequence[float | None] | Mapping[str, Sequence[float | None]],
    measured_at: datetime,
) -> dict[str, Score | None]:
    """Score the KOOS: one :class:`~stemjourney.Score` per subscale, ``None`` for a subscale
    with fewer than half its items answered (or not given at all).

    ``answers`` is either the 42 item scores (0 none ... 4 extreme, as on the KOOS
    scoring sheet, so S4 and S5 already reversed) in the order of the form:
    Symptoms S1-S7, Pain P1-P9, ADL A1-A17, Sport/Rec SP1-SP5, QOL Q1-Q4; or a mapping
    from subscale code (``koos_pain``...) to that subscale's answers.

    >>> from datetime import datetime, UTC
    >>> koos = score_koos({"koos_pain": [2, 2, 1, 3, 2, 1, 2, 2, 1]},
    ...                   datetime(2025, 3, 3, tzinfo=UTC))
    >>> round(koos["koos_pain"].value, 1), koos["koos_sport"]
    (55.6, None)
    """
    scores: dict[str, Score | None] = dict.fromkeys(KOOS_SUBSCALES)
    for code, part in _koos_parts(answers).items():
        spec = get_instrument(code)
        checked = spec.check_answers(part)
        assert spec.scorer is not None
        if spec.scorer(checked) is not None:
            scores[code] = score_questionnaire(code, part, measured_at)
    return scores


def recompute(score: Score) -> float | None:
    """The score its stored answers give today, for audit; ``None`` when it has none.

    Raises :class:`~stemjourney.exceptions.NotFoundError` for an unregistered instrument.
    """
    if score.answers is None:
        return None
    return get_instrument(score.instrument).score(score.answers)
