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

from collections.abc import Iterable

import attrs

from stemjourney.clinical._protocol import ResponderRule
from stemjourney.outcomes._change import Change

__all__ = ["ResponderResult", "meets", "meets_values", "responder_status"]

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
