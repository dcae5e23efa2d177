"""The benchmark clinic: 100,000 journeys and 1,000,000 NRS scores, from a fixed seed.

Every journey is built through the engine (every move guarded, every record
checked), then persisted in bulk through the public ``Store.import_history`` (it
replays each journey through the engine and writes the same rows, audit entries and
hash chain as writing it change by change), one transaction per chunk of journeys
instead of one transaction and one fsync per change. ``verify()`` checks the result
like any store file. The million follow-up scores are not written here: the import step
writes them through the public ``Store.import_scores`` (that is what it measures);
:func:`score_rows` draws them.

Timeline: journeys open between 2023-01-02 and 2026-11-16; :data:`TODAY` is
2026-11-23, so every stage and outcome is present, with one or two cycles.
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

import stemjourney as sj
from stemjourney.store import open_store

SEED = 20261123
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FIRST_DAY = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)
SPAN_DAYS = (datetime(2026, 11, 16, tzinfo=UTC) - FIRST_DAY).days
JOURNEYS = 100_000
SCORES = 1_000_000
CHUNK = 2_000

# condition, site, sides, cell sources, weight
CONDITIONS = (
    ("osteoarthritis of knee", "knee", ("left", "right"), ("bone_marrow", "adipose"), 40),
    ("osteoarthritis of hip", "hip", ("left", "right"), ("bone_marrow",), 20),
    ("osteoarthritis of shoulder", "shoulder", ("left", "right"), ("adipose",), 12),
    ("spinal disc degeneration", "lumbar spine", ("midline",), ("bone_marrow",), 18),
    ("tendon injury", "achilles tendon", ("left", "right"), ("adipose", "bone_marrow"), 10),
)
_WEIGHTS = [c[4] for c in CONDITIONS]
H = timedelta(hours=1)
D = timedelta(days=1)
TEN_MIN = timedelta(minutes=10)


class Clock:
    """A settable clock: the engine stamps ``recorded_at`` with it."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        """The time it was set to."""
        return self.at


def _ids(n: int) -> tuple[str, str]:
    return f"j-{n:06d}", f"p-{n:06d}"


class Builder:
    """Builds journeys through the engine."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.engine = sj.Engine(clock=self.clock)
        self.patients = 0

    # -- the engine side ----------------------------------------------------------------

    def _rec(self, j: sj.Journey, record: Any, at: datetime) -> sj.Journey:
        self.clock.at = at + TEN_MIN
        return self.engine.record(j, record, actor="bench.nurse")[0]

    def _move(self, j: sj.Journey, target: str, at: datetime, **kw: Any) -> sj.Journey:
        self.clock.at = at + TEN_MIN
        return self.engine.move(j, target, actor="bench.dr", occurred_at=at, **kw)[0]

    def _cycle(
        self, j: sj.Journey, t: datetime, n: int
    ) -> tuple[sj.Journey, datetime | None, bool]:
        """Harvest to follow-up of one cycle from ``t``: the journey, its injection time
        (``None`` before it), and whether the cycle reached follow-up before TODAY."""
        rng = self.rng
        source = j.cell_source.value
        steps: list[tuple[str, datetime]] = []
        t_h = t
        steps.append(("harvest", t_h))
        steps.append(("processing", t_h + H))
        steps.append(("injection", t_h + 3 * H))
        steps.append(("recovery", t_h + 4 * H))
        t_f = t_h + rng.randint(8, 14) * D
        steps.append(("follow_up", t_f))
        pid = f"{j.id}-c{n}"
        for target, at in steps:
            if at >= NOW:
                return j, (t_h + 3 * H if target in ("recovery", "follow_up") else None), False
            if target == "processing":
                j = self._rec(
                    j,
                    sj.Harvest(
                        harvested_at=t_h,
                        source=source,
                        body_site="posterior iliac crest" if source == "bone_marrow" else "abdomen",
                        side="left",
                        volume_ml=60,
                    ),
                    at - TEN_MIN,
                )
            elif target == "injection":
                j = self._rec(
                    j,
                    sj.Processing(
                        product_id=pid,
                        started_at=t_h + H,
                        finished_at=t_h + 2 * H,
                        method="density gradient centrifugation",
                        manipulation="minimal",
                        final_volume_ml=6,
                        tnc_per_ml=2.5e7,
                        viability_pct=rng.randint(80, 98),
                        released=True,
                    ),
                    at - TEN_MIN,
                )
            elif target == "recovery":
                j = self._rec(
                    j,
                    sj.Injection(
                        injected_at=t_h + 3 * H,
                        site=j.site,
                        side=j.side.value,
                        guidance="ultrasound",
                        volume_ml=6,
                        product_id=pid,
                    ),
                    at - TEN_MIN,
                )
                if rng.random() < 0.04:
                    onset = t_h + rng.randint(1, 20) * D
                    if onset < NOW - D:
                        j = self._rec(
                            j,
                            sj.AdverseEvent(
                                onset_at=onset,
                                site=j.site,
                                grade=rng.choice((1, 1, 1, 2, 2, 3)),
                                serious=rng.random() < 0.1,
                                relatedness="possible",
                                outcome="recovered",
                                action_taken="none",
                            ),
                            max(onset, at),
                        )
            j = self._move(j, target, at)
        return j, t_h + 3 * H, True

    def journey(self, n: int) -> tuple[sj.Journey, list[datetime], int]:
        """Journey ``n``: its final value, its injection times and its baseline pain."""
        rng = self.rng
        jid, pid = _ids(n)
        condition, site, sides, sources, _ = rng.choices(CONDITIONS, _WEIGHTS)[0]
        opened = FIRST_DAY + timedelta(days=rng.randrange(SPAN_DAYS), minutes=rng.randrange(480))
        self.clock.at = opened + TEN_MIN
        j = self.engine.open(
            jid,
            patient_id=pid,
            condition=condition,
            site=site,
            side=rng.choice(sides),
            cell_source=rng.choice(sources),
            actor="bench.desk",
            occurred_at=opened,
        )
        base = rng.randint(4, 9)
        j = self._rec(j, sj.nrs(base, opened), opened)
        roll = rng.random()
        if roll < 0.01:
            return self._move(j, "voided", opened + H, reason="opened_in_error"), [], base
        if roll < 0.04:
            j = self._rec(
                j,
                sj.EligibilityAssessment(
                    assessed_at=opened, contraindications=["active_infection"]
                ),
                opened,
            )
            return self._move(j, "ineligible", opened + H, reason="active infection"), [], base
        j = self._rec(j, sj.EligibilityAssessment(assessed_at=opened), opened)
        j = self._rec(j, sj.Consent(signed_at=opened, form_version="v3"), opened)
        injections: list[datetime] = []
        j, shot, done = self._cycle(j, opened + rng.randint(7, 21) * D, 1)
        if shot is not None:
            injections.append(shot)
        if shot is None or not done:
            return j, injections, base
        if rng.random() < 0.10:
            again = shot + rng.randint(180, 300) * D
            if again + 30 * D < NOW:
                j = self._rec(j, sj.nrs(rng.randint(4, 8), again - D), again - D)
                # a new cycle is assessed and consented again, in follow-up
                j = self._rec(j, sj.EligibilityAssessment(assessed_at=again - D), again - D)
                j = self._rec(j, sj.Consent(signed_at=again - D, form_version="v3"), again - D)
                j, second, done = self._cycle(j, again, 2)
                if second is not None:
                    injections.append(second)
                    shot = second
                if not done:
                    return j, injections, base
        end = shot + 800 * D
        if end < NOW and rng.random() < 0.8:
            return self._move(j, "completed", end, reason="discharged"), injections, base
        if rng.random() < 0.02:
            at = shot + rng.randint(30, 200) * D
            if at < NOW:
                return self._move(j, "withdrawn", at, reason="patient_choice"), injections, base
        return j, injections, base


