"""The store's schema on PostgreSQL, made from the same tables, indexes and views.

The tables come from :data:`~._tables.TABLES` and the indexes and views from
:mod:`._schema`, with the few words that differ translated here (and only here): text
compares as bytes (``COLLATE "C"``, as SQLite does), whole numbers are ``bigint``,
blobs ``bytea``, a score's value ``double precision``; SQLite's ``json_valid`` is a
small function of the schema's own. The triggers are PL/pgSQL with the same rules
and the same words; the audit log also lets an entry be sealed once (its ``seq`` and
``hash`` set from empty, the digest of its rows it waited with cleared, nothing else
changed), which is how entries join the chain after their commit.
"""

from __future__ import annotations

import re

from stemjourney.store._schema import _INDEXES, _VIEWS, APPEND_ONLY
from stemjourney.store._tables import AUDIT, JOURNEYS, PATIENTS, TABLES, Table

__all__ = ["FUNCTIONS", "SEQUENCE", "STATEMENTS", "TRIGGERS", "ddl", "function_sources"]

SEQUENCE = f"{AUDIT.name}_ids"
"""The sequence audit entry ids are drawn from."""

_TYPES = [
    (re.compile(r"\bINTEGER\b"), "bigint"),
    (re.compile(r"\bTEXT\b"), 'text COLLATE "C"'),
    (re.compile(r"\bBLOB\b"), "bytea"),
    (re.compile(r"\bANY\b"), "double precision"),
    (re.compile(r"\bREAL\b"), "double precision"),
]


def _column(declaration: str) -> str:
    for pattern, word in _TYPES:
        declaration = pattern.sub(word, declaration)
    return declaration


def ddl(table: Table) -> str:
    """The CREATE TABLE of ``table`` on PostgreSQL."""
    parts = [f"{c.name} {_column(c.declaration)}" for c in table.columns]
    body = ",\n    ".join([*parts, *table.constraints])
    return f"CREATE TABLE {table.name} (\n    {body}\n)"


_VIEW_WORDS = [
    ("date('now')", "to_char(timezone('UTC', now()), 'YYYY-MM-DD')"),
    ("hex(a.hash)", "upper(encode(a.hash, 'hex'))"),
]


def _view(sql: str) -> str:
    for sqlite, postgres in _VIEW_WORDS:
        sql = sql.replace(sqlite, postgres)
    return sql


def _refuse(name: str, message: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n    RAISE EXCEPTION '{message}' USING ERRCODE = 'SJ001';\nEND\n$body$"
    )


FUNCTIONS: dict[str, str] = {
    "json_valid": (
        "CREATE FUNCTION json_valid(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $body$\n"
        "BEGIN\n    PERFORM t::jsonb;\n    RETURN true;\n"
        "EXCEPTION WHEN others THEN\n    RETURN false;\nEND\n$body$"
    ),
    "refuse_change": (
        "CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        "BEGIN\n    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP\n"
        "        USING ERRCODE = 'SJ001';\nEND\n$body$"
    ),
    "seal_only": (
        "CREATE FUNCTION seal_only() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        "BEGIN\n"
        "    IF OLD.seq IS NULL AND OLD.hash IS NULL AND NEW.seq IS NOT NULL\n"
        "       AND NEW.hash IS NOT NULL AND NEW.rows_digest IS NULL\n"
        "       AND (NEW.id, NEW.action, NEW.journey_id, NEW.patient_id, NEW.occurred_at,\n"
        "            NEW.recorded_at, NEW.actor, NEW.reason, NEW.idempotency_key)\n"
        "           IS NOT DISTINCT FROM\n"
        "           (OLD.id, OLD.action, OLD.journey_id, OLD.patient_id, OLD.occurred_at,\n"
        "            OLD.recorded_at, OLD.actor, OLD.reason, OLD.idempotency_key) THEN\n"
        "        RETURN NEW;\n"
        "    END IF;\n"
        "    RAISE EXCEPTION 'audit_log is append-only: UPDATE is refused'\n"
        "        USING ERRCODE = 'SJ001';\n"
        "END\n$body$"
    ),
    "journeys_no_delete": _refuse(
        "journeys_no_delete", "journeys are never deleted: void the journey instead"
    ),
    "journeys_guard": (
        "CREATE FUNCTION journeys_guard() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        "BEGIN\n"
        "    IF (NEW.id, NEW.patient_id, NEW.condition, NEW.site, NEW.side, NEW.cell_source,\n"
        "        NEW.opened_at) IS DISTINCT FROM (OLD.id, OLD.patient_id, OLD.condition,\n"
        "        OLD.site, OLD.side, OLD.cell_source, OLD.opened_at) THEN\n"
        "        RAISE EXCEPTION 'a journey''s identity columns cannot change'\n"
        "            USING ERRCODE = 'SJ001';\n"
        "    END IF;\n"
        "    IF NEW.version <= OLD.version THEN\n"
        "        RAISE EXCEPTION 'a journey''s version only grows' USING ERRCODE = 'SJ001';\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END\n$body$"
    ),
    "patients_no_update": _refuse("patients_no_update", "patients are never changed"),
    "patients_keep_history": (
        # The body names a table: it reads the store's schema whatever the caller's path.
        "CREATE FUNCTION patients_keep_history() RETURNS trigger LANGUAGE plpgsql\n"
        "SET search_path FROM CURRENT AS $body$\n"
        "BEGIN\n"
        f"    IF EXISTS (SELECT 1 FROM {JOURNEYS.name} WHERE patient_id = OLD.id) THEN\n"
        "        RAISE EXCEPTION 'a patient with journeys cannot be deleted'\n"
        "            USING ERRCODE = 'SJ001';\n"
        "    END IF;\n"
        "    RETURN OLD;\n"
        "END\n$body$"
    ),
    "refuse_truncate": (
        "CREATE FUNCTION refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        "BEGIN\n    RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME\n"
        "        USING ERRCODE = 'SJ001';\nEND\n$body$"
    ),
}
"""The schema's functions by name: SQLite's ``json_valid`` and the triggers' bodies."""


