"""What reports need of a source beyond the journey source protocols: a patient, a today."""

from __future__ import annotations

from typing import Any

from stemjourney.clinical._patient import Patient
from stemjourney.journey._clock import today

__all__ = ["patient_of", "today"]


def patient_of(source: Any, patient_id: str) -> Patient | None:
    """The patient value when ``source`` is a store; ``None`` for plain journeys."""
    finder = getattr(source, "patient", None)
    if finder is None:
        return None
    found = finder(patient_id)
    return found if isinstance(found, Patient) else None
