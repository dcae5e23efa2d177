"""Cohort outcomes, as data, aggregated while the journeys stream past.

Groups are (condition, treated site, cell source, cycle); each has a row for the
baseline and one per scheduled time point of the protocol. Only the values of each
row are kept (for the median); everything else is a running count or sum, so a
report over a large store needs memory for its scores, not its journeys.
"""

from __future__ import annotations

import math
import statistics
from array import array
from datetime import date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import AdverseEvent, Injection
from stemjourney.clinical._scores import Score
from stemjourney.journey._journey import Journey
from stemjourney.journey._sources import JourneySource, stream
from stemjourney.reports import _measures as m
from stemjourney.reports._serialise import plain
from stemjourney.reports._source import today

if TYPE_CHECKING:
    from stemjourney.store._facts import OutcomeFacts

__all__ = ["CohortGroup", "CohortReport", "TimePointRow", "cohort_report"]

_TIME = itemgetter(0)

BASELINE = "baseline"
"""The label of the row that summarises the baseline scores of a group."""


@attrs.frozen
class TimePointRow:
    """One time point of one group.

    ``patients`` counts the journeys with a score at the time point (one per patient
    and treated site); ``expected`` those whose visit was due by the report's day or
    that were scored; ``completeness`` is their ratio. Changes are from each journey's
    baseline for the cycle; ``responders`` holds the share meeting each rule, by label.
    """

    time_point: str
    day: int
    expected: int
    patients: int
    mean: float | None
    median: float | None
    mean_change: float | None
    sd_change: float | None
    responders: tuple[tuple[str, float | None], ...]
    completeness: float | None


@attrs.frozen
class CohortGroup:
    """The outcomes of the journeys of one condition, site and cell source in one cycle."""

    condition: str
    site: str
    cell_source: str
    cycle: int
    journeys: int
    patients: int
    adverse_event_rate: float
    serious_adverse_event_rate: float
    rows: tuple[TimePointRow, ...]


@attrs.frozen
class CohortReport:
    """Cohort outcomes on one instrument on the day ``on``, group by group."""

    on: date
    instrument: str
    protocol: str
    journeys: int
    groups: tuple[CohortGroup, ...]

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (dates as ISO text), ready for JSON."""
        out: dict[str, Any] = plain(self)
        return out


class _Cell:
    __slots__ = ("changes", "expected", "rules", "sq", "sum_change", "values")

    def __init__(self, rules: int) -> None:
        self.values = array("d")
        self.expected = 0
        self.changes = 0
        self.sum_change = 0.0
        self.sq = 0.0
        self.rules = [0] * rules

    def add(self, value: float, base: float | None, verdicts: list[bool]) -> None:
        self.values.append(value)
        if base is None:
            return
        delta = value - base
        self.changes += 1
        self.sum_change += delta
        self.sq += delta * delta
        for i, hit in enumerate(verdicts):
            self.rules[i] += hit

    def row(self, label: str, day: int, labels: list[str]) -> TimePointRow:
        n = len(self.values)
        mean_change = sd = None
        if self.changes:
            mean_change = self.sum_change / self.changes
            if self.changes > 1:
                var = (self.sq - self.changes * mean_change**2) / (self.changes - 1)
                sd = math.sqrt(max(var, 0.0))
        shares = tuple(
            (name, count / self.changes if self.changes else None)
            for name, count in zip(labels, self.rules, strict=True)
        )
        return TimePointRow(
            label,
            day,
            self.expected,
            n,
            sum(self.values) / n if n else None,
            statistics.median(self.values) if n else None,
            mean_change,
            sd,
            shares,
            n / self.expected if self.expected else None,
        )


class _Group:
    __slots__ = ("cells", "events", "journeys", "patients", "serious")

    def __init__(self, labels: list[str], rules: int) -> None:
        self.journeys = 0
        self.events = 0
        self.serious = 0
        self.patients: set[str] = set()
        self.cells = {label: _Cell(rules) for label in labels}


Scored = tuple[Any, int, float]
"""A score as the aggregator folds it: (time, day ordinal, value); times compare in order."""


def _unpack(
    journey: Journey, instrument: str
) -> tuple[dict[int, datetime], list[Score], dict[int, bool]]:
    """Injections by cycle, the instrument's scores in time order, AEs (serious?) by cycle."""
    amended = {e.amends for e in journey.records if e.amends is not None}
    starts: dict[int, datetime] = {}
    scores: list[Score] = []
    events: dict[int, bool] = {}
    for entry in journey.records:
        if entry.version in amended:
            continue
        record = entry.record
        if isinstance(record, Score):
            if record.instrument == instrument:
                scores.append(record)
        elif isinstance(record, Injection):
            known = starts.get(entry.cycle)
            if known is None or record.injected_at < known:
                starts[entry.cycle] = record.injected_at
        elif isinstance(record, AdverseEvent):
            events[entry.cycle] = events.get(entry.cycle, False) or record.serious
    scores.sort(key=lambda s: s.measured_at)
    return starts, scores, events


