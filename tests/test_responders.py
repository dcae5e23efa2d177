"""Responder status by the protocol's thresholds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stemjourney as sj
from stemjourney.outcomes import Change, meets, meets_values, responder_status
from stemjourney.outcomes._responders import responder_test


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


THRESHOLDS = st.one_of(
    st.none(), st.sampled_from([0.0, 2, 10, 15, 30.0, 50, 100]), st.floats(0, 100)
)
RULES = st.builds(
    lambda thresholds, combine: sj.ResponderRule("nrs", "rule", *thresholds, combine),
    st.tuples(THRESHOLDS, THRESHOLDS).filter(lambda t: t != (None, None)),
    st.sampled_from(["all", "any"]),
)
"""Any rule a protocol may hold: one threshold or two (a rule without one is refused)."""


def near(threshold: float | None) -> st.SearchStrategy[float]:
    """Any float, or one at ``threshold``, at the rounding slack below it or beyond the slack."""
    edges = [] if threshold is None else [threshold, threshold - 1e-9, threshold - 2e-9]
    return st.one_of(st.floats(), st.sampled_from([0.0, -0.0, *edges]))


@given(data=st.data())
def test_a_compiled_rule_judges_as_meets_values(data: st.DataObject) -> None:
    """``responder_test(rule)`` gives what ``meets_values(rule, ...)`` gives, for any rule and
    any improvement: at the thresholds, a slack below them, undefined per cents, NaN."""
    rule = data.draw(RULES)
    points = data.draw(near(rule.min_points))
    percent = data.draw(st.one_of(st.none(), near(rule.min_percent)))
    assert responder_test(rule)(points, percent) is meets_values(rule, points, percent)


@pytest.mark.parametrize("rule", sj.DEFAULT_PROTOCOL.responder_rules, ids=lambda r: r.label)
@given(points=st.floats(), percent=st.one_of(st.none(), st.floats()))
def test_the_default_rules_compiled_judge_as_meets_values(
    rule: sj.ResponderRule, points: float, percent: float | None
) -> None:
    """Each default rule, compiled, gives what :func:`meets_values` gives."""
    assert responder_test(rule)(points, percent) is meets_values(rule, points, percent)
