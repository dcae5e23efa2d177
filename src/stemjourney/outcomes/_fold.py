"""The outcome arithmetic over outcome facts, one journey at a time: the form reports use.

:class:`OutcomeFold` computes, for one instrument under one protocol, what the
cohort report and the work-list need of each journey: each cycle's baseline, each
scheduled time point with the score that stands for it, the change and the responder
verdicts, and each planned visit with its status. It calls the rules of this package
(:func:`~stemjourney.outcomes.first_injections`, :func:`~stemjourney.outcomes.cycle_of`,
:func:`~stemjourney.outcomes.baseline_index`, :func:`~stemjourney.outcomes.improvement`,
:func:`~stemjourney.outcomes.meets_values` (each rule compiled once by
:func:`~stemjourney.outcomes._responders.responder_test`),
:func:`~stemjourney.outcomes.plan_windows`,
:func:`~stemjourney.outcomes.time_point_score`) on plain values, and caches what a
clinic repeats (the windows of an injection day, the day of a time), so a report over a
hundred thousand journeys stays a light loop. The tests check it gives what
:func:`~stemjourney.outcomes.baseline`, :func:`~stemjourney.outcomes.series` and
:func:`~stemjourney.outcomes.schedule_status` give for the same journeys.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import NamedTuple

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

__all__ = ["CycleFacts", "LookbackStarts", "OutcomeFold", "PointFacts", "TextDays", "VisitFacts"]


class TextDays:
    """The calendar day, in ``tz``, of a time as the store writes it; cached.

    In UTC the day is the text's first ten characters; elsewhere the time is read and
    moved to ``tz`` (cached by the minute, as every zone offset is whole minutes).
    """

    def __init__(self, tz: tzinfo = UTC) -> None:
        self.tz = tz
        self._utc = tz is UTC
        self._known: dict[str, date] = {}

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
        events: dict[int, bool] = {}
        for cycle, serious in facts.adverse_events:
            events[cycle] = events.get(cycle, False) or serious
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


def _time(score: tuple[str, float]) -> str:
    return score[0]
