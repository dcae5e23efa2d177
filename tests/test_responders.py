"""Responder status by the protocol's thresholds."""

from __future__ import annotations

import pytest

import stemjourney as sj
from stemjourney.outcomes import Change, meets, responder_status


def nrs_change(baseline: float, value: float) -> Change:
    """The change on NRS from ``baseline`` to ``value``."""
    points = baseline - value
    return Change("nrs", baseline, value, points, points * 100 / baseline if baseline else None)


@pytest.mark.parametrize(
    ("baseline", "value", "responder", "substantial"),
    [
        (8, 6, False, False),  # 2 points but 25 %
        (6, 4, True, False),  # 2 points and 33 %
        (10, 7, True, False),  # 3 points and exactly 30 %
        (3, 2, False, False),  # 33 % but 1 point
        (8, 4, True, True),  # 4 points and 50 %
        (0, 0, False, False),  # no room, no per cent
    ],
)
def test_default_nrs_rules(
    baseline: float, value: float, responder: bool, substantial: bool
) -> None:
    """NRS responder needs 2 points and 30 %; substantial needs 50 %."""
    results = responder_status(nrs_change(baseline, value), sj.DEFAULT_PROTOCOL.responder_rules)
    assert {r.label: r.met for r in results} == {
        "responder": responder,
        "substantial": substantial,
    }


@pytest.mark.parametrize(
    ("points", "percent", "met"),
    [(15, 20, True), (10, 30, True), (10, 29.9, False), (14.9, None, False)],
)
def test_vas_rule_is_either_threshold(points: float, percent: float | None, met: bool) -> None:
    """VAS responder needs 15 mm or 30 % (Ostelo 2008)."""
    (rule,) = sj.DEFAULT_PROTOCOL.rules_for("vas")
    assert meets(rule, Change("vas", 50, 50 - points, points, percent)) is met


@pytest.mark.parametrize(
    ("points", "percent", "met"), [(10, 5, True), (5, 30, True), (9, 29, False)]
)
def test_odi_rule_is_either_threshold(points: float, percent: float, met: bool) -> None:
    """ODI responder needs 10 points or 30 % (Ostelo 2008)."""
    (rule,) = sj.DEFAULT_PROTOCOL.rules_for("odi")
    assert meets(rule, Change("odi", 40, 40 - points, points, percent)) is met


def test_float_rounding_does_not_miss_a_threshold() -> None:
    """A KOOS change of 10 points computed from recurring decimals meets a 10-point rule."""
    rule = sj.ResponderRule("koos_pain", "mic", min_points=10)
    before, after = 100 - 16 / 9 * 25, 100 - 16 / 9 * 25 + 10
    assert meets(rule, Change("koos_pain", before, after, after - before, None))


def test_rules_for_other_instruments_are_ignored() -> None:
    """Only the rules on the change's instrument give results."""
    rules = (*sj.DEFAULT_PROTOCOL.responder_rules, sj.ResponderRule("ndi", "mic", min_points=5))
    results = responder_status(Change("ndi", 40, 30, 10, 25), rules)
    assert [(r.label, r.met) for r in results] == [("mic", True)]
    assert results[0].rule.instrument == "ndi"
