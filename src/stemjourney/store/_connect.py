"""Opening a store's connection: look at the file read-only first, then set the pragmas.

A file is looked at before anything can change it: its header (SQLite's magic,
the application id, the schema version) is read as plain bytes, and its schema
through an immutable read-only connection. Only a file that is ours (or new, or
empty) is then opened for writing, switched to WAL and given its pragmas; any other
is refused and left byte for byte as it was.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from typing import Any

from stemjourney._files import create_private, reason
from stemjourney.exceptions import (
    CorruptDatabaseError,
    NotADatabaseError,
    SchemaError,
    StorageError,
)
from stemjourney.store._schema import APPLICATION_ID, SCHEMA_VERSION

__all__ = ["Target", "configure", "connect", "uri_path"]

_URI_ESCAPES = str.maketrans({"%": "%25", "?": "%3F", "#": "%23"})


def uri_path(path: str) -> str:
    """``path`` as the path of an SQLite ``file:`` URI: the three characters a URI's
    path cannot hold as they are (``%``, ``?``, ``#``) percent-encoded, the rest as it is.

    SQLite decodes the same path from it as from ``urllib.parse.quote(path)`` (a test
    checks that they agree); this form spares every open the import of ``urllib.parse``.
    """
    return path.translate(_URI_ESCAPES)


Target = str | os.PathLike[str] | sqlite3.Connection | Any
"""What :func:`~stemjourney.store.open_store` accepts: a path, ``":memory:"``, an
``sqlite3.Connection`` or an ``sqlite_utils.Database``."""

_MAGIC = b"SQLite format 3\x00"


def _header(path: str) -> bytes | None:
    """The first 100 bytes of the file, or ``None`` when it is missing or empty."""
    try:
        with open(path, "rb") as file:
            return file.read(100)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StorageError(f"the database file cannot be read ({reason(error)})") from None


def _look(path: str) -> None:
    """Refuse a file that is not ours before anything writes to it."""
    head = _header(path)
    if not head:
        return
    if len(head) < 100 or not head.startswith(_MAGIC):
        raise NotADatabaseError("the file is not an SQLite database; it was left unchanged")
    version = int.from_bytes(head[60:64], "big")
    app = int.from_bytes(head[68:72], "big")
    if app not in (0, APPLICATION_ID):
        raise SchemaError(
            f"application_id is {app}, not stemjourney's {APPLICATION_ID}; the file belongs "
            "to another application and was left unchanged"
        )
    if app == APPLICATION_ID and version > SCHEMA_VERSION:
        raise SchemaError(
            f"schema version {version} is newer than this stemjourney supports "
            f"({SCHEMA_VERSION}); the file was left unchanged; upgrade stemjourney to open it"
        )
    wal = path + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        return  # the newest pages are in the WAL: the normal open reads them
    _look_inside(path, app)


def _look_inside(path: str, app: int) -> None:
    uri = f"file:{uri_path(path)}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        raise NotADatabaseError("the file cannot be opened as a database") from None
    try:
        count = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    except sqlite3.DatabaseError as error:
        text = str(error)
        if "not a database" in text or "encrypted" in text:
            raise NotADatabaseError(
                "the file is not an SQLite database (or is encrypted with another key); "
                "it was left unchanged"
            ) from None
        raise CorruptDatabaseError(
            "the database file is damaged (its schema cannot be read); it was left "
            "unchanged; restore it from a backup"
        ) from None
    finally:
        conn.close()
    if app == 0 and count:
        raise SchemaError(
            "the file holds another application's tables and no stemjourney application_id; "
            f"it was left unchanged; allowed: an empty file or one with application_id "
            f"{APPLICATION_ID}"
        )


def connect(target: Target, busy_timeout: float) -> tuple[sqlite3.Connection, bool, Any]:
    """The connection, whether the store owns it (a caller's connection stays theirs), and
    the caller's ``sqlite_utils.Database`` when one was given."""
    if isinstance(target, sqlite3.Connection):
        return target, False, None
    conn = getattr(target, "conn", None)
    if isinstance(conn, sqlite3.Connection) and type(target).__module__.startswith("sqlite_utils"):
        return conn, False, target
    if not isinstance(target, str | os.PathLike):
        raise TypeError(
            "target must be a path, ':memory:', a sqlite_utils.Database or a "
            f"sqlite3.Connection, not {type(target).__name__}"
        )
    path = os.fspath(target)
    if path == ":memory:":
        return sqlite3.connect(path, isolation_level=None), True, None
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise StorageError("the path is a directory; allowed: a database file")
    _look(real)
    create_private(real)
    try:
        opened = sqlite3.connect(real, timeout=busy_timeout, isolation_level=None)
    except sqlite3.Error:
        raise StorageError("the database file cannot be opened") from None
    return opened, True, None


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


def is_private(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is readable and writable by its owner only."""
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
