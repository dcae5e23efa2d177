"""The protocol: schedule and windows, month-end due dates, release and responder rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given

from stemjourney import (
    DEFAULT_PROTOCOL,
    Processing,
    Protocol,
    ReleaseCriteria,
    ResponderRule,
    ScheduledVisit,
)
from stemjourney.exceptions import ValidationError
from stemjourney.outcomes import plan_windows
from stemjourney.testing import aware_datetimes, processings

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_default_schedule() -> None:
    """The default follow-up is 6 weeks, 3, 6, 12 and 24 months."""
    assert [v.label for v in DEFAULT_PROTOCOL.schedule] == ["6w", "3m", "6m", "12m", "24m"]
    assert [v.nominal_days for v in DEFAULT_PROTOCOL.schedule] == [42, 91, 183, 365, 730]
    assert DEFAULT_PROTOCOL.minimum_rest == timedelta(days=7)


@pytest.mark.parametrize(
    ("injected", "months", "due"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 1, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 8, 31, tzinfo=UTC), 3, datetime(2026, 11, 30, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2025, 2, 28, tzinfo=UTC)),
        (datetime(2026, 3, 15, 10, tzinfo=UTC), 6, datetime(2026, 9, 15, 10, tzinfo=UTC)),
    ],
)
def test_month_end_due_dates_clamp(injected: datetime, months: int, due: datetime) -> None:
    """Months are calendar months: the 31st clamps to the month's last day."""
    assert ScheduledVisit("v", months=months).due(injected) == due


def test_weeks_and_window() -> None:
    """Weeks are added as days; the window spans window_days either side of the due date."""
    visit = ScheduledVisit("6w", weeks=6, window_days=14)
    assert visit.due(T0) == T0 + timedelta(weeks=6)
    assert visit.due_on(T0.date()) == T0.date() + timedelta(weeks=6)
    with pytest.warns(DeprecationWarning, match="planned_visits"):
        assert visit.window(T0) == (T0 + timedelta(days=28), T0 + timedelta(days=56))


def test_visit_needs_an_offset() -> None:
    """A visit with neither weeks nor months is refused."""
    with pytest.raises(ValidationError) as info:
        ScheduledVisit("now")
    assert info.value.field == "ScheduledVisit"


@pytest.mark.parametrize(
    ("field", "value"), [("weeks", -1), ("months", 241), ("window_days", 366), ("label", "")]
)
def test_visit_fields_are_checked(field: str, value: object) -> None:
    """Each field of a scheduled visit is range-checked, by name."""
    args: dict[str, object] = {"label": "v", "months": 1, field: value}
    with pytest.raises(ValidationError) as info:
        ScheduledVisit(**args)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    "visits",
    [
        # 1 month +/- 14 days can reach day 45; 6 weeks - 14 days starts at day 28.
        (ScheduledVisit("1m", months=1, window_days=14), ScheduledVisit("6w", weeks=6)),
        # out of order
        (ScheduledVisit("3m", months=3), ScheduledVisit("1m", months=1)),
        # wide windows touch
        (
            ScheduledVisit("3m", months=3, window_days=45),
            ScheduledVisit("6m", months=6, window_days=45),
        ),
    ],
)
def test_overlapping_windows_are_refused(visits: tuple[ScheduledVisit, ...]) -> None:
    """A schedule whose windows can overlap in some month is refused, naming both visits."""
    with pytest.raises(ValidationError) as info:
        attrs.evolve(DEFAULT_PROTOCOL, schedule=visits)
    assert info.value.field == "schedule"
    assert f"'{visits[0].label}' and '{visits[1].label}'" in info.value.problem


def test_schedule_must_be_nonempty_and_distinct() -> None:
    """An empty schedule and repeated labels are refused."""
    with pytest.raises(ValidationError, match="is empty"):
        attrs.evolve(DEFAULT_PROTOCOL, schedule=())
    with pytest.raises(ValidationError, match="repeats a label"):
        attrs.evolve(
            DEFAULT_PROTOCOL,
            schedule=(ScheduledVisit("v", months=1), ScheduledVisit("v", months=6)),
        )


@given(aware_datetimes())
def test_default_windows_never_overlap(injected: datetime) -> None:
    """For any injection date, each default window ends before the next begins."""
    windows = [w[4:] for w in plan_windows({1: injected.date()}, DEFAULT_PROTOCOL)]
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert end < start


