"""One truth for outcomes: every report and export shows what ``stemjourney.outcomes`` computes.

The rules are those of the docs page "How outcomes are computed"
(``docs/how-outcomes-are-computed.md``):

- the baseline is the last score strictly before the first injection (of the journey,
  or of the cycle for cycle views), no longer before it than the protocol's
  ``baseline_lookback`` (90 days, that bound included);
- change and per cent follow OMERACT-OARSI: the per cent is of the baseline's distance
  from the instrument's best score, undefined when the baseline is the best score;
- a responder rule joins its thresholds with ``combine`` (``all`` or ``any``);
- visit windows are calendar days; the score that stands for a time point is the one
  nearest the due date (the earlier one on a tie);
- a visit is completed by any score in its window measured on or before the day asked
  about.

The property builds journey values directly (one injection record per cycle, an
amendment being a record entry whose ``amends`` is the original's version) with NRS
and KOOS Pain scores placed at the edges these rules turn on, and checks the patient
report, the cohort report (of one journey and of several), the work-list, the FHIR
export and the research export against :func:`~stemjourney.outcomes.baseline`,
:func:`~stemjourney.outcomes.series`, :func:`~stemjourney.outcomes.change_of`,
:func:`~stemjourney.outcomes.meets`, :func:`~stemjourney.outcomes.schedule_status`
and :func:`~stemjourney.outcomes.worklist`. The cohort's expected numbers are computed
here from those plain functions, never from ``OutcomeFold``. A smaller property writes
journeys through the store API and checks the store's reports equal the reports over
the same journeys as values.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stemjourney as sj
from _outcome_journeys import shot
from stemjourney.export import fhir_bundle, pseudonym, research_rows
from stemjourney.export._fhir import OUTCOME_EXTENSION
from stemjourney.outcomes import (
    BASELINE,
    UNSCHEDULED,
    Change,
    PlannedVisit,
    SeriesPoint,
    VisitStatus,
    baseline,
    change_of,
    known_on,
    meets,
    plan_windows,
    planned_visits,
    schedule_status,
    series,
    worklist,
)
from stemjourney.reports import (
    CohortReport,
    TimePointRow,
    cohort_report,
    patient_report,
    worklist_report,
)
from stemjourney.testing import ManualClock

KOOS = "koos_pain"
INSTRUMENTS = ("nrs", KOOS)
PROTOCOL = attrs.evolve(
    sj.DEFAULT_PROTOCOL,
    name="single truth",
    instruments=INSTRUMENTS,
    responder_rules=(
        *sj.DEFAULT_PROTOCOL.responder_rules,
        sj.ResponderRule(KOOS, "responder", min_points=10, min_percent=20, combine="any"),
        sj.ResponderRule(KOOS, "substantial", min_points=20, min_percent=50, combine="all"),
    ),
)
"""The default protocol (90-day look-back, its schedule and NRS rules) with two KOOS rules."""
LOOKBACK = PROTOCOL.baseline_lookback
LABELS = [BASELINE, *(v.label for v in PROTOCOL.schedule)]
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
KEY = b"a research key of 16+ bytes"
STAMP = datetime(2030, 1, 1, tzinfo=UTC)
FAR = datetime(2031, 1, 1, tzinfo=UTC)
REASON = "transcription error"
WHERE = [
    ("osteoarthritis of knee", "knee", "bone_marrow"),
    ("osteoarthritis of knee", "knee", "adipose"),
    ("osteoarthritis of hip", "hip", "bone_marrow"),
]
SHOT_OFFSETS = (
    -LOOKBACK - MINUTE,
    -LOOKBACK,
    -LOOKBACK + MINUTE,
    -3 * DAY,
    -DAY,
    -MINUTE,
    timedelta(0),
    MINUTE,
    timedelta(hours=2),
    DAY,
)
"""Where a score may sit around an injection: the look-back edge, minutes either side."""


# -- journeys as values -----------------------------------------------------------------


@attrs.frozen
class Spec:
    """What a generated journey holds: its identity, injections, scores and amendments.

    ``amendments`` are (slot, score): the score amends the entry in force for the
    ``slot``-th score (the original, or the latest amendment of it).
    """

    jid: str
    pid: str
    condition: str
    site: str
    source: str
    stage: str
    injections: tuple[datetime, ...]
    scores: tuple[sj.Score, ...]
    amendments: tuple[tuple[int, sj.Score], ...] = ()

    @property
    def times(self) -> list[datetime]:
        """Every clinical time of the journey."""
        return [
            *self.injections,
            *(s.measured_at for s in self.scores),
            *(s.measured_at for _, s in self.amendments),
        ]


def build(spec: Spec) -> sj.Journey:
    """The journey value of ``spec``: one opening move, then the injections, scores, amendments.

    A record's cycle is the number of injections at or before it (at least 1); an
    amendment keeps the cycle of the entry it amends, as the engine does.
    """
    opened = min(spec.times, default=FAR) - DAY
    cycles = max(1, len(spec.injections))
    opening = sj.TransitionEntry(
        journey_id=spec.jid,
        seq=1,
        source=None,
        target=spec.stage,
        cycle=cycles,
        occurred_at=opened,
        recorded_at=opened,
        actor="dr.a",
        version=1,
    )
    entries: list[sj.RecordEntry] = []

    def add(record: Any, cycle: int, amends: int | None = None) -> sj.RecordEntry:
        entry = sj.RecordEntry(
            journey_id=spec.jid,
            record=record,
            cycle=cycle,
            stage=spec.stage,
            stage_seq=1,
            recorded_at=opened,
            actor="nurse.b",
            version=len(entries) + 2,
            amends=amends,
            reason=None if amends is None else REASON,
        )
        entries.append(entry)
        return entry

    for cycle, at in enumerate(spec.injections, start=1):
        add(attrs.evolve(shot(at), site=spec.site), cycle)
    slots = [
        add(s, max(1, sum(at <= s.measured_at for at in spec.injections))) for s in spec.scores
    ]
    for slot, score in spec.amendments:
        slots[slot] = add(score, slots[slot].cycle, amends=slots[slot].version)
    return sj.Journey(
        spec.jid,
        spec.pid,
        spec.condition,
        spec.site,
        sj.Side("left"),
        sj.CellSource(spec.source),
        history=(opening,),
        records=tuple(entries),
    )


def windows_of(injections: Sequence[datetime]) -> list[tuple[int, str, date, date, date, date]]:
    """The protocol's visit windows for injections at these times (UTC days)."""
    days = {cycle: at.date() for cycle, at in enumerate(injections, start=1)}
    return list(plan_windows(days, PROTOCOL))


