"""Cohort outcomes, as data, aggregated while the journeys stream past.

Groups are (condition, treated site, cell source, cycle); each has a row for the
baseline and one per scheduled time point of the protocol. Every number a row
aggregates (each cycle's baseline, the score that stands for each time point, its
change and responder verdicts) comes from :class:`stemjourney.outcomes.OutcomeFold`;
this module only counts, sums and takes medians. Only the values of each row are
kept (for the median), so a report over a large store needs memory for its scores,
not its journeys.
"""

from __future__ import annotations

import math
from array import array
from datetime import UTC, date, tzinfo
from typing import Any

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._validation import processes
from stemjourney.exceptions import ValidationError
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._sources import JourneySource, pipeline_of
from stemjourney.outcomes import BASELINE, OutcomeFacts, OutcomeFold
from stemjourney.outcomes._sources import FactSource, outcome_facts
from stemjourney.reports._serialise import plain
from stemjourney.reports._source import today

__all__ = [
    "SMALL_GROUP",
    "CohortAggregator",
    "CohortGroup",
    "CohortReport",
    "TimePointRow",
    "cohort_report",
]

SMALL_GROUP = 5
"""Groups of fewer journeys than this are flagged ``small`` unless the caller says otherwise."""


@attrs.frozen
class TimePointRow:
    """One time point of one group.

    ``patients`` counts the journeys with a score at the time point (one per patient
    and treated site); ``expected`` those whose visit was due by the report's day or
    that were scored; ``completeness`` is their ratio. ``mean_change`` and
    ``sd_change`` are of ``value - baseline`` as measured (negative is better where
    lower is better), from each journey's baseline for the cycle; ``mean_improvement``
    is the mean improvement in the instrument's good direction. ``responders`` holds
    the share meeting each rule, by label, among the journeys with a baseline.
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
    mean_improvement: float | None = None


@attrs.frozen
class CohortGroup:
    """The outcomes of the journeys of one condition, site and cell source in one cycle.

    ``small`` flags a group of fewer journeys than the report's ``small_group``: its
    means, medians and shares rest on very few patients.
    """

    condition: str
    site: str
    cell_source: str
    cycle: int
    journeys: int
    patients: int
    adverse_event_rate: float
    serious_adverse_event_rate: float
    rows: tuple[TimePointRow, ...]
    small: bool = False


@attrs.frozen
class CohortReport:
    """Cohort outcomes on one instrument on the day ``on``, group by group.

    ``rules`` holds the words of each responder rule on the instrument by label (see
    :meth:`stemjourney.ResponderRule.describe`); groups of fewer than ``small_group``
    journeys are flagged ``small``.
    """

    on: date
    instrument: str
    protocol: str
    journeys: int
    groups: tuple[CohortGroup, ...]
    rules: tuple[tuple[str, str], ...] = ()
    small_group: int = SMALL_GROUP

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (dates as ISO text), ready for JSON."""
        out: dict[str, Any] = plain(self)
        return out


class _Cell:
    """One row of one group as it fills: its values, and the changes and improvements of
    those with a baseline.

    Each tuple of responder verdicts is counted as it comes (a journey's verdicts are
    one of few patterns), and the count of each rule is summed from them at the end.
    Sums are taken exactly rounded (:func:`math.fsum`) at the end, so a row does not
    depend on the order its journeys were added in, nor on how cells were merged.
    """

    __slots__ = ("deltas", "expected", "gains", "values", "verdicts")

    def __init__(self) -> None:
        self.values = array("d")
        self.expected = 0
        self.deltas = array("d")
        self.gains = array("d")
        self.verdicts: dict[tuple[bool, ...], int] = {}

    def add(self, value: float) -> None:
        """A value with no change to count (no baseline, or an unregistered instrument)."""
        self.values.append(value)

    def add_change(
        self, value: float, base: float, points: float, verdicts: tuple[bool, ...]
    ) -> None:
        """A value with its change from ``base``, improvement ``points`` and ``verdicts``."""
        self.values.append(value)
        self.deltas.append(value - base)
        self.gains.append(points)
        self.verdicts[verdicts] = self.verdicts.get(verdicts, 0) + 1

    def merge(self, other: _Cell) -> None:
        """Add what ``other`` (the same row, of other journeys) holds."""
        self.values.extend(other.values)
        self.expected += other.expected
        self.deltas.extend(other.deltas)
        self.gains.extend(other.gains)
        for verdicts, times in other.verdicts.items():
            self.verdicts[verdicts] = self.verdicts.get(verdicts, 0) + times

    def rule_counts(self, rules: int) -> list[int]:
        """How many changes met each of the ``rules`` responder rules."""
        counts = [0] * rules
        for verdicts, times in self.verdicts.items():
            for i, hit in enumerate(verdicts):
                counts[i] += hit * times
        return counts

    def row(self, label: str, day: int, labels: list[str]) -> TimePointRow:
        n = len(self.values)
        changes = len(self.deltas)
        mean_change = sd = gain = None
        if changes:
            mean_change = math.fsum(self.deltas) / changes
            gain = math.fsum(self.gains) / changes
            if changes > 1:
                var = math.fsum([(d - mean_change) ** 2 for d in self.deltas]) / (changes - 1)
                sd = math.sqrt(var)
        shares = tuple(
            (name, count / changes if changes else None)
            for name, count in zip(labels, self.rule_counts(len(labels)), strict=True)
        )
        return TimePointRow(
            label,
            day,
            self.expected,
            n,
            math.fsum(self.values) / n if n else None,
            _median(self.values) if n else None,
            mean_change,
            sd,
            shares,
            n / self.expected if self.expected else None,
            gain,
        )


