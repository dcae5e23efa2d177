"""The demo clinic in memory: scripts played through the engine, every move guarded.

Useful on its own (tests, docs, exports without a database) and as the reference the
store-backed build is checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Protocol

import attrs

from stemjourney.clinical._patient import Patient
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL
from stemjourney.clinical._protocol import Protocol as ClinicProtocol
from stemjourney.demo._script import AddStep, AmendStep, JourneyScript, MoveStep, PatientScript
from stemjourney.demo._synthetic import synthetic_clinic
from stemjourney.exceptions import NotFoundError
from stemjourney.journey._engine import Engine
from stemjourney.journey._journey import Journey

__all__ = [
    "DemoClinic",
    "EngineWriter",
    "ScriptClock",
    "Writer",
    "demo_clinic",
    "journey_id",
    "patient_key",
    "play",
]

RECORDING_DELAY = timedelta(minutes=3)
"""How long after a clinical event the demo's staff write it down."""


@attrs.define
class ScriptClock:
    """A clock the demo sets to each step's time, so recorded times look real."""

    current: datetime

    def now(self) -> datetime:
        """The time the clock was last set to."""
        return self.current


def step_time(step: AddStep | AmendStep | MoveStep) -> datetime:
    """When a step is written down: a little after it happened."""
    when = step.at if isinstance(step, MoveStep) else step.record.occurred_at
    return when + RECORDING_DELAY


class Writer(Protocol):
    """Where a script is played: the engine in memory, or a store's write API."""

    def open(self, script: JourneyScript, journey_id: str, patient_id: str, actor: str) -> None:
        """Open the journey."""

    def move(self, step: MoveStep) -> None:
        """Make one move."""

    def add(self, step: AddStep) -> int:
        """Add one record; return the version of its entry."""

    def amend(self, step: AmendStep, version: int) -> None:
        """Correct the entry at ``version``."""


class EngineWriter:
    """Plays scripts through an engine, keeping the journey value."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.journey: Journey | None = None

    def open(self, script: JourneyScript, journey_id: str, patient_id: str, actor: str) -> None:
        """Open the journey."""
        self.journey = self.engine.open(
            journey_id,
            patient_id=patient_id,
            condition=script.condition,
            site=script.site,
            side=script.side,
            cell_source=script.cell_source,
            actor=actor,
            occurred_at=script.opened_at,
        )

    def _current(self) -> Journey:
        assert self.journey is not None
        return self.journey

    def move(self, step: MoveStep) -> None:
        """Make one move."""
        self.journey, _ = self.engine.move(
            self._current(),
            step.target,
            actor=step.actor,
            occurred_at=step.at,
            reason=step.reason,
            override_reason=step.override_reason,
        )

    def add(self, step: AddStep) -> int:
        """Add one record; return the version of its entry."""
        self.journey, entry = self.engine.record(self._current(), step.record, actor=step.actor)
        return entry.version

    def amend(self, step: AmendStep, version: int) -> None:
        """Correct the entry at ``version``."""
        self.journey, _ = self.engine.record(
            self._current(), step.record, actor=step.actor, amends=version, reason=step.reason
        )


def play(
    writer: Writer, clock: ScriptClock, script: JourneyScript, journey_id: str, patient_id: str
) -> None:
    """Play one journey's script through ``writer``; every move passes the guards.

    ``clock`` must be the clock the writer's engine reads; it is moved to each step.
    """
    clock.current = script.opened_at + RECORDING_DELAY
    first = script.steps[0] if script.steps else None
    writer.open(script, journey_id, patient_id, first.actor if first else "coordinator.demo")
    versions: dict[int, int] = {}
    for index, step in enumerate(script.steps):
        clock.current = step_time(step)
        if isinstance(step, MoveStep):
            writer.move(step)
        elif isinstance(step, AddStep):
            versions[index] = writer.add(step)
        else:
            writer.amend(step, versions[step.target_step])


@attrs.define
class DemoClinic:
    """Demo patients and journeys in memory, readable like a store.

    It answers ``patient(id)``, ``journeys_of(patient_id)`` and ``iter_journeys()``,
    so reports and exports accept it where they accept a store.
    """

    patients: dict[str, Patient] = attrs.field(factory=dict)
    journeys: list[Journey] = attrs.field(factory=list)

    def patient(self, patient_id: str) -> Patient:
        """The patient with ``patient_id``; raises :class:`NotFoundError` when unknown."""
        try:
            return self.patients[patient_id]
        except KeyError:
            raise NotFoundError("patient", patient_id) from None

    def iter_patients(self) -> Iterator[Patient]:
        """Every patient, in the order they were added."""
        return iter(self.patients.values())

    def journeys_of(self, patient_id: str) -> list[Journey]:
        """The journeys of one patient, in the order they were opened."""
        return [j for j in self.journeys if j.patient_id == patient_id]

    def iter_journeys(self) -> Iterator[Journey]:
        """Every journey, one at a time."""
        return iter(self.journeys)


def patient_key(script: PatientScript) -> str:
    """The demo's patient id for a script: ``demo-0001`` for ``DEMO-0001``."""
    return script.external_id.lower()


def journey_id(script: JourneyScript) -> str:
    """The demo's journey id for a script: ``j-0001-1`` for the first of patient 1."""
    return f"j-{script.key}"


def build_in_memory(scripts: Iterable[PatientScript], protocol: ClinicProtocol) -> DemoClinic:
    """Play every script through one engine and gather the results."""
    clock = ScriptClock(datetime.min)
    writer = EngineWriter(Engine(protocol=protocol, clock=clock))
    clinic = DemoClinic()
    for script in scripts:
        pid = patient_key(script)
        clinic.patients[pid] = Patient(
            id=pid,
            external_id=script.external_id,
            display_name=script.display_name,
            birth_date=script.birth_date,
        )
        for journey in script.journeys:
            play(writer, clock, journey, journey_id(journey), pid)
            clinic.journeys.append(writer._current())
    return clinic


def demo_clinic(
    *,
    seed: int = 2026,
    patients: int = 300,
    today: date,
    protocol: ClinicProtocol = DEFAULT_PROTOCOL,
) -> DemoClinic:
    """The demo clinic in memory: ``patients`` synthetic patients, nothing dated from ``today``.

    >>> clinic = demo_clinic(seed=3, patients=4, today=date(2026, 11, 23))
    >>> sorted(clinic.patients)
    ['demo-0001', 'demo-0002', 'demo-0003', 'demo-0004']
    >>> clinic.patient("demo-0001").external_id
    'DEMO-0001'
    """
    return build_in_memory(synthetic_clinic(seed, patients, today, protocol=protocol), protocol)