@attrs.frozen
class Plan:
    """What the score import needs of a journey: its injections, baseline and last day."""

    journey_id: str
    injections: tuple[datetime, ...]
    base: int
    until: datetime


@attrs.frozen
class Chunk:
    """Journeys built through the engine: their patients, the journeys, the score plans."""

    patients: list[sj.Patient]
    journeys: list[sj.Journey]
    plans: list[Plan]


def patient_of(journey: sj.Journey) -> sj.Patient:
    """The patient of a benchmark journey (one patient per journey)."""
    return sj.Patient(id=journey.patient_id, external_id=f"MRN-{journey.patient_id}")


def chunk(job: tuple[int, int, int]) -> Chunk:
    """Journeys ``first`` to ``last`` (1-based, inclusive), built through the engine;
    seeded by chunk, so any chunk is the same whoever builds it."""
    seed, first, last = job
    builder = Builder(seed * 1_000_003 + first)
    out = Chunk([], [], [])
    for n in range(first, last + 1):
        j, injections, base = builder.journey(n)
        out.patients.append(patient_of(j))
        out.journeys.append(j)
        if injections and j.stage != "voided":
            closed = builder.engine.pipeline.is_outcome(j.stage)
            until = j.last_move.occurred_at if closed else NOW - H
            out.plans.append(Plan(j.id, tuple(injections), base, until))
    return out