def at_minute(day: date, minute: int) -> datetime:
    """``minute`` minutes into ``day`` (UTC)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + minute * MINUTE


minutes_of_day = st.one_of(st.sampled_from([0, 1, 540, 1439]), st.integers(0, 1439))


@st.composite
def moments(
    draw: st.DrawFn, shots: Sequence[datetime], windows: Sequence[tuple[Any, ...]]
) -> list[datetime]:
    """One or two score times at the edges that matter: around an injection, at the
    look-back edge, on and around a window's edges, two either side of a due date."""
    kinds = ["free"]
    if shots:
        kinds += ["shot"] * 3
    if windows:
        kinds += ["edge", "edge", "inside", "inside", "pair"]
    kind = draw(st.sampled_from(kinds))
    if kind == "shot":
        return [draw(st.sampled_from(shots)) + draw(st.sampled_from(SHOT_OFFSETS))]
    if kind == "free":
        start = shots[0] if shots else datetime(2025, 3, 3, 9, tzinfo=UTC)
        return [start + draw(st.integers(-150, 900)) * DAY + draw(minutes_of_day) * MINUTE]
    _, _, _, due, opens, closes = draw(st.sampled_from(windows))
    if kind == "edge":
        days = [opens - DAY, opens, due - DAY, due, due + DAY, closes, closes + DAY]
        return [at_minute(draw(st.sampled_from(days)), draw(minutes_of_day))]
    if kind == "inside":
        span = (closes - opens).days
        return [at_minute(opens + draw(st.integers(0, span)) * DAY, draw(minutes_of_day))]
    off = draw(st.integers(0, max(0, min((due - opens).days, (closes - due).days)))) * DAY
    return [at_minute(due - off, draw(minutes_of_day)), at_minute(due + off, draw(minutes_of_day))]


def values(instrument: str) -> st.SearchStrategy[float]:
    """Scores on ``instrument``, the best and worst ones often; KOOS also in steps of 100/36."""
    if instrument == "nrs":
        return st.one_of(st.sampled_from([0.0, 10.0]), st.integers(0, 10).map(float))
    return st.one_of(
        st.sampled_from([0.0, 100.0]),
        st.integers(0, 100).map(float),
        st.integers(0, 36).map(lambda k: 100 - k * 100 / 36),
    )


@st.composite
def specs(draw: st.DrawFn, jid: str, *, engine: bool = False) -> Spec:
    """A journey injected up to twice with NRS and KOOS Pain scores at the edges, some amended.

    With ``engine`` the journey is one the engine can play: injected at least once,
    cycles at least nine days apart (the rest, then follow-up), ending in follow-up,
    completed or voided.
    """
    pid = draw(st.sampled_from(["p-1", "p-2", "p-3"]))
    condition, site, source = draw(st.sampled_from([WHERE[0], *WHERE]))
    first = at_minute(
        draw(st.sampled_from([date(2025, 1, 31), date(2024, 2, 29), date(2025, 6, 16)])),
        draw(minutes_of_day),
    )
    count = draw(st.sampled_from([1, 2] if engine else [0, 1, 1, 1, 2, 2, 2]))
    injections = [first]
    if count == 2:
        gap = draw(st.integers(9 if engine else 0, 420)) * DAY
        injections.append(first + gap + draw(st.integers(1, 1439)) * MINUTE)
    injections = injections[:count]
    windows = windows_of(injections)
    scores: list[sj.Score] = []
    for _ in range(draw(st.integers(0, 10))):
        instrument = draw(st.sampled_from(INSTRUMENTS))
        for at in draw(moments(injections, windows)):
            scores.append(
                sj.Score(instrument=instrument, value=draw(values(instrument)), measured_at=at)
            )
    amendments: list[tuple[int, sj.Score]] = []
    if scores:
        for _ in range(draw(st.integers(0, 3))):
            slot = draw(st.integers(0, len(scores) - 1))
            was = scores[slot]
            moved = draw(st.one_of(st.none(), moments(injections, windows)))
            at = was.measured_at if moved is None else moved[0]
            value = draw(values(was.instrument))
            amendments.append(
                (slot, sj.Score(instrument=was.instrument, value=value, measured_at=at))
            )
    stage = "consultation"
    if engine:
        stage = draw(st.sampled_from(["follow_up", "follow_up", "completed", "voided"]))
    elif injections:
        stage = draw(
            st.sampled_from(
                ["follow_up", "follow_up", "recovery", "completed", "withdrawn", "voided"]
            )
        )
    return Spec(
        jid,
        pid,
        condition,
        site,
        source,
        stage,
        tuple(injections),
        tuple(scores),
        tuple(amendments),
    )


@attrs.frozen
class Clinic:
    """Generated journeys and the days a report is asked about."""

    journeys: tuple[sj.Journey, ...]
    on: date
    start: date
    end: date


def days_that_matter(journeys: Sequence[sj.Journey]) -> list[date]:
    """Window edges and the days either side, injection and score days, and a late day."""
    found = {date(2028, 6, 1)}
    for j in journeys:
        for v in planned_visits(j, protocol=PROTOCOL):
            found |= {v.opens - DAY, v.opens, v.due, v.due + DAY, v.closes, v.closes + DAY}
        found |= {s.measured_at.date() for s in j.scores()}
        found |= {at.date() for at in firsts(j).values()}
    return sorted(found)


def report_days(draw: st.DrawFn, journeys: Sequence[sj.Journey]) -> tuple[date, date, date]:
    """The day a report is asked about, and a work-list's first and last day."""
    days = days_that_matter(journeys)
    on = draw(st.sampled_from(days))
    start = draw(st.sampled_from(days))
    return on, start, start + draw(st.integers(0, 120)) * DAY


@st.composite
def clinics(draw: st.DrawFn, *, most: int = 4) -> Clinic:
    """One to ``most`` journeys (some of one patient, some in one cohort group), and days."""
    count = draw(st.integers(1, most))
    journeys = tuple(build(draw(specs(f"j-{n}"))) for n in range(count))
    return Clinic(journeys, *report_days(draw, journeys))


# -- the rules, from the plain outcomes functions -----------------------------------------


def score_entries(j: sj.Journey) -> list[sj.RecordEntry]:
    """The score entries in force, in version order."""
    return [e for e in j.current_records() if isinstance(e.record, sj.Score)]


def firsts(j: sj.Journey) -> dict[int, datetime]:
    """The first injection of each cycle in force."""
    found: dict[int, datetime] = {}
    for e in j.current_records():
        if isinstance(e.record, sj.Injection):
            at = e.record.injected_at
            found[e.cycle] = min(found.get(e.cycle, at), at)
    return dict(sorted(found.items()))


def rule_baseline(j: sj.Journey, instrument: str, cycle: int | None = None) -> sj.Score | None:
    """The baseline as the rule states it: the last score strictly before the injection,
    no more than the look-back before it (the later entry on equal times)."""
    shots = firsts(j)
    injected = next(iter(shots.values()), None) if cycle is None else shots.get(cycle)
    if injected is None:
        return None
    before = [s for s in j.scores(instrument) if injected - LOOKBACK <= s.measured_at < injected]
    return before[-1] if before else None


