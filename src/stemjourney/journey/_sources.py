"""Where reports and exports read from: a store, the demo clinic, or plain journey values.

Each reader asks only what it needs, so anything that answers the same few questions
(``iter_journeys``, ``patient``, ``journeys_of``, ``iter_patients``) can stand in for a store.
A store also streams every patient with the history facts of their journeys in one ordered
pass (``iter_histories``), which the FHIR export reads instead of rebuilding each journey.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from stemjourney.clinical._patient import Patient
from stemjourney.journey._history import HistoryFacts, history_facts
from stemjourney.journey._journey import Journey
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._table import DEFAULT_PIPELINE

__all__ = [
    "ClinicSource",
    "HistorySource",
    "JourneyFinder",
    "PipelineHolder",
    "JourneySource",
    "PatientLister",
    "StreamingStore",
    "histories",
    "journeys_of",
    "patient_ids",
    "patients_with_journeys",
    "pipeline_of",
    "stream",
]


@runtime_checkable
class StreamingStore(Protocol):
    """A source that streams its journeys (``stemjourney.store.Store`` is one)."""

    def iter_journeys(self) -> Iterator[Journey]:
        """Every journey, one at a time."""
        ...


@runtime_checkable
class ClinicSource(Protocol):
    """A store, or the in-memory demo clinic: patients by id, and journeys streamed."""

    def patient(self, patient_id: str) -> Patient:
        """The patient with ``patient_id``."""
        ...

    def iter_journeys(self) -> Iterator[Journey]:
        """Every journey, one at a time."""
        ...


@runtime_checkable
class PatientLister(Protocol):
    """A source that can list its patients (a store can)."""

    def iter_patients(self) -> Iterator[Patient]:
        """Every patient, one at a time."""
        ...


@runtime_checkable
class JourneyFinder(Protocol):
    """A source that can give one patient's journeys directly (a store can)."""

    def journeys_of(self, patient_id: str) -> Iterable[Journey]:
        """The journeys of one patient."""
        ...


@runtime_checkable
class PipelineHolder(Protocol):
    """A source that knows the pipeline its journeys follow (a store does)."""

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline of the source's journeys."""
        ...


@runtime_checkable
class HistorySource(Protocol):
    """A source that streams its patients with their journeys' history facts (a store does)."""

    def iter_histories(self, batch_size: int = 500) -> Iterator[tuple[Patient, list[HistoryFacts]]]:
        """Every patient by id, each with the history facts of its journeys by id."""
        ...


JourneySource = StreamingStore | Iterable[Journey]
"""What a report reads: a store with ``iter_journeys()``, or journey values."""


def stream(source: JourneySource) -> Iterator[Journey]:
    """The journeys of ``source``, streamed from a store or taken from an iterable."""
    if isinstance(source, StreamingStore):
        return source.iter_journeys()
    return iter(source)


def journeys_of(source: JourneySource, patient_id: str) -> list[Journey]:
    """The journeys of one patient, asked directly when the source can answer."""
    if isinstance(source, JourneyFinder):
        return list(source.journeys_of(patient_id))
    return [j for j in stream(source) if j.patient_id == patient_id]


def patient_ids(source: ClinicSource) -> Iterator[str]:
    """Every patient id of ``source``, each once: listed, or read off the journeys."""
    if isinstance(source, PatientLister):
        return (p.id for p in source.iter_patients())
    return iter(dict.fromkeys(j.patient_id for j in source.iter_journeys()))


def patients_with_journeys(
    source: ClinicSource, ids: Iterable[str] | None = None
) -> Iterator[tuple[Patient, list[Journey]]]:
    """Each patient of ``source`` (or those in ``ids``, in order) with all their journeys.

    One patient's journeys are held at a time, so a whole store streams through.
    """
    for pid in patient_ids(source) if ids is None else ids:
        yield source.patient(pid), journeys_of(source, pid)


def histories(
    source: ClinicSource, ids: Iterable[str] | None = None
) -> Iterator[tuple[Patient, list[HistoryFacts]]]:
    """Each patient of ``source`` (or those in ``ids``) with their journeys' history facts.

    A :class:`HistorySource` streams them in one ordered pass when every patient is
    wanted; otherwise each patient's journeys are read and turned into facts.
    """
    if ids is None and isinstance(source, HistorySource):
        yield from source.iter_histories()
        return
    for patient, journeys in patients_with_journeys(source, ids):
        yield patient, [history_facts(j) for j in journeys]


def pipeline_of(source: object) -> Pipeline:
    """The pipeline of ``source``'s journeys: its own, or the default pipeline."""
    if isinstance(source, PipelineHolder):
        return source.pipeline
    return DEFAULT_PIPELINE