def _median(values: array[float]) -> float:
    import statistics  # on first use: it loads decimal, fractions and random

    return statistics.median(values)


class _Group:
    __slots__ = ("cells", "events", "journeys", "patients", "serious")

    def __init__(self, labels: list[str]) -> None:
        self.journeys = 0
        self.events = 0
        self.serious = 0
        self.patients: set[str] = set()
        self.cells = {label: _Cell() for label in labels}

    def merge(self, other: _Group) -> None:
        """Add what ``other`` (the same group, of other journeys) holds."""
        self.journeys += other.journeys
        self.events += other.events
        self.serious += other.serious
        self.patients |= other.patients
        for label, cell in other.cells.items():
            self.cells[label].merge(cell)


Folded = tuple[int, dict[tuple[str, str, str, int], _Group]]
"""What a :class:`CohortAggregator` has folded: journeys seen, and each group's tallies."""


class CohortAggregator:
    """Folds journeys' outcome facts into cohort outcomes one at a time.

    :meth:`add` takes one journey's :class:`~stemjourney.outcomes.OutcomeFacts`;
    :meth:`merge` adds what another aggregator of the same report folded (its
    :meth:`folded`: other journeys, in another process perhaps); :meth:`report`
    summarises what was added. Journeys in ``void`` (the pipeline's void stage) and
    journeys never injected count for nothing.
    """

    def __init__(
        self,
        *,
        on: date,
        protocol: Protocol,
        instrument: str,
        pipeline: Pipeline | None = None,
        tz: tzinfo = UTC,
    ) -> None:
        self.on = on
        self.protocol = protocol
        self.instrument = instrument
        self.pipeline = pipeline_of(None) if pipeline is None else pipeline
        self.void = self.pipeline.void
        self.tz = tz
        self.fold = OutcomeFold(protocol, instrument, on=on, tz=tz)
        self.rules = self.fold.rules
        self.labels = [BASELINE, *(v.label for v in protocol.schedule)]
        self.groups: dict[tuple[str, str, str, int], _Group] = {}
        self.seen = 0

    def add(self, facts: OutcomeFacts) -> None:
        """Fold in one journey's facts (its scores on the report's instrument)."""
        if facts.stage == self.void:
            return
        cycles = self.fold.outcomes(facts)
        if not cycles:
            return
        self.seen += 1
        groups, where, patient = (
            self.groups,
            (facts.condition, facts.site, facts.cell_source),
            facts.patient_id,
        )
        for cycle, adverse, serious, base, points in cycles:
            key = (*where, cycle)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(self.labels)
            group.journeys += 1
            group.patients.add(patient)
            group.events += adverse
            group.serious += serious
            cells = group.cells
            if base is not None:
                cell = cells[BASELINE]
                cell.expected += 1
                cell.add(base)
            for label, due_by_now, value, gain, verdicts in points:
                cell = cells[label]
                if value is None:
                    cell.expected += due_by_now
                    continue
                cell.expected += 1
                if base is None or gain is None:
                    cell.add(value)
                else:
                    cell.add_change(value, base, gain, verdicts)

    def folded(self) -> Folded:
        """What this fold holds, as plain picklable values: what :meth:`merge` takes."""
        return self.seen, self.groups

    def merge(self, folded: Folded) -> None:
        """Add what another fold of the same report holds (its :meth:`folded`, of journeys
        not folded here) to this one; the report is then as if one fold had seen all."""
        seen, groups = folded
        self.seen += seen
        for key, group in groups.items():
            mine = self.groups.get(key)
            if mine is None:
                self.groups[key] = group
            else:
                mine.merge(group)

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
    store: JourneySource | FactSource,
    *,
    on: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    instrument: str | None = None,
    tz: tzinfo = UTC,
    small_group: int = SMALL_GROUP,
    workers: int | None = None,
) -> CohortReport:
    """Cohort outcomes of every injected journey in ``store``, streamed one journey at a time.

    ``store`` is a store or any iterable of journeys; ``instrument`` defaults to the
    protocol's first; ``on`` (today by default) decides which visits count as due for
    follow-up completeness, and only scores measured by then count. Baselines are
    each cycle's (see "How outcomes are computed"); days are in ``tz``. Groups of
    fewer than ``small_group`` journeys are flagged ``small``.

    ``workers`` is how many processes fold a store in an SQLite file at once, each a
    share of its journeys read from the file read-only (1: this process alone; by
    default as many as this process has cores, up to 4, for a store of 20,000
    journeys or more). The report is the same whichever way it was folded: when a
    write lands while the shares are read, the store is folded again in one pass.

    Raises :class:`~stemjourney.exceptions.ValidationError` when ``small_group`` or
    ``workers`` is not a positive integer.
    """
    if isinstance(small_group, bool) or not isinstance(small_group, int) or small_group < 1:
        raise ValidationError("small_group", "is not a positive integer", "1 or more journeys")
    processes("workers", workers)
    aggregator = CohortAggregator(
        on=today() if on is None else on,
        protocol=protocol,
        instrument=protocol.instruments[0] if instrument is None else instrument,
        pipeline=pipeline_of(store),
        tz=tz,
    )
    # Loaded here: only a report that may fold on several cores needs subprocess and pickle.
    from stemjourney.reports._cohort_shards import fold_shared

    if not fold_shared(store, aggregator, workers):
        for facts in outcome_facts(store, instrument=aggregator.instrument):
            aggregator.add(facts)
    made = aggregator.report()
    return attrs.evolve(
        made,
        groups=tuple(attrs.evolve(g, small=g.journeys < small_group) for g in made.groups),
        rules=tuple((r.label, r.describe()) for r in protocol.rules_for(made.instrument)),
        small_group=small_group,
    )
