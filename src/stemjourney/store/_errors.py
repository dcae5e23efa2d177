"""The one place where SQLite's errors become stemjourney's, at the store's edge.

Like httpx's ``map_exceptions``: wrap each store operation in :func:`map_errors`,
and an ``sqlite3`` error leaves it as a :class:`~stemjourney.exceptions.StorageError`
subclass (or an :class:`~stemjourney.exceptions.IntegrityError` for a refused
write) with a message that says what happened and what to do. SQLite's own message
is not passed on (it can quote stored text), nor chained as the cause: only its
error code's name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from stemjourney.exceptions import (
    BusyError,
    CorruptDatabaseError,
    DiskFullError,
    IntegrityError,
    NotADatabaseError,
    ReadOnlyError,
    StemJourneyError,
    StorageError,
)

__all__ = ["map_errors", "translate"]

_BUSY, _LOCKED, _READONLY, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 11, 13, 14, 26
_IOERR, _CONSTRAINT = 10, 19
_IOERR_WRITE, _IOERR_TRUNCATE = 778, 1546
"""A write that fails with EFBIG (a file-size limit) or ENOSPC is an I/O write error."""


def translate(error: sqlite3.Error, operation: str) -> StemJourneyError:
    """The stemjourney error that stands for ``error`` raised during ``operation``."""
    extended = getattr(error, "sqlite_errorcode", None) or 0
    code = extended & 0xFF
    name = getattr(error, "sqlite_errorname", None) or type(error).__name__
    text = str(error)
    if code in (_BUSY, _LOCKED) or "locked" in text:
        return BusyError(
            f"{operation}: the database stayed locked by another connection past the busy "
            "timeout; nothing was written; retry, or raise busy_timeout"
        )
    if code == _FULL or "disk is full" in text or extended in (_IOERR_WRITE, _IOERR_TRUNCATE):
        return DiskFullError(
            f"{operation}: the disk, a file-size limit or the database's page limit is full "
            "(or the disk refused the write); nothing was written"
        )
    if code == _READONLY or "readonly" in text:
        return ReadOnlyError(
            f"{operation}: the database is read-only (file mode, mount or a mode=ro "
            "connection); nothing was written"
        )
    if code == _CORRUPT or "malformed" in text:
        return CorruptDatabaseError(
            f"{operation}: the database file is damaged ({name}); restore it from a backup"
        )
    if code == _NOTADB or "not a database" in text:
        return NotADatabaseError(
            f"{operation}: the file is not an SQLite database (or is encrypted with another key)"
        )
    if code == _CANTOPEN:
        return StorageError(f"{operation}: the database file cannot be opened ({name})")
    if isinstance(error, sqlite3.IntegrityError) or code == _CONSTRAINT:
        return IntegrityError(f"{operation}: the database refused the write ({_constraint(text)})")
    return StorageError(f"{operation}: SQLite failed ({name})")


def _constraint(text: str) -> str:
    """Which rule refused a write, named by SQLite's fixed words or our trigger's message."""
    for known in (
        "is append-only",
        "never deleted",
        "identity columns cannot change",
        "version only grows",
        "never changed",
        "cannot be deleted",
        "UNIQUE constraint",
        "FOREIGN KEY constraint",
        "NOT NULL constraint",
        "CHECK constraint",
    ):
        if known in text:
            return text[: text.index(known) + len(known)] if "constraint" in known else text
    return "a constraint"


@contextmanager
def map_errors(operation: str) -> Iterator[None]:
    """Turn any ``sqlite3.Error`` raised inside into a stemjourney error."""
    try:
        yield
    except sqlite3.Error as error:
        raise translate(error, operation) from None
