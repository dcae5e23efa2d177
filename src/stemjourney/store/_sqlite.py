"""The SQLite backend: one file, writers taking turns (``BEGIN IMMEDIATE``), WAL.

Each entry is sealed into the hash chain inside its own transaction: writers take
turns, so the entry before it is always known. An entry's id is the next one after
the file's largest, and equals its place in the chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

from stemjourney.store._errors import map_errors
from stemjourney.store._schema import expected_objects
from stemjourney.store._tables import AUDIT, JOURNEYS, PATIENTS

__all__ = ["SQLITE"]

Found = Callable[[str, str | None, str | None, str], None]

_NEXT_ID = f"SELECT coalesce(max(id), 0) FROM {AUDIT.name}"
_PATIENTLESS = (
    f"SELECT j.id FROM {JOURNEYS.name} AS j WHERE NOT EXISTS "
    f"(SELECT 1 FROM {PATIENTS.name} AS p WHERE p.id = j.patient_id) ORDER BY j.id"
)


class SqliteBackend:
    """What is particular to SQLite, for :class:`~stemjourney.store.Store`."""

    name = "sqlite"
    inline = True
    for_update = ""
    database_errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)

    def ids(self, db: Any, count: int) -> list[int]:
        """The next ``count`` ids after the file's largest (writers take turns)."""
        last = db.execute(_NEXT_ID).fetchone()[0]
        return list(range(last + 1, last + 1 + count))

    def begin(self, db: Any) -> None:
        """Take the write lock at once, so the reads that decide the write see the latest."""
        db.execute("BEGIN IMMEDIATE")

    def commit(self, db: Any) -> None:
        db.execute("COMMIT")

    def rollback(self, db: Any) -> None:
        with suppress(sqlite3.Error):
            if db.in_transaction:
                db.execute("ROLLBACK")

    def after_commit(self, db: Any, chain: Any) -> None:
        """Nothing: the entries were sealed inside the transaction."""

    def seal(self, db: Any, chain: Any) -> None:
        """Nothing to seal: every committed entry is sealed."""

    def lock_key(self, db: Any, key: str) -> None:
        """Nothing: the write lock already orders writers."""

    def lock_journey(self, db: Any, journey_id: str) -> None:
        """Nothing: the write lock already orders writers."""

    def errors(self, operation: str) -> AbstractContextManager[None]:
        return map_errors(operation)

    def error_name(self, error: BaseException) -> str:
        return getattr(error, "sqlite_errorname", None) or type(error).__name__

    def check_schema(self, db: Any, found: Found) -> None:
        """Every table, index, trigger and view present, as the store created it."""
        expected = expected_objects()
        seen: set[str] = set()
        for kind, name, sql in db.execute(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
        ):
            seen.add(name)
            want = expected.get(name)
            if want is None:
                found("schema", name, None, f"is an unexpected {kind}")
            elif (kind, sql) != want:
                found("schema", name, None, f"the {want[0]} is altered")
        for name, (kind, _) in expected.items():
            if name not in seen:
                found("schema", name, None, f"the {kind} is missing")

    def check_database(self, db: Any, found: Found) -> None:
        """SQLite's own check of the file's structure, and the one reference the row pass
        does not follow: each journey's patient.

        Every other reference is checked row by row as ``verify()`` reads the history
        (a move, record, score or visit naming no journey; a row naming no audit entry,
        or one another row group has), so ``PRAGMA foreign_key_check``, a second look-up
        of each of them, is not run.
        """
        for (message,) in db.execute("PRAGMA quick_check"):
            if message != "ok":
                found("sqlite", None, None, f"quick_check: {message}")
        for (journey_id,) in db.execute(_PATIENTLESS):
            found(JOURNEYS.name, str(journey_id), "patient_id", "refers to a missing patients row")

    @contextmanager
    def snapshot(self, db: Any, raw: bool = False) -> Iterator[None]:
        """One read transaction (WAL gives it one snapshot); with ``raw``, text read as
        stored with undecodable bytes kept, so damaged text is reported, not raised."""
        factory = db.text_factory
        if raw:
            db.text_factory = _text
        opened = not db.in_transaction
        if opened:
            db.execute("BEGIN")
        try:
            yield
        finally:
            db.text_factory = factory
            if opened:
                self.rollback(db)

    def undecodable(self, error: BaseException) -> bool:
        """Whether ``error`` is text SQLite holds that is not UTF-8."""
        return isinstance(error, sqlite3.OperationalError) and "decode" in str(error)

    def after_copy(self, db: Any) -> None:
        """Nothing: ids follow the largest one."""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


SQLITE = SqliteBackend()
"""The one SQLite backend (it keeps no state)."""
