"""Build the demo clinic database through the store's write API, and say what is in it."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import AdverseEvent
from stemjourney.clinical._scores import Score
from stemjourney.demo._memory import (
    RECORDING_DELAY,
    ScriptClock,
    journey_id,
    patient_key,
    play,
)
from stemjourney.demo._script import AddStep, AmendStep, JourneyScript, MoveStep
from stemjourney.demo._synthetic import synthetic_clinic
from stemjourney.exceptions import DuplicateError
from stemjourney.journey._journey import Journey
from stemjourney.store import Store, open_store

__all__ = [
    "DEFAULT_SEED",
    "DemoSummary",
    "StoreWriter",
    "build_demo_clinic",
    "split_trailing_scores",
]

DEFAULT_SEED = 2026
"""The seed ``stemjourney demo`` uses."""

MEMORY_BUILD_LIMIT = 5000
"""Up to this many patients the database is built in memory, then copied to the file."""


@attrs.frozen
class DemoSummary:
    """What :func:`build_demo_clinic` built, and how long it took.

    ``by_stage`` counts journeys by the stage or outcome they are in now.
    """

    seed: int
    today: date
    patients: int
    journeys: int
    by_stage: Mapping[str, int] = attrs.field(eq=False)
    by_cycle: Mapping[int, int] = attrs.field(eq=False)
    scores: int
    adverse_events: int
    seconds: float = attrs.field(eq=False)

    def lines(self) -> list[str]:
        """The summary as short lines of text, for a terminal."""
        stages = ", ".join(f"{k} {n}" for k, n in sorted(self.by_stage.items()))
        cycles = ", ".join(f"cycle {k}: {n}" for k, n in sorted(self.by_cycle.items()))
        return [
            f"demo clinic (seed {self.seed}, today {self.today.isoformat()})",
            f"{self.patients} patients, {self.journeys} journeys ({cycles})",
            f"journeys by stage: {stages}",
            f"{self.scores} scores, {self.adverse_events} adverse events",
            f"built in {self.seconds:.1f} s",
        ]


class StoreWriter:
    """Plays scripts through a store: every move goes through its guards and audit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.journey: Journey | None = None

    def _id(self) -> str:
        assert self.journey is not None
        return self.journey.id

    def open(self, script: JourneyScript, journey_id: str, patient_id: str, actor: str) -> None:
        """Open the journey."""
        self.journey = self.store.open_journey(
            patient_id,
            condition=script.condition,
            site=script.site,
            side=script.side,
            cell_source=script.cell_source,
            actor=actor,
            occurred_at=script.opened_at,
            journey_id=journey_id,
        )

    def move(self, step: MoveStep) -> None:
        """Make one move."""
        self.journey = self.store.move(
            self._id(),
            step.target,
            actor=step.actor,
            occurred_at=step.at,
            reason=step.reason,
            override_reason=step.override_reason,
        )

    def add(self, step: AddStep) -> int:
        """Add one record; return the version of its entry."""
        self.journey = self.store.record(self._id(), step.record, actor=step.actor)
        return self.journey.version

    def amend(self, step: AmendStep, version: int) -> None:
        """Correct the entry at ``version``."""
        self.journey = self.store.amend(
            self._id(), version, step.record, actor=step.actor, reason=step.reason
        )


def split_trailing_scores(script: JourneyScript) -> tuple[JourneyScript, list[AddStep]]:
    """Split off the scores after the journey's last move, for the store's bulk import.

    Nothing checks those scores at a move, and they land in the stage and cycle the
    journey is in after its last move either way; scores an amendment points at stay.
    """
    steps = script.steps
    last_move = max((i for i, s in enumerate(steps) if isinstance(s, MoveStep)), default=-1)
    targeted = {s.target_step for s in steps if isinstance(s, AmendStep)}
    kept: list[AddStep | AmendStep | MoveStep] = []
    bulk: list[AddStep] = []
    moved: dict[int, int] = {}
    for index, step in enumerate(steps):
        if (
            index > last_move
            and isinstance(step, AddStep)
            and isinstance(step.record, Score)
            and index not in targeted
        ):
            bulk.append(step)
            continue
        if isinstance(step, AmendStep):
            step = attrs.evolve(step, target_step=moved[step.target_step])
        moved[index] = len(kept)
        kept.append(step)
    return attrs.evolve(script, steps=tuple(kept)), bulk


