"""Responder status: does a change from baseline meet the protocol's thresholds?

The default protocol's rules: NRS at least 2 points and 30 % (Farrar 2001), 50 % as
substantial (IMMPACT, Dworkin 2008); VAS 15 mm or 30 % and ODI 10 points or 30 %
(Ostelo 2008). Minimal important changes for the other instruments vary between
studies and are not in the default; a clinic adds its own ``ResponderRule``.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from stemjourney.clinical._protocol import ResponderRule
from stemjourney.outcomes._baseline import Change

__all__ = ["ResponderResult", "meets", "responder_status"]

_SLACK = 1e-9
"""Room for float rounding: 65.5555... - 55.5555... must meet a 10-point threshold."""


@attrs.frozen
class ResponderResult:
    """Whether one responder rule is met by one change."""

    label: str
    met: bool
    rule: ResponderRule = attrs.field(repr=False)


def meets(rule: ResponderRule, change: Change) -> bool:
    """Whether ``change`` meets ``rule``: both thresholds with ``require_all``, else either.

    A threshold the rule leaves out plays no part; a per-cent threshold is never met
    when the per cent change is undefined (a baseline already at the best end).

    >>> from stemjourney import DEFAULT_PROTOCOL
    >>> responder, substantial = DEFAULT_PROTOCOL.rules_for("nrs")
    >>> meets(responder, Change("nrs", baseline=6, value=4, points=2, percent=33.3))
    True
    >>> meets(substantial, Change("nrs", baseline=6, value=4, points=2, percent=33.3))
    False
    """
    checks = []
    if rule.min_points is not None:
        checks.append(change.points >= rule.min_points - _SLACK)
    if rule.min_percent is not None:
        checks.append(change.percent is not None and change.percent >= rule.min_percent - _SLACK)
    return all(checks) if rule.require_all else any(checks)


def responder_status(change: Change, rules: Iterable[ResponderRule]) -> tuple[ResponderResult, ...]:
    """One result per rule on the change's instrument, in the order of ``rules``."""
    return tuple(
        ResponderResult(rule.label, meets(rule, change), rule)
        for rule in rules
        if rule.instrument == change.instrument
    )