def jobs(journeys: int, seed: int = SEED) -> list[tuple[int, int, int]]:
    """The chunks of journeys 1 to ``journeys``, as :func:`chunk` takes them."""
    return [(seed, a, min(a + CHUNK - 1, journeys)) for a in range(1, journeys + 1, CHUNK)]


def build(path: Path, journeys: int = JOURNEYS, seed: int = SEED, workers: int = 2) -> list[Plan]:
    """Build the clinic's journeys into a new store file at ``path``; return the score plans.

    ``workers`` processes build the journeys through the engine; this process writes
    each chunk with the public ``Store.import_history`` (one transaction a chunk: it
    replays every journey through the engine and writes its rows and hash-chained
    entries, the same as writing it change by change).
    """
    plans: list[Plan] = []
    with open_store(path) as store, multiprocessing.get_context("fork").Pool(workers) as pool:
        for part in pool.imap(chunk, jobs(journeys, seed)):
            store.import_history(part.patients, part.journeys, actor="bench.import")
            plans.extend(part.plans)
    return plans


def _follow_up(rng: random.Random, shot: datetime, stop: datetime) -> Iterator[datetime]:
    """The scheduled visits of one cycle that happened (85 %), near their due day."""
    for visit in sj.DEFAULT_PROTOCOL.schedule:
        if rng.random() >= 0.85:
            continue
        half = visit.window_days // 2
        at = visit.due(shot) + timedelta(days=rng.randint(-half, half), hours=rng.randint(-2, 6))
        if shot < at < stop:
            yield at


def score_rows(plans: list[Plan], total: int = SCORES, seed: int = SEED) -> list[tuple[Any, ...]]:
    """Exactly ``total`` NRS rows (journey_id, "nrs", value, measured_at) for the import.

    Scheduled visits first (85 % attended), then pain-diary scores spread over the
    journeys until the total is reached; each journey's rows in time order.
    """
    rng = random.Random(seed + 1)
    times: list[list[datetime]] = []
    for plan in plans:
        found: list[datetime] = []
        for i, shot in enumerate(plan.injections):
            nxt = plan.injections[i + 1] if i + 1 < len(plan.injections) else plan.until
            found.extend(_follow_up(rng, shot, min(nxt, plan.until)))
        times.append(found)
    extra = total - sum(len(t) for t in times)
    if extra < 0:
        raise ValueError(f"the schedule alone gives more than {total} scores")
    for k in range(extra):
        i = k % len(plans)
        plan = plans[i]
        first = plan.injections[0]
        span = max(int((plan.until - first).total_seconds() // 3600) - 2, 1)
        times[i].append(first + timedelta(hours=rng.randint(1, span)))
    rows: list[tuple[Any, ...]] = []
    for plan, found in zip(plans, times, strict=True):
        gain = rng.uniform(0, 5)
        first = plan.injections[0]
        for at in sorted(found):
            days = (at - first).days
            value = round(plan.base - gain * min(1.0, days / 90) + rng.gauss(0, 1))
            rows.append((plan.journey_id, "nrs", min(10, max(0, value)), at))
    return rows