def rule_percent(instrument: str, base: float, value: float) -> float | None:
    """OMERACT-OARSI per cent: of the baseline where lower is better, of 100 - baseline for KOOS."""
    if instrument == "nrs":
        return None if base == 0 else (base - value) * 100 / base
    return None if base == 100 else (value - base) * 100 / (100 - base)


def rule_status(visit: PlannedVisit, scores: Sequence[sj.Score], on: date) -> VisitStatus:
    """Completed by any score in the window measured by ``on``; else by the day's place."""
    if any(visit.contains(s.measured_at.date()) and s.measured_at.date() <= on for s in scores):
        return VisitStatus.COMPLETED
    if on < visit.opens:
        return VisitStatus.UPCOMING
    if on <= visit.due:
        return VisitStatus.IN_WINDOW
    if on <= visit.closes:
        return VisitStatus.OVERDUE
    return VisitStatus.MISSED


def nearest(points: Sequence[SeriesPoint], due: date) -> SeriesPoint | None:
    """Of time-ordered ``points``, the one nearest ``due`` (the earlier one on a tie)."""
    if not points:
        return None
    return min(
        enumerate(points), key=lambda ip: (abs((ip[1].score.measured_at.date() - due).days), ip[0])
    )[1]


def close(got: float | None, want: float | None, tol: float = 1e-9) -> bool:
    """Both ``None``, or equal within ``tol``."""
    if got is None or want is None:
        return got is want
    return math.isclose(got, want, rel_tol=tol, abs_tol=tol)


def truth(j: sj.Journey, instrument: str) -> dict[int, SeriesPoint]:
    """The series points of ``j`` on ``instrument`` by id of their score, each checked
    against the rules: baseline, cycle, time point, change, per cent and responders."""
    s = series(j, instrument, protocol=PROTOCOL)
    base = baseline(j, instrument, protocol=PROTOCOL)
    assert base.score is rule_baseline(j, instrument)
    assert s.baseline == base
    shots = firsts(j)
    visits = planned_visits(j, protocol=PROTOCOL)
    rules = PROTOCOL.rules_for(instrument)
    scores = j.scores(instrument)
    assert [p.score for p in s.points] == scores
    for p in s.points:
        at = p.score.measured_at
        follows = [c for c, start in shots.items() if start < at]
        cycle = follows[-1] if follows else None
        assert p.cycle == cycle
        visit = next((v for v in visits if v.cycle == cycle and v.contains(at.date())), None)
        label = visit.label if visit else BASELINE if p.score is base.score else UNSCHEDULED
        assert (p.time_point, p.due) == (label, visit.due if visit else None)
        if cycle is None or base.score is None:
            assert p.change is None
            assert p.responders == ()
            continue
        assert p.change == change_of(instrument, base.score.value, p.score.value)
        assert p.change is not None
        assert close(p.change.percent, rule_percent(instrument, base.score.value, p.score.value))
        assert p.change.delta == p.score.value - base.score.value
        assert [(r.label, r.met) for r in p.responders] == [
            (r.label, meets(r, p.change)) for r in rules
        ]
    return {id(p.score): p for p in s.points}


def as_of(j: sj.Journey, on: date) -> sj.Journey:
    """``j`` with only the scores in force measured on or before ``on`` (what a report on
    ``on`` knows)."""
    keep = {
        e.version
        for e in j.current_records()
        if not isinstance(e.record, sj.Score) or e.record.measured_at.date() <= on
    }
    return attrs.evolve(j, records=tuple(e for e in j.records if e.version in keep))


# -- the presentations --------------------------------------------------------------------


def change_fields(change: Change | None) -> tuple[float | None, float | None, float | None]:
    """(delta, improvement, per cent) of a change, or three ``None``."""
    if change is None:
        return None, None, None
    return change.delta, change.points, change.percent


def check_patient_reports(journeys: Sequence[sj.Journey], on: date) -> None:
    """Each patient's report shows each series, baseline and next visit as outcomes does."""
    by_id = {j.id: j for j in journeys}
    for pid in sorted({j.patient_id for j in journeys}):
        shown = [j for j in journeys if j.patient_id == pid and j.stage != "voided"]
        if not shown:
            continue
        report = patient_report(journeys, pid, on=on, protocol=PROTOCOL)
        assert sorted(r.journey_id for r in report.journeys) == sorted(j.id for j in shown)
        for jr in report.journeys:
            # The report shows the record as known on its day: scores measured later left out.
            j = known_on(by_id[jr.journey_id], on)
            assert sorted(s.instrument for s in jr.series) == sorted(
                {s.instrument for s in j.scores()}
            )
            for shown_series in jr.series:
                instrument = shown_series.instrument
                base = baseline(j, instrument, protocol=PROTOCOL)
                assert shown_series.baseline == base.value
                assert shown_series.baseline_reason == base.reason
                assert shown_series.injections == tuple(at.date() for at in firsts(j).values())
                assert shown_series.baseline_on == (
                    None if base.score is None else base.score.measured_at.date()
                )
                points = list(truth(j, instrument).values())
                assert len(shown_series.points) == len(points)
                for point, p in zip(shown_series.points, points, strict=True):
                    assert point.measured_on == p.score.measured_at.date()
                    assert (point.value, point.cycle, point.time_point) == (
                        p.score.value,
                        p.cycle,
                        p.time_point,
                    )
                    assert (point.change, point.improvement, point.improvement_pct) == (
                        change_fields(p.change)
                    )
                    assert point.responder == tuple((r.label, r.met) for r in p.responders)
                followed = [p for p in shown_series.points if p.cycle is not None]
                assert shown_series.latest == (followed[-1] if followed else None)
            states = schedule_status(j, on, protocol=PROTOCOL)
            for state in states:
                assert state.status is rule_status(state.visit, j.scores(), on)
            if not sj.DEFAULT_PIPELINE.is_outcome(j.stage):
                # The report's visits are the schedule's, status and all.
                assert [
                    (v.cycle, v.label, v.due, v.window_start, v.window_end, v.status)
                    for v in jr.visits
                ] == [
                    (s.visit.cycle, s.label, s.due, s.visit.opens, s.visit.closes, s.status.value)
                    for s in states
                ]
            left = [
                s
                for s in states
                if s.visit.cycle == j.cycle
                and s.status not in (VisitStatus.COMPLETED, VisitStatus.MISSED)
            ]
            nv = jr.next_visit
            if sj.DEFAULT_PIPELINE.is_outcome(j.stage) or not left:
                assert nv is None
            else:
                v = left[0].visit
                assert nv is not None
                assert (nv.label, nv.cycle, nv.due, nv.window_start, nv.window_end, nv.status) == (
                    v.label,
                    v.cycle,
                    v.due,
                    v.opens,
                    v.closes,
                    left[0].status.value,
                )


