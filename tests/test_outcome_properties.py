"""Properties of the outcomes package, checked with Hypothesis."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import stemjourney as sj
from _outcome_journeys import journey
from stemjourney.exceptions import ValidationError
from stemjourney.outcomes import (
    BUILT_IN,
    Instrument,
    day_of,
    planned_visits,
    score_questionnaire,
    series,
)

QUESTIONNAIRES = [i for i in BUILT_IN if i.items]
MIN_ANSWERED = {
    "koos_symptoms": 4,
    "koos_pain": 5,
    "koos_adl": 9,
    "koos_sport": 3,
    "koos_qol": 2,
    "odi": 8,
    "ndi": 8,
    "quickdash": 10,
    "ases": 11,
}
AT = datetime(2025, 3, 3, tzinfo=UTC)
PER_INSTRUMENT = settings(max_examples=max(10, settings.default.max_examples // 2))
"""Nine instruments share each property, so each gets half the profile's examples."""


def answers_for(spec: Instrument, blanks: bool = True) -> st.SearchStrategy[list[float | None]]:
    """One answer per item of ``spec``, each in its range, some blank when ``blanks``."""
    parts = []
    for item in spec.items:
        value: st.SearchStrategy[float | None] = (
            st.integers(int(item.low), int(item.high)).map(float)
            if item.integer
            else st.floats(item.low, item.high)
        )
        parts.append(st.one_of(st.none(), value) if blanks else value)
    return st.tuples(*parts).map(list)


def worse(spec: Instrument, index: int) -> float:
    """Which way an answer to item ``index`` moves when the patient is worse: +1 or -1."""
    return -1.0 if spec.code == "ases" and index > 0 else 1.0


@pytest.mark.parametrize("spec", QUESTIONNAIRES, ids=lambda s: s.code)
@PER_INSTRUMENT
@given(data=st.data())
def test_score_stays_in_range(spec: Instrument, data: st.DataObject) -> None:
    """Every answer pattern the rule scores gives a score inside the instrument's range."""
    answers = data.draw(answers_for(spec))
    assert spec.scorer is not None
    value = spec.scorer(answers)
    if value is not None:
        assert spec.low <= value <= spec.high
        score = score_questionnaire(spec.code, answers, AT)
        assert score.value == value


@pytest.mark.parametrize("spec", QUESTIONNAIRES, ids=lambda s: s.code)
@PER_INSTRUMENT
@given(data=st.data())
def test_score_moves_the_right_way_when_an_answer_worsens(
    spec: Instrument, data: st.DataObject
) -> None:
    """Worsening one answer lowers a higher-is-better score and raises a higher-is-worse one."""
    answers = data.draw(answers_for(spec, blanks=False))
    movable = [
        i
        for i, (item, a) in enumerate(zip(spec.items, answers, strict=True))
        if a is not None and (a < item.high if worse(spec, i) > 0 else a > item.low)
    ]
    assume(movable)
    index = data.draw(st.sampled_from(movable))
    others = [i for i in range(len(answers)) if i != index]
    blank = data.draw(
        st.lists(
            st.sampled_from(others), unique=True, max_size=len(answers) - MIN_ANSWERED[spec.code]
        )
    )
    for i in blank:
        answers[i] = None
    item, answer = spec.items[index], answers[index]
    assert answer is not None
    limit = item.high if worse(spec, index) > 0 else item.low
    moved = answer + worse(spec, index) if item.integer else (answer + limit) / 2
    assume(moved != answer)
    changed = [*answers]
    changed[index] = moved
    assert spec.scorer is not None
    before, after = spec.scorer(answers), spec.scorer(changed)
    assert before is not None
    assert after is not None
    if spec.higher_is_better:
        assert after < before
    else:
        assert after > before


@pytest.mark.parametrize("spec", QUESTIONNAIRES, ids=lambda s: s.code)
@PER_INSTRUMENT
@given(data=st.data())
def test_missing_rule_never_scores_too_few_answers(spec: Instrument, data: st.DataObject) -> None:
    """A pattern with fewer answers than the rule needs is never scored, and is refused."""
    answers = data.draw(answers_for(spec))
    answered = sum(a is not None for a in answers)
    assert spec.scorer is not None
    scored = spec.scorer(answers) is not None
    assert scored == (answered >= MIN_ANSWERED[spec.code])
    if not scored:
        with pytest.raises(ValidationError, match="cannot be scored"):
            score_questionnaire(spec.code, answers, AT)


visits = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 36), st.integers(0, 60)),
    min_size=1,
    max_size=6,
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)


def protocol_from(offsets: list[tuple[int, int, int]]) -> sj.Protocol:
    """A protocol with visits at (weeks, months, window days), in order of nominal offset."""
    schedule = [
        sj.ScheduledVisit(f"v{n}", weeks=w, months=m, window_days=d)
        for n, (w, m, d) in enumerate(offsets)
        if w or m
    ]
    schedule.sort(key=lambda v: v.nominal_days)
    return sj.Protocol(name="p", schedule=schedule)


@given(
    offsets=visits,
    first=moments,
    gaps=st.lists(st.integers(1, 800), max_size=3),
    tz=st.sampled_from([UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=13))]),
)
def test_schedule_never_before_injection_and_windows_never_overlap(
    offsets: list[tuple[int, int, int]], first: datetime, gaps: list[int], tz: timezone
) -> None:
    """Every planned visit is due and opens after its injection day; no two windows share a day."""
    try:
        protocol = protocol_from(offsets)
    except ValidationError:
        assume(False)
        raise
    shots = list(itertools.accumulate([first, *(timedelta(days=g) for g in gaps)]))
    planned = planned_visits(journey(shots), protocol=protocol, tz=tz)
    for visit in planned:
        injected = day_of(shots[visit.cycle - 1], tz)
        assert visit.injected_on == injected
        assert injected < visit.opens <= visit.due <= visit.closes
    ordered = sorted(planned, key=lambda v: v.opens)
    for before, after in itertools.pairwise(ordered):
        assert before.closes < after.opens


@given(
    values=st.lists(st.integers(0, 10), min_size=2, max_size=8),
    days=st.lists(st.integers(1, 800), min_size=2, max_size=8, unique=True),
    later=st.integers(0, 10),
    extra_days=st.integers(1, 200),
)
def test_responder_status_does_not_change_when_a_later_score_is_added(
    values: list[int], days: list[int], later: int, extra_days: int
) -> None:
    """Adding a score after the others changes nothing about the points before it."""
    shot = datetime(2025, 1, 31, 10, tzinfo=UTC)
    scores = [sj.nrs(values[0], shot)] + [
        sj.nrs(v, shot + timedelta(days=d)) for v, d in zip(values[1:], days, strict=False)
    ]
    last = max(s.measured_at for s in scores)
    before = series(journey([shot], scores), "nrs")
    added = sj.nrs(later, last + timedelta(days=extra_days))
    after = series(journey([shot], [*scores, added]), "nrs")
    assert after.points[: len(before.points)] == before.points
    assert after.points[-1].score == added


def test_minimums_match_the_documented_rules() -> None:
    """The property table agrees with each instrument's stated missing-answer rule."""
    for spec in QUESTIONNAIRES:
        assert str(MIN_ANSWERED[spec.code]) in spec.missing_rule or spec.code == "ases"
        assert math.ceil(len(spec.items) / 2) <= MIN_ANSWERED[spec.code] <= len(spec.items)
