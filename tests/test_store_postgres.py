"""What is PostgreSQL's own: how a store is reached, what it refuses, how the server's
failures are named.

A store opens on a URL, a caller's psycopg connection or a pool; a schema that is not
stemjourney's, or is newer, is refused and left as it was; a read-only server reads and
reports but does not write; a lost connection, a serialization failure, a full disk are
each their own :class:`StemJourneyError`, with no value from the database in the message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import stemjourney as sj
from _postgres import Cluster
from _store_helpers import DAY0, add_journey, clock, open_file, ready_for_harvest
from stemjourney.exceptions import (
    BusyError,
    ConnectionLostError,
    DiskFullError,
    DuplicateError,
    IntegrityError,
    ReadOnlyError,
    SchemaError,
    SerializationError,
    StorageError,
    ValidationError,
)
from stemjourney.store import is_postgres, open_store
from stemjourney.store._postgres import translate, translate_error

psycopg = pytest.importorskip("psycopg", reason="pip install 'stemjourney[postgres]'")


@pytest.fixture
def dsn(pg_cluster: Cluster) -> str:
    return pg_cluster.dsn()


@pytest.fixture
def admin(dsn: str) -> Iterator[Any]:
    """A superuser's connection, autocommit."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def test_a_caller_connection_stays_the_callers(dsn: str) -> None:
    """A psycopg connection passed in is used, switched to autocommit, and left open."""
    conn = psycopg.connect(dsn)
    assert is_postgres(conn)
    with open_store(conn, schema="callers", clock=clock()) as store:
        add_journey(store)
        assert store.backend.name == "postgresql"
    assert not conn.closed
    assert conn.autocommit
    assert conn.execute("SELECT count(*) FROM callers.journeys").fetchone()[0] == 1
    conn.close()


def test_a_connection_with_an_open_transaction_is_refused(dsn: str) -> None:
    conn = psycopg.connect(dsn)
    conn.execute("SELECT 1")  # not autocommit: a transaction is now open
    with pytest.raises(StorageError, match="has a transaction open"):
        open_store(conn, schema="refused")
    assert not conn.closed
    conn.close()


def test_a_pool_lends_the_store_one_connection_and_takes_it_back(dsn: str) -> None:
    from psycopg_pool import ConnectionPool

    with ConnectionPool(dsn, min_size=1, max_size=2, open=True) as pool:
        assert is_postgres(pool)
        with open_store(pool, schema="pooled", clock=clock()) as store:
            add_journey(store)
        with pool.connection() as conn:  # given back, its search_path reset
            assert conn.execute("SHOW search_path").fetchone()[0] == '"$user", public'
        with open_store(pool, schema="pooled", clock=clock()) as again:
            assert again.journey("j-1").stage == "consultation"


def test_a_pool_with_no_free_connection_is_busy(dsn: str) -> None:
    from psycopg_pool import ConnectionPool

    with (
        ConnectionPool(dsn, min_size=1, max_size=1, timeout=0.2, open=True) as pool,
        open_store(pool, schema="pooled_busy", clock=clock()),
        pytest.raises(BusyError, match="no connection of the pool was free"),
    ):
        open_store(pool, schema="pooled_busy")


@pytest.mark.parametrize("schema", ["Bad", "a;drop", "", "x" * 64, 7])
def test_a_schema_name_must_be_plain(dsn: str, schema: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        open_store(dsn, schema=schema)
    assert caught.value.field == "schema"  # type: ignore[attr-defined]


def test_a_target_of_another_kind_is_a_type_error() -> None:
    assert not is_postgres(3.5)
    with pytest.raises(TypeError):
        open_store(3.5)  # type: ignore[arg-type]


def test_another_applications_schema_is_refused_unchanged(dsn: str, admin: Any) -> None:
    admin.execute("CREATE SCHEMA theirs")
    admin.execute("CREATE TABLE theirs.orders (id int)")
    with pytest.raises(SchemaError, match="another application's tables"):
        open_store(dsn, schema="theirs")
    tables = admin.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'theirs'"
    ).fetchall()
    assert tables == [("orders",)]