class CohortAggregator:
    """Folds journeys into cohort outcomes one at a time; :meth:`report` summarises."""

    def __init__(self, *, on: date, protocol: Protocol, instrument: str) -> None:
        self.on = on
        self.protocol = protocol
        self.instrument = instrument
        self.rules = protocol.rules_for(instrument)
        self.labels = [BASELINE, *(v.label for v in protocol.schedule)]
        self.groups: dict[tuple[str, str, str, int], _Group] = {}
        self.seen = 0
        self._on = on.toordinal()
        self._ordinals: dict[date, tuple[tuple[str, int, int, int], ...]] = {}
        self._dates: dict[str, date] = {}
        self._rules = [
            (r.min_points, r.min_percent, r.require_all, m.higher_is_better(r.instrument))
            for r in self.rules
        ]

    def add(self, journey: Journey) -> None:
        """Fold one journey in; voided and never-injected journeys count for nothing."""
        if journey.stage == "voided":
            return
        starts, scores, events = _unpack(journey, self.instrument)
        self._fold(
            (journey.condition, journey.site, journey.cell_source.value),
            journey.patient_id,
            {cycle: (at, at.date()) for cycle, at in starts.items()},
            [(s.measured_at, s.measured_at.date().toordinal(), s.value) for s in scores],
            events,
        )

    def add_facts(self, facts: OutcomeFacts) -> None:
        """Fold in one journey read as plain rows by ``Store.iter_outcome_facts``.

        The same arithmetic as :meth:`add`, on the store's UTC text times.
        """
        if facts.stage == "voided":
            return
        starts: dict[int, str] = {}
        for cycle, at in facts.injections:
            known = starts.get(cycle)
            if known is None or at < known:
                starts[cycle] = at
        events: dict[int, bool] = {}
        for cycle, serious in facts.adverse_events:
            events[cycle] = events.get(cycle, False) or serious
        day = self._day
        scores = [(at, day(at).toordinal(), value) for at, value in facts.scores]
        scores.sort(key=_TIME)
        self._fold(
            (facts.condition, facts.site, facts.cell_source),
            facts.patient_id,
            {cycle: (at, day(at)) for cycle, at in starts.items()},
            scores,
            events,
        )

    def _day(self, text: str) -> date:
        """The UTC day of a time as the store writes it (cached by day)."""
        key = text[:10]
        found = self._dates.get(key)
        if found is None:
            found = self._dates[key] = date.fromisoformat(key)
        return found

    def _fold(
        self,
        identity: tuple[str, str, str],
        patient_id: str,
        starts: dict[int, tuple[Any, date]],
        scores: list[Scored],
        events: dict[int, bool],
    ) -> None:
        if not starts:
            return
        self.seen += 1
        for cycle, (injected, day) in starts.items():
            key = (*identity, cycle)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group(self.labels, len(self.rules))
            group.journeys += 1
            group.patients.add(patient_id)
            if cycle in events:
                group.events += 1
                group.serious += events[cycle]
            until = starts.get(cycle + 1)
            self._cells(group, injected, day, None if until is None else until[0], scores)

    def _cells(
        self, group: _Group, injected: Any, day: date, until: Any, scores: list[Scored]
    ) -> None:
        base = None
        for at, _, value in scores:
            if at > injected:
                break
            base = value
        if base is not None:
            group.cells[BASELINE].expected += 1
            group.cells[BASELINE].add(base, None, [])
        windows = self._days(day)
        best: dict[int, tuple[int, float]] = {}
        for at, ordinal, value in scores:
            if at <= injected or (until is not None and at >= until):
                continue
            for index, (_, due, first, last) in enumerate(windows):
                if ordinal < first:
                    break
                if ordinal <= last:
                    gap = abs(ordinal - due)
                    known = best.get(index)
                    if known is None or gap < known[0]:
                        best[index] = (gap, value)
                    break
        for index, (label, due, _, _) in enumerate(windows):
            cell = group.cells[label]
            hit = best.get(index)
            if hit is None:
                cell.expected += due <= self._on
                continue
            cell.expected += 1
            value = hit[1]
            cell.add(value, base, [] if base is None else self._verdicts(base, value))

    def _days(self, injected: date) -> tuple[tuple[str, int, int, int], ...]:
        """The windows after an injection on ``injected`` as (label, due, first, last) ordinals."""
        found = self._ordinals.get(injected)
        if found is None:
            found = tuple(
                (w.label, w.due.toordinal(), w.start.toordinal(), w.end.toordinal())
                for w in m.visit_windows(self.protocol, injected)
            )
            self._ordinals[injected] = found
        return found

    def _verdicts(self, base: float, value: float) -> list[bool]:
        """Responder status by each rule: :func:`_measures.is_responder`, unrolled for speed."""
        out = []
        points = value - base
        for min_points, min_percent, require_all, rising in self._rules:
            gain = points if rising else -points
            tests = []
            if min_points is not None:
                tests.append(gain >= min_points - 1e-9)
            if min_percent is not None:
                tests.append(base != 0 and gain / base * 100 >= min_percent - 1e-9)
            out.append(all(tests) if require_all else any(tests))
        return out

    def report(self) -> CohortReport:
        """The cohort report of everything folded in so far."""
        days = {v.label: v.nominal_days for v in self.protocol.schedule}
        names = [r.label for r in self.rules]
        groups = []
        for key in sorted(self.groups):
            g = self.groups[key]
            rows = tuple(
                g.cells[label].row(label, days.get(label, 0), names) for label in self.labels
            )
            groups.append(
                CohortGroup(
                    *key,
                    journeys=g.journeys,
                    patients=len(g.patients),
                    adverse_event_rate=g.events / g.journeys,
                    serious_adverse_event_rate=g.serious / g.journeys,
                    rows=rows,
                )
            )
        return CohortReport(self.on, self.instrument, self.protocol.name, self.seen, tuple(groups))


def cohort_report(
    store: JourneySource,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    instrument: str | None = None,
) -> CohortReport:
    """Cohort outcomes of every injected journey in ``store``, streamed one journey at a time.

    ``store`` is a store with ``iter_journeys()`` or any iterable of journeys;
    ``instrument`` defaults to the protocol's first; ``on`` (today by default) decides
    which visits count as due for follow-up completeness.
    """
    aggregator = CohortAggregator(
        on=today() if on is None else on,
        protocol=protocol,
        instrument=protocol.instruments[0] if instrument is None else instrument,
    )
    facts = getattr(store, "iter_outcome_facts", None)
    if facts is not None:
        # A store answers with plain rows: the same numbers without rebuilding journeys.
        for row in facts(instrument=aggregator.instrument):
            aggregator.add_facts(row)
    else:
        for journey in stream(store):
            aggregator.add(journey)
    return aggregator.report()
