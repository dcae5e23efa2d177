"""The fold's precompiled forms give what the plain rules give.

:class:`~stemjourney.outcomes.OutcomeFold` caches and compiles what a report repeats
journey after journey; each such form is checked here, on generated values, against the
plain computation it stands for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

import stemjourney as sj
from stemjourney.clinical._codec import parse_time, time_text
from stemjourney.outcomes import CycleFacts, OutcomeFacts, OutcomeFold, TextDays, time_point_score
from stemjourney.outcomes._fold import CycleOutcome, LookbackStarts, nearest_day

MOMENTS = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
)
"""Aware times, microseconds included, far enough from the calendar's ends to step back."""
LOOKBACKS = st.one_of(
    st.integers(0, 3650).map(lambda days: timedelta(days=days)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
)
"""Look-backs of whole days (the cached case) and of any length."""


def plain_lookback_start(injected: str, lookback: timedelta) -> str:
    """The look-back start as the rule reads: the injection time less the look-back."""
    return time_text(parse_time(injected) - lookback)


@given(moments=st.lists(MOMENTS, min_size=1, max_size=6), lookback=LOOKBACKS)
def test_a_lookback_start_is_the_injection_less_the_lookback(
    moments: list[datetime], lookback: timedelta
) -> None:
    """For the store's time text, whole days or not, cached or freshly worked out."""
    starts = LookbackStarts(lookback)
    for injected in [time_text(m) for m in moments] * 2:
        assert starts(injected) == plain_lookback_start(injected, lookback)


@given(
    moment=MOMENTS,
    days=st.integers(0, 400),
    offset=st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    separator=st.sampled_from([" ", "T"]),
)
def test_a_lookback_start_of_other_text_is_read_as_time(
    moment: datetime, days: int, offset: timedelta, separator: str
) -> None:
    """Text the store does not write (an offset, a "T", zero microseconds written out) is
    parsed, never cut up as text."""
    lookback = timedelta(days=days)
    texts = [
        moment.astimezone(timezone(offset)).isoformat(separator),
        moment.replace(microsecond=0).isoformat(separator, "microseconds").replace("+00:00", ""),
    ]
    starts = LookbackStarts(lookback)
    for injected in texts:
        assert starts(injected) == plain_lookback_start(injected, lookback)


ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-11, minutes=-30)),
        ZoneInfo("America/Sao_Paulo"),
        ZoneInfo("Europe/Berlin"),
    ]
)
"""UTC, the zones furthest from it, and zones whose clocks change (Sao Paulo's at midnight)."""


@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(1900, 1, 1), timezones=st.just(UTC)), max_size=12
    ),
    tz=ZONES,
)
def test_day_ordinals_are_the_days_of_the_times(moments: list[datetime], tz: tzinfo) -> None:
    """``TextDays.ordinals`` gives each time's day as :meth:`TextDays.__call__` does, whether
    the days are already known or not."""
    days = TextDays(tz)
    texts = [time_text(m) for m in moments]
    first = days.ordinals(texts)
    assert first == [days(t).toordinal() for t in texts]
    assert days.ordinals(texts) == first == [TextDays(tz)(t).toordinal() for t in texts]


T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
LOOKBACK = timedelta(days=90)
EDGES = [
    timedelta(0),
    -LOOKBACK,
    -LOOKBACK - timedelta(microseconds=1),
    -LOOKBACK + timedelta(hours=3),
    timedelta(seconds=-1),
    timedelta(microseconds=1),
    timedelta(days=1),
    timedelta(days=28),
    timedelta(days=42, hours=23, minutes=59),
    timedelta(days=56),
    timedelta(days=91),
    timedelta(days=365),
]
"""Where a score may fall from an injection to meet an edge of the rules: at the injection,
at and past the look-back, a moment before and after, at the edges of the windows."""
OFFSETS = st.one_of(
    st.sampled_from(EDGES),
    st.timedeltas(min_value=timedelta(days=-200), max_value=timedelta(days=800)),
)
INSTRUMENT_VALUES = {
    "nrs": st.integers(0, 10),
    "koos_pain": st.one_of(st.sampled_from([0.0, 100.0]), st.floats(0, 100)),
    "clinic:unregistered": st.integers(0, 5),
}
"""A lower-is-better and a higher-is-better instrument, their best scores included, and
one the registry does not know (no change is computed)."""