def test_a_newer_schema_is_refused_unchanged(dsn: str, admin: Any) -> None:
    with open_file(dsn, schema="newer"):
        pass
    admin.execute("SET session_replication_role = replica")
    admin.execute("UPDATE newer.store_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(SchemaError, match="version 99"):
        open_store(dsn, schema="newer")
    found = admin.execute("SELECT value FROM newer.store_meta WHERE key = 'schema'").fetchone()
    assert found == ("99",)


def test_a_missing_schema_at_write_time_is_a_schema_error(dsn: str, admin: Any) -> None:
    store = open_file(dsn, schema="dropped")
    admin.execute("DROP SCHEMA dropped CASCADE")
    with pytest.raises(SchemaError, match="SQLSTATE"):
        store.add_patient("mrn-1", actor="desk")
    store.close()


def test_a_read_only_server_reads_reports_and_verifies_but_does_not_write(
    dsn: str, admin: Any
) -> None:
    """As on a hot standby: reads, reports and verify() work; each write is a
    ReadOnlyError and nothing is written."""
    from stemjourney.reports import cohort_report

    with open_file(dsn, schema="standby") as store:
        add_journey(store)
        ready_for_harvest(store)
        sealed = store.head()
        # The last write commits, and its writer stops before sealing it into the chain.
        store.backend.after_commit = lambda db, chain: None  # type: ignore[method-assign]
        store.record("j-1", sj.nrs(2, DAY0), actor="nurse")
    admin.execute("CREATE ROLE reader LOGIN")
    admin.execute("ALTER ROLE reader SET default_transaction_read_only = on")
    admin.execute("GRANT USAGE ON SCHEMA standby TO reader")
    admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA standby TO reader")
    reader = dsn.replace("postgres@", "reader@")
    with open_file(reader, schema="standby") as store:
        assert store.journey("j-1").version == 5
        assert store.verify().ok  # the waiting entry is checked against its rows
        assert store.head() == sealed  # the chain as sealed so far
        assert cohort_report(store).groups is not None
        with pytest.raises(ReadOnlyError, match="read-only"):
            store.record("j-1", sj.nrs(3, DAY0), actor="nurse")
        with pytest.raises(ReadOnlyError):
            store.add_patient("mrn-9", actor="desk")
        assert store.journey("j-1").version == 5
    with open_file(dsn, schema="standby") as writer:
        assert writer.head().seq == sealed.seq + 1  # a writer seals what waits
        assert writer.verify(expected_head=sealed).ok


def test_a_lost_connection_is_named_and_the_store_reopens(dsn: str, admin: Any) -> None:
    store = open_file(dsn, schema="lost")
    add_journey(store)
    pid = store.db.raw.info.backend_pid
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(ConnectionLostError, match="retry it with the same idempotency key"):
        store.record("j-1", sj.nrs(3, DAY0), actor="nurse", idempotency_key="k-1")
    store.close()
    with open_file(dsn, schema="lost") as again:
        j = again.record("j-1", sj.nrs(3, DAY0), actor="nurse", idempotency_key="k-1")
        assert j.version == 2
        assert again.verify().ok


def test_racing_patients_with_one_external_id_end_in_a_duplicate_error(dsn: str) -> None:
    """Writers on many connections adding the same clinic number: one lands, every other
    gets the DuplicateError that one after the other would give."""
    with open_file(dsn, schema="dupes"):
        pass
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def add(n: int) -> None:
        with open_file(dsn, schema="dupes") as store:
            start.wait()
            try:
                store.add_patient(" MRN-555", actor=f"desk-{n}")
                outcomes.append("added")
            except DuplicateError:
                outcomes.append("duplicate")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["added"] + ["duplicate"] * 5
    with open_file(dsn, schema="dupes") as store:
        assert sum(1 for _ in store.iter_patients()) == 1
        assert store.verify().ok


def test_the_triggers_read_the_stores_schema_whatever_the_callers_path(
    dsn: str, admin: Any
) -> None:
    """A patient with journeys cannot be deleted from a connection whose search_path
    finds another schema's ``journeys`` first."""
    with open_file(dsn, schema="pathed") as store:
        add_journey(store)
    admin.execute("CREATE SCHEMA decoy")
    admin.execute("CREATE TABLE decoy.journeys (patient_id text)")
    admin.execute("SET search_path TO decoy, pathed")
    with pytest.raises(psycopg.Error, match="a patient with journeys cannot be deleted"):
        admin.execute("DELETE FROM pathed.patients")


def test_the_statements_are_translated_in_one_place() -> None:
    assert translate("SELECT 1 FROM t INDEXED BY t_by_x WHERE 1") == "SELECT 1 FROM t WHERE true"
    assert translate("SELECT ? || '%'") == "SELECT %s || '%%'"
    assert translate("SELECT json_extract(payload, '$.released') FROM r", False) == (
        "SELECT CASE WHEN (payload::jsonb -> 'released') = 'true'::jsonb THEN '1' END FROM r"
    )


def _error(sqlstate: str, message: str = "value 'Jane Doe' 1970-01-01") -> Exception:
    """A psycopg error of ``sqlstate`` whose text quotes a stored value."""
    return psycopg.errors.lookup(sqlstate)(message)


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("23505", IntegrityError),
        ("23503", IntegrityError),
        ("40001", SerializationError),
        ("40P01", SerializationError),
        ("25006", ReadOnlyError),
        ("42501", ReadOnlyError),
        ("53100", DiskFullError),
        ("57P01", ConnectionLostError),
        ("08006", ConnectionLostError),
        ("3F000", SchemaError),
        ("42P01", SchemaError),
        ("22P02", StorageError),
    ],
)
def test_server_errors_are_mapped_by_sqlstate_without_their_text(
    sqlstate: str, kind: type[Exception]
) -> None:
    """Each SQLSTATE class is its own error; PostgreSQL's message (which can quote a
    stored value) is never passed on."""
    found = translate_error(_error(sqlstate), "record")
    assert type(found) is kind
    text = f"{found} {found.args}"
    assert "Jane" not in text
    assert "1970" not in text
    assert text.startswith("record") or isinstance(found, SerializationError)


