"""The reports as data: patient report, cohort outcomes and the work-list."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stemjourney as sj
from _report_journeys import (
    DAY0,
    ENGINE,
    adverse,
    consulted,
    inject,
    inject_stored,
    scores,
    treated,
)
from stemjourney import outcomes
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.reports import cohort_report, patient_report, worklist_report

INJECTED = DAY0 + timedelta(days=14)


class FakeStore:
    """A store-like object answering only what reports ask."""

    def __init__(self, journeys: list[sj.Journey]) -> None:
        self.journeys = journeys
        self.calls: list[str] = []

    def iter_journeys(self) -> Iterator[sj.Journey]:
        """Stream the journeys, noting the call."""
        self.calls.append("iter")
        yield from self.journeys

    def journeys_of(self, patient_id: str) -> list[sj.Journey]:
        """The journeys of one patient."""
        self.calls.append("of")
        return [j for j in self.journeys if j.patient_id == patient_id]

    def journeys_in(self, stage: str) -> list[sj.Journey]:
        """The journeys in one stage."""
        self.calls.append(f"in:{stage}")
        return [j for j in self.journeys if j.stage == stage]

    def patient(self, patient_id: str) -> sj.Patient:
        """The patient value."""
        return sj.Patient(id=patient_id, external_id="MRN-1", display_name="Ann Example")


def test_patient_report_compares_each_score_with_the_baseline_before_injection() -> None:
    """Scores after the injection carry change, per cent and responder verdicts by rule."""
    report = patient_report([treated()], "p-1", on=date(2026, 5, 1))
    (series,) = report.journeys[0].series
    assert series.baseline == 8
    assert series.baseline_on == DAY0.date()
    before, six_weeks, three_months = series.points
    assert before.change is None
    assert before.responder == ()
    assert (six_weeks.time_point, six_weeks.change, six_weeks.improvement) == ("6w", -3, 3)
    assert six_weeks.improvement_pct == 37.5
    with pytest.warns(DeprecationWarning, match="improvement_pct"):
        assert six_weeks.change_pct == 37.5
    assert dict(six_weeks.responder) == {"responder": True, "substantial": False}
    assert three_months.time_point == "3m"
    assert dict(three_months.responder) == {"responder": True, "substantial": True}


def test_patient_report_lists_timeline_events_and_next_visit() -> None:
    """The timeline has every stage entered, events drop free text, the next visit is 6m."""
    j = adverse(treated(), INJECTED + timedelta(days=2), serious=True, grade=3)
    report = patient_report([j], "p-1", on=date(2026, 6, 1))
    jr = report.journeys[0]
    assert [t.stage for t in jr.timeline] == [
        "consultation",
        "harvest",
        "processing",
        "injection",
        "recovery",
        "follow_up",
    ]
    (event,) = jr.adverse_events
    assert (event.grade, event.serious, event.outcome) == (3, True, "recovered")
    assert "secret" not in json.dumps(report.as_dict())
    assert jr.next_visit is not None
    assert (jr.next_visit.label, jr.next_visit.status) == ("6m", "upcoming")


def test_next_visit_skips_missed_visits_and_reports_overdue() -> None:
    """A 6w visit never done is missed after its window and the 3m one is overdue in it."""
    j = treated(follow=())
    nv = patient_report([j], "p-1", on=date(2026, 4, 25)).journeys[0].next_visit
    assert nv is not None
    assert (nv.label, nv.status) == ("3m", "overdue")


def test_closed_or_never_injected_journeys_have_no_next_visit() -> None:
    """Only journeys in recovery or follow-up with an injection have a next visit."""
    j = consulted()
    report = patient_report([j], "p-1", on=date(2026, 4, 1))
    assert report.journeys[0].next_visit is None
    assert report.journeys[0].series[0].baseline is None


def test_next_visit_is_none_when_every_visit_is_done_or_missed() -> None:
    """After the last window closes nothing is due."""
    report = patient_report([treated()], "p-1", on=date(2029, 1, 1))
    assert report.journeys[0].next_visit is None


def test_patient_report_uses_the_store_and_leaves_out_voided_journeys() -> None:
    """A store gives the external id; voided journeys are not reported."""
    voided, _ = ENGINE.move(
        consulted("j-2"), "voided", actor="dr.a", occurred_at=DAY0, reason="duplicate"
    )
    store = FakeStore([treated(), voided, treated("j-9", "p-9")])
    report = patient_report(store, "p-1", on=date(2026, 5, 1))
    assert [j.journey_id for j in report.journeys] == ["j-1"]
    assert report.external_id == "MRN-1"
    assert store.calls == ["of"]


def test_patient_report_of_an_unknown_patient_raises_not_found() -> None:
    """Plain journeys without the patient give NotFoundError naming the id."""
    with pytest.raises(NotFoundError, match="p-404"):
        patient_report([treated()], "p-404", on=date(2026, 5, 1))


def test_second_cycle_scores_are_mapped_to_the_second_injection() -> None:
    """A stored-product cycle counts its time points from its own injection."""
    j = consulted()
    j = inject(j, INJECTED, doses=2, product="prod-x")
    j = scores(j, INJECTED, [(42, 5)])
    second = INJECTED + timedelta(days=100)
    j = inject_stored(j, second, "prod-x", move_first=False)
    j = scores(j, second, [(43, 3)])
    (series,) = patient_report([j], "p-1", on=date(2026, 9, 1)).journeys[0].series
    assert [(p.cycle, p.time_point) for p in series.points] == [
        (None, "baseline"),
        (1, "6w"),
        (2, "6w"),
    ]
    assert series.injections == (INJECTED.date(), second.date())


def test_function_scores_get_their_own_series_ordered_after_pain() -> None:
    """Each instrument has a series; the protocol's own comes first."""
    j = scores(treated(), INJECTED, [(42, 30)], instrument="odi")
    report = patient_report([j], "p-1", on=date(2026, 5, 1))
    assert [s.instrument for s in report.journeys[0].series] == ["nrs", "odi"]