def function_sources() -> dict[str, str]:
    """Each function's body as PostgreSQL keeps it (``pg_proc.prosrc``)."""
    return {name: sql.split("$body$")[1] for name, sql in FUNCTIONS.items()}


def _trigger(name: str, when: str, table: str, function: str, each: str = "ROW") -> str:
    return f"CREATE TRIGGER {name} {when} ON {table} FOR EACH {each} EXECUTE FUNCTION {function}()"


TRIGGERS: dict[str, str] = {}
"""The schema's triggers by name."""
for _table in APPEND_ONLY:
    if _table == AUDIT.name:
        TRIGGERS[f"{_table}_no_update"] = _trigger(
            f"{_table}_no_update", "BEFORE UPDATE", _table, "seal_only"
        )
    else:
        TRIGGERS[f"{_table}_no_update"] = _trigger(
            f"{_table}_no_update", "BEFORE UPDATE", _table, "refuse_change"
        )
    TRIGGERS[f"{_table}_no_delete"] = _trigger(
        f"{_table}_no_delete", "BEFORE DELETE", _table, "refuse_change"
    )
for _table in (*APPEND_ONLY, JOURNEYS.name, PATIENTS.name):
    TRIGGERS[f"{_table}_no_truncate"] = _trigger(
        f"{_table}_no_truncate", "BEFORE TRUNCATE", _table, "refuse_truncate", "STATEMENT"
    )
TRIGGERS.update(
    journeys_no_delete=_trigger(
        "journeys_no_delete", "BEFORE DELETE", JOURNEYS.name, "journeys_no_delete"
    ),
    journeys_guard=_trigger("journeys_guard", "BEFORE UPDATE", JOURNEYS.name, "journeys_guard"),
    patients_no_update=_trigger(
        "patients_no_update", "BEFORE UPDATE", PATIENTS.name, "patients_no_update"
    ),
    patients_keep_history=_trigger(
        "patients_keep_history", "BEFORE DELETE", PATIENTS.name, "patients_keep_history"
    ),
)

INDEXES: dict[str, str] = {}
"""The schema's indexes by name (the same as SQLite's)."""
for _sql in _INDEXES:
    _words = _sql.split()
    INDEXES[_words[3] if _words[1] == "UNIQUE" else _words[2]] = _sql
# Entries are sealed after their commit here, so a seq is not its id (as on SQLite):
# this index keeps each seq once and finds the head.
INDEXES["audit_log_seq"] = f"CREATE UNIQUE INDEX audit_log_seq ON {AUDIT.name} (seq)"

VIEWS: dict[str, str] = {sql.split()[2]: _view(sql) for sql in _VIEWS}
"""The schema's views by name, in SQLite's order (later ones read earlier ones)."""

STATEMENTS: tuple[str, ...] = (
    FUNCTIONS["json_valid"],
    *(ddl(t) for t in TABLES),
    f"CREATE SEQUENCE {SEQUENCE} AS bigint",
    *INDEXES.values(),
    *(sql for name, sql in FUNCTIONS.items() if name != "json_valid"),
    *TRIGGERS.values(),
    *VIEWS.values(),
)
"""What a new schema is created with, in order."""