@pytest.mark.parametrize(
    ("constraint", "field"),
    [
        ("patients_pkey", "patient_id"),
        ("patients_external_key_key", "external_id"),
        ("journeys_pkey", "journey_id"),
    ],
)
def test_an_id_taken_by_a_concurrent_write_is_a_duplicate(constraint: str, field: str) -> None:
    """A unique violation on an id the write checked first is a DuplicateError naming the
    field, not the value."""

    class Diag:
        constraint_name = constraint
        message_primary = "duplicate key value (p-1)=(Jane Doe)"

    class Taken(psycopg.errors.UniqueViolation):
        diag = Diag()  # type: ignore[assignment]

    found = translate_error(Taken("Key (id)=(Jane Doe) already exists"), "add_patient")
    assert isinstance(found, DuplicateError)
    assert field in str(found)
    assert "Jane" not in str(found)


def test_other_errors_are_not_mapped() -> None:
    assert translate_error(ValueError("x"), "record") is None


def test_a_serialization_failure_is_a_conflict() -> None:
    """The caller retries a SerializationError as it retries any ConflictError."""
    assert issubclass(SerializationError, sj.exceptions.ConflictError)


def test_a_store_without_the_key_never_seals_a_keyed_chain(dsn: str) -> None:
    """An entry waiting for its seal is left alone by a store opened without the chain's
    key (its seal would not be the keyed one); the keyed store seals it and verifies."""
    key = b"a host secret of 32 bytes......."
    with open_file(dsn, schema="keyed", key=key) as store:
        add_journey(store)
        sealed = store.head()
        store.backend.after_commit = lambda db, chain: None  # type: ignore[method-assign]
        store.record("j-1", sj.nrs(4, DAY0), actor="nurse")
    with open_file(dsn, schema="keyed") as unkeyed:
        assert unkeyed.head() == sealed
        unkeyed.verify()
    with open_file(dsn, schema="keyed", key=key) as store:
        assert store.head().seq == sealed.seq + 1
        assert store.verify(expected_head=sealed).ok


def test_a_write_whose_seal_is_refused_after_commit_returns_committed(dsn: str) -> None:
    """The write committed; a role that may not seal leaves the entry waiting, verified
    against its rows, for the next writer that may."""
    with open_file(dsn, schema="unsealed") as store:
        add_journey(store)

        def refuse(db: Any, chain: Any) -> None:
            raise ReadOnlyError("seal: refused (SQLSTATE 42501)")

        store.backend.seal = refuse  # type: ignore[method-assign]
        j = store.record("j-1", sj.nrs(4, DAY0), actor="nurse")
        assert j.version == 2
        assert store.verify().ok
    with open_file(dsn, schema="unsealed") as store:
        assert store.journey("j-1").version == 2
        assert store.verify().ok
        assert (
            store.db.execute("SELECT count(*) FROM audit_log WHERE seq IS NULL").fetchone()[0] == 0
        )


def test_a_server_that_refuses_the_connection_is_not_a_lost_connection(dsn: str) -> None:
    with pytest.raises(StorageError, match="could not connect") as caught:
        open_store(dsn.replace("postgres@", "nobody@"))
    assert not isinstance(caught.value, ConnectionLostError)
    assert "nobody" not in str(caught.value)