def roots(j: sj.Journey) -> dict[int, int]:
    """For each record entry's version, the version of the first entry it corrects."""
    found: dict[int, int] = {}
    for e in j.records:
        found[e.version] = found[e.amends] if e.amends is not None else e.version
    return found


def outcome_of(observation: dict[str, Any]) -> dict[str, Any]:
    """The outcome extension of a score Observation, as plain values."""
    (ext,) = [x for x in observation["extension"] if x["url"] == OUTCOME_EXTENSION]
    out: dict[str, Any] = {"responders": []}
    for part in ext["extension"]:
        if part["url"] == "responder":
            rule = {x["url"]: x for x in part["extension"]}
            out["responders"].append((rule["rule"]["valueString"], rule["met"]["valueBoolean"]))
        else:
            out[part["url"]] = next(v for k, v in part.items() if k != "url")
    return out


def check_fhir(journeys: Sequence[sj.Journey]) -> None:
    """Each score Observation carries its series point's time point, change and responders."""
    for pid in sorted({j.patient_id for j in journeys}):
        mine = [j for j in journeys if j.patient_id == pid]
        patient = sj.Patient(id=pid, external_id=f"MRN-{pid}")
        bundle = fhir_bundle(patient, mine, timestamp=STAMP, protocol=PROTOCOL)
        observations = {
            e["resource"]["identifier"][0]["value"]: e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
        }
        assert len(observations) == sum(len(score_entries(j)) for j in mine)
        for j in mine:
            points = {**truth(j, "nrs"), **truth(j, KOOS)}
            root = roots(j)
            for e in score_entries(j):
                obs = observations[f"{j.id}/{root[e.version]}"]
                score = e.record
                assert isinstance(score, sj.Score)
                p = points[id(score)]
                status = "final" if e.amends is None else "corrected"
                assert obs["status"] == ("entered-in-error" if j.stage == "voided" else status)
                value = (
                    obs["valueInteger"]
                    if score.instrument == "nrs"
                    else obs["valueQuantity"]["value"]
                )
                assert value == score.value
                got = outcome_of(obs)
                delta, gain, percent = change_fields(p.change)
                assert got.pop("timePoint") == p.time_point
                assert got.pop("baseline") is (p.time_point == BASELINE)
                assert got.pop("change", None) == delta
                assert got.pop("improvement", None) == gain
                assert got.pop("improvementPercent", None) == percent
                assert got.pop("responders") == [(r.label, r.met) for r in p.responders]
                assert got == {}


class Source:
    """Journeys and their patients, as the exports read them."""

    def __init__(self, journeys: Sequence[sj.Journey]) -> None:
        self.journeys = list(journeys)

    def patient(self, patient_id: str) -> sj.Patient:
        """The patient with ``patient_id``."""
        return sj.Patient(id=patient_id, external_id=f"MRN-{patient_id}")

    def iter_journeys(self) -> Iterator[sj.Journey]:
        """Every journey."""
        return iter(self.journeys)


def number(value: float | None) -> str:
    """A number as the research export writes it; blank for ``None``."""
    return "" if value is None else f"{value:g}"


def check_research(journeys: Sequence[sj.Journey], on: date) -> None:
    """Each score row carries its series point's outcome; each visit row its status on ``on``."""
    rows = list(research_rows(Source(journeys), key=KEY, dates="days", protocol=PROTOCOL, on=on))
    by_journey: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_journey[row["journey"]].append(row)
    labels = {v.label for v in PROTOCOL.schedule}
    for j in journeys:
        mine = by_journey[pseudonym(KEY, "journey", j.id)]
        points = {**truth(j, "nrs"), **truth(j, KOOS)}
        scored = [r for r in mine if r["event"] == "score"]
        entries = score_entries(j)
        assert len(scored) == len(entries)
        for row, e in zip(scored, entries, strict=True):
            score = e.record
            assert isinstance(score, sj.Score)
            p = points[id(score)]
            delta, gain, percent = change_fields(p.change)
            assert row["instrument"] == score.instrument
            assert row["value"] == number(score.value)
            assert row["amended"] == ("false" if e.amends is None else "true")
            shown = p.time_point if p.time_point in labels or p.time_point == BASELINE else ""
            assert row["time_point"] == shown
            assert row["is_baseline"] == ("true" if p.time_point == BASELINE else "false")
            assert (row["change"], row["improvement"], row["improvement_pct"]) == (
                number(delta),
                number(gain),
                number(percent),
            )
            assert row["responders"] == "+".join(r.label for r in p.responders if r.met)
        visits = [r for r in mine if r["event"] == "visit"]
        states = schedule_status(j, on, protocol=PROTOCOL)
        assert [(r["cycle"], r["time_point"], r["visit_status"]) for r in visits] == [
            (str(s.visit.cycle), s.label, rule_status(s.visit, j.scores(), on).value)
            for s in states
        ]


@attrs.define
class Cell:
    """What one time point of one group should aggregate."""

    expected: int = 0
    values: list[float] = attrs.Factory(list)
    deltas: list[float] = attrs.Factory(list)
    gains: list[float] = attrs.Factory(list)
    hits: list[int] = attrs.Factory(list)


@attrs.define
class Group:
    """What one cohort group should hold."""

    journeys: int = 0
    patients: set[str] = attrs.Factory(set)
    cells: dict[str, Cell] = attrs.Factory(lambda: {label: Cell() for label in LABELS})


def expected_cohort(
    journeys: Sequence[sj.Journey], on: date, instrument: str
) -> tuple[int, dict[tuple[str, str, str, int], Group]]:
    """The cohort report's numbers from the plain rules: each cycle's baseline
    (:func:`baseline` with ``cycle``), each planned visit's score nearest its due date
    among the cycle's :func:`series` points, known by ``on``."""
    rules = PROTOCOL.rules_for(instrument)
    groups: dict[tuple[str, str, str, int], Group] = {}
    seen = 0
    for whole in journeys:
        if whole.stage == "voided":
            continue
        j = as_of(whole, on)
        shots = firsts(j)
        if not shots:
            continue
        seen += 1
        s = series(j, instrument, protocol=PROTOCOL, per_cycle=True)
        visits = planned_visits(j, protocol=PROTOCOL)
        for cycle in shots:
            key = (j.condition, j.site, j.cell_source.value, cycle)
            group = groups.setdefault(key, Group())
            group.journeys += 1
            group.patients.add(j.patient_id)
            base = baseline(j, instrument, cycle=cycle, protocol=PROTOCOL)
            assert base.score is rule_baseline(j, instrument, cycle)
            assert s.baselines[cycle] == base
            if base.score is not None:
                cell = group.cells[BASELINE]
                cell.expected += 1
                cell.values.append(base.score.value)
            for visit in (v for v in visits if v.cycle == cycle):
                cell = group.cells[visit.label]
                inside = [p for p in s.points if p.cycle == cycle and p.time_point == visit.label]
                pick = nearest(inside, visit.due)
                assert pick is s.at(visit.label, cycle)
                if pick is None:
                    cell.expected += visit.due <= on
                    continue
                cell.expected += 1
                cell.values.append(pick.score.value)
                if base.score is None:
                    continue
                moved = change_of(instrument, base.score.value, pick.score.value)
                assert moved is not None
                assert pick.change == moved
                cell.deltas.append(moved.delta)
                cell.gains.append(moved.points)
                cell.hits.append(sum(1 << i for i, r in enumerate(rules) if meets(r, moved)))
    return seen, groups


