"""The outcome arithmetic over outcome facts, one journey at a time: the form reports use.

:class:`OutcomeFold` computes, for one instrument under one protocol, what the
cohort report and the work-list need of each journey: each cycle's baseline, each
scheduled time point with the score that stands for it, the change and the responder
verdicts, and each planned visit with its status. It calls the rules of this package
(:func:`~stemjourney.outcomes.first_injections`, :func:`~stemjourney.outcomes.cycle_of`,
:func:`~stemjourney.outcomes.baseline_index`, :func:`~stemjourney.outcomes.improvement`,
:func:`~stemjourney.outcomes.meets_values` compiled once per rule by
:func:`~stemjourney.outcomes._responders.responder_test`,
:func:`~stemjourney.outcomes.plan_windows`, :func:`~stemjourney.outcomes.time_point_score`)
on plain values, and caches what a clinic repeats (the windows of an injection day, the
day of a time, the look-back start of an injection day, the judgement of a baseline and
a value), so a report over a hundred thousand journeys stays a light loop. The tests
check it gives what :func:`~stemjourney.outcomes.baseline`,
:func:`~stemjourney.outcomes.series` and :func:`~stemjourney.outcomes.schedule_status`
give for the same journeys.

:meth:`OutcomeFold.cycles` gives each cycle as :class:`CycleFacts`;
:meth:`OutcomeFold.outcomes` gives what the cohort counts of the same cycles as plain
tuples, walking each journey's scores once (tests/test_fold_forms.py checks the two
agree, and each cache against what it stands for).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from operator import itemgetter
from typing import NamedTuple, cast

from stemjourney.clinical._codec import parse_time, time_text
from stemjourney.clinical._instruments import INSTRUMENTS
from stemjourney.clinical._protocol import Protocol
from stemjourney.outcomes._baseline import baseline_index
from stemjourney.outcomes._change import improvement
from stemjourney.outcomes._cycles import cycle_of, first_injections
from stemjourney.outcomes._facts import OutcomeFacts
from stemjourney.outcomes._responders import responder_test
from stemjourney.outcomes._schedule import (
    VisitStatus,
    Window,
    first_score_on,
    plan_windows,
    time_point_score,
    visit_status,
)

__all__ = [
    "CycleFacts",
    "CycleOutcome",
    "LookbackStarts",
    "OutcomeFold",
    "PointFacts",
    "PointOutcome",
    "TextDays",
    "VisitFacts",
]


class TextDays:
    """The calendar day, in ``tz``, of a time as the store writes it; cached.

    In UTC the day is the text's first ten characters; elsewhere the time is read and
    moved to ``tz`` (cached by the minute, as every zone offset is whole minutes).
    """

    def __init__(self, tz: tzinfo = UTC) -> None:
        self.tz = tz
        self._utc = tz is UTC
        self._known: dict[str, date] = {}
        self._key = itemgetter(slice(0, 10 if self._utc else 16))
        self._ordinals: dict[str, int] = {}

    def __call__(self, text: str) -> date:
        key = text[:10] if self._utc else text[:16]
        found = self._known.get(key)
        if found is None:
            if self._utc:
                found = date.fromisoformat(key)
            else:
                found = parse_time(text).astimezone(self.tz).date()
            self._known[key] = found
        return found

    def ordinal(self, text: str) -> int:
        """The day of ``text`` as a proleptic ordinal, ``self(text).toordinal()``; cached."""
        key = self._key(text)
        found = self._ordinals.get(key)
        if found is None:
            found = self._ordinals[key] = self(text).toordinal()
        return found

    def ordinals(self, times: Sequence[str]) -> list[int]:
        """:meth:`ordinal` of each of ``times``, in order: for days already known, one pass
        of the cache without a Python call per time (a report reads a million scores)."""
        known = list(map(self._ordinals.get, map(self._key, times)))
        if not all(known):  # a day not known yet (an ordinal is 1 or more, never false)
            return [self.ordinal(text) for text in times]
        return cast("list[int]", known)


_STORE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.(?!0{6})[0-9]{6})?"
)
"""Time text exactly as :func:`~stemjourney.clinical._codec.time_text` writes it: a UTC day,
a space, the time of day, microseconds only when there are some."""

_ONE_DAY = timedelta(days=1)


class LookbackStarts:
    """The earliest a baseline may be measured for an injection at a time text: the
    injection less ``lookback``, as time text (what :func:`baseline_index` takes); cached.

    A look-back of whole days keeps the time of day (UTC has no clock changes), so for the
    store's own text the start is that many days before the injection's day at the same
    time, worked out once per day. Any other look-back or text is read with
    :func:`~stemjourney.clinical._codec.parse_time` and written with
    :func:`~stemjourney.clinical._codec.time_text`, cached by text.
    """

    def __init__(self, lookback: timedelta) -> None:
        self.lookback = lookback
        self._whole_days = lookback % _ONE_DAY == timedelta(0)
        self._days: dict[str, str] = {}
        self._times: dict[str, str] = {}

    def __call__(self, injected: str) -> str:
        if self._whole_days and _STORE_TIME.fullmatch(injected):
            day = injected[:10]
            earlier = self._days.get(day)
            if earlier is None:
                earlier = self._days[day] = (date.fromisoformat(day) - self.lookback).isoformat()
            return earlier + injected[10:]
        found = self._times.get(injected)
        if found is None:
            start: datetime = parse_time(injected) - self.lookback
            found = self._times[injected] = time_text(start)
        return found


class PointFacts(NamedTuple):
    """One scheduled time point of one cycle on one instrument.

    ``value`` is the score that stands for it (nearest the due date, measured by the
    fold's day), or ``None``; ``points`` and ``percent`` the improvement from the
    cycle's baseline, and ``verdicts`` one responder verdict per rule (empty without
    a baseline or a value).
    """

    label: str
    due: date
    value: float | None
    points: float | None
    percent: float | None
    verdicts: tuple[bool, ...]


class CycleFacts(NamedTuple):
    """One cycle of one journey: its first injection, baseline, adverse events, time points."""

    cycle: int
    injected_at: str
    baseline: float | None
    adverse_event: bool
    serious_adverse_event: bool
    points: tuple[PointFacts, ...]


PointOutcome = tuple[str, bool, float | None, float | None, tuple[bool, ...]]
"""What a cohort counts of one time point of one cycle: (label, due by the fold's day,
value, improvement points, verdicts); the fields of :class:`PointFacts` it reads, as a
plain tuple (a report makes one per time point of every journey)."""

CycleOutcome = tuple[int, bool, bool, float | None, list[PointOutcome]]
"""What a cohort counts of one cycle: (cycle, adverse event, serious adverse event,
baseline, time points), as in :class:`CycleFacts`."""

_Slot = tuple[str, int, int, int, bool]
"""A planned window as :meth:`OutcomeFold.outcomes` walks it: (label, due, opens, closes)
with the days as ordinals, and whether it was due by the fold's day."""