def test_responder_direction_follows_the_instrument() -> None:
    """A rising KOOS is an improvement; a baseline at the best score has no per cent."""
    rule = sj.ResponderRule("koos_pain", "better", min_points=10)
    assert outcomes.meets(rule, outcomes.change_of("koos_pain", 40, 55))
    assert not outcomes.meets(rule, outcomes.change_of("koos_pain", 40, 30))
    pct_rule = sj.ResponderRule("nrs", "pct", min_percent=30)
    assert not outcomes.meets(pct_rule, outcomes.change_of("nrs", 0, 0))
    moved = outcomes.change_of("nrs", 0, 3)
    assert (moved.delta, moved.points, moved.percent) == (3.0, -3.0, None)


def _cohort(journeys: list[sj.Journey], on: date = date(2026, 5, 1)) -> sj.reports.CohortReport:
    return cohort_report(journeys, on=on)


def test_cohort_groups_by_condition_site_source_and_cycle() -> None:
    """Each (condition, site, cell source, cycle) is its own group, sorted."""
    report = _cohort(
        [
            treated("j-1", "p-1"),
            treated("j-2", "p-2", source="adipose"),
            treated("j-3", "p-3", condition="osteoarthritis of hip", site="hip"),
        ]
    )
    keys = [(g.condition, g.site, g.cell_source, g.cycle) for g in report.groups]
    assert keys == [
        ("osteoarthritis of hip", "hip", "bone_marrow", 1),
        ("osteoarthritis of knee", "knee", "adipose", 1),
        ("osteoarthritis of knee", "knee", "bone_marrow", 1),
    ]
    assert report.journeys == 3


def test_cohort_rows_hold_means_medians_changes_shares_and_completeness() -> None:
    """The 6w row aggregates three journeys; completeness counts a due visit never scored."""
    journeys = [
        treated("j-1", "p-1", baseline=8, follow=[(42, 4)]),
        treated("j-2", "p-2", baseline=6, follow=[(40, 5)]),
        treated("j-3", "p-3", baseline=7, follow=[(44, 1)]),
        treated("j-4", "p-4", baseline=7, follow=[]),
    ]
    journeys[0] = adverse(journeys[0], INJECTED + timedelta(days=3))
    journeys[1] = adverse(journeys[1], INJECTED + timedelta(days=3), serious=True, grade=3)
    (group,) = _cohort(journeys).groups
    rows = {r.time_point: r for r in group.rows}
    six = rows["6w"]
    assert (six.patients, six.expected, six.completeness) == (3, 4, 0.75)
    assert six.mean == pytest.approx(10 / 3)
    assert six.median == 4
    assert six.mean_change == pytest.approx(-11 / 3)
    assert six.sd_change == pytest.approx(statistics.stdev([-4, -1, -6]))
    assert dict(six.responders) == pytest.approx({"responder": 2 / 3, "substantial": 2 / 3})
    assert rows["baseline"].mean == 7
    assert rows["baseline"].mean_change is None
    assert rows["6m"].expected == 0
    assert rows["6m"].completeness is None
    assert group.adverse_event_rate == 0.5
    assert group.serious_adverse_event_rate == 0.25
    assert group.journeys == group.patients == 4


def test_cohort_takes_the_score_closest_to_the_due_day() -> None:
    """Two scores in one window: the one nearer the due day counts."""
    (group,) = _cohort([treated(follow=[(30, 6), (43, 2)])]).groups
    assert {r.time_point: r.mean for r in group.rows}["6w"] == 2


def test_cohort_streams_a_store_and_ignores_voided_and_untreated_journeys() -> None:
    """A store is read with iter_journeys; voided and never-injected journeys are skipped."""
    voided, _ = ENGINE.move(
        consulted("j-2"), "voided", actor="dr.a", occurred_at=DAY0, reason="duplicate"
    )
    store = FakeStore([treated(), voided, consulted("j-3", "p-3")])
    report = cohort_report(store, on=date(2026, 5, 1))
    assert store.calls == ["iter"]
    assert report.journeys == 1
    assert report.instrument == "nrs"


