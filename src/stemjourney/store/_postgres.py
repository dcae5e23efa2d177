"""The PostgreSQL backend: many writers side by side, entries sealed right after they commit.

Writers do not take turns here: each locks only what it changes (the journey's
summary row, ``SELECT ... FOR UPDATE``; an idempotency key, an advisory lock), so
writers of different journeys commit side by side. An entry therefore cannot know the
entry before it while its transaction is open: it is written with the digest of its
rows and no place in the chain, and sealed (its ``seq`` and ``hash`` set and that digest
cleared, which the audit log's trigger allows once) right after its commit by whichever
writer takes the sealing lock first, in the order the sealer finds entries committed.
``head()`` and ``verify()`` seal what waits first.

Every statement of the store is written once, in SQLite's words; :func:`translate` turns
the few that differ into PostgreSQL's, here and nowhere else. psycopg 3 is imported
only when a PostgreSQL store is opened (``pip install 'stemjourney[postgres]'``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

from stemjourney.exceptions import (
    ConnectionLostError,
    DiskFullError,
    DuplicateError,
    IntegrityError,
    ReadOnlyError,
    SchemaError,
    SerializationError,
    StemJourneyError,
    StorageError,
)
from stemjourney.store import _pg_schema as pg
from stemjourney.store._chain import GENESIS, Chain
from stemjourney.store._tables import AUDIT, JOURNEYS, PATIENTS, TABLES

__all__ = ["PostgresBackend", "PgConnection", "import_psycopg", "translate"]

Found = Callable[[str, str | None, str | None, str], None]

_INSTALL = (
    "a PostgreSQL store needs psycopg 3: pip install 'stemjourney[postgres]' "
    "(or pip install 'psycopg[binary]')"
)


def import_psycopg() -> Any:
    """psycopg, or a :class:`StorageError` saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise StorageError(_INSTALL) from None
    return psycopg


# -- the statements ----------------------------------------------------------------------

_WORDS = [
    (
        re.compile(r"SELECT value FROM json_each\(\?\)"),
        "SELECT jsonb_array_elements_text(?::jsonb)",
    ),
    (re.compile(r" INDEXED BY \w+"), ""),
    (re.compile(r"\bWHERE 1\b"), "WHERE true"),
    (
        re.compile(r"json_extract\((\w+), '\$\.(\w+)'\)"),
        r"CASE WHEN (\1::jsonb -> '\2') = 'true'::jsonb THEN '1' END",
    ),
]


@lru_cache(maxsize=512)
def translate(sql: str, parameters: bool = True) -> str:
    """A store statement in PostgreSQL's words, with psycopg's ``%s`` parameters (when it
    takes any).

    >>> translate("SELECT id FROM journeys WHERE id IN (SELECT value FROM json_each(?))")
    'SELECT id FROM journeys WHERE id IN (SELECT jsonb_array_elements_text(%s::jsonb))'
    """
    for pattern, words in _WORDS:
        sql = pattern.sub(words, sql)
    return sql.replace("%", "%%").replace("?", "%s") if parameters else sql


class PgConnection:
    """A psycopg connection with the few calls the store makes of an sqlite3 one.

    Statements are SQLite's, translated (:func:`translate`); whole-number reals come back
    as ``int`` (a score of 7 is stored as 7, as on SQLite, so its canonical bytes match).
    """

    def __init__(self, raw: Any, schema: str, *, owns: bool, release: Any = None) -> None:
        self.raw = raw
        self.schema = schema
        self.owns = owns
        self._release = release
        self._cursors = 0

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        if not parameters:
            return self.raw.execute(translate(sql, False))
        return self.raw.execute(translate(sql), tuple(parameters))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        with self.raw.cursor() as cursor:
            cursor.executemany(translate(sql), [tuple(r) for r in rows])
            return cursor

    def stream(self, sql: str, parameters: Sequence[Any] = (), /) -> Iterator[Any]:
        """The rows of a long read, fetched a few thousand at a time (a server-side cursor
        inside the open transaction; several may stream at once)."""
        self._cursors += 1
        name = f"sj_stream_{self._cursors}"
        held = not self.in_transaction
        cursor = self.raw.cursor(name=name, withhold=held)
        cursor.itersize = 5000
        try:
            if parameters:
                cursor.execute(translate(sql), tuple(parameters))
            else:
                cursor.execute(translate(sql, False))
            yield from cursor
        finally:
            cursor.close()

    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.info.transaction_status != 0)  # 0: idle

    def close(self) -> None:
        if self._release is not None:
            self._release(self.raw)
        elif self.owns:
            self.raw.close()


def _whole_reals(psycopg: Any, raw: Any) -> None:
    """Load ``double precision`` values that are whole numbers as ``int``."""
    from psycopg.types.numeric import Float8BinaryLoader, FloatLoader

    class Whole(FloatLoader):
        def load(self, data: Any) -> Any:
            value = super().load(data)
            return int(value) if value.is_integer() else value

    class WholeBinary(Float8BinaryLoader):
        def load(self, data: Any) -> Any:
            value = super().load(data)
            return int(value) if value.is_integer() else value

    raw.adapters.register_loader("float8", Whole)
    raw.adapters.register_loader("float8", WholeBinary)