_TIME = itemgetter(0)
_VALUE = itemgetter(1)
_JUDGED = 1 << 16
"""How many (baseline, value) pairs a fold keeps the judgement of: all of a clinic's on an
instrument scored in whole points, a bounded share of those of a continuous one."""


class VisitFacts(NamedTuple):
    """One planned visit of one journey and where it stands on the fold's day."""

    window: Window
    status: VisitStatus


class OutcomeFold:
    """The outcomes of journeys' facts on ``instrument`` under ``protocol``, as of ``on``.

    Only scores measured on or before ``on`` (a day in ``tz``) count, so a report
    for a past day says what was known that day.
    """

    def __init__(self, protocol: Protocol, instrument: str, *, on: date, tz: tzinfo = UTC) -> None:
        self.protocol = protocol
        self.instrument = instrument
        self.on = on
        self.rules = protocol.rules_for(instrument)
        self._tests = tuple(responder_test(rule) for rule in self.rules)
        self.day = TextDays(tz)
        spec = INSTRUMENTS.get(instrument)
        self._direction = None if spec is None else (spec.higher_is_better, spec.best)
        self._windows: dict[tuple[tuple[int, date], ...], tuple[Window, ...]] = {}
        self._slots: dict[date, list[_Slot]] = {}
        self._judged: dict[tuple[float, float], tuple[float, tuple[bool, ...]]] = {}
        self._lookback_start = LookbackStarts(protocol.baseline_lookback)
        self._on = on.toordinal()

    def windows(self, firsts: dict[int, str]) -> tuple[Window, ...]:
        """The planned windows of a journey whose cycles start at ``firsts`` (cached)."""
        key = tuple((cycle, self.day(at)) for cycle, at in firsts.items())
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = tuple(plan_windows(dict(key), self.protocol))
        return found

    def windows_of(self, facts: OutcomeFacts) -> tuple[Window, ...]:
        """The planned windows of the journey of ``facts`` (none before its first injection)."""
        firsts = first_injections(facts.injections)
        return self.windows(firsts) if firsts else ()

    def cycles(self, facts: OutcomeFacts) -> list[CycleFacts]:
        """Each cycle of ``facts`` that has an injection, with its baseline and time points.

        ``facts.scores`` are the instrument's scores (see
        :meth:`Store.iter_outcome_facts <stemjourney.store.Store.iter_outcome_facts>`).
        """
        firsts = first_injections(facts.injections)
        if not firsts:
            return []
        day = self.day
        last = self._on
        scores = sorted((s for s in facts.scores if day(s[0]).toordinal() <= last), key=_time)
        times = [s[0] for s in scores]
        events = _adverse_events(facts)
        windows = self.windows(firsts)
        out = []
        for cycle, injected in firsts.items():
            found = baseline_index(times, injected, self._lookback_start(injected))
            base = None if found is None else scores[found][1]
            mine = [
                (day(at).toordinal(), value)
                for at, value in scores[bisect_right(times, injected) :]
                if cycle_of(at, firsts) == cycle
            ]
            points = tuple(self._point(w, mine, base) for w in windows if w[0] == cycle)
            out.append(
                CycleFacts(cycle, injected, base, cycle in events, events.get(cycle, False), points)
            )
        return out

    def outcomes(self, facts: OutcomeFacts) -> list[CycleOutcome]:
        """What :meth:`cycles` gives, as the cohort counts it: a :data:`CycleOutcome` per cycle.

        The same rules on the same values, walked faster: each score's day is read once,
        the scores of a cycle are the span between its first injection and the next
        one's (:func:`cycle_of` is asked once per cycle, not once per score), and each
        window is found by bisection over the days. When the days of the journey's
        scores do not rise with their times (a zone's clock set back over midnight),
        :meth:`cycles` itself answers.
        """
        firsts = first_injections(facts.injections)
        if not firsts:
            return []
        known = self._known_scores(facts.scores)
        if known is None:
            return [self._outcome_of(c) for c in self.cycles(facts)]
        times, days, values = known
        slots = self._slots_of(firsts)
        events = _adverse_events(facts)
        starts = sorted(set(firsts.values())) if len(firsts) > 1 else []
        out: list[CycleOutcome] = []
        for cycle, injected in firsts.items():
            found = baseline_index(times, injected, self._lookback_start(injected))
            base = None if found is None else values[found]
            lo, hi = _span(cycle, injected, times, firsts, starts)
            points = self._points(slots.get(cycle, []), days, values, lo, hi, base)
            out.append((cycle, cycle in events, events.get(cycle, False), base, points))
        return out

    def _known_scores(
        self, scores: Sequence[tuple[str, float]]
    ) -> tuple[list[str], list[int], list[float]] | None:
        """The times, day ordinals and values of the scores measured by the fold's day, in
        time order (a stable sort, as :meth:`cycles` sorts); ``None`` when the days do not
        rise with the times."""
        times = list(map(_TIME, scores))
        days = self.day.ordinals(times)
        values = list(map(_VALUE, scores))
        if times != sorted(times):
            order = sorted(range(len(times)), key=times.__getitem__)
            times = list(map(times.__getitem__, order))
            days = list(map(days.__getitem__, order))
            values = list(map(values.__getitem__, order))
        if days != sorted(days):
            return None
        known = bisect_right(days, self._on)
        if known < len(days):
            return times[:known], days[:known], values[:known]
        return times, days, values

    def _slots_of(self, firsts: dict[int, str]) -> dict[int, list[_Slot]]:
        """The windows :meth:`windows` plans, by cycle, as :data:`_Slot`: each cycle's from
        the windows planned after its injection day alone (cached by the day), cut at the
        next cycle's day as :func:`plan_windows` cuts them."""
        days = list(map(self.day, firsts.values()))
        out: dict[int, list[_Slot]] = {}
        for n, cycle in enumerate(firsts):
            slots = self._slots_from(days[n])
            out[cycle] = slots if n + 1 == len(days) else _cut(slots, days[n + 1].toordinal())
        return out

    def _slots_from(self, day: date) -> list[_Slot]:
        """The windows planned after an injection on ``day`` with no cycle after it (cached)."""
        found = self._slots.get(day)
        if found is None:
            found = self._slots[day] = [
                (label, due.toordinal(), opens.toordinal(), closes.toordinal(), due <= self.on)
                for _, label, _, due, opens, closes in plan_windows({1: day}, self.protocol)
            ]
        return found

    def _points(
        self,
        slots: list[_Slot],
        days: list[int],
        values: list[float],
        lo: int,
        hi: int,
        base: float | None,
    ) -> list[PointOutcome]:
        """The time points of a cycle's ``slots`` among its scores ``lo:hi``, as :meth:`_point`
        judges each."""
        out: list[PointOutcome] = []
        judged = self._judged if base is not None and self._direction is not None else None
        for label, due, opens, closes, due_by_now in slots:
            first = bisect_left(days, opens, lo, hi)
            at = nearest_day(days, due, first, bisect_right(days, closes, first, hi))
            if at is None:
                out.append((label, due_by_now, None, None, ()))
                continue
            value = values[at]
            if judged is None or base is None:
                out.append((label, due_by_now, value, None, ()))
                continue
            found = judged.get((base, value))
            if found is None:
                found = self._judge(base, value)
            points, verdicts = found
            out.append((label, due_by_now, value, points, verdicts))
        return out

    def _judge(self, base: float, value: float) -> tuple[float, tuple[bool, ...]]:
        """The improvement points from ``base`` to ``value`` and the verdicts on it, as
        :meth:`_point` has them; kept for the next journey with the same two scores (an
        instrument scored in whole points has few pairs), up to :data:`_JUDGED`."""
        assert self._direction is not None
        points, percent = improvement(*self._direction, base, value)
        found = points, tuple([test(points, percent) for test in self._tests])
        if len(self._judged) < _JUDGED:
            self._judged[base, value] = found
        return found

    def _outcome_of(self, cycle: CycleFacts) -> CycleOutcome:
        """``cycle`` as :meth:`outcomes` gives it."""
        points = [(p.label, p.due <= self.on, p.value, p.points, p.verdicts) for p in cycle.points]
        return (
            cycle.cycle,
            cycle.adverse_event,
            cycle.serious_adverse_event,
            cycle.baseline,
            points,
        )

    def _point(
        self, window: Window, mine: list[tuple[int, float]], base: float | None
    ) -> PointFacts:
        _, label, _, due, opens, closes = window
        first, last = opens.toordinal(), closes.toordinal()
        start = bisect_left(mine, (first,))
        inside = []
        for ordinal, value in mine[start:]:
            if ordinal > last:
                break
            inside.append((ordinal, value))
        pick = time_point_score(due.toordinal(), [d for d, _ in inside])
        if pick is None:
            return PointFacts(label, due, None, None, None, ())
        value = inside[pick][1]
        if base is None or self._direction is None:
            return PointFacts(label, due, value, None, None, ())
        points, percent = improvement(*self._direction, base, value)
        verdicts = tuple([test(points, percent) for test in self._tests])
        return PointFacts(label, due, value, points, percent, verdicts)

    def visits(self, facts: OutcomeFacts) -> Iterator[VisitFacts]:
        """Each planned visit of ``facts`` with its status on the fold's day.

        ``facts.scores`` are all the journey's scores: a score on any instrument
        inside a window, measured on or before the day, completes the visit.
        """
        day = self.day
        on = self.on
        days = sorted({d for d in (day(at) for at, _ in facts.scores) if d <= on})
        for window in self.windows_of(facts):
            yield VisitFacts(window, visit_status(window, first_score_on(window, days), on))


