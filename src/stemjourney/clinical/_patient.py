"""The patient as a value: an id, the clinic's external id, optional identifying details."""

from __future__ import annotations

from datetime import date

import attrs

from stemjourney.clinical import _fields as f
from stemjourney.clinical._validation import clean_text, normalised_key
from stemjourney.exceptions import ValidationError

__all__ = ["Patient", "normalise_external_id"]


def normalise_external_id(value: object) -> str:
    """The key two external ids are compared by: NFKC, trimmed, case-folded.

    >>> normalise_external_id("  MRN-0042 ") == normalise_external_id("mrn-0042")
    True
    """
    return normalised_key(clean_text("external_id", value, max_length=64))


def _birth_date(value: object) -> date | None:
    if value is None:
        return None
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise ValidationError("birth_date", "is not a date", "a datetime.date, or None")
    return value


def _external_id(value: object) -> str:
    return clean_text("external_id", value, max_length=64).strip()


@attrs.frozen(kw_only=True)
class Patient:
    """A patient. ``external_id`` is the clinic's own number; ids in messages are ``id``.

    ``display_name`` and ``birth_date`` are health information: they never appear in
    an error message or a log line.
    """

    id: str = f.code_field()
    external_id: str = attrs.field(converter=_external_id)
    display_name: str | None = f.optional_text(max_length=200)
    birth_date: date | None = attrs.field(default=None, converter=_birth_date)

    @property
    def external_key(self) -> str:
        """The normalised external id, unique within a store."""
        return normalise_external_id(self.external_id)

    def __repr__(self) -> str:
        return f"Patient(id={self.id!r})"