def _import(store: Store, clock: ScriptClock, jid: str, scores: list[AddStep]) -> Journey:
    """Write a journey's trailing scores in one transaction with the store's bulk import."""
    if scores:
        clock.current = max(s.record.occurred_at for s in scores) + RECORDING_DELAY
        rows = [
            (jid, s.instrument, s.value, s.measured_at, s.answers)
            for s in (step.record for step in scores)
            if isinstance(s, Score)
        ]
        store.import_scores(rows, actor=scores[0].actor)
    return store.journey(jid)


def _summary(
    seed: int, today: date, patients: int, journeys: list[Journey], t0: float
) -> DemoSummary:
    scores = events = 0
    for journey in journeys:
        for entry in journey.current_records():
            scores += isinstance(entry.record, Score)
            events += isinstance(entry.record, AdverseEvent)
    return DemoSummary(
        seed=seed,
        today=today,
        patients=patients,
        journeys=len(journeys),
        by_stage=dict(Counter(j.stage for j in journeys)),
        by_cycle=dict(Counter(j.cycle for j in journeys)),
        scores=scores,
        adverse_events=events,
        seconds=time.perf_counter() - t0,
    )


def _clear(path: Path, overwrite: bool) -> None:
    if not path.exists():
        return
    if not overwrite:
        raise DuplicateError(
            "path: a file already exists there; allowed: a new path, or overwrite=True"
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            extra.unlink()


def build_demo_clinic(
    path: str | os.PathLike[str],
    *,
    seed: int = DEFAULT_SEED,
    patients: int = 300,
    today: date | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    overwrite: bool = False,
    bulk_scores: bool = True,
    progress: Callable[[int, int], object] | None = None,
) -> DemoSummary:
    """Build the demo clinic database at ``path``: synthetic patients, every move guarded.

    ``today`` (default: today in UTC) is the demo's "now": nothing is dated on or
    after it, and follow-ups fall due and overdue around it. The same ``seed``,
    ``patients`` and ``today`` give the same clinic. ``progress`` is called with
    (patients done, patients in all) after each patient. With ``bulk_scores`` the
    scores after a journey's last move go in through the store's bulk
    ``import_scores`` (one transaction per journey); without, one write each.

    Raises :class:`~stemjourney.exceptions.DuplicateError` when a file exists at
    ``path`` and ``overwrite`` is false.
    """
    t0 = time.perf_counter()
    day = datetime.now(UTC).date() if today is None else today
    target = Path(path)
    _clear(target, overwrite)
    scripts = synthetic_clinic(seed, patients, day, protocol=protocol)
    clock = ScriptClock(datetime.combine(day, datetime.min.time(), UTC))
    built: list[Journey] = []
    # A clinic of demo size is built in memory and copied to the file with SQLite's
    # backup API: the same rows through the same write API, without an fsync per write.
    in_memory = len(scripts) <= MEMORY_BUILD_LIMIT
    with open_store(":memory:" if in_memory else target, protocol=protocol, clock=clock) as store:
        writer = StoreWriter(store)
        for done, script in enumerate(scripts, start=1):
            pid = patient_key(script)
            first = min(j.opened_at for j in script.journeys)
            clock.current = first - timedelta(minutes=10)
            store.add_patient(
                script.external_id,
                actor="desk.demo",
                display_name=script.display_name,
                birth_date=script.birth_date,
                patient_id=pid,
            )
            for journey in script.journeys:
                jid = journey_id(journey)
                head, trailing = split_trailing_scores(journey) if bulk_scores else (journey, [])
                play(writer, clock, head, jid, pid)
                built.append(_import(store, clock, jid, trailing))
            if progress is not None:
                progress(done, len(scripts))
        if in_memory:
            store.backup(target)
    with open_store(target, protocol=protocol):
        pass  # the file is checked, and set to WAL like every store file
    return _summary(seed, day, len(scripts), built, t0)