def nearest_day(days: list[int], due: int, lo: int, hi: int) -> int | None:
    """:func:`~stemjourney.outcomes.time_point_score` of the rising ``days[lo:hi]``, by
    bisection, as an index of ``days``: the first of the days nearest ``due``, the earlier
    one on a tie; ``None`` when the span is empty (``tests/test_fold_forms.py`` checks it
    equal to ``time_point_score``)."""
    if hi - lo <= 1:
        return lo if lo < hi else None
    above = bisect_left(days, due, lo, hi)
    if above == lo:
        return lo
    below = days[above - 1]
    if above < hi and days[above] - due < due - below:
        return above
    return bisect_left(days, below, lo, above)


def _cut(slots: list[_Slot], stop: int) -> list[_Slot]:
    """``slots`` of a cycle whose next cycle starts on the ordinal ``stop``, as
    :func:`plan_windows` cuts them: the visits due by then, each window closing by then."""
    out: list[_Slot] = []
    for slot in slots:
        if slot[1] > stop:
            break
        out.append(slot if slot[3] <= stop else (*slot[:3], stop, slot[4]))
    return out


def _time(score: tuple[str, float]) -> str:
    return score[0]


_NO_EVENTS: dict[int, bool] = {}
"""The adverse events of a journey without any (read only, never changed)."""