@pytest.mark.parametrize(
    ("field", "value"),
    [("minimum_rest", timedelta(days=-1)), ("clock_skew", 5), ("baseline_lookback", None)],
)
def test_durations_are_checked(field: str, value: object) -> None:
    """Durations must be timedeltas of 0 or more."""
    with pytest.raises(ValidationError) as info:
        attrs.evolve(DEFAULT_PROTOCOL, **{field: value})
    assert info.value.field == field


def test_instruments_are_codes() -> None:
    """Instrument names must be codes."""
    with pytest.raises(ValidationError) as info:
        attrs.evolve(DEFAULT_PROTOCOL, instruments=("NRS scale",))
    assert info.value.field == "instruments"


def test_responder_rule_needs_a_threshold() -> None:
    """A responder rule with neither points nor percent is refused."""
    with pytest.raises(ValidationError) as info:
        ResponderRule("nrs", "any")
    assert info.value.field == "ResponderRule"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instrument", "N R S"),
        ("label", ""),
        ("min_points", -1),
        ("min_percent", 101),
        ("combine", "both"),
    ],
)
def test_responder_rule_fields_are_checked(field: str, value: object) -> None:
    """Each field of a responder rule is checked by name."""
    args: dict[str, object] = {"instrument": "nrs", "label": "r", "min_percent": 30, field: value}
    with pytest.raises(ValidationError) as info:
        ResponderRule(**args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_default_responder_rules() -> None:
    """The default rules: NRS 2 points and 30 %, 50 % substantial; VAS 15 mm or 30 %."""
    nrs_rules = DEFAULT_PROTOCOL.rules_for("nrs")
    assert [(r.label, r.min_points, r.min_percent, r.combine) for r in nrs_rules] == [
        ("responder", 2, 30, "all"),
        ("substantial", None, 50, "all"),
    ]
    assert DEFAULT_PROTOCOL.rules_for("vas")[0].combine == "any"
    assert all(r.source for r in DEFAULT_PROTOCOL.responder_rules)
    assert "Farrar" in nrs_rules[0].source
    assert "Dworkin" in nrs_rules[1].source
    assert DEFAULT_PROTOCOL.rules_for("koos") == ()


def test_release_criteria_name_each_failure() -> None:
    """Release criteria list every criterion a product misses."""
    criteria = ReleaseCriteria(80, min_tnc_total=1e9, min_cd34_per_ml=1e4)
    product = Processing(
        product_id="p-1",
        started_at=T0,
        finished_at=T0,
        method="m",
        manipulation="minimal",
        final_volume_ml=2,
        tnc_per_ml=1e6,
        viability_pct=79,
        released=False,
    )
    assert criteria.failures(product) == [
        "product p-1 released by the lab",
        "viability of at least 80 %",
        "at least 1e+09 total nucleated cells",
        "a CD34+ count of at least 10000 per mL",
    ]


STRICT = ReleaseCriteria(75, min_tnc_total=5e8, min_cd34_per_ml=5e6)


@given(processings(released=True, criteria=STRICT))
def test_released_strategy_passes_custom_criteria(product: Processing) -> None:
    """processings(released=True) draws products that pass the criteria it is given."""
    assert STRICT.failures(product) == []


@given(processings(released=False))
def test_failed_strategy_fails_default_criteria(product: Processing) -> None:
    """processings(released=False) draws products that fail the default criteria."""
    assert DEFAULT_PROTOCOL.release.failures(product)


def test_custom_protocol() -> None:
    """A clinic builds its own protocol with its own name and rest."""
    mine = Protocol(
        name="clinic a",
        schedule=(ScheduledVisit("1m", months=1), ScheduledVisit("1y", months=12)),
        minimum_rest=timedelta(days=3),
    )
    assert mine.release == ReleaseCriteria(70.0)
    assert mine.instruments == ("nrs",)


def test_require_all_is_deprecated_for_combine() -> None:
    """ResponderRule(require_all=...) still works, warning; it maps to combine all / any."""
    with pytest.warns(DeprecationWarning, match="combine"):
        either = ResponderRule("vas", "r", min_points=15, min_percent=30, require_all=False)
    assert either.combine == "any"
    assert not either.require_all
    with pytest.warns(DeprecationWarning, match="require_all"):
        both = ResponderRule("vas", "r", 15, 30, True)
    assert both.combine == "all"
    assert both.describe() == "an improvement of at least 15 points and at least 30 % from baseline"
