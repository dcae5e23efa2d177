"""Where a test's store lives: an SQLite file, or a schema of its own on the throwaway
PostgreSQL cluster (``tests/_postgres.py``), so one test runs on both backends.

A test asks for the ``where`` fixture (``tests/conftest.py``): it runs once per backend,
and ``where.open()`` opens the test's store there. On PostgreSQL each test gets a fresh
schema; without a PostgreSQL server the PostgreSQL run is skipped with the reason (how
to install it), never passed.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

from _store_helpers import open_file
from stemjourney.store import Store

__all__ = ["Where", "history_error", "raw"]

_SCHEMAS = itertools.count(1)


class Where:
    """One test's store location: ``target`` and ``schema`` are what ``open_store`` takes."""

    def __init__(self, backend: str, folder: Path, dsn: str | None = None) -> None:
        self.backend = backend
        if backend == "postgresql":
            assert dsn is not None
            self.target = dsn
            self.schema = f"t_{next(_SCHEMAS)}"
        else:
            self.target = str(folder / "clinic.db")
            self.schema = "stemjourney"

    @property
    def postgres(self) -> bool:
        return self.backend == "postgresql"

    def open(self, **kw: Any) -> Store:
        """Open (or create) the test's store, with the test clock unless one is given."""
        return open_file(self.target, schema=self.schema, **kw)

    def connect(self) -> Any:
        """A plain connection of the backend's own driver to the store (autocommit),
        reaching the store's tables by their bare names."""
        if self.postgres:
            import psycopg

            conn = psycopg.connect(self.target, autocommit=True)
            conn.execute(f"SET search_path TO {self.schema}")
            return conn
        return sqlite3.connect(self.target, isolation_level=None)

    def __repr__(self) -> str:
        return f"Where({self.backend})"


def raw(store: Store) -> Any:
    """The store's own connection, for statements the store would never run: on SQLite
    the sqlite3 connection, on PostgreSQL the store's connection (``?`` parameters)."""
    return store.db if store.backend.name == "postgresql" else store.db.conn


def history_error(store: Store) -> tuple[type[BaseException], ...]:
    """What the database raises when a trigger refuses a statement on history."""
    if store.backend.name == "postgresql":
        import psycopg

        return (psycopg.Error,)
    return (sqlite3.IntegrityError,)
