"""``Store.verify`` on PostgreSQL: any single-row tampering of the server's tables is found.

The same generated tamperings as ``test_store_verify.py`` (every column of every row
changed and blanked, every row deleted, copied in and swapped with the next), each made
as a superuser would make it past the append-only triggers and the foreign keys
(``session_replication_role = replica``), committed, verified by a store, then undone
from a pristine copy of the table. verify() must report each one, and never raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import stemjourney as sj
from _postgres import Cluster
from _store_helpers import DAY0, open_file
from stemjourney.store._postgres import translate
from stemjourney.store._tables import TABLES, Table
from test_store_verify import Rows, fill, tamperings

SCHEMA = "tampered"
_TABLE = re.compile(r"(?:UPDATE|DELETE FROM|INSERT INTO) (\w+)")


def _key(spec: Table) -> list[str]:
    """The table's primary key columns, in order."""
    for constraint in spec.constraints:
        found = re.fullmatch(r"PRIMARY KEY \((.*)\)", constraint)
        if found:
            return [name.strip() for name in found.group(1).split(",")]
    return [c.name for c in spec.columns if "PRIMARY KEY" in c.declaration]


@pytest.fixture(scope="module")
def server(pg_cluster: Cluster) -> Iterator[Any]:
    """A superuser's connection to the filled store's schema, with a pristine copy of
    every table in the schema ``pristine``."""
    import psycopg

    with open_file(pg_cluster.dsn(), schema=SCHEMA) as store:
        fill(store)
    conn = psycopg.connect(pg_cluster.dsn(), autocommit=True)
    conn.execute(f"SET search_path TO {SCHEMA}")
    conn.execute("DROP SCHEMA IF EXISTS pristine CASCADE")
    conn.execute("CREATE SCHEMA pristine")
    for spec in TABLES:
        conn.execute(f"CREATE TABLE pristine.{spec.name} AS SELECT * FROM {spec.name}")
    try:
        yield conn
    finally:
        conn.close()


def _restore(conn: Any, table: str) -> None:
    """Put the table back as it was, past the triggers."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(f"DELETE FROM {table}")
        conn.execute(f"INSERT INTO {table} SELECT * FROM pristine.{table}")


def _tables(conn: Any) -> list[Rows]:
    tables: list[Rows] = []
    for spec in TABLES:
        names = list(spec.names)
        key = _key(spec)
        order = ", ".join(key)
        rows = conn.execute(f"SELECT {spec.column_list} FROM {spec.name} ORDER BY {order}")
        tables.append((spec.name, names, key, [tuple(r) for r in rows.fetchall()]))
    return tables


def report(pg_cluster: Cluster, **kw: Any) -> sj.store.VerifyReport:
    """Open the tampered schema and verify it."""
    with open_file(pg_cluster.dsn(), schema=SCHEMA) as store:
        return store.verify(**kw)


def test_every_single_row_tampering_is_found_on_postgresql(
    server: Any, pg_cluster: Cluster
) -> None:
    """Hundreds of generated tamperings of the server's rows: each is reported, none makes
    verify() raise."""
    import psycopg

    store = open_file(pg_cluster.dsn(), schema=SCHEMA)
    assert store.verify().ok
    cases = list(tamperings(_tables(server)))
    applied = 0
    misses = []
    for what, sql, params in cases:
        table = _TABLE.match(sql).group(1)  # type: ignore[union-attr]
        try:
            with server.transaction():
                server.execute("SET LOCAL session_replication_role = replica")
                server.execute(translate(sql), params)
        except psycopg.Error:
            continue  # a constraint or a column's type refused it: no tampering made
        applied += 1
        try:
            if store.verify().ok:
                misses.append(what)
        finally:
            _restore(server, table)
    store.close()
    print(f"tampering (postgresql): cases={len(cases)} applied={applied} missed={len(misses)}")
    assert applied > 300
    assert misses == [], misses
    assert report(pg_cluster).ok


def test_a_dropped_trigger_or_a_disabled_one_is_reported(server: Any, pg_cluster: Cluster) -> None:
    """The schema is checked on the server too: a disabled and a missing trigger are named."""
    server.execute("ALTER TABLE observations DISABLE TRIGGER observations_no_update")
    try:
        problems = "\n".join(report(pg_cluster).problems)
        assert "observations_no_update" in problems
    finally:
        server.execute("ALTER TABLE observations ENABLE TRIGGER observations_no_update")
    assert report(pg_cluster).ok


def test_a_cut_tail_is_found_against_the_head(pg_cluster: Cluster) -> None:
    """The newest entry removed with its rows, past the triggers, is found against the head."""
    import psycopg

    with open_file(pg_cluster.dsn(), schema="cut") as store:
        fill(store)
        store.record("j-1", sj.nrs(2, DAY0 + timedelta(days=60)), actor="nurse")
        newest = store.head()
        last_id = store.db.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("SET search_path TO cut")
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("DELETE FROM observations WHERE audit_id = %s", (last_id,))
            conn.execute("DELETE FROM audit_log WHERE id = %s", (last_id,))
            conn.execute("UPDATE journeys SET version = version - 1 WHERE id = 'j-1'")
    with open_file(pg_cluster.dsn(), schema="cut") as store:
        found = store.verify(expected_head=newest)
    assert any("the chain ends at entry" in p for p in found.problems), found.problems
