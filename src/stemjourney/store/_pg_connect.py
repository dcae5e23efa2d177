"""Opening a PostgreSQL store: a connection (a URL, a caller's connection or a pool) and
the store's own schema, created in one transaction the first time.

The store lives in a schema of its own (``stemjourney`` unless told otherwise), set
as the connection's ``search_path``; a schema holding other tables is refused and
left as it was, as is one of a newer stemjourney.
"""

from __future__ import annotations

import re
from typing import Any

from stemjourney.exceptions import BusyError, SchemaError, StorageError, ValidationError
from stemjourney.store import _pg_schema as pg
from stemjourney.store._chain import Chain
from stemjourney.store._postgres import (
    PgConnection,
    PostgresBackend,
    _mapped,
    _whole_reals,
    import_psycopg,
)
from stemjourney.store._schema import SCHEMA_VERSION
from stemjourney.store._tables import STORE_META
from stemjourney.store._upgrade import meta, settings_rows, writable

__all__ = ["connect_postgres", "prepare_postgres"]

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _schema_name(schema: object) -> str:
    if not isinstance(schema, str) or not _NAME.fullmatch(schema):
        raise ValidationError(
            "schema", "is not a plain schema name", "lower-case letters, digits and _ (63 at most)"
        )
    return schema


def _borrow(pool: Any) -> Any:
    """A connection from ``pool``; :class:`BusyError` when none was free in time."""
    try:
        return pool.getconn()
    except Exception as error:
        if type(error).__name__ == "PoolTimeout":
            raise BusyError(
                "open_store: no connection of the pool was free in time (every one is lent "
                "to an open store); allowed: close stores when done, or a larger max_size"
            ) from None
        raise


def _connect(psycopg: Any, url: str) -> Any:
    """A new connection to ``url``; a :class:`StorageError` naming the SQLSTATE (never the
    server's text, nor the URL) when the server cannot be reached or refuses it."""
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        state = getattr(error, "sqlstate", None) or "none"
        raise StorageError(
            "open_store: could not connect to the PostgreSQL server (not reachable, or the "
            f"role or database refused; SQLSTATE {state}); nothing was written"
        ) from None


def connect_postgres(target: Any, schema: str) -> PgConnection:
    """The store's connection to ``target``, its ``search_path`` set to ``schema``."""
    schema = _schema_name(schema)
    psycopg = import_psycopg()
    release = None
    owns = True
    with _mapped("open_store"):
        if isinstance(target, str):
            raw = _connect(psycopg, target)
        elif isinstance(target, psycopg.Connection):
            raw, owns = target, False
        elif hasattr(target, "getconn") and hasattr(target, "putconn"):
            pool = target
            raw = _borrow(pool)

            def release(conn: Any) -> None:
                try:
                    conn.execute("RESET search_path")
                finally:
                    pool.putconn(conn)

        else:
            raise TypeError(
                "target must be a postgresql:// URL, a psycopg connection or a pool, "
                f"not {type(target).__name__}"
            )
        try:
            if raw.info.transaction_status != 0:
                raise StorageError(
                    "the connection has a transaction open; commit or roll it back before "
                    "opening a store"
                )
            raw.autocommit = True
            raw.execute(f"SET search_path TO {schema}")
            _whole_reals(psycopg, raw)
        except BaseException:
            if release is not None:
                release(raw)
            elif owns:
                raw.close()
            raise
    return PgConnection(raw, schema, owns=owns, release=release)


def prepare_postgres(db: PgConnection, backend: PostgresBackend, chain: Chain) -> bool:
    """Create the store's schema when it is new, check it otherwise; return whether this
    store may write (a keyed chain needs its key)."""
    schema = db.schema
    with _mapped("open_store"):
        db.execute("BEGIN")
        try:
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 2))", (schema,))
            exists = db.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema,)
            ).fetchone()
            tables = set()
            if exists:
                tables = {r[0] for r in db.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                    (schema,),
                )}  # fmt: skip
            else:
                db.execute(f"CREATE SCHEMA {schema}")
            if not tables:
                for sql in pg.STATEMENTS:
                    db.execute(sql)
                db.executemany(STORE_META.insert(), settings_rows(chain, {}))
            elif STORE_META.name not in tables:
                raise SchemaError(
                    f"the schema {schema} holds another application's tables; it was left "
                    "unchanged; allowed: an empty schema, or open_store(..., schema=...)"
                )
            settings = meta(db)  # type: ignore[arg-type]
            db.execute("COMMIT")
        except BaseException:
            backend.rollback(db)
            raise
    version = settings.get("schema")
    if version != str(SCHEMA_VERSION):
        raise SchemaError(
            f"the schema {schema} holds stemjourney schema version {version}; this "
            f"stemjourney writes {SCHEMA_VERSION}; it was left unchanged"
        )
    return writable(settings, chain)