@st.composite
def journey_facts(draw: st.DrawFn, instrument: str) -> OutcomeFacts:
    """One journey's facts with the cases the rules turn on: cycles first injected at the
    same time or out of cycle order, a second injection in a cycle, scores at and around
    injections and look-backs, scores out of time order, at one time twice or an hour
    before the score recorded before them."""
    cycles = draw(st.lists(st.sampled_from([1, 2, 3, 5]), unique=True, max_size=3))
    injections: list[tuple[int, datetime]] = []
    for cycle in cycles:
        if injections and draw(st.booleans()):
            at = draw(st.sampled_from([i for _, i in injections]))
        else:
            at = T0 + draw(st.timedeltas(timedelta(days=-60), timedelta(days=500)))
        injections.append((cycle, at))
        if draw(st.booleans()):
            injections.append((cycle, at + draw(st.sampled_from([timedelta(hours=-2), -LOOKBACK]))))
    anchors = [at for _, at in injections] or [T0]
    scores = []
    for _ in range(draw(st.integers(0, 12))):
        at = draw(st.sampled_from(anchors)) + draw(OFFSETS)
        scores.append((time_text(at), draw(INSTRUMENT_VALUES[instrument])))
        if draw(st.integers(0, 9)) == 0:
            earlier = draw(st.sampled_from([timedelta(0), timedelta(hours=-1)]))
            scores.append((time_text(at + earlier), draw(INSTRUMENT_VALUES[instrument])))
    events = draw(st.lists(st.tuples(st.sampled_from([1, 2, 3, 5]), st.booleans()), max_size=2))
    return OutcomeFacts(
        "j-1",
        "p-1",
        "osteoarthritis of knee",
        "knee",
        "left",
        "bone_marrow",
        "follow_up",
        tuple((cycle, time_text(at)) for cycle, at in draw(st.permutations(injections))),
        tuple(events),
        tuple(scores),
    )


RULES = (
    *sj.DEFAULT_PROTOCOL.responder_rules,
    sj.ResponderRule("koos_pain", "either", min_points=10, min_percent=20, combine="any"),
    sj.ResponderRule("koos_pain", "both", min_points=10, min_percent=20),
    sj.ResponderRule("clinic:unregistered", "one", min_points=1),
)
PROTOCOLS = st.builds(
    lambda lookback: attrs.evolve(
        sj.DEFAULT_PROTOCOL, baseline_lookback=lookback, responder_rules=RULES
    ),
    st.sampled_from([LOOKBACK, LOOKBACK + timedelta(hours=3), timedelta(0)]),
)
"""The default schedule with rules on every instrument, and look-backs of whole days or not."""
ONS = st.sampled_from([date(2024, 11, 1), date(2025, 3, 1), date(2026, 11, 23)])


def as_counted(cycle: CycleFacts, on: date) -> CycleOutcome:
    """What the cohort counts of one of :meth:`OutcomeFold.cycles`' cycles."""
    points = [(p.label, p.due <= on, p.value, p.points, p.verdicts) for p in cycle.points]
    return cycle.cycle, cycle.adverse_event, cycle.serious_adverse_event, cycle.baseline, points


@settings(max_examples=max(150, settings.default.max_examples))
@given(data=st.data(), protocol=PROTOCOLS, tz=ZONES)
def test_outcomes_are_what_cycles_gives(
    data: st.DataObject, protocol: sj.Protocol, tz: tzinfo
) -> None:
    """``OutcomeFold.outcomes`` gives what :meth:`OutcomeFold.cycles` gives of every journey,
    on every instrument, on any day (a score's own day included), whatever the fold has
    already seen."""
    instrument = data.draw(st.sampled_from(sorted(INSTRUMENT_VALUES)))
    journeys = data.draw(st.lists(journey_facts(instrument), min_size=1, max_size=4))
    scored = [TextDays(tz)(at) for facts in journeys for at, _ in facts.scores]
    on = data.draw(st.one_of(ONS, st.sampled_from(scored)) if scored else ONS)
    fast = OutcomeFold(protocol, instrument, on=on, tz=tz)
    plain = OutcomeFold(protocol, instrument, on=on, tz=tz)
    for facts in journeys * 2:
        assert fast.outcomes(facts) == [as_counted(c, on) for c in plain.cycles(facts)]