def check_row(row: TimePointRow, cell: Cell, instrument: str) -> None:
    """A cohort row holds the counts, mean, median, change and shares of its cell."""
    rules = PROTOCOL.rules_for(instrument)
    n, changed = len(cell.values), len(cell.deltas)
    assert (row.expected, row.patients) == (cell.expected, n)
    assert close(row.mean, statistics.fmean(cell.values) if n else None)
    assert close(row.median, statistics.median(cell.values) if n else None)
    assert close(row.mean_change, statistics.fmean(cell.deltas) if changed else None)
    assert close(row.mean_improvement, statistics.fmean(cell.gains) if changed else None)
    assert close(row.sd_change, statistics.stdev(cell.deltas) if changed > 1 else None, 1e-5)
    assert close(row.completeness, n / cell.expected if cell.expected else None)
    shares = [
        (r.label, sum(h >> i & 1 for h in cell.hits) / changed if changed else None)
        for i, r in enumerate(rules)
    ]
    assert len(row.responders) == len(shares)
    for (label, share), (want_label, want) in zip(row.responders, shares, strict=True):
        assert label == want_label
        assert close(share, want)


def check_cohort(report: CohortReport, journeys: Sequence[sj.Journey], on: date) -> None:
    """The cohort report of ``journeys`` holds the numbers the plain rules give."""
    seen, groups = expected_cohort(journeys, on, report.instrument)
    assert report.journeys == seen
    assert [(g.condition, g.site, g.cell_source, g.cycle) for g in report.groups] == sorted(groups)
    days = {v.label: v.nominal_days for v in PROTOCOL.schedule}
    for g in report.groups:
        want = groups[(g.condition, g.site, g.cell_source, g.cycle)]
        assert (g.journeys, g.patients) == (want.journeys, len(want.patients))
        assert (g.adverse_event_rate, g.serious_adverse_event_rate) == (0, 0)
        assert [(r.time_point, r.day) for r in g.rows] == [(x, days.get(x, 0)) for x in LABELS]
        for row in g.rows:
            check_row(row, want.cells[row.time_point], report.instrument)


def item_key(item: Any) -> tuple[Any, ...]:
    """A work-list row as comparable values."""
    return (
        item.patient_id,
        item.journey_id,
        item.cycle,
        item.time_point,
        item.due,
        item.window_start,
        item.window_end,
        item.status,
    )


def check_worklist(clinic: Clinic) -> None:
    """The work-list report lists what :func:`worklist` lists, as the visit rule says."""
    journeys, on, start, end = clinic.journeys, clinic.on, clinic.start, clinic.end
    report = worklist_report(journeys, start, end, on=on, protocol=PROTOCOL)
    states = worklist(journeys, start, end, protocol=PROTOCOL, on=on)
    assert [item_key(i) for i in report.items] == [
        (
            s.patient_id,
            s.journey_id,
            s.visit.cycle,
            s.label,
            s.due,
            s.visit.opens,
            s.visit.closes,
            s.status.value,
        )
        for s in states
    ]
    by_id = {j.id: j for j in journeys}
    for i in report.items:
        j = by_id[i.journey_id]
        assert (i.condition, i.site, i.side) == (j.condition, j.site, j.side.value)
    want = []
    for j in journeys:
        if sj.DEFAULT_PIPELINE.is_outcome(j.stage):
            continue
        for v in planned_visits(j, protocol=PROTOCOL):
            status = rule_status(v, j.scores(), on)
            if v.opens <= end and v.closes >= start and status is not VisitStatus.COMPLETED:
                want.append((v.due, j.id, v.cycle, v.label, status.value))
    assert [(i.due, i.journey_id, i.cycle, i.time_point, i.status) for i in report.items] == sorted(
        want
    )


def check_everything(clinic: Clinic) -> None:
    """Every presentation of ``clinic`` shows the outcomes the plain functions give."""
    journeys, on = clinic.journeys, clinic.on
    check_patient_reports(journeys, on)
    check_fhir(journeys)
    check_research(journeys, on)
    for instrument in INSTRUMENTS:
        for j in journeys:
            check_cohort(
                cohort_report([j], on=on, protocol=PROTOCOL, instrument=instrument), [j], on
            )
        report = cohort_report(journeys, on=on, protocol=PROTOCOL, instrument=instrument)
        check_cohort(report, journeys, on)
    check_worklist(clinic)


# -- the properties -----------------------------------------------------------------------

