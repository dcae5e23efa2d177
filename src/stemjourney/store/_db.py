"""What the store asks of a database connection, whichever backend it is.

An ``sqlite3.Connection`` is one as it is; the PostgreSQL backend wraps its psycopg
connection in the same few calls (:mod:`._postgres`). Every statement the store runs
is written once, in SQLite's spelling with ``?`` parameters, and the PostgreSQL backend
translates the handful of forms that differ, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["Backend", "Cursor", "Db", "is_postgres", "stream"]


class Cursor(Protocol):
    """The rows of one statement."""

    @property
    def rowcount(self) -> int:
        """How many rows an UPDATE or DELETE changed."""
        ...

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        ...

    def fetchall(self) -> list[Any]:
        """Every row left."""
        ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """A connection, as the store uses it."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement."""
        ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement for each row of parameters."""
        ...

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class Backend(Protocol):
    """What differs between the store's databases, in one object per backend.

    Everything else (the writes, the reads, the checks) is written once and runs on
    either: :mod:`._sqlite` and :mod:`._postgres` are the only modules that know which
    database they talk to.
    """

    name: str
    """``sqlite`` or ``postgresql``."""

    inline: bool
    """Whether an entry is sealed into the hash chain in its own transaction (writers take
    turns), or right after it commits, in commit order (writers run side by side)."""

    for_update: str
    """What a SELECT ends with to lock the rows it reads for the write ("" when writers
    take turns anyway)."""

    database_errors: tuple[type[BaseException], ...]
    """The database's own errors, which ``verify()`` reports instead of raising."""

    def ids(self, db: Db, count: int) -> list[int]:
        """``count`` new audit entry ids, in order."""
        ...

    def begin(self, db: Db) -> None:
        """Open a write transaction."""
        ...

    def commit(self, db: Db) -> None:
        """Commit it."""
        ...

    def rollback(self, db: Db) -> None:
        """Roll it back, if one is open (never raises)."""
        ...

    def after_commit(self, db: Db, chain: Any) -> None:
        """What follows a committed write: sealing its entries when they wait for it."""
        ...

    def seal(self, db: Db, chain: Any) -> None:
        """Seal every committed entry that waits for its place in the chain."""
        ...

    def lock_key(self, db: Db, key: str) -> None:
        """Make writers with the same idempotency key take turns."""
        ...

    def lock_journey(self, db: Db, journey_id: str) -> None:
        """Make writers of the same journey take turns (its summary row locked)."""
        ...

    def errors(self, operation: str) -> AbstractContextManager[None]:
        """Turn this database's errors raised inside into stemjourney's."""
        ...

    def error_name(self, error: BaseException) -> str:
        """The name of a database error's code (never its message)."""
        ...

    def check_schema(self, db: Db, found: Any) -> None:
        """Report every schema object missing, altered or unexpected."""
        ...

    def check_database(self, db: Db, found: Any) -> None:
        """Report what the database's own checks find."""
        ...

    def snapshot(self, db: Db, raw: bool = False) -> AbstractContextManager[None]:
        """One consistent view for a long read (``verify()``, a copy); with ``raw``, text
        read as stored, undecodable bytes kept."""
        ...

    def undecodable(self, error: BaseException) -> bool:
        """Whether a read failed on stored text that cannot be decoded."""
        ...

    def after_copy(self, db: Db) -> None:
        """Make the copied entries' ids the store's own (the id sequence moved past them)."""
        ...


def is_postgres(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL database: a ``postgresql://`` URL, a psycopg
    connection or a psycopg_pool pool."""
    if isinstance(target, str):
        return target.startswith(("postgresql://", "postgres://"))
    module = type(target).__module__
    return module.startswith(("psycopg.", "psycopg_pool")) or module == "psycopg"


def id_range(column: str, first: str | None, stop: str | None) -> tuple[str, tuple[str, ...]]:
    """The conditions (joined by AND; empty when both ends are open) keeping the rows whose
    ``column`` is ``first`` or later and before ``stop``, with their parameters: one range
    of an ordered read, a share of the store another process may read."""
    ends = [(f"{column} >= ?", first), (f"{column} < ?", stop)]
    kept = [(sql, end) for sql, end in ends if end is not None]
    return " AND ".join(sql for sql, _ in kept), tuple(end for _, end in kept)


def stream(db: Db, sql: str, parameters: Sequence[Any] = ()) -> Iterator[Any]:
    """The rows of a long read, without holding them all (a server-side cursor where the
    connection has one; SQLite's cursors always step through the rows)."""
    streaming = getattr(db, "stream", None)
    if streaming is not None:
        return iter(streaming(sql, parameters))
    return iter(db.execute(sql, parameters))
