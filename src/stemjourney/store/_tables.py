"""Every table of the store, its columns in order, and the one canonical encoding of a row.

This module is the only place that lists columns. The schema's CREATE TABLE
statements, every INSERT and SELECT of the store, the row builders and the hash
chain are built from :data:`TABLES`; the chain hashes :func:`canonical` of each row,
so every column anything reads is covered.

Times are UTC text without a zone suffix, as SQLite's own date functions write them
(``2026-01-05 09:00:00``, with ``.123456`` only when there are microseconds): they
sort as time does and compare directly with ``datetime('now')``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from json import encoder as json_encoder
from typing import Any

import attrs

__all__ = [
    "AUDIT",
    "JOURNEYS",
    "OBSERVATIONS",
    "PATIENTS",
    "PATIENT_ERASURES",
    "RECORDS",
    "SCHEDULE",
    "STORE_META",
    "TABLES",
    "TRANSITIONS",
    "Column",
    "Table",
    "canonical",
]


@attrs.frozen
class Column:
    """One column: its name, its SQL declaration, and what it holds (for the docs)."""

    name: str
    declaration: str
    description: str
    sqlite_generated: str = ""
    """On SQLite, the expression the column is computed from (the row's other columns),
    not stored: a VIRTUAL generated column. Empty for a stored column."""


@attrs.frozen
class Table:
    """A table: its columns in order, the rest of its CREATE TABLE, and what it holds."""

    name: str
    columns: tuple[Column, ...]
    constraints: tuple[str, ...] = ()
    options: str = "STRICT"
    description: str = ""

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(c.name for c in self.columns)

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {name: n for n, name in enumerate(self.names)}

    @property
    def column_list(self) -> str:
        """The column names joined for SQL."""
        return ", ".join(self.names)

    def create(self) -> str:
        """The CREATE TABLE statement (SQLite's)."""
        parts = [
            f"{c.name} {c.declaration}"
            + (f" GENERATED ALWAYS AS ({c.sqlite_generated}) VIRTUAL" if c.sqlite_generated else "")
            for c in self.columns
        ]
        body = ",\n    ".join([*parts, *self.constraints])
        return f"CREATE TABLE {self.name} (\n    {body}\n) {self.options}"

    def insert(self, placeholder: str = "?") -> str:
        """The INSERT of a whole row, in column order."""
        marks = ", ".join([placeholder] * len(self.columns))
        return f"INSERT INTO {self.name} ({self.column_list}) VALUES ({marks})"

    def sqlite_insert(self) -> str:
        """The INSERT of a whole row, in column order, on SQLite: the values of its generated
        columns are passed and not written (numbered parameters skip them)."""
        kept = [(n, c.name) for n, c in enumerate(self.columns, start=1) if not c.sqlite_generated]
        names = ", ".join(name for _, name in kept)
        marks = ", ".join(f"?{n}" for n, _ in kept)
        return f"INSERT INTO {self.name} ({names}) VALUES ({marks})"

    def select(self, where: str = "", order: str = "", prefix: str = "") -> str:
        """A SELECT of every column (each prefixed with ``prefix``, e.g. ``"t."``)."""
        columns = ", ".join(prefix + n for n in self.names)
        alias = f" AS {prefix[:-1]}" if prefix else ""
        sql = f"SELECT {columns} FROM {self.name}{alias}"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        return sql

    def index(self, name: str) -> int:
        """The position of column ``name``."""
        return self._positions[name]


def _c(name: str, declaration: str, description: str, sqlite_generated: str = "") -> Column:
    return Column(name, declaration, description, sqlite_generated)


_TIME = "TEXT NOT NULL"
_OPT_TIME = "TEXT"

PATIENTS = Table(
    "patients",
    (
        _c("id", "TEXT PRIMARY KEY", "the patient's id in stemjourney"),
        _c("external_id", "TEXT NOT NULL", "the clinic's own number for the patient, as given"),
        _c("external_key", "TEXT NOT NULL UNIQUE", "the external id normalised for uniqueness"),
        _c("display_name", "TEXT", "the patient's name, when the clinic holds it"),
        _c("birth_date", "TEXT", "the birth date (ISO), when the clinic holds it"),
        _c("added_at", _TIME, "when the patient was added (UTC)"),
        _c("added_by", "TEXT NOT NULL", "who added the patient"),
        _c("audit_id", "INTEGER NOT NULL REFERENCES audit_log (id)", "the audit entry"),
    ),
    description="Patients; a patient with journeys is never deleted.",
)

JOURNEYS = Table(
    "journeys",
    (
        _c("id", "TEXT PRIMARY KEY", "the journey's id"),
        _c("patient_id", "TEXT NOT NULL REFERENCES patients (id)", "the patient"),
        _c("condition", "TEXT NOT NULL", "the condition treated"),
        _c("site", "TEXT NOT NULL", "the treated site"),
        _c("side", "TEXT NOT NULL", "left, right, bilateral or midline"),
        _c("cell_source", "TEXT NOT NULL", "bone_marrow or adipose"),
        _c("opened_at", _TIME, "when the journey was opened (clinical time, UTC)"),
        _c("stage", "TEXT NOT NULL", "the stage or outcome it is in now"),
        _c("cycle", "INTEGER NOT NULL CHECK (cycle >= 1)", "the treatment round, from 1"),
        _c("version", "INTEGER NOT NULL CHECK (version >= 1)", "how many changes it has had"),
        _c("stage_seq", "INTEGER NOT NULL", "the seq of the move into the current stage"),
        _c("moved_at", _TIME, "when it entered the current stage (clinical time, UTC)"),
        _c("closed_at", _OPT_TIME, "when it reached an outcome (clinical time, UTC)"),
        _c("updated_at", _TIME, "when it last changed (system time, UTC)"),
        _c("last_audit_id", "INTEGER NOT NULL", "the audit entry of its latest change"),
    ),
    description=(
        "Each journey's identity and current state (its summary row); verify() checks "
        "the state against the history."
    ),
)

AUDIT = Table(
    "audit_log",
    (
        _c("id", "INTEGER PRIMARY KEY", "the entry's id (the rows it covers name it)"),
        _c(
            "seq",
            "INTEGER",
            "its place in the hash chain, from 1, once sealed (on SQLite its id, not stored)",
            sqlite_generated="CASE WHEN hash IS NULL THEN NULL ELSE id END",
        ),
        _c("action", "TEXT NOT NULL", "what changed: journey_opened, move, record, score, ..."),
        _c("journey_id", "TEXT", "the journey changed, if any"),
        _c("patient_id", "TEXT", "the patient added or deleted, for patient entries"),
        _c("occurred_at", _OPT_TIME, "when it happened (clinical time, UTC)"),
        _c("recorded_at", _TIME, "when it was recorded (system time, UTC)"),
        _c("actor", "TEXT NOT NULL", "who made the change"),
        _c("reason", "TEXT", "why (a move's reason, an amendment's correction)"),
        _c("idempotency_key", "TEXT", "the caller's key, so a retried write applies once"),
        _c(
            "rows_digest",
            "BLOB CHECK (rows_digest IS NULL OR length(rows_digest) = 32)",
            "the digest of its rows while it waits to be sealed (PostgreSQL only)",
        ),
        _c(
            "hash",
            "BLOB CHECK (hash IS NULL OR length(hash) = 32)",
            "SHA-256 (or HMAC) chain hash, once sealed",
        ),
    ),
    constraints=("CHECK ((seq IS NULL) = (hash IS NULL))",),
    description=(
        "One hash-chained entry per change; it covers the rows the change wrote. An entry "
        "is sealed into the chain (seq and hash) in its own transaction on SQLite, where "
        "its seq is its id (computed from it, not stored), and right after its commit, in "
        "commit order, on PostgreSQL, where a unique index keeps each seq once."
    ),
)

TRANSITIONS = Table(
    "transitions",
    (
        _c("journey_id", "TEXT NOT NULL REFERENCES journeys (id)", "the journey"),
        _c("seq", "INTEGER NOT NULL CHECK (seq >= 1)", "the move's number in the journey"),
        _c("version", "INTEGER NOT NULL", "the journey's version after the move"),
        _c("source", "TEXT", "the stage left (empty for the opening)"),
        _c("target", "TEXT NOT NULL", "the stage entered"),
        _c("cycle", "INTEGER NOT NULL", "the treatment round after the move"),
        _c("late_reason", "TEXT", "why a move dated before the previous one was allowed"),
        _c("override_reason", "TEXT", "why a clinician cut the rest short"),
        _c(
            "reason_record",
            "TEXT CHECK (reason_record IS NULL OR json_valid(reason_record))",
            "a withdrawal, ineligibility or void reason as JSON (code and detail)",
        ),
        _c("audit_id", "INTEGER NOT NULL REFERENCES audit_log (id)", "the audit entry"),
    ),
    constraints=("PRIMARY KEY (journey_id, seq)",),
    options="STRICT, WITHOUT ROWID",
    description=(
        "Every move of every journey; when it happened (clinical time), its reason, actor "
        "and system time are its entry's in audit_log."
    ),
)

RECORDS = Table(
    "records",
    (
        _c("journey_id", "TEXT NOT NULL REFERENCES journeys (id)", "the journey"),
        _c("version", "INTEGER NOT NULL", "the journey's version after the record"),
        _c("kind", "TEXT NOT NULL", "eligibility, consent, harvest, processing, injection, ..."),
        _c("occurred_at", _TIME, "the record's clinical time (UTC)"),
        _c("payload", "TEXT NOT NULL CHECK (json_valid(payload))", "the record's fields as JSON"),
        _c("cycle", "INTEGER NOT NULL", "the treatment round it belongs to"),
        _c("stage_seq", "INTEGER NOT NULL", "the move into the stage it was made in"),
        _c("amends", "INTEGER", "the version of the entry it corrects, if any"),
        _c("audit_id", "INTEGER NOT NULL REFERENCES audit_log (id)", "the audit entry"),
    ),
    constraints=("PRIMARY KEY (journey_id, version)",),
    options="STRICT, WITHOUT ROWID",
    description="Clinical records (not scores); recorded_at, actor and reason in audit_log.",
)

OBSERVATIONS = Table(
    "observations",
    (
        _c("journey_id", "TEXT NOT NULL REFERENCES journeys (id)", "the journey"),
        _c("version", "INTEGER NOT NULL", "the journey's version after the score"),
        _c("instrument", "TEXT NOT NULL", "nrs, vas, koos_pain, odi, ..."),
        _c("value", "ANY NOT NULL", "the score (whole numbers stay whole)"),
        _c(
            "answers",
            "TEXT CHECK (answers IS NULL OR json_valid(answers))",
            "the item answers as a JSON list",
        ),
        _c("measured_at", _TIME, "when the score was measured (clinical time, UTC)"),
        _c("cycle", "INTEGER NOT NULL", "the treatment round it was recorded in"),
        _c("stage_seq", "INTEGER NOT NULL", "the move into the stage it was recorded in"),
        _c("amends", "INTEGER", "the version of the score it corrects, if any"),
        _c("audit_id", "INTEGER NOT NULL REFERENCES audit_log (id)", "the audit entry"),
    ),
    constraints=("PRIMARY KEY (journey_id, version)",),
    options="STRICT, WITHOUT ROWID",
    description="Pain and function scores; recorded_at, actor and reason in audit_log.",
)

SCHEDULE = Table(
    "schedule",
    (
        _c("journey_id", "TEXT NOT NULL REFERENCES journeys (id)", "the journey"),
        _c("cycle", "INTEGER NOT NULL", "the treatment round the visit follows"),
        _c("time_point", "TEXT NOT NULL", "the visit's label in the protocol: 6w, 3m, ..."),
        _c("injected_on", "TEXT NOT NULL", "the day of the cycle's first injection (UTC)"),
        _c("due", "TEXT NOT NULL", "the day the visit is due (UTC)"),
        _c("opens", "TEXT NOT NULL", "the first day of its window"),
        _c("closes", "TEXT NOT NULL", "the last day of its window"),
        _c("first_score_on", "TEXT", "the day of the first score inside the window, if any"),
    ),
    constraints=("PRIMARY KEY (journey_id, cycle, time_point)",),
    options="STRICT, WITHOUT ROWID",
    description=(
        "Each journey's planned follow-up visits under the store's protocol, in UTC days: "
        "planned when an injection is recorded, replanned when one is amended, completed "
        "by the first score inside the window; verify() checks it against the history."
    ),
)

PATIENT_ERASURES = Table(
    "patient_erasures",
    (
        _c("patient_id", "TEXT PRIMARY KEY", "the patient deleted"),
        _c("added_id", "INTEGER NOT NULL REFERENCES audit_log (id)", "the entry that added it"),
        _c("row_digest", "BLOB NOT NULL CHECK (length(row_digest) = 32)", "its row's digest"),
        _c("audit_id", "INTEGER NOT NULL REFERENCES audit_log (id)", "the deleting entry"),
    ),
    description=(
        "Patients deleted before they had any journey: the digest of the row keeps the "
        "chain checkable once the row, and the name in it, are gone."
    ),
)

STORE_META = Table(
    "store_meta",
    (
        _c("key", "TEXT PRIMARY KEY", "the setting"),
        _c("value", "TEXT NOT NULL", "its value"),
    ),
    description="Settings of the file: the hash chain's mode and key id, its migrations.",
)

TABLES: tuple[Table, ...] = (
    STORE_META,
    AUDIT,
    PATIENTS,
    PATIENT_ERASURES,
    JOURNEYS,
    TRANSITIONS,
    RECORDS,
    OBSERVATIONS,
    SCHEDULE,
)
"""Every table of the store, in the order they are created."""

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""The canonical encoder: compact JSON, text as is, no NaN."""


_TEXT: Callable[[str], str] = (
    getattr(json_encoder, "c_encode_basestring", None) or json_encoder.py_encode_basestring
)
"""A text as a JSON string, as the canonical encoder writes it (non-ASCII kept as is)."""


def _not_json(value: object) -> Any:
    raise TypeError(type(value).__name__)


def _compiled() -> Any:
    """``_ENCODER.encode`` of a list, made once (``JSONEncoder.encode`` builds its C encoder
    again on every call): the same bytes, tested equal (``tests/test_store_tables.py``)."""
    make: Any = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return _ENCODER.encode
    step = make(None, _not_json, _TEXT, None, ":", ",", False, False, False)

    def encode(values: list[Any]) -> str:
        return "".join(step(values, 0))

    return encode


_ENCODE: Callable[[list[Any]], str] = _compiled()


def canonical(table: str, row: Sequence[Any]) -> bytes:
    """The canonical bytes of one row of ``table``: what the hash chain covers.

    Compact JSON of the table's name and the row's values in column order (text,
    whole numbers, reals and nulls keep their types), as UTF-8. Blobs are hex.

    >>> canonical("observations", ("j-1", 2, "nrs", 7, None, "2026-01-05 09:00:00"))
    b'["observations","j-1",2,"nrs",7,null,"2026-01-05 09:00:00"]'
    """
    try:
        text = _ENCODE([table, *row])
    except (TypeError, ValueError):
        values = [
            bytes(v).hex() if isinstance(v, bytes | bytearray | memoryview) else v for v in row
        ]
        try:
            text = _ENCODE([table, *values])
        except ValueError:  # a non-finite float, which the store never writes
            text = repr([table, *values])
    return text.encode("utf-8", "surrogateescape")


_NUMBERS = (int, float)
_WHOLE_OR_NONE = (int, type(None))


def _score_row_format() -> Callable[[Sequence[Any]], bytes]:
    text = _TEXT
    form = "[" + text(OBSERVATIONS.name) + ",%s,%d,%s,%r,%s,%s,%d,%d,%s,%d]"

    def encode(row: Sequence[Any]) -> bytes:
        jid, version, instrument, value, answers, measured, cycle, stage_seq, amends, entry = row
        if type(value) not in _NUMBERS or type(amends) not in _WHOLE_OR_NONE:
            return canonical(OBSERVATIONS.name, row)
        values = (
            text(jid),
            version,
            text(instrument),
            value,
            "null" if answers is None else text(answers),
            text(measured),
            cycle,
            stage_seq,
            "null" if amends is None else amends,
            entry,
        )
        try:
            return (form % values).encode("utf-8", "surrogateescape")
        except TypeError:  # a whole-number column holding text (a tampered summary row)
            return canonical(OBSERVATIONS.name, row)

    return encode


canonical_score_row: Callable[[Sequence[Any]], bytes] = _score_row_format()
"""``canonical("observations", row)`` formatted in one step, for the rows the bulk import
builds (a million at a time): id, instrument and time as text, answers text or ``None``,
version, cycle, stage and entry as whole numbers, the value a whole or finite real number
and ``amends`` a whole number or ``None`` (a row with another value or ``amends``, or
text where a whole number belongs, goes to :func:`canonical`).
``tests/test_store_tables.py`` checks it equal to :func:`canonical`."""
