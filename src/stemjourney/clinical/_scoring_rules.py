"""The published scoring rules, as pure functions of validated item answers.

Each rule takes one answer per item, ``None`` for an item left unanswered, and
returns the score, or ``None`` when the instrument's missing-answer rule says the
answers are too few to score. None of them guesses an answer it was not given,
beyond the imputation the published rule itself prescribes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["ases", "koos_subscale", "ndi", "odi", "quickdash"]

Answers = Sequence[float | None]


def _answered(answers: Answers) -> list[float]:
    return [a for a in answers if a is not None]


def koos_subscale(answers: Answers) -> float | None:
    """A KOOS subscale: ``100 - mean(item) x 25`` over items scored 0-4.

    A missing item takes the mean of the answered ones, so the mean of the answered
    items is used; the subscale is not scored unless at least half its items are
    answered (Roos & Lohmander 2003; KOOS User's Guide).

    >>> round(koos_subscale([2, 2, 1, 3, 2, 1, 2, 2, 1]), 1)
    55.6
    """
    got = _answered(answers)
    if 2 * len(got) < len(answers):
        return None
    return 100 - sum(got) / len(got) * 25


def odi(answers: Answers) -> float | None:
    """Oswestry Disability Index: ``total / (5 x sections answered) x 100``.

    Ten sections scored 0-5 (Fairbank & Pynsent 2000). Not scored with more than
    two sections unanswered (a stemjourney rule: the published formula sets no limit).

    >>> odi([2, 2, 2, 2, 2, 2, 1, 1, 1, 1])
    32.0
    >>> round(odi([2, 2, 2, 2, 2, 2, 1, 1, 2, None]), 1)
    35.6
    """
    got = _answered(answers)
    if len(got) < len(answers) - 2:
        return None
    return sum(got) / (5 * len(got)) * 100


def ndi(answers: Answers) -> float | None:
    """Neck Disability Index as a percentage: total of ten items 0-5, doubled.

    A missed item takes the mean of the answered ones (Vernon & Mior 1991;
    Vernon 2008), which gives ``total / (5 x items answered) x 100``. Not scored
    with more than two items unanswered (a stemjourney rule).

    >>> ndi([2, 2, 2, 2, 2, 2, 1, 1, 1, 1])
    32.0
    """
    return odi(answers)


def quickdash(answers: Answers) -> float | None:
    """QuickDASH: ``(sum / items answered - 1) x 25`` over eleven items scored 1-5.

    Not scored with more than one item missing (Beaton et al. 2005).

    >>> round(quickdash([3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2]), 1)
    36.4
    """
    got = _answered(answers)
    if len(got) < len(answers) - 1:
        return None
    return (sum(got) / len(got) - 1) * 25


def ases(answers: Answers) -> float | None:
    """ASES shoulder score: ``(10 - pain VAS cm) x 5 + (sum of ten items 0-3) x 5/3``.

    The first answer is the pain VAS in cm (0-10), then the ten activity items
    (Richards et al. 1994). The rule gives no way to fill in a missing answer, so
    the score needs every answer.

    >>> round(ases([6, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1]), 1)
    48.3
    """
    if any(a is None for a in answers):
        return None
    pain, *function = (float(a) for a in answers if a is not None)
    return (10 - pain) * 5 + math.fsum(function) * 5 / 3
