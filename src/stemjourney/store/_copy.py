"""Copying a whole store into an empty one, on either backend, with its chain unchanged.

A clinic's SQLite file moves into the network's PostgreSQL database (and back) row for
row: every audit entry keeps its id, its place in the chain and its hash, so the copy
has the same head and a head kept outside the source still checks against the copy.
The source must verify clean first; the copy is written in one transaction of the
target and checked with ``verify()`` (against the source's head) before it commits, so
a copy that does not verify is not written at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import attrs

from stemjourney.exceptions import IntegrityError, StorageError, ValidationError
from stemjourney.store._db import stream
from stemjourney.store._tables import AUDIT, STORE_META, TABLES
from stemjourney.store._verify import verify
from stemjourney.store._writes import audit_insert

if TYPE_CHECKING:
    from stemjourney.store._chain import Head
    from stemjourney.store._store import Store

__all__ = ["CopyReport", "copy_store"]

_CHUNK = 5000
_SETTINGS = ("chain", "key_id")
"""The settings a source and its target must share (the schema version is checked on open)."""


@attrs.frozen
class CopyReport:
    """What :func:`copy_store` copied: the rows of each table, and the chain's head (the
    same in the source and the copy)."""

    rows: dict[str, int]
    head: Head | None


def _settings(store: Store) -> dict[str, str]:
    return dict(store._conn.execute(f"SELECT key, value FROM {STORE_META.name}").fetchall())


def _chunks(rows: Iterator[Any]) -> Iterator[list[Any]]:
    while chunk := list(islice(rows, _CHUNK)):
        yield chunk


def copy_store(source: Store, target: Store) -> CopyReport:
    """Copy every row of ``source`` into ``target``, an empty store, keeping the chain.

    Both are open stores, on either backend (a file into PostgreSQL, PostgreSQL into a
    file, or file to file); a keyed chain needs both opened with its key. Raises
    :class:`~stemjourney.exceptions.IntegrityError` when the source does not verify
    or the copy would not, :class:`~stemjourney.exceptions.ValidationError` when the
    target is not empty or does not hash its chain the same way; nothing is written
    to the target then.
    """
    mine, theirs = _settings(source), _settings(target)
    for key in _SETTINGS:
        if mine.get(key) != theirs.get(key):
            raise ValidationError(
                "target",
                f"hashes its chain differently ({key})",
                "a new store opened with the source's key (or none, like the source)",
            )
    checked = source.verify()
    if not checked.ok:
        raise IntegrityError(
            f"the source fails verify() with {len(checked.problems)} problem(s); nothing was "
            "copied; run 'stemjourney verify' on it"
        )
    head = checked.head
    counts: dict[str, int] = {}
    with target._write("copy") as ctx:
        conn = ctx.conn
        if conn.execute(f"SELECT 1 FROM {AUDIT.name} LIMIT 1").fetchone() is not None:
            raise ValidationError("target", "is not empty", "a new, empty store")
        extra = sorted((k, v) for k, v in mine.items() if k not in theirs)
        if extra:
            conn.executemany(STORE_META.insert(), extra)
        with source._read("copy"), source.backend.snapshot(source._conn):
            for table in TABLES:
                if table is STORE_META:
                    continue
                order = ", ".join(table.names[:2]) if table is not AUDIT else "id"
                rows = stream(source._conn, table.select(order=order))
                counts[table.name] = 0
                for chunk in _chunks(rows):
                    if table is AUDIT and any(row[1] is None for row in chunk):
                        raise StorageError(
                            "copy: the source has entries waiting for their place in the "
                            "chain (writes going on); copy a store nobody is writing to"
                        )
                    insert = audit_insert(ctx.backend.inline) if table is AUDIT else table.insert()
                    conn.executemany(insert, chunk)
                    counts[table.name] += len(chunk)
        ctx.backend.after_copy(conn)
        found = verify(conn, ctx.backend, target.engine, target._chain, expected_head=head)
        if not found.ok or found.head != head:
            raise IntegrityError(
                f"the copy fails verify() with {len(found.problems)} problem(s); nothing was "
                "written to the target"
            )
    return CopyReport(counts, head)