def test_outcomes_are_what_cycles_gives_when_a_day_comes_twice() -> None:
    """In Juneau on 18 October 1867 the clocks went back a whole day: a score measured after
    another may fall on the day before it. On that day the later score is known and the
    earlier one not yet, and the outcomes are still those of ``cycles``."""
    juneau = ZoneInfo("America/Juneau")
    turn = datetime(1867, 10, 19, 1, tzinfo=UTC)
    before, after = time_text(turn - timedelta(hours=2)), time_text(turn + timedelta(hours=2))
    days = TextDays(juneau)
    on = days(after)
    assert days(before) > on
    injected = turn - timedelta(days=35)
    facts = OutcomeFacts(
        "j-1", "p-1", "c", "knee", "left", "bone_marrow", "follow_up",
        ((1, time_text(injected)),), (),
        ((time_text(injected - timedelta(days=1)), 8), (before, 5), (after, 3)),
    )  # fmt: skip
    fold = OutcomeFold(sj.DEFAULT_PROTOCOL, "nrs", on=on, tz=juneau)
    (cycle,) = fold.cycles(facts)
    assert cycle.points[0].value == 3
    assert fold.outcomes(facts) == [as_counted(cycle, on)]


def test_outcomes_are_what_cycles_gives_when_two_cycles_start_together() -> None:
    """Cycles 1 and 3 first injected at the same time, cycle 2 later: the scores after them
    follow cycle 3 (:func:`~stemjourney.outcomes.cycle_of`), and cycle 1's windows, which
    close at cycle 2, stay empty."""
    at = T0
    facts = OutcomeFacts(
        "j-1", "p-1", "c", "knee", "left", "bone_marrow", "follow_up",
        ((1, time_text(at)), (2, time_text(at + timedelta(days=200))), (3, time_text(at))),
        (),
        ((time_text(at - timedelta(days=1)), 8), (time_text(at + timedelta(days=42)), 4)),
    )  # fmt: skip
    fold = OutcomeFold(sj.DEFAULT_PROTOCOL, "nrs", on=date(2026, 1, 1))
    one, _, three = fold.cycles(facts)
    assert one.points[0].value is None
    assert three.points[0].value == 4
    assert fold.outcomes(facts) == [as_counted(c, date(2026, 1, 1)) for c in (one, _, three)]


def test_outcomes_are_what_cycles_gives_at_the_edges_of_a_cycle() -> None:
    """A score at the second cycle's first injection follows the first cycle and stands for
    its last window, which closes that day; the second cycle's baseline is the score
    before it."""
    second = T0 + timedelta(days=50)
    facts = OutcomeFacts(
        "j-1", "p-1", "c", "knee", "left", "bone_marrow", "follow_up",
        ((1, time_text(T0)), (2, time_text(second))),
        (),
        ((time_text(T0 - timedelta(days=1)), 8), (time_text(T0 + timedelta(days=20)), 6),
         (time_text(second), 3)),
    )  # fmt: skip
    fold = OutcomeFold(sj.DEFAULT_PROTOCOL, "nrs", on=date(2026, 1, 1))
    first, then = fold.cycles(facts)
    assert [(p.label, p.value) for p in first.points] == [("6w", 3)]
    assert then.baseline == 6
    assert fold.outcomes(facts) == [as_counted(c, date(2026, 1, 1)) for c in (first, then)]


def test_outcomes_are_what_cycles_gives_of_scores_recorded_out_of_order() -> None:
    """Scores recorded out of time order on the injection's day: the baseline is the last
    one measured before the injection, not the last one recorded."""
    hour = timedelta(hours=1)
    facts = OutcomeFacts(
        "j-1", "p-1", "c", "knee", "left", "bone_marrow", "follow_up",
        ((1, time_text(T0)),),
        (),
        ((time_text(T0 + hour), 2), (time_text(T0 - hour), 7), (time_text(T0 - 2 * hour), 9)),
    )  # fmt: skip
    fold = OutcomeFold(sj.DEFAULT_PROTOCOL, "nrs", on=date(2026, 1, 1))
    (cycle,) = fold.cycles(facts)
    assert cycle.baseline == 7
    assert fold.outcomes(facts) == [as_counted(cycle, date(2026, 1, 1))]


@given(
    days=st.lists(st.integers(0, 40), max_size=12).map(sorted),
    due=st.integers(-5, 45),
    ends=st.tuples(st.integers(0, 12), st.integers(0, 12)),
)
def test_the_nearest_day_by_bisection_is_the_time_point_rule(
    days: list[int], due: int, ends: tuple[int, int]
) -> None:
    """The fold's bisecting pick is ``time_point_score`` of the span: the day nearest the
    due day, the earlier on a tie (repeated days included), none in an empty span."""
    lo, hi = sorted(min(end, len(days)) for end in ends)
    pick = time_point_score(due, days[lo:hi])
    assert nearest_day(days, due, lo, hi) == (None if pick is None else lo + pick)