def test_cohort_uses_amended_scores() -> None:
    """An amended score replaces its original in the aggregate."""
    j = treated(follow=[(42, 5)])
    original = j.records[-1]
    assert isinstance(original.record, sj.Score)
    fixed = sj.nrs(6, original.record.measured_at)
    j, _ = ENGINE.record(j, fixed, actor="dr.a", amends=original.version, reason="typo")
    (group,) = _cohort([j]).groups
    assert {r.time_point: r.mean for r in group.rows}["6w"] == 6


def test_cohort_second_cycle_baseline_is_the_last_score_before_its_injection() -> None:
    """Cycle 2 of a stored product compares with the last cycle-1 score."""
    j = inject(consulted(baseline=8), INJECTED, doses=2, product="prod-x")
    j = scores(j, INJECTED, [(42, 6)])
    second = INJECTED + timedelta(days=100)
    j = inject_stored(j, second, "prod-x", move_first=False)
    j = scores(j, second, [(42, 3)])
    report = _cohort([j], on=date(2026, 9, 1))
    cycle2 = next(g for g in report.groups if g.cycle == 2)
    rows = {r.time_point: r for r in cycle2.rows}
    assert rows["baseline"].mean == 6
    assert rows["6w"].mean_change == -3


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(-14, 14)),
        min_size=1,
        max_size=6,
    )
)
def test_cohort_six_week_row_matches_plain_statistics(data: list[tuple[int, int, int]]) -> None:
    """The streamed aggregate equals mean, median and shares computed from the raw values."""
    journeys = [
        treated(f"j-{i}", f"p-{i}", baseline=b, follow=[(42 + shift, v)])
        for i, (b, v, shift) in enumerate(data)
    ]
    (group,) = _cohort(journeys).groups
    six = {r.time_point: r for r in group.rows}["6w"]
    values = [v for _, v, _ in data]
    changes = [v - b for b, v, _ in data]
    assert six.mean == pytest.approx(statistics.mean(values))
    assert six.median == statistics.median(values)
    assert six.mean_change == pytest.approx(statistics.mean(changes))
    rule = sj.DEFAULT_PROTOCOL.rules_for("nrs")[0]
    expected = sum(outcomes.meets(rule, outcomes.change_of("nrs", b, v)) for b, v, _ in data) / len(
        data
    )
    assert dict(six.responders)["responder"] == pytest.approx(expected)


def test_worklist_lists_unscored_visits_whose_window_meets_the_range() -> None:
    """6w done, 3m open: only 3m of the first journey; a fresh journey needs its 6w."""
    done = treated("j-1", "p-1", follow=[(42, 5)])
    fresh = treated("j-2", "p-2", follow=[], injected=INJECTED + timedelta(days=50))
    report = worklist_report(
        [done, fresh, consulted("j-3", "p-3")], date(2026, 3, 30), date(2026, 4, 30)
    )
    assert [(i.journey_id, i.time_point) for i in report.items] == [("j-1", "3m"), ("j-2", "6w")]
    assert [i.status for i in report.items] == ["in_window", "upcoming"]
    later = worklist_report([done], date(2026, 4, 1), date(2026, 4, 30), on=date(2026, 4, 25))
    assert later.items[0].status == "overdue"


def test_worklist_streams_a_source_without_outcome_facts() -> None:
    """A store-like source without outcome facts is streamed; its journeys give the rows."""
    store = FakeStore([treated(follow=[(42, 5)])])
    report = worklist_report(store, date(2026, 4, 1), date(2026, 4, 30))
    assert store.calls == ["iter", "iter"]
    assert report.as_dict()["items"][0]["time_point"] == "3m"


def test_worklist_refuses_an_end_before_the_start() -> None:
    """A reversed range is a ValidationError naming 'end'."""
    with pytest.raises(ValidationError, match="end"):
        worklist_report([], date(2026, 4, 30), date(2026, 4, 1))


def test_visit_window_status_runs_from_upcoming_to_missed() -> None:
    """A window's status moves with the day it is read on."""
    _, _, _, due, opens, closes = next(
        outcomes.plan_windows({1: date(2026, 1, 1)}, sj.DEFAULT_PROTOCOL)
    )
    days = [opens - timedelta(days=1), opens, due + timedelta(days=1), closes + timedelta(1)]
    assert [outcomes.open_status(due, opens, closes, d) for d in days] == [
        "upcoming",
        "in_window",
        "overdue",
        "missed",
    ]


def test_patient_report_shows_the_record_as_it_stood_on_its_day() -> None:
    """Scores measured after the report's day are left out, as the cohort report leaves them."""
    j = treated()
    full = patient_report([j], "p-1", on=date(2026, 6, 1)).journeys[0].series[0]
    early = patient_report([j], "p-1", on=date(2026, 3, 30)).journeys[0].series[0]
    assert len(full.points) == 3
    assert [p.time_point for p in early.points] == ["baseline", "6w"]
