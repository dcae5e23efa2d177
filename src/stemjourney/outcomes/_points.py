"""Each score's outcome from plain values: what :func:`points_by_version` gives, without journeys.

An export that streams a store reads scores and injections as text and numbers;
:class:`ScorePoints` places every score of a journey on the schedule (its time point,
its change from the journey's baseline and its responder verdicts) with the same rules
as :func:`~stemjourney.outcomes.series`, and caches what a clinic repeats (the windows
of an injection day, the start of a look-back, the outcome of a value against a
baseline), each cache bounded so memory stays flat. The tests check it agrees with
:func:`~stemjourney.outcomes.points_by_version` for generated journeys.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from stemjourney.clinical._codec import parse_time, time_text
from stemjourney.clinical._instruments import INSTRUMENTS
from stemjourney.clinical._protocol import Protocol, ResponderRule
from stemjourney.outcomes._baseline import baseline_index
from stemjourney.outcomes._change import improvement
from stemjourney.outcomes._cycles import cycle_of, first_injections
from stemjourney.outcomes._responders import meets_values
from stemjourney.outcomes._schedule import Window, plan_windows
from stemjourney.outcomes._series import BASELINE, UNSCHEDULED

__all__ = ["PointValues", "ScorePoints"]

_MEMO = 4096


class PointValues(NamedTuple):
    """One score's outcome: its time point, and from the journey's baseline its change
    (``delta`` = value - baseline), improvement in points and per cent (in the
    instrument's good direction) and one (rule label, met) per responder rule."""

    time_point: str
    delta: float | None
    points: float | None
    percent: float | None
    responders: tuple[tuple[str, bool], ...]


class ScorePoints:
    """The outcome of every score of a journey under ``protocol``, days in UTC."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._windows: dict[tuple[tuple[int, date], ...], tuple[Window, ...]] = {}
        self._earliest: dict[str, str] = {}
        self._rules: dict[str, tuple[tuple[bool, float] | None, list[ResponderRule]]] = {}
        self._points: dict[tuple[str, str, float, float], PointValues] = {}
        self._days: dict[str, date] = {}

    def _rules_of(self, instrument: str) -> tuple[tuple[bool, float] | None, list[ResponderRule]]:
        found = self._rules.get(instrument)
        if found is None:
            spec = INSTRUMENTS.get(instrument)
            direction = None if spec is None else (spec.higher_is_better, spec.best)
            rules = [r for r in self.protocol.rules_for(instrument) if r.instrument == instrument]
            found = self._rules[instrument] = (direction, rules)
        return found

    def _lookback_start(self, injected: str) -> str:
        found = self._earliest.get(injected)
        if found is None:
            found = time_text(parse_time(injected) - self.protocol.baseline_lookback)
            if len(self._earliest) >= _MEMO:
                self._earliest.clear()
            self._earliest[injected] = found
        return found

    def _windows_of(self, firsts: dict[int, str]) -> tuple[Window, ...]:
        key = tuple((cycle, date.fromisoformat(at[:10])) for cycle, at in firsts.items())
        found = self._windows.get(key)
        if found is None:
            if len(self._windows) >= _MEMO:
                self._windows.clear()
            found = self._windows[key] = tuple(plan_windows(dict(key), self.protocol))
        return found

    def of(
        self,
        injections: Iterable[tuple[int, str]],
        scores: Iterable[tuple[int, str, str, float]],
    ) -> dict[int, PointValues]:
        """The outcome of each score, by version.

        ``injections`` are (cycle, injected_at) and ``scores`` (version, instrument,
        measured_at, value) of the entries in force, in version order; times are the
        store's UTC text.
        """
        firsts = first_injections(injections)
        by_cycle: dict[int | None, list[tuple[str, date, date]]] = {}
        for w in self._windows_of(firsts) if firsts else ():
            by_cycle.setdefault(w[0], []).append((w[1], w[4], w[5]))
        first = next(iter(firsts.values()), None)
        by_instrument: dict[str, list[tuple[int, str, str, float]]] = {}
        for score in scores:
            by_instrument.setdefault(score[1], []).append(score)
        out: dict[int, PointValues] = {}
        days = self._days
        for instrument, group in by_instrument.items():
            group.sort(key=_measured)
            anchor = None
            if first is not None:
                times = [s[2] for s in group]
                anchor = baseline_index(times, first, self._lookback_start(first))
            base = None if anchor is None else group[anchor][3]
            for index, (version, _, measured, value) in enumerate(group):
                cycle = cycle_of(measured, firsts)
                day = days.get(measured[:10])
                if day is None:
                    day = days[measured[:10]] = date.fromisoformat(measured[:10])
                label = None
                for name, opens, closes in by_cycle.get(cycle, ()):
                    if opens <= day <= closes:
                        label = name
                        break
                if label is None:
                    label = BASELINE if index == anchor else UNSCHEDULED
                if cycle is None or base is None:
                    out[version] = PointValues(label, None, None, None, ())
                else:
                    out[version] = self._point(instrument, label, base, value)
        if len(days) > _MEMO:
            days.clear()
        return out

    def _point(self, instrument: str, label: str, base: float, value: float) -> PointValues:
        key = (instrument, label, base, value)
        found = self._points.get(key)
        if found is None:
            direction, rules = self._rules_of(instrument)
            if direction is None:
                found = PointValues(label, None, None, None, ())
            else:
                points, percent = improvement(*direction, base, value)
                verdicts = tuple((r.label, meets_values(r, points, percent)) for r in rules)
                found = PointValues(label, float(value) - float(base), points, percent, verdicts)
            if len(self._points) >= _MEMO:
                self._points.clear()
            self._points[key] = found
        return found


def _measured(score: tuple[int, str, str, float]) -> str:
    return score[2]
