"""Where reports read journeys from: a store, or any iterable of journey values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

from stemjourney._journey import Journey
from stemjourney._patient import Patient

__all__ = ["JourneySource", "StreamingStore", "journeys_of", "patient_of", "stream", "today"]


@runtime_checkable
class StreamingStore(Protocol):
    """A store that streams its journeys (``stemjourney.store.Store`` is one)."""

    def iter_journeys(self) -> Iterator[Journey]:
        """Every journey, one at a time."""
        ...


JourneySource = StreamingStore | Iterable[Journey]
"""What a report reads: a store with ``iter_journeys()``, or journey values."""


def stream(source: JourneySource) -> Iterator[Journey]:
    """The journeys of ``source``, streamed from a store or taken from an iterable."""
    if isinstance(source, StreamingStore):
        return source.iter_journeys()
    return iter(source)


def journeys_of(source: Any, patient_id: str) -> list[Journey]:
    """The journeys of one patient, asked of the store when it can answer directly."""
    finder = getattr(source, "journeys_of", None)
    if finder is not None:
        return list(finder(patient_id))
    return [j for j in stream(source) if j.patient_id == patient_id]


def patient_of(source: Any, patient_id: str) -> Patient | None:
    """The patient value when ``source`` is a store; ``None`` for plain journeys."""
    finder = getattr(source, "patient", None)
    if finder is None:
        return None
    found = finder(patient_id)
    return found if isinstance(found, Patient) else None


def today() -> date:
    """Today's date in UTC: the default ``on`` of every report."""
    return datetime.now(UTC).date()
