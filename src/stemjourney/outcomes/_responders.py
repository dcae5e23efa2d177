"""Responder status: does a change from baseline meet the protocol's thresholds?

The rule, in one place: a change meets a :class:`~stemjourney.ResponderRule` when its
improvement reaches the rule's thresholds, joined by the rule's ``combine`` (``all``
or ``any``). A per-cent threshold is never met when the per cent is undefined (a
baseline already at the best score). The default protocol's rules, each citing its
source in ``ResponderRule.source``: NRS at least 2 points and 30 % (Farrar 2001), 50 %
as substantial (IMMPACT, Dworkin 2008); VAS 15 mm or 30 % and ODI 10 points or 30 %
(Ostelo 2008). Minimal important changes for the other instruments vary between
studies and are not in the default; a clinic adds its own ``ResponderRule``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from stemjourney.clinical._protocol import ResponderRule
from stemjourney.outcomes._change import Change

__all__ = [
    "ResponderResult",
    "ResponderTest",
    "meets",
    "meets_values",
    "responder_status",
    "responder_test",
]

_SLACK = 1e-9
"""Room for float rounding: 65.5555... - 55.5555... must meet a 10-point threshold."""


@attrs.frozen
class ResponderResult:
    """Whether one responder rule is met by one change."""

    label: str
    met: bool
    rule: ResponderRule = attrs.field(repr=False)


def meets_values(rule: ResponderRule, points: float, percent: float | None) -> bool:
    """Whether an improvement of ``points`` and ``percent`` meets ``rule`` (see :func:`meets`)."""
    checks = []
    if rule.min_points is not None:
        checks.append(points >= rule.min_points - _SLACK)
    if rule.min_percent is not None:
        checks.append(percent is not None and percent >= rule.min_percent - _SLACK)
    return all(checks) if rule.combine == "all" else any(checks)


ResponderTest = Callable[[float, float | None], bool]
"""A responder rule as a function of (points, percent): see :func:`responder_test`."""


def responder_test(rule: ResponderRule) -> ResponderTest:
    """``rule`` compiled once: a function of (points, percent) equal to :func:`meets_values`.

    The thresholds less the rounding slack are worked out once and only the checks the
    rule has are made, so a report judging a hundred thousand time points calls one
    small function per rule instead of reading the rule each time.

    >>> from stemjourney import DEFAULT_PROTOCOL
    >>> responder, substantial = map(responder_test, DEFAULT_PROTOCOL.rules_for("nrs"))
    >>> responder(2, 33.3), substantial(2, 33.3), responder(5, None)
    (True, False, False)
    """
    points_at = None if rule.min_points is None else rule.min_points - _SLACK
    percent_at = None if rule.min_percent is None else rule.min_percent - _SLACK
    if points_at is not None and percent_at is not None:
        if rule.combine == "all":
            return _both_test(points_at, percent_at)
        return _either_test(points_at, percent_at)
    if points_at is not None:
        return _points_test(points_at)
    assert percent_at is not None  # ResponderRule refuses a rule without a threshold
    return _percent_test(percent_at)


def _points_test(points_at: float) -> ResponderTest:
    def test(points: float, percent: float | None) -> bool:
        return points >= points_at

    return test


def _percent_test(percent_at: float) -> ResponderTest:
    def test(points: float, percent: float | None) -> bool:
        return percent is not None and percent >= percent_at

    return test


def _both_test(points_at: float, percent_at: float) -> ResponderTest:
    def test(points: float, percent: float | None) -> bool:
        return points >= points_at and percent is not None and percent >= percent_at

    return test


def _either_test(points_at: float, percent_at: float) -> ResponderTest:
    def test(points: float, percent: float | None) -> bool:
        return points >= points_at or (percent is not None and percent >= percent_at)

    return test


def meets(rule: ResponderRule, change: Change) -> bool:
    """Whether ``change`` meets ``rule``: every threshold with ``combine="all"``, else any.

    A threshold the rule leaves out plays no part; a per-cent threshold is never met
    when the per cent change is undefined (a baseline already at the best score).

    >>> from stemjourney import DEFAULT_PROTOCOL
    >>> responder, substantial = DEFAULT_PROTOCOL.rules_for("nrs")
    >>> meets(responder, Change("nrs", baseline=6, value=4, points=2, percent=33.3))
    True
    >>> meets(substantial, Change("nrs", baseline=6, value=4, points=2, percent=33.3))
    False
    """
    return meets_values(rule, change.points, change.percent)


def responder_status(change: Change, rules: Iterable[ResponderRule]) -> tuple[ResponderResult, ...]:
    """One result per rule on the change's instrument, in the order of ``rules``."""
    return tuple(
        ResponderResult(rule.label, meets(rule, change), rule)
        for rule in rules
        if rule.instrument == change.instrument
    )
