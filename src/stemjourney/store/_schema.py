"""The store's schema: tables, indexes, triggers, views, and forward-only migrations.

Version 1 holds ``patients``, ``journeys`` (the current state), the ``audit_log``
(one hash-chained entry per change), and the entries it covers: ``transitions``
(moves), ``records`` (clinical records as JSON) and ``observations`` (scores).
History tables refuse UPDATE and DELETE through triggers. Version 2 keeps a move's
reason record (code and detail) in ``transitions.reason_record``.
"""

from __future__ import annotations

import sqlite3

from stemjourney.exceptions import SchemaError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "check_and_migrate"]

APPLICATION_ID = 0x534A4E59
"""``PRAGMA application_id`` of a stemjourney file ("SJNY")."""

_APPEND_ONLY = ("audit_log", "transitions", "records", "observations")


def _append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, '{table} is append-only: {verb} is refused'); END"
        for verb in ("UPDATE", "DELETE")
    ]


_V1 = [
    """CREATE TABLE patients (
        id TEXT PRIMARY KEY,
        external_id TEXT NOT NULL,
        external_key TEXT NOT NULL UNIQUE,
        display_name TEXT,
        birth_date TEXT,
        added_at TEXT NOT NULL,
        added_by TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        action TEXT NOT NULL,
        patient_id TEXT,
        journey_id TEXT,
        version INTEGER,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        idempotency_key TEXT,
        payload TEXT NOT NULL CHECK (json_valid(payload)),
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    ) STRICT""",
    """CREATE UNIQUE INDEX audit_log_idempotency_key ON audit_log (idempotency_key)
        WHERE idempotency_key IS NOT NULL""",
    "CREATE INDEX audit_log_by_journey ON audit_log (journey_id, id)",
    """CREATE TABLE journeys (
        id TEXT PRIMARY KEY,
        patient_id TEXT NOT NULL REFERENCES patients (id),
        condition TEXT NOT NULL,
        site TEXT NOT NULL,
        side TEXT NOT NULL,
        cell_source TEXT NOT NULL,
        stage TEXT NOT NULL,
        cycle INTEGER NOT NULL CHECK (cycle >= 1),
        version INTEGER NOT NULL CHECK (version >= 1),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        updated_at TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX journeys_by_patient ON journeys (patient_id)",
    "CREATE INDEX journeys_by_stage ON journeys (stage)",
    """CREATE TABLE transitions (
        journey_id TEXT NOT NULL REFERENCES journeys (id),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        version INTEGER NOT NULL,
        source TEXT,
        target TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        occurred_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT,
        late_reason TEXT,
        override_reason TEXT,
        audit_id INTEGER NOT NULL REFERENCES audit_log (id),
        PRIMARY KEY (journey_id, seq),
        UNIQUE (journey_id, version)
    ) STRICT, WITHOUT ROWID""",
    """CREATE TABLE records (
        journey_id TEXT NOT NULL REFERENCES journeys (id),
        version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        payload TEXT NOT NULL CHECK (json_valid(payload)),
        cycle INTEGER NOT NULL,
        stage TEXT NOT NULL,
        stage_seq INTEGER NOT NULL,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        amends INTEGER,
        reason TEXT,
        audit_id INTEGER NOT NULL REFERENCES audit_log (id),
        PRIMARY KEY (journey_id, version)
    ) STRICT, WITHOUT ROWID""",
    """CREATE TABLE observations (
        journey_id TEXT NOT NULL REFERENCES journeys (id),
        version INTEGER NOT NULL,
        instrument TEXT NOT NULL,
        value REAL NOT NULL,
        answers TEXT,
        measured_at TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        stage TEXT NOT NULL,
        stage_seq INTEGER NOT NULL,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        amends INTEGER,
        reason TEXT,
        audit_id INTEGER NOT NULL REFERENCES audit_log (id),
        PRIMARY KEY (journey_id, version)
    ) STRICT, WITHOUT ROWID""",
    "CREATE INDEX observations_series ON observations (journey_id, measured_at, instrument, value)",
    *[sql for table in _APPEND_ONLY for sql in _append_only(table)],
    """CREATE TRIGGER journeys_no_delete BEFORE DELETE ON journeys BEGIN
        SELECT RAISE(ABORT, 'journeys are never deleted: void the journey instead'); END""",
    """CREATE TRIGGER journeys_identity_fixed BEFORE UPDATE OF
        id, patient_id, condition, site, side, cell_source, opened_at ON journeys
        WHEN NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id
          OR NEW.condition IS NOT OLD.condition OR NEW.site IS NOT OLD.site
          OR NEW.side IS NOT OLD.side OR NEW.cell_source IS NOT OLD.cell_source
          OR NEW.opened_at IS NOT OLD.opened_at
        BEGIN SELECT RAISE(ABORT, 'a journey''s identity columns cannot change'); END""",
    """CREATE TRIGGER journeys_version_grows BEFORE UPDATE ON journeys
        WHEN NEW.version <= OLD.version
        BEGIN SELECT RAISE(ABORT, 'a journey''s version only grows'); END""",
    """CREATE TRIGGER patients_keep_history BEFORE DELETE ON patients
        WHEN EXISTS (SELECT 1 FROM journeys WHERE patient_id = OLD.id)
        BEGIN SELECT RAISE(ABORT, 'a patient with journeys cannot be deleted'); END""",
    """CREATE VIEW journey_current_stage AS
        SELECT j.id AS journey_id, j.patient_id, j.stage, j.cycle, j.version,
               t.occurred_at AS entered_at, j.opened_at, j.closed_at
        FROM journeys AS j
        JOIN transitions AS t ON t.journey_id = j.id
         AND t.seq = (SELECT max(seq) FROM transitions WHERE journey_id = j.id)""",
    """CREATE VIEW observations_in_force AS
        SELECT o.* FROM observations AS o
        WHERE NOT EXISTS (
            SELECT 1 FROM observations AS a WHERE a.journey_id = o.journey_id
            AND a.amends = o.version)""",
    """CREATE VIEW journey_latest_score AS
        SELECT journey_id, instrument, value, measured_at, version FROM (
            SELECT journey_id, instrument, value, measured_at, version,
                   row_number() OVER (PARTITION BY journey_id, instrument
                                      ORDER BY measured_at DESC, version DESC) AS rank
            FROM observations_in_force)
        WHERE rank = 1""",
    """CREATE VIEW amendments AS
        SELECT journey_id, version, amends AS amends_version, kind, reason, actor, recorded_at
        FROM records WHERE amends IS NOT NULL
        UNION ALL
        SELECT journey_id, version, amends, 'score', reason, actor, recorded_at
        FROM observations WHERE amends IS NOT NULL""",
    """CREATE VIEW transition_trail AS
        SELECT t.journey_id, t.seq, t.source AS from_stage, t.target AS to_stage, t.cycle,
               t.occurred_at, t.recorded_at, t.actor, t.reason, a.payload,
               a.prev_hash, a.hash
        FROM transitions AS t JOIN audit_log AS a ON a.id = t.audit_id""",
]

_V2 = [
    # A move's reason record (withdrawal, ineligibility, void) kept whole, as JSON.
    """ALTER TABLE transitions ADD COLUMN reason_record TEXT
        CHECK (reason_record IS NULL OR json_valid(reason_record))""",
]

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = ((1, tuple(_V1)), (2, tuple(_V2)))
"""Forward-only migrations: (version reached, statements), in order."""

SCHEMA_VERSION = MIGRATIONS[-1][0]
"""The schema version this stemjourney writes (``PRAGMA user_version``)."""


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    value: int = conn.execute(f"PRAGMA {name}").fetchone()[0]
    return value


def _check(conn: sqlite3.Connection) -> int:
    """The file's schema version, after refusing files that are not ours or too new."""
    app = _pragma(conn, "application_id")
    version = _pragma(conn, "user_version")
    if app == 0 and version == 0:
        if conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
            raise SchemaError(
                "the file holds another application's tables and no stemjourney "
                f"application_id; allowed: an empty file or one with application_id "
                f"{APPLICATION_ID}"
            )
        return 0
    if app != APPLICATION_ID:
        raise SchemaError(
            f"application_id is {app}, not stemjourney's {APPLICATION_ID}; "
            "the file belongs to another application"
        )
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"schema version {version} is newer than this stemjourney supports "
            f"({SCHEMA_VERSION}); upgrade stemjourney to open it"
        )
    return version


def check_and_migrate(conn: sqlite3.Connection) -> int:
    """Refuse a foreign or newer file; bring an older one up to :data:`SCHEMA_VERSION`.

    Migrations run in one ``BEGIN IMMEDIATE`` transaction, after checking the version
    again inside it (another process may have migrated first). Returns the version.
    """
    if _check(conn) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _check(conn)
        for version, statements in MIGRATIONS:
            if version > current:
                for sql in statements:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
