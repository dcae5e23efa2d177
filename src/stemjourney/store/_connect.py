"""Opening a store's connection: the file, the pragmas, and their check on every open."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import sqlite_utils

from stemjourney.exceptions import StorageError

__all__ = ["Target", "configure", "connect", "create_private"]

Target = str | os.PathLike[str] | sqlite_utils.Database | sqlite3.Connection
"""What :func:`~stemjourney.store.open_store` accepts."""


def create_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` as an empty file readable and writable by its owner only.

    An existing file is left as it is; raises
    :class:`~stemjourney.exceptions.StorageError` when the file cannot be created.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as error:
        raise StorageError(f"the database file cannot be created: {error.strerror}") from error
    os.close(fd)


def connect(target: Target, busy_timeout: float) -> tuple[sqlite3.Connection, Any, bool]:
    """The connection, the ``sqlite_utils.Database`` around it, and whether the store owns it."""
    if isinstance(target, sqlite_utils.Database):
        return target.conn, target, False
    if isinstance(target, sqlite3.Connection):
        return target, sqlite_utils.Database(target), False
    if not isinstance(target, str | os.PathLike):
        raise TypeError(
            "target must be a path, ':memory:', a sqlite_utils.Database or a "
            f"sqlite3.Connection, not {type(target).__name__}"
        )
    if os.fspath(target) != ":memory:":
        create_private(target)
    conn = sqlite3.connect(target, timeout=busy_timeout, isolation_level=None)
    return conn, sqlite_utils.Database(conn), True


def _value(conn: sqlite3.Connection, sql: str) -> Any:
    return conn.execute(sql).fetchone()[0]


def configure(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Set WAL, ``synchronous=FULL``, foreign keys and the busy timeout, then check them.

    An in-memory database keeps its ``memory`` journal. Raises
    :class:`~stemjourney.exceptions.StorageError` when a setting does not hold
    (for example on a connection with a transaction open).
    """
    if conn.in_transaction:
        raise StorageError(
            "the connection has a transaction open; commit or roll it back before opening a store"
        )
    millis = max(0, round(busy_timeout * 1000))
    conn.execute(f"PRAGMA busy_timeout = {millis}")
    conn.execute("PRAGMA foreign_keys = ON")
    memory = _is_memory(conn)
    mode = _value(conn, "PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    expected = {
        "journal_mode": "memory" if memory else "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": millis,
    }
    found = {
        "journal_mode": mode,
        "synchronous": _value(conn, "PRAGMA synchronous"),
        "foreign_keys": _value(conn, "PRAGMA foreign_keys"),
        "busy_timeout": _value(conn, "PRAGMA busy_timeout"),
    }
    wrong = [f"{k} is {found[k]!r}, needs {v!r}" for k, v in expected.items() if found[k] != v]
    if wrong:
        raise StorageError("the connection's settings do not hold: " + "; ".join(wrong))


def _is_memory(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return not row[0]