def _adverse_events(facts: OutcomeFacts) -> dict[int, bool]:
    """The cycles of ``facts`` with an adverse event, and whether one of them was serious."""
    if not facts.adverse_events:
        return _NO_EVENTS
    events: dict[int, bool] = {}
    for cycle, serious in facts.adverse_events:
        events[cycle] = events.get(cycle, False) or serious
    return events


def _span(
    cycle: int, injected: str, times: list[str], firsts: dict[int, str], starts: list[str]
) -> tuple[int, int]:
    """Where the scores following ``cycle`` are among the time-ordered ``times``.

    :func:`cycle_of` gives a score the cycle first injected latest strictly before it, so
    it gives one cycle to every score after one of the distinct first injections
    ``starts`` up to the next one (that one included): the cycle's scores are the span
    after its own, or none when another cycle was first injected at the same time and
    takes them. ``starts`` is empty for a journey of one cycle, whose scores are all
    those after its injection.
    """
    lo = bisect_right(times, injected)
    if not starts:  # the only cycle: every score after its injection follows it
        return lo, len(times)
    later = bisect_right(starts, injected)
    hi = bisect_right(times, starts[later], lo) if later < len(starts) else len(times)
    if lo < hi and cycle_of(times[lo], firsts) != cycle:
        return lo, lo
    return lo, hi