# -- errors ------------------------------------------------------------------------------

_LOST = ("08", "57P")
"""SQLSTATE classes of a connection lost or a server shutting down."""


_TAKEN = {
    f"{PATIENTS.name}_pkey": "patient_id",
    f"{PATIENTS.name}_external_key_key": "external_id",
    f"{JOURNEYS.name}_pkey": "journey_id",
}
"""The unique constraints a write checks before it inserts, by the field each guards."""


def translate_error(error: BaseException, operation: str) -> StemJourneyError | None:
    """The stemjourney error that stands for a psycopg ``error``, or ``None``.

    PostgreSQL's own message is not passed on (it can quote stored values): only the
    SQLSTATE, the constraint's name, or our triggers' fixed words.
    """
    psycopg = import_psycopg()
    if not isinstance(error, psycopg.Error):
        return None
    state = getattr(error, "sqlstate", None) or ""
    diag = getattr(error, "diag", None)
    if state == "SJ001":
        words = getattr(diag, "message_primary", None) or "an append-only rule"
        return IntegrityError(f"{operation}: the database refused the write ({words})")
    if state.startswith("23"):
        name = getattr(diag, "constraint_name", None) or "a constraint"
        if state == "23505" and name in _TAKEN:
            # A concurrent writer took it between this one's check and its insert.
            return DuplicateError(
                f"{operation}: {_TAKEN[name]} was taken by a concurrent write; allowed: a new one"
            )
        kind = {
            "23505": "UNIQUE constraint",
            "23503": "FOREIGN KEY constraint",
            "23502": "NOT NULL constraint",
            "23514": "CHECK constraint",
        }.get(state, "constraint")
        return IntegrityError(f"{operation}: the database refused the write ({kind} {name})")
    if state in ("40001", "40P01"):
        return SerializationError(operation)
    if state == "25006" or state == "42501":
        return ReadOnlyError(
            f"{operation}: the database does not take this write (a read-only standby, a "
            f"read-only transaction or a role without the privilege; SQLSTATE {state}); "
            "nothing was written"
        )
    if state in ("53100", "53200", "53400"):
        return DiskFullError(
            f"{operation}: the database server is out of disk or memory (SQLSTATE {state}); "
            "nothing was written"
        )
    closed = getattr(getattr(error, "pgconn", None), "status", 0) != 0
    if state.startswith(_LOST) or (isinstance(error, psycopg.OperationalError) and not state):
        return ConnectionLostError(
            f"{operation}: the connection to the database was lost (SQLSTATE "
            f"{state or 'none'}); a write may or may not have committed: open the store "
            "again and retry it with the same idempotency key"
        )
    if closed and isinstance(error, psycopg.OperationalError):
        return ConnectionLostError(f"{operation}: the connection to the database was lost")
    if state == "3F000" or state == "42P01":
        return SchemaError(
            f"{operation}: the store's schema or one of its tables is missing (SQLSTATE {state})"
        )
    return StorageError(
        f"{operation}: PostgreSQL failed (SQLSTATE {state or type(error).__name__})"
    )


@contextmanager
def _mapped(operation: str) -> Iterator[None]:
    try:
        yield
    except StemJourneyError:
        raise
    except Exception as error:
        found = translate_error(error, operation)
        if found is None:
            raise
        raise found from None


# -- sealing -----------------------------------------------------------------------------

_LAST = f"SELECT seq, hash FROM {AUDIT.name} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
_WAITING = (
    "SELECT id, action, journey_id, patient_id, occurred_at, recorded_at, actor, reason, "
    f"idempotency_key, rows_digest FROM {AUDIT.name} WHERE seq IS NULL ORDER BY id"
)
_SEAL = (
    f"UPDATE {AUDIT.name} SET seq = ?, hash = ?, rows_digest = NULL WHERE id = ? AND seq IS NULL"
)
_ANY_WAITING = f"SELECT 1 FROM {AUDIT.name} WHERE seq IS NULL LIMIT 1"


