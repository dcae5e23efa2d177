"""The durable store: journeys persisted in SQLite or PostgreSQL, append-only,
hash-chained, checked.

>>> from datetime import UTC, datetime
>>> from stemjourney.store import open_store
>>> with open_store(":memory:") as store:
...     p = store.add_patient("MRN-1", actor="desk", patient_id="p-1")
...     j = store.open_journey("p-1", condition="knee osteoarthritis", site="knee",
...                            side="left", cell_source="bone_marrow", actor="dr.a",
...                            occurred_at=datetime(2026, 1, 5, 9, tzinfo=UTC), journey_id="j-1")
...     (store.journey("j-1").stage, store.journeys_of("p-1") == [j], store.verify().ok)
('consultation', True, True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.exceptions import ValidationError
from stemjourney.journey._clock import Clock
from stemjourney.journey._engine import Engine
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.outcomes import OutcomeFacts
from stemjourney.store._chain import Chain, Head
from stemjourney.store._connect import Target, configure, connect
from stemjourney.store._db import is_postgres
from stemjourney.store._errors import map_errors
from stemjourney.store._schema import APPLICATION_ID, SCHEMA_VERSION
from stemjourney.store._shards import FactShard
from stemjourney.store._store import Store
from stemjourney.store._upgrade import prepare

if TYPE_CHECKING:
    from stemjourney.store._copy import CopyReport, copy_store
    from stemjourney.store._verify import Problem, VerifyReport

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "CopyReport",
    "FactShard",
    "Head",
    "OutcomeFacts",
    "Problem",
    "Store",
    "Target",
    "VerifyReport",
    "copy_store",
    "open_store",
]


_HOME = {
    "CopyReport": "stemjourney.store._copy",
    "copy_store": "stemjourney.store._copy",
    "Problem": "stemjourney.store._verify",
    "VerifyReport": "stemjourney.store._verify",
}
"""Names loaded on first use: copying and verifying are not on a reading command's path."""


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'stemjourney.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def open_store(
    target: Target,
    *,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    protocol: Protocol = DEFAULT_PROTOCOL,
    clock: Clock | None = None,
    busy_timeout: float = 5.0,
    key: bytes | None = None,
    schema: str = "stemjourney",
) -> Store:
    """Open (or create) a store, in an SQLite file or a PostgreSQL database.

    ``target`` is a path (a new file is created readable by its owner only, also
    through a symlink), ``":memory:"``, an ``sqlite_utils.Database`` or an
    ``sqlite3.Connection`` (so an encrypted SQLite build can be used; the caller keeps
    ownership of it). A file is first looked at read-only: one that is not
    stemjourney's, or is newer, or damaged, is refused and left byte for byte as it
    was. Then every open sets and checks WAL, ``synchronous=FULL``, foreign keys and
    ``busy_timeout`` (seconds), creates the schema in a new file and upgrades an older
    one.

    ``key`` (16 bytes or more, kept by the host) makes the hash chain an HMAC under
    that key: nobody without it can recompute a rewritten chain. A new file takes the
    key it is first opened with; a keyed file opened without its key can be read and
    verified but not written.

    ``target`` may also be a ``postgresql://`` URL, a psycopg 3 connection or a
    ``psycopg_pool`` pool (``pip install 'stemjourney[postgres]'``): the store then lives
    in the PostgreSQL ``schema`` (``stemjourney`` by default), created on first open with
    the same tables, views and append-only triggers. A caller's connection is switched
    to autocommit (the store opens its own transactions) and stays the caller's; a
    store takes one connection from a pool and gives it back on close.
    ``busy_timeout`` is SQLite's only.

    Raises :class:`~stemjourney.exceptions.SchemaError` for a file of another
    application or a newer schema, :class:`~stemjourney.exceptions.NotADatabaseError`,
    :class:`~stemjourney.exceptions.CorruptDatabaseError` and other
    :class:`~stemjourney.exceptions.StorageError` subclasses when the file cannot
    be used, :class:`~stemjourney.exceptions.ValidationError` for a wrong ``key``.
    """
    chain = Chain(_chain_key(key))
    engine = Engine(pipeline, protocol, clock)
    if is_postgres(target):
        return _open_postgres(target, schema, engine, chain)
    conn, owns, db = connect(target, busy_timeout)
    try:
        with map_errors("open_store"):
            configure(conn, busy_timeout)
            writable = prepare(conn, chain, engine)
    except BaseException:
        if owns:
            conn.close()
        raise
    return Store(conn, engine, owns=owns, chain=chain, writable=writable, db=db)


def _open_postgres(target: Target, schema: str, engine: Engine, chain: Chain) -> Store:
    from stemjourney.store._pg_connect import connect_postgres, prepare_postgres
    from stemjourney.store._postgres import PostgresBackend

    conn = connect_postgres(target, schema)
    try:
        backend = PostgresBackend(conn.schema)
        writable = prepare_postgres(conn, backend, chain)
    except BaseException:
        conn.close()
        raise
    return Store(conn, engine, owns=True, chain=chain, writable=writable, backend=backend)


def _chain_key(key: object) -> bytes | None:
    if key is None:
        return None
    if not isinstance(key, bytes):
        raise ValidationError(
            "key", f"expected bytes, got {type(key).__name__}", "a secret of bytes"
        )
    if len(key) < 16:
        raise ValidationError("key", f"is {len(key)} bytes long", "a secret of at least 16 bytes")
    return key
