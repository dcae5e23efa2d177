"""Every error stemjourney raises, under one base class.

Catch :class:`StemJourneyError` to handle them all, or a subclass for one failure.
Messages carry ids, stages and field names, never a patient's name or other
health information.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BusyError",
    "ConflictError",
    "ConnectionLostError",
    "CorruptDatabaseError",
    "DiskFullError",
    "DuplicateError",
    "FhirImportError",
    "GuardError",
    "IllegalMoveError",
    "IntegrityError",
    "MoveError",
    "NotADatabaseError",
    "NotFoundError",
    "PipelineDefinitionError",
    "ReadOnlyError",
    "SchemaError",
    "SerializationError",
    "StemJourneyError",
    "StorageError",
    "TimeOrderError",
    "ValidationError",
]


class StemJourneyError(Exception):
    """Base class of every error stemjourney raises.

    Every one pickles with its message and attributes, so it crosses process
    boundaries (``multiprocessing``, ``concurrent.futures``) as it was raised.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


def _rebuilt(cls: type[StemJourneyError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An error unpickled: its message and attributes, without calling its ``__init__``."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ValidationError(StemJourneyError, ValueError):
    """A value given to stemjourney is not allowed; nothing was written.

    ``field`` names the offending field and ``allowed`` says what would be accepted.
    """

    def __init__(self, field: str, problem: str, allowed: str) -> None:
        self.field = field
        self.problem = problem
        self.allowed = allowed
        super().__init__(f"{field}: {problem}; allowed: {allowed}")


class FhirImportError(ValidationError):
    """A FHIR Bundle cannot be read back into a store; nothing was written.

    ``field`` names the resource and element (``Observation/<id>.extension``...).
    """


class PipelineDefinitionError(StemJourneyError, ValueError):
    """A transition table breaks one of the rules a pipeline must keep."""

    def __init__(self, rule: str, detail: str) -> None:
        self.rule = rule
        super().__init__(f"pipeline rule '{rule}' broken: {detail}")


class MoveError(StemJourneyError):
    """A move was refused; the journey is unchanged.

    ``journey_id``, ``stage`` and ``target`` say which move; ``allowed`` lists the
    stages the journey may move to now.
    """

    def __init__(
        self,
        journey_id: str,
        stage: str,
        target: str,
        problems: Sequence[str],
        allowed: Sequence[str],
    ) -> None:
        self.journey_id = journey_id
        self.stage = stage
        self.target = target
        self.problems = tuple(problems)
        self.allowed = tuple(allowed)
        shown = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"journey {journey_id} is in '{stage}'; '{target}' needs "
            f"{'; '.join(self.problems)}; allowed next: {shown}"
        )


class IllegalMoveError(MoveError):
    """The pipeline has no transition from the journey's stage to the target."""


class GuardError(MoveError):
    """The transition exists but the clinical record lacks what it requires."""


class TimeOrderError(MoveError):
    """The move's time is before the previous move, or in the future beyond the skew."""


class NotFoundError(StemJourneyError, LookupError):
    """No patient, journey or record has the given id."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} with id {key!r}")


class DuplicateError(StemJourneyError, ValueError):
    """A value that must be unique is already taken."""


class ConflictError(StemJourneyError):
    """Another writer changed the journey since the version the caller read."""

    def __init__(self, journey_id: str, expected: int, actual: int) -> None:
        self.journey_id = journey_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"journey {journey_id} changed since it was read: expected version "
            f"{expected}, found {actual}; read it again and retry"
        )


class SerializationError(ConflictError):
    """The database aborted a write because a concurrent one conflicted with it (a
    PostgreSQL serialization failure or deadlock); nothing was written; retry it."""

    def __init__(self, operation: str) -> None:
        self.journey_id = ""
        self.expected = 0
        self.actual = 0
        StemJourneyError.__init__(
            self,
            f"{operation}: a concurrent write conflicted with this one and the database "
            "rolled it back; nothing was written; read again and retry",
        )


class IntegrityError(StemJourneyError):
    """A write would break the record's rules (append-only history, references)."""


class SchemaError(StemJourneyError):
    """The database file's schema or application id is not one this version can use."""


class StorageError(StemJourneyError, OSError):
    """The database could not be read or written."""


class BusyError(StorageError):
    """Another connection held the database lock past the busy timeout (or, on
    PostgreSQL, no connection of the pool was free in time)."""


class ConnectionLostError(StorageError):
    """The connection to the database server was lost (or the server shut down)."""


class DiskFullError(StorageError):
    """The disk, or the database's page limit, is full; nothing was written."""


class ReadOnlyError(StorageError):
    """The database was opened read-only, or the file cannot be written."""


class CorruptDatabaseError(StorageError):
    """The database file is damaged."""


class NotADatabaseError(StorageError):
    """The file is not an SQLite database."""