class PostgresBackend:
    """What is particular to PostgreSQL, for :class:`~stemjourney.store.Store`."""

    name = "postgresql"
    inline = False
    for_update = " FOR UPDATE"

    def __init__(self, schema: str) -> None:
        self.schema = schema
        psycopg = import_psycopg()
        self.database_errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        self._seal_lock = f"stemjourney seal {schema}"

    def ids(self, db: Any, count: int) -> list[int]:
        if count <= 0:
            return []
        rows = db.execute(
            f"SELECT nextval('{pg.SEQUENCE}') FROM generate_series(1, ?)", (count,)
        ).fetchall()
        return sorted(r[0] for r in rows)

    def begin(self, db: Any) -> None:
        db.execute("BEGIN ISOLATION LEVEL READ COMMITTED")

    def commit(self, db: Any) -> None:
        db.execute("COMMIT")

    def rollback(self, db: Any) -> None:
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
        except Exception:
            pass

    def after_commit(self, db: Any, chain: Chain) -> None:
        self.seal(db, chain)

    def seal(self, db: Any, chain: Chain) -> None:
        """Seal every committed entry waiting for its place, in id order, under one lock."""
        if db.execute(_ANY_WAITING).fetchone() is None:
            return
        db.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        try:
            db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (self._seal_lock,))
            found = db.execute(_LAST).fetchone()
            seq, prev = (0, GENESIS) if found is None else (found[0], bytes(found[1]))
            sealed = []
            for row in db.execute(_WAITING).fetchall():
                seq += 1
                fields = (row[0], seq, *row[1:9])
                prev = chain.entry_hash(prev, fields, bytes(row[9]))
                sealed.append((seq, prev, row[0]))
            if sealed:
                db.executemany(_SEAL, sealed)
            db.execute("COMMIT")
        except BaseException:
            self.rollback(db)
            raise

    def lock_key(self, db: Any, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 1))", (key,))

    def lock_journey(self, db: Any, journey_id: str) -> None:
        if db.in_transaction:
            db.execute(f"SELECT 1 FROM {JOURNEYS.name} WHERE id = ? FOR UPDATE", (journey_id,))

    def errors(self, operation: str) -> AbstractContextManager[None]:
        return _mapped(operation)

    def error_name(self, error: BaseException) -> str:
        return getattr(error, "sqlstate", None) or type(error).__name__

    def check_schema(self, db: Any, found: Found) -> None:
        """Every table with its columns, every index, trigger, function and view present,
        the triggers enabled and their functions' bodies as the store wrote them."""
        columns: dict[str, list[str]] = {}
        for table, column in db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = ? ORDER BY table_name, ordinal_position",
            (self.schema,),
        ):
            columns.setdefault(table, []).append(column)
        views = {r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = ?",
            (self.schema,),
        )}  # fmt: skip
        for table in TABLES:
            if table.name not in columns:
                found("schema", table.name, None, "the table is missing")
            elif columns[table.name] != list(table.names):
                found("schema", table.name, None, "the table is altered")
        known = {t.name for t in TABLES} | set(pg.VIEWS)
        for name in sorted(set(columns) - known):
            found("schema", name, None, f"is an unexpected {'view' if name in views else 'table'}")
        for name in pg.VIEWS:
            if name not in views:
                found("schema", name, None, "the view is missing")
        indexes = {r[0] for r in db.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = ?", (self.schema,)
        )}  # fmt: skip
        for name in pg.INDEXES:
            if name not in indexes:
                found("schema", name, None, "the index is missing")
        triggers = dict(db.execute(
            "SELECT t.tgname, t.tgenabled FROM pg_trigger AS t JOIN pg_class AS c "
            "ON c.oid = t.tgrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ? AND NOT t.tgisinternal",
            (self.schema,),
        ).fetchall())  # fmt: skip
        for name in pg.TRIGGERS:
            if name not in triggers:
                found("schema", name, None, "the trigger is missing")
            elif triggers[name] != "O":
                found("schema", name, None, "the trigger is disabled")
        for name in sorted(set(triggers) - set(pg.TRIGGERS)):
            found("schema", name, None, "is an unexpected trigger")
        sources = dict(db.execute(
            "SELECT p.proname, p.prosrc FROM pg_proc AS p JOIN pg_namespace AS n "
            "ON n.oid = p.pronamespace WHERE n.nspname = ?",
            (self.schema,),
        ).fetchall())  # fmt: skip
        for name, source in pg.function_sources().items():
            if name not in sources:
                found("schema", name, None, "the function is missing")
            elif sources[name] != source:
                found("schema", name, None, "the function is altered")

    def check_database(self, db: Any, found: Found) -> None:
        """PostgreSQL's own guarantees in place: every constraint present and validated."""
        for name, valid in db.execute(
            "SELECT c.conname, c.convalidated FROM pg_constraint AS c JOIN pg_namespace AS n "
            "ON n.oid = c.connamespace WHERE n.nspname = ? AND c.contype = 'f'",
            (self.schema,),
        ):
            if not valid:
                found("postgresql", name, None, "the foreign key is not validated")

    def after_copy(self, db: Any) -> None:
        """Move the id sequence past the copied entries."""
        db.execute(
            f"SELECT setval('{pg.SEQUENCE}', max(id)) FROM {AUDIT.name} HAVING max(id) IS NOT NULL"
        )

    def undecodable(self, error: BaseException) -> bool:
        """Never: PostgreSQL keeps only valid text."""
        return False

    @contextmanager
    def snapshot(self, db: Any, raw: bool = False) -> Iterator[None]:
        """One snapshot for everything a long read sees (text is always valid UTF-8 here)."""
        opened = not db.in_transaction
        if opened:
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if opened:
                self.rollback(db)
