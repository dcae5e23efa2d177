"""Questionnaire answers for the demo, scored by the outcomes package's published rules.

The answers follow one number, the patient's severity (0 no problem, 1 the worst),
with a little noise and, now and then, one item left blank, so the missing-answer
rules are exercised too.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime

from stemjourney.clinical._scores import Score
from stemjourney.outcomes import KOOS_ITEMS, get_instrument, score_koos, score_questionnaire

__all__ = ["questionnaire_scores"]


def _answer(rng: random.Random, severity: float, low: float, high: float, worse_high: bool) -> int:
    """One whole-number answer between ``low`` and ``high`` for ``severity``."""
    position = severity if worse_high else 1 - severity
    raw = low + position * (high - low) + rng.gauss(0, 0.6)
    return int(max(low, min(high, round(raw))))


def _with_blank(rng: random.Random, answers: list[float | None]) -> Sequence[float | None]:
    if rng.random() < 0.05:
        answers[rng.randrange(len(answers))] = None
    return answers


def questionnaire_scores(
    rng: random.Random, instrument: str, severity: float, at: datetime
) -> list[Score]:
    """Scores of ``instrument`` (``koos`` gives its five subscales) for ``severity`` 0-1.

    >>> from datetime import UTC, datetime
    >>> [s.instrument for s in questionnaire_scores(random.Random(1), "koos", 0.6,
    ...                                             datetime(2026, 1, 5, tzinfo=UTC))]
    ['koos_symptoms', 'koos_pain', 'koos_adl', 'koos_sport', 'koos_qol']
    """
    if instrument == "koos":
        items: list[float | None] = [_answer(rng, severity, 0, 4, True) for _ in range(KOOS_ITEMS)]
        return [s for s in score_koos(_with_blank(rng, items), at).values() if s is not None]
    spec = get_instrument(instrument)
    if instrument == "ases":
        vas_cm = round(max(0.0, min(10.0, severity * 10 + rng.gauss(0, 0.8))), 1)
        function = [_answer(rng, severity * 0.8, 0, 3, False) for _ in range(10)]
        return [score_questionnaire("ases", [vas_cm, *function], at)]
    scale = 0.75 if instrument in ("odi", "ndi") else 0.85
    answers: list[float | None] = [
        _answer(rng, severity * scale, item.low, item.high, True) for item in spec.items
    ]
    return [score_questionnaire(instrument, _with_blank(rng, answers), at)]