TRUTH = settings(
    max_examples=max(80, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""80 examples a property (so ``make test`` stays quick), or the profile's when it asks more."""


@TRUTH
@given(clinic=clinics(most=1))
def test_one_journey_shows_the_same_outcomes_everywhere(clinic: Clinic) -> None:
    """For one generated journey, patient report, cohort, work-list, FHIR and research export
    all give the baseline, change, per cent, responder and visit status of outcomes."""
    check_everything(clinic)


@TRUTH
@given(clinic=clinics(most=5))
def test_several_journeys_show_the_same_outcomes_everywhere(clinic: Clinic) -> None:
    """For several generated journeys (patients with two, groups shared), every report and
    export, and the aggregated cohort, agree with the plain outcomes functions."""
    check_everything(clinic)


# -- the store path -----------------------------------------------------------------------


class MemoryWriter:
    """Plays journeys through an in-memory engine, keeping the journey values."""

    def __init__(self) -> None:
        self.engine = sj.Engine(protocol=PROTOCOL, clock=ManualClock(FAR))
        self.journeys: dict[str, sj.Journey] = {}

    def open(self, spec: Spec, at: datetime) -> None:
        """Open the journey of ``spec`` at ``at``."""
        self.journeys[spec.jid] = self.engine.open(
            spec.jid,
            patient_id=spec.pid,
            condition=spec.condition,
            site=spec.site,
            side="left",
            cell_source=spec.source,
            actor="dr.a",
            occurred_at=at,
        )

    def move(self, jid: str, target: str, at: datetime, reason: str | None = None) -> None:
        """Move the journey."""
        self.journeys[jid], _ = self.engine.move(
            self.journeys[jid], target, actor="dr.a", occurred_at=at, reason=reason
        )

    def record(self, jid: str, record: Any) -> int:
        """Add a record; return its entry's version."""
        self.journeys[jid], entry = self.engine.record(self.journeys[jid], record, actor="rn.b")
        return entry.version

    def amend(self, jid: str, version: int, record: Any) -> int:
        """Amend the entry at ``version``; return the amendment's version."""
        self.journeys[jid], entry = self.engine.amend(
            self.journeys[jid], version, record, actor="rn.b", reason=REASON
        )
        return entry.version


class StoreWriter:
    """Plays journeys into a store through its public verbs."""

    def __init__(self, store: sj.Store) -> None:
        self.store = store

    def open(self, spec: Spec, at: datetime) -> None:
        """Add the patient when new and open the journey of ``spec`` at ``at``."""
        if self.store.patient_by_external_id(f"MRN-{spec.pid}") is None:
            self.store.add_patient(f"MRN-{spec.pid}", actor="desk", patient_id=spec.pid)
        self.store.open_journey(
            spec.pid,
            condition=spec.condition,
            site=spec.site,
            side="left",
            cell_source=spec.source,
            actor="dr.a",
            occurred_at=at,
            journey_id=spec.jid,
        )

    def move(self, jid: str, target: str, at: datetime, reason: str | None = None) -> None:
        """Move the journey."""
        self.store.move(jid, target, actor="dr.a", occurred_at=at, reason=reason)

    def record(self, jid: str, record: Any) -> int:
        """Add a record; return its entry's version."""
        return self.store.record(jid, record, actor="rn.b").version

    def amend(self, jid: str, version: int, record: Any) -> int:
        """Amend the entry at ``version``; return the amendment's version."""
        return self.store.amend(jid, version, record, actor="rn.b", reason=REASON).version


def play(writer: MemoryWriter | StoreWriter, spec: Spec) -> None:
    """Treat the journey of ``spec`` through the engine's stages: consent, harvest,
    processing (two doses), each injection with rest and follow-up, then its scores and
    amendments, then its last move. Two NRS scores the guards ask for come with it."""
    jid, first = spec.jid, spec.injections[0]
    product = f"prod-{jid}"
    opened = min(*spec.times, first - 3 * DAY) - DAY
    writer.open(spec, opened)
    harvested = first - 2 * DAY
    # The guards ask for recent records (30, 60 and 90 days before the harvest).
    writer.record(jid, sj.nrs(5, max(opened, harvested - 80 * DAY)))
    writer.record(jid, sj.EligibilityAssessment(assessed_at=max(opened, harvested - DAY)))
    writer.record(jid, sj.Consent(signed_at=max(opened, harvested - DAY), form_version="v1"))
    writer.move(jid, "harvest", harvested)
    writer.record(
        jid,
        sj.Harvest(
            harvested_at=harvested,
            source=sj.CellSource(spec.source),
            body_site="iliac crest",
            side=sj.Side.LEFT,
            volume_ml=60,
        ),
    )
    writer.move(jid, "processing", harvested + timedelta(hours=1))
    writer.record(
        jid,
        sj.Processing(
            product_id=product,
            started_at=harvested + timedelta(hours=1),
            finished_at=harvested + timedelta(hours=2),
            method="centrifugation",
            manipulation=sj.Manipulation.MINIMAL,
            final_volume_ml=6,
            tnc_per_ml=2e7,
            viability_pct=90,
            released=True,
            doses=2,
        ),
    )
    last = first
    for n, at in enumerate(spec.injections):
        if n:
            again = max(last + 7 * DAY + 2 * timedelta(hours=1), at - 50 * DAY)
            writer.record(jid, sj.nrs(5, again))
            writer.record(
                jid,
                sj.Consent(
                    signed_at=again, form_version="v1", scope=sj.ConsentScope.REPEAT_INJECTION
                ),
            )
        writer.move(jid, "injection", at - 30 * MINUTE)
        writer.record(jid, attrs.evolve(shot(at), site=spec.site, product_id=product))
        writer.move(jid, "recovery", at + timedelta(hours=1))
        writer.move(jid, "follow_up", at + 7 * DAY + timedelta(hours=1))
        last = at
    slots = [writer.record(jid, score) for score in spec.scores]
    for slot, score in spec.amendments:
        slots[slot] = writer.amend(jid, slots[slot], score)
    if spec.stage != "follow_up":
        writer.move(jid, spec.stage, last + 8 * DAY, reason="per protocol")


@st.composite
def engine_clinics(draw: st.DrawFn) -> tuple[list[Spec], date, date, date]:
    """Two or three journeys the engine can play, and the days a report is asked about."""
    found = [draw(specs(f"j-{n}", engine=True)) for n in range(draw(st.integers(2, 3)))]
    return found, *report_days(draw, [build(spec) for spec in found])


@settings(TRUTH, max_examples=max(12, settings.default.max_examples // 10))
@given(case=engine_clinics())
def test_store_reports_equal_the_reports_over_the_same_journeys(
    case: tuple[list[Spec], date, date, date],
) -> None:
    """Journeys written through the store give the cohort report and work-list that the
    same journeys as values give, and those hold the numbers of the plain rules."""
    found, on, start, end = case
    memory = MemoryWriter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        sj.open_store(Path(tmp) / "s.db", protocol=PROTOCOL, clock=ManualClock(FAR)) as store,
    ):
        disk = StoreWriter(store)
        for spec in found:
            play(memory, spec)
            play(disk, spec)
        journeys = list(memory.journeys.values())
        for instrument in INSTRUMENTS:
            kept = cohort_report(store, on=on, protocol=PROTOCOL, instrument=instrument)
            values = cohort_report(journeys, on=on, protocol=PROTOCOL, instrument=instrument)
            assert kept == values
            check_cohort(values, journeys, on)
        kept_list = worklist_report(store, start, end, on=on, protocol=PROTOCOL)
        assert kept_list == worklist_report(journeys, start, end, on=on, protocol=PROTOCOL)
        check_worklist(Clinic(tuple(journeys), on, start, end))


# -- pinned examples ----------------------------------------------------------------------

T1 = datetime(2025, 1, 31, 9, tzinfo=UTC)
"""An injection on 31 January: its 3-month visit is due on 30 April (the month end clamps)."""


def clinic_of(
    *scores: sj.Score,
    injections: Sequence[datetime] = (T1,),
    amendments: Sequence[tuple[int, sj.Score]] = (),
    on: date = date(2028, 6, 1),
) -> Clinic:
    """One knee journey in follow-up with ``scores``, and the days a report is asked about."""
    spec = Spec(
        "j-1",
        "p-1",
        *WHERE[0],
        "follow_up",
        tuple(injections),
        scores,
        tuple(amendments),
    )
    return Clinic((build(spec),), on, on, on + 30 * DAY)


def koos(value: float, at: datetime) -> sj.Score:
    """A KOOS Pain score."""
    return sj.Score(instrument=KOOS, value=value, measured_at=at)


def shown(clinic: Clinic) -> dict[str, Any]:
    """The patient report's series of the clinic's one journey, by instrument."""
    (report,) = patient_report(clinic.journeys, "p-1", on=clinic.on, protocol=PROTOCOL).journeys
    return {s.instrument: s for s in report.series}


def rows_of(clinic: Clinic, instrument: str, cycle: int = 1) -> dict[str, TimePointRow]:
    """The cohort rows of one cycle of the clinic, by time point."""
    report = cohort_report(clinic.journeys, on=clinic.on, protocol=PROTOCOL, instrument=instrument)
    (group,) = [g for g in report.groups if g.cycle == cycle]
    return {r.time_point: r for r in group.rows}


def research_scores(clinic: Clinic) -> list[dict[str, str]]:
    """The research export's score rows of the clinic."""
    rows = research_rows(
        Source(clinic.journeys), key=KEY, dates="days", protocol=PROTOCOL, on=clinic.on
    )
    return [r for r in rows if r["event"] == "score"]


def observations(clinic: Clinic) -> list[dict[str, Any]]:
    """The FHIR export's score Observations of the clinic's patient."""
    patient = sj.Patient(id="p-1", external_id="MRN-1")
    bundle = fhir_bundle(patient, clinic.journeys, timestamp=STAMP, protocol=PROTOCOL)
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]


def test_baseline_is_strictly_before_the_injection_and_within_90_days() -> None:
    """A score 90 days before is the baseline, 90 days and a minute is too old, one at the
    injection is no baseline and follows no cycle, one a minute after is compared."""
    clinic = clinic_of(
        sj.nrs(9, T1 - LOOKBACK - MINUTE),
        sj.nrs(8, T1 - LOOKBACK),
        sj.nrs(2, T1),
        sj.nrs(4, T1 + MINUTE),
        koos(30, T1 - LOOKBACK - MINUTE),
        koos(70, T1 + MINUTE),
    )
    check_everything(clinic)
    pain, function = shown(clinic)["nrs"], shown(clinic)[KOOS]
    assert (pain.baseline, pain.baseline_on) == (8, date(2024, 11, 2))
    assert [(p.value, p.cycle, p.time_point, p.change, p.improvement_pct) for p in pain.points] == [
        (9, None, UNSCHEDULED, None, None),
        (8, None, BASELINE, None, None),
        (2, None, UNSCHEDULED, None, None),
        (4, 1, UNSCHEDULED, -4, 50),
    ]
    assert dict(pain.points[-1].responder) == {"responder": True, "substantial": True}
    assert function.baseline is None
    assert "older than the protocol's look-back of 90 days" in (function.baseline_reason or "")
    assert [(r["value"], r["is_baseline"], r["change"]) for r in research_scores(clinic)] == [
        ("9", "false", ""),
        ("8", "true", ""),
        ("2", "false", ""),
        ("4", "false", "-4"),
        ("30", "false", ""),
        ("70", "false", ""),
    ]
    flags = [outcome_of(o)["baseline"] for o in observations(clinic)]
    assert flags == [False, True, False, False, False, False]
    assert rows_of(clinic, "nrs")["baseline"].mean == 8
    assert rows_of(clinic, KOOS)["baseline"].patients == 0


def test_a_baseline_at_the_best_score_has_no_per_cent_and_meets_no_per_cent_rule() -> None:
    """NRS 0 and KOOS 100 baselines leave the per cent undefined everywhere; points still count."""
    due = T1 + 6 * 7 * DAY
    clinic = clinic_of(
        sj.nrs(0, T1 - MINUTE), sj.nrs(3, due), koos(100, T1 - MINUTE), koos(85, due)
    )
    check_everything(clinic)
    pain, function = shown(clinic)["nrs"], shown(clinic)[KOOS]
    assert [(p.time_point, p.change, p.improvement, p.improvement_pct) for p in pain.points] == [
        (BASELINE, None, None, None),
        ("6w", 3, -3, None),
    ]
    assert dict(pain.points[1].responder) == {"responder": False, "substantial": False}
    assert (function.points[1].change, function.points[1].improvement_pct) == (-15, None)
    assert dict(function.points[1].responder) == {"responder": False, "substantial": False}
    assert [r["improvement_pct"] for r in research_scores(clinic)] == ["", "", "", ""]
    outcomes = [outcome_of(o) for o in observations(clinic)]
    assert [o.get("improvement") for o in outcomes] == [None, -3, None, -15]
    assert all("improvementPercent" not in o for o in outcomes)
    six = rows_of(clinic, KOOS)["6w"]
    assert (six.mean_change, six.mean_improvement, dict(six.responders)) == (
        -15,
        -15,
        {"responder": 0.0, "substantial": 0.0},
    )


def test_the_time_point_is_the_score_nearest_the_due_date_the_earlier_on_a_tie() -> None:
    """Three scores in the 6-week window all show as 6w; the cohort takes the one three days
    before the due date over the one three days after and the one on the closing day."""
    (window,) = [w for w in windows_of([T1]) if w[1] == "6w"]
    due, closes = window[3], window[5]
    assert (due, closes) == (date(2025, 3, 14), date(2025, 3, 28))
    clinic = clinic_of(
        sj.nrs(8, T1 - DAY),
        sj.nrs(5, at_minute(closes, 0)),
        sj.nrs(2, at_minute(due + 3 * DAY, 0)),
        sj.nrs(6, at_minute(due - 3 * DAY, 1439)),
        koos(40, T1 - DAY),
        koos(52, at_minute(due, 600)),
        koos(90, at_minute(due, 601)),
    )
    check_everything(clinic)
    assert [p.time_point for p in shown(clinic)["nrs"].points] == [BASELINE, "6w", "6w", "6w"]
    pain, function = rows_of(clinic, "nrs")["6w"], rows_of(clinic, KOOS)["6w"]
    assert (pain.mean, pain.mean_change, dict(pain.responders)) == (
        6,
        -2,
        {"responder": False, "substantial": False},
    )
    assert (function.mean, function.mean_improvement) == (52, 12)
    assert dict(function.responders) == {"responder": 1.0, "substantial": 0.0}


def test_an_amended_score_replaces_the_original_everywhere() -> None:
    """The amendment's value and time stand in the report, cohort and exports; FHIR shows it
    corrected under the original's id and the research export marks it amended."""
    due = T1 + 6 * 7 * DAY
    clinic = clinic_of(
        sj.nrs(7, T1 - 2 * DAY),
        sj.nrs(5, due),
        amendments=[(0, sj.nrs(6, T1 - 2 * DAY)), (1, sj.nrs(3, due + DAY)), (1, sj.nrs(2, due))],
    )
    check_everything(clinic)
    pain = shown(clinic)["nrs"]
    assert pain.baseline == 6
    assert [(p.value, p.time_point, p.improvement) for p in pain.points] == [
        (6, BASELINE, None),
        (2, "6w", 4),
    ]
    assert [(r["value"], r["amended"]) for r in research_scores(clinic)] == [
        ("6", "true"),
        ("2", "true"),
    ]
    assert [
        (o["identifier"][0]["value"], o["status"], o["valueInteger"]) for o in observations(clinic)
    ] == [("j-1/3", "corrected", 6), ("j-1/4", "corrected", 2)]
    six = rows_of(clinic, "nrs")["6w"]
    assert (six.mean, six.mean_change) == (2, -4)


def test_a_visit_is_completed_by_a_score_in_its_window_measured_by_the_day_asked() -> None:
    """A score on the closing day completes the 6w visit from that day on; the day before it
    is overdue (on the work-list, as next visit, in the research export); one a day after
    the window completes nothing."""
    (window,) = [w for w in windows_of([T1]) if w[1] == "6w"]
    closes = window[5]
    scores = (sj.nrs(8, T1 - DAY), koos(60, at_minute(closes, 1439)))
    for on, status in ((closes - DAY, "overdue"), (closes, "completed")):
        clinic = clinic_of(*scores, on=on)
        check_everything(clinic)
        (state,) = [s for s in schedule_status(clinic.journeys[0], on) if s.label == "6w"]
        assert state.status.value == status
        listed = worklist_report(clinic.journeys, on, on, protocol=PROTOCOL).items
        assert [(i.time_point, i.status) for i in listed] == (
            [("6w", "overdue")] if status == "overdue" else []
        )
        (report,) = patient_report(clinic.journeys, "p-1", on=on, protocol=PROTOCOL).journeys
        assert report.next_visit is not None
        assert report.next_visit.label == ("6w" if status == "overdue" else "3m")
        visits = [
            r["visit_status"]
            for r in research_rows(Source(clinic.journeys), key=KEY, protocol=PROTOCOL, on=on)
            if r["event"] == "visit" and r["time_point"] == "6w"
        ]
        assert visits == [status]
    late = clinic_of(sj.nrs(8, T1 - DAY), koos(60, at_minute(closes + DAY, 0)), on=closes + DAY)
    check_everything(late)
    (state,) = [s for s in schedule_status(late.journeys[0], closes + DAY) if s.label == "6w"]
    assert state.status is VisitStatus.MISSED


def test_a_second_cycle_has_its_own_baseline_in_the_cohort_and_the_journeys_elsewhere() -> None:
    """With a second injection, a score at it follows cycle 1 and the last score before it is
    cycle 2's baseline for the cohort; the patient report and exports compare every score
    with the journey's baseline."""
    t2 = T1 + 100 * DAY
    clinic = clinic_of(
        sj.nrs(8, T1 - DAY),
        sj.nrs(5, t2 - MINUTE),
        sj.nrs(6, t2),
        sj.nrs(3, t2 + 42 * DAY),
        injections=(T1, t2),
    )
    check_everything(clinic)
    assert [(w[0], w[1], w[5]) for w in windows_of([T1, t2])][:3] == [
        (1, "6w", date(2025, 3, 28)),
        (1, "3m", t2.date()),
        (2, "6w", date(2025, 7, 6)),
    ]
    pain = shown(clinic)["nrs"]
    assert [(p.value, p.cycle, p.time_point, p.change) for p in pain.points] == [
        (8, None, BASELINE, None),
        (5, 1, "3m", -3),
        (6, 1, "3m", -2),
        (3, 2, "6w", -5),
    ]
    assert [r["change"] for r in research_scores(clinic)] == ["", "-3", "-2", "-5"]
    second = rows_of(clinic, "nrs", cycle=2)
    assert second["baseline"].mean == 5
    assert (second["6w"].mean_change, dict(second["6w"].responders)) == (
        -2,
        {"responder": True, "substantial": False},
    )
    first = rows_of(clinic, "nrs", cycle=1)
    assert (first["3m"].mean, first["3m"].mean_change, first["6m"].expected) == (5, -3, 0)


def test_an_aggregated_cohort_counts_each_journeys_own_numbers() -> None:
    """Four knee journeys (two of one patient) and a hip one: the 6w row counts the due but
    unscored visit as expected, averages every value and only the changes from a baseline."""
    due = T1 + 6 * 7 * DAY
    knee, hip = WHERE[0], WHERE[2]
    journeys = tuple(
        build(Spec(jid, pid, *where, "follow_up", (T1,), scores))
        for jid, pid, where, scores in (
            ("j-1", "p-1", knee, (sj.nrs(8, T1 - DAY), sj.nrs(4, due))),
            ("j-2", "p-2", knee, (sj.nrs(6, T1 - DAY), sj.nrs(5, due + 2 * DAY))),
            ("j-3", "p-1", knee, (sj.nrs(10, T1 - LOOKBACK - MINUTE), sj.nrs(2, due))),
            ("j-4", "p-3", knee, (sj.nrs(9, T1 - MINUTE),)),
            ("j-5", "p-4", hip, (sj.nrs(7, T1 - DAY), sj.nrs(3, due))),
        )
    )
    clinic = Clinic(journeys, date(2025, 6, 1), date(2025, 6, 1), date(2025, 7, 1))
    check_everything(clinic)
    report = cohort_report(journeys, on=clinic.on, protocol=PROTOCOL, instrument="nrs")
    assert report.journeys == 5
    hips, knees = report.groups
    assert (hips.site, hips.journeys, knees.site, knees.journeys, knees.patients) == (
        "hip",
        1,
        "knee",
        4,
        3,
    )
    rows = {r.time_point: r for r in knees.rows}
    assert (rows["baseline"].expected, rows["baseline"].mean, rows["baseline"].median) == (
        3,
        23 / 3,
        8,
    )
    six = rows["6w"]
    assert (six.expected, six.patients, six.completeness) == (4, 3, 0.75)
    assert (six.mean, six.median, six.mean_change, six.mean_improvement) == (11 / 3, 4, -2.5, 2.5)
    assert close(six.sd_change, statistics.stdev([-4, -1]), 1e-9)
    assert dict(six.responders) == {"responder": 0.5, "substantial": 0.5}


def test_one_score_value_recorded_twice_is_the_baseline_once() -> None:
    """Two entries holding one ``Score`` value (a double submit) are two scores, and only the
    later is the baseline, as when the same journey is read back from a store."""
    twice = sj.nrs(7, T1 - DAY)
    clinic = clinic_of(twice, twice, sj.nrs(3, T1 + 42 * DAY))
    assert [p.time_point for p in shown(clinic)["nrs"].points] == [UNSCHEDULED, BASELINE, "6w"]
