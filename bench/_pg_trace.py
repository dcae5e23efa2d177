"""The statements a store write hands psycopg on PostgreSQL, recorded and run again by hand.

:func:`capture` puts a recorder in front of the psycopg connection of a store's
``PgConnection`` while one write runs: every ``execute`` (the statement as psycopg
receives it, already in PostgreSQL's words, and its values) and every
``executemany`` of a cursor, in order, transactions' ``BEGIN`` and ``COMMIT``
included. :func:`run` runs them on a plain psycopg connection, fetching every row
that comes back; :func:`differences` compares two databases' store tables row for row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stemjourney.store._tables import TABLES

__all__ = ["Step", "capture", "differences", "run"]

Step = tuple[str, str, Any]
"""One call: ``execute`` or ``executemany``, the statement, its values (rows)."""


class _Cursor:
    def __init__(self, cursor: Any, seen: list[Step]) -> None:
        self._cursor = cursor
        self._seen = seen

    def __enter__(self) -> _Cursor:
        self._cursor.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cursor.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def executemany(self, query: str, rows: Any, **kw: Any) -> Any:
        rows = list(rows)
        self._seen.append(("executemany", query, rows))
        return self._cursor.executemany(query, rows, **kw)


class _Recorder:
    """Stands for a psycopg connection, noting each statement before passing it on."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.seen: list[Step] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def execute(self, query: str, params: Any = None, **kw: Any) -> Any:
        self.seen.append(("execute", query, params))
        return self._raw.execute(query, params, **kw)

    def cursor(self, *args: Any, **kw: Any) -> Any:
        cursor = self._raw.cursor(*args, **kw)
        return cursor if args or kw else _Cursor(cursor, self.seen)


def capture(store: Any, work: Callable[[], object]) -> list[Step]:
    """Run ``work`` with a recorder on the store's connection; return what psycopg got."""
    conn = store.db
    raw = conn.raw
    recorder = _Recorder(raw)
    conn.raw = recorder
    try:
        work()
    finally:
        conn.raw = raw
    return recorder.seen


def run(conn: Any, steps: list[Step]) -> None:
    """Run the steps on a plain autocommit connection (they hold their BEGIN and COMMIT)."""
    for kind, query, values in steps:
        if kind == "executemany":
            with conn.cursor() as cursor:
                cursor.executemany(query, values)
        else:
            cursor = conn.execute(query, values)
            if cursor.description is not None:
                cursor.fetchall()


def differences(a: Any, b: Any, limit: int = 3) -> list[str]:
    """Where two databases' store tables differ (row counts, then the first rows)."""
    found = []
    for table in TABLES:
        order = ", ".join(str(i + 1) for i in range(len(table.names)))
        sql = f"SELECT * FROM {table.name} ORDER BY {order}"  # noqa: S608 (the store's names)
        mine, theirs = a.execute(sql).fetchall(), b.execute(sql).fetchall()
        if len(mine) != len(theirs):
            found.append(f"{table.name}: {len(mine)} rows != {len(theirs)}")
        else:
            found += [
                f"{table.name}: {x!r} != {y!r}" for x, y in zip(mine, theirs, strict=True) if x != y
            ]
        if len(found) >= limit:
            break
    return found[:limit]
