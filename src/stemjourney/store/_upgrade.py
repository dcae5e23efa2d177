"""Making a file ready: a new file gets the schema, an older one is upgraded, keys are checked.

:func:`prepare` runs after the pragmas are set. A schema-1 file is checked first
(:func:`~._schema1.check_schema1`) and refused, unchanged, if it fails. Otherwise its
rows are rewritten in today's form and its chain re-anchored in one transaction: every
old entry becomes an entry of the same number covering the same rows, and a last
``migrated`` entry records the old chain's head, so a head kept from before the
upgrade can still be checked (``verify(expected_head=...)``).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from stemjourney.clinical._codec import decode_record, parse_time, time_text
from stemjourney.exceptions import SchemaError, ValidationError
from stemjourney.journey._engine import Engine
from stemjourney.store._chain import GENESIS, Chain, rows_digest
from stemjourney.store._rows import record_payload, score_value
from stemjourney.store._schedule import replan
from stemjourney.store._schema import APPLICATION_ID, SCHEMA_VERSION, STATEMENTS
from stemjourney.store._tables import (
    AUDIT,
    JOURNEYS,
    OBSERVATIONS,
    PATIENT_ERASURES,
    PATIENTS,
    RECORDS,
    STORE_META,
    TRANSITIONS,
)

__all__ = ["UPGRADES", "meta", "prepare", "settings_rows", "writable"]

UPGRADES = (1,)
"""The schema versions this stemjourney upgrades from."""

_ACTOR = "stemjourney"


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
    if version != SCHEMA_VERSION and version not in UPGRADES:
        raise SchemaError(f"schema version {version} cannot be upgraded by this stemjourney")
    return version


def meta(conn: sqlite3.Connection) -> dict[str, str]:
    """The file's settings."""
    return dict(conn.execute(f"SELECT key, value FROM {STORE_META.name}").fetchall())


def prepare(conn: sqlite3.Connection, chain: Chain, engine: Engine) -> bool:
    """Create, upgrade or check the file; return whether this store may write to it.

    A keyed file opened without its key may be read and verified, not written.
    Raises :class:`SchemaError` for a file that is not ours, too new or failing its
    schema-1 check, :class:`ValidationError` for a key the file does not take.
    """
    if _check(conn) != SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _check(conn)
            if version == 0:
                _create(conn, chain)
            elif version == 1:
                _upgrade_1(conn, chain, engine)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return writable(meta(conn), chain)


def writable(settings: dict[str, str], chain: Chain) -> bool:
    """Whether a store with ``chain`` may write to a file with ``settings``.

    Raises :class:`ValidationError` for a key the file does not take.
    """
    keyed = settings.get("chain") == "hmac-sha256"
    if chain.key is None:
        return not keyed
    if not keyed:
        raise ValidationError(
            "key", "was given, but this file's hash chain is not keyed", "no key for this file"
        )
    if settings.get("key_id") != chain.key_id():
        raise ValidationError("key", "is not this file's key", "the key the file was created with")
    return True


def settings_rows(chain: Chain, extra: dict[str, str]) -> list[tuple[str, str]]:
    """The settings a new file is written with."""
    rows = {"schema": str(SCHEMA_VERSION), "chain": chain.mode, **extra}
    if chain.key is not None:
        rows["key_id"] = str(chain.key_id())
    return sorted(rows.items())


def _settings(conn: sqlite3.Connection, chain: Chain, extra: dict[str, str]) -> None:
    conn.executemany(STORE_META.insert(), settings_rows(chain, extra))


def _create(conn: sqlite3.Connection, chain: Chain) -> None:
    for sql in STATEMENTS:
        conn.execute(sql)
    _settings(conn, chain, {})
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _new_time(text: str | None) -> str | None:
    return None if text is None else time_text(parse_time(text))


def _upgrade_1(conn: sqlite3.Connection, chain: Chain, engine: Engine) -> None:
    from stemjourney.store._schema1 import V1_TABLES, check_schema1

    count, head, problems = check_schema1(conn)
    if problems:
        raise SchemaError(
            f"the file (schema 1) fails its check with {problems} problem(s); it was left "
            "unchanged; restore it from a backup before upgrading"
        )
    for kind, name in conn.execute(
        "SELECT type, name FROM sqlite_schema WHERE type IN ('view', 'trigger', 'index') "
        "AND sql IS NOT NULL"
    ).fetchall():
        conn.execute(f'DROP {kind} "{name}"')
    for table in V1_TABLES:
        conn.execute(f"ALTER TABLE {table} RENAME TO v1_{table}")
    for sql in STATEMENTS:
        conn.execute(sql)
    _copy_1(conn, chain, engine, count, head)
    for table in reversed(V1_TABLES):
        conn.execute(f"DROP TABLE v1_{table}")
    ids = [jid for (jid,) in conn.execute(f"SELECT id FROM {JOURNEYS.name} ORDER BY id")]
    replan(conn, ids, engine.protocol)
    _settings(conn, chain, {"upgraded_from": "1"})
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _copy_1(conn: sqlite3.Connection, chain: Chain, engine: Engine, count: int, head: str) -> None:
    """Rewrite every schema-1 row in today's form, entry by entry, re-hashing the chain."""
    covered: dict[int, list[tuple[Any, tuple[Any, ...], Any, Any]]] = defaultdict(list)
    moves: dict[tuple[str, int], tuple[Any, ...]] = {}
    for t in conn.execute("SELECT * FROM v1_transitions ORDER BY journey_id, seq"):
        moves[(t[0], t[1])] = t
        moved: tuple[Any, ...] = (*t[:6], t[10], t[11], None, t[12])
        covered[t[12]].append((TRANSITIONS, moved, t[6], t[9]))
    for r in conn.execute("SELECT * FROM v1_records ORDER BY journey_id, version"):
        payload = record_payload(decode_record(json.loads(r[4])))
        kept: tuple[Any, ...] = (
            r[0],
            r[1],
            r[2],
            _new_time(r[3]),
            payload,
            r[5],
            r[7],
            r[10],
            r[12],
        )
        covered[r[12]].append((RECORDS, kept, r[3], r[11]))
    for o in conn.execute("SELECT * FROM v1_observations ORDER BY journey_id, version"):
        scored: tuple[Any, ...] = (
            *o[:3],
            score_value(o[3]),
            o[4],
            _new_time(o[5]),
            o[6],
            o[8],
            o[11],
            o[13],
        )
        covered[o[13]].append((OBSERVATIONS, scored, o[5], o[12]))
    identity = {j[0]: (*j[:6], _new_time(j[9])) for j in conn.execute("SELECT * FROM v1_journeys")}
    added: dict[str, int] = {}
    prev = GENESIS
    last_of = {
        jid: (seq, _new_time(at))
        for jid, seq, at in conn.execute(
            "SELECT journey_id, id, recorded_at FROM v1_audit_log AS a WHERE journey_id IS NOT "
            "NULL AND id = (SELECT max(id) FROM v1_audit_log WHERE journey_id = a.journey_id)"
        )
    }
    last_move: dict[str, int] = {}
    for jid, seq in moves:
        last_move[jid] = max(seq, last_move.get(jid, 0))
    for entry in conn.execute("SELECT * FROM v1_audit_log ORDER BY id").fetchall():
        seq, action, patient_id, journey_id, _version, recorded, actor, key, payload = entry[:9]
        mine = covered.pop(seq, [])
        recorded_at = _new_time(recorded)
        assert recorded_at is not None
        occurred = reason = None
        pairs: list[tuple[str, tuple[Any, ...]]] = []
        inserts: list[tuple[Any, tuple[Any, ...]]] = []
        if action in ("patient_added", "patient_deleted"):
            found = conn.execute("SELECT * FROM v1_patients WHERE id = ?", (patient_id,)).fetchone()
            if action == "patient_added":
                added[patient_id] = seq
                if found is not None:
                    row = (*found[:5], _new_time(found[5]), found[6], seq)
                    pairs.append((PATIENTS.name, row))
                    inserts.append((PATIENTS, row))
            else:
                digest = bytes.fromhex(
                    json.loads(
                        conn.execute(
                            "SELECT payload FROM v1_audit_log WHERE id = ?", (added[patient_id],)
                        ).fetchone()[0]
                    )["patient"]
                )
                erased: tuple[Any, ...] = (patient_id, added[patient_id], digest, seq)
                pairs.append((PATIENT_ERASURES.name, erased))
                inserts.append((PATIENT_ERASURES, erased))
        else:
            patient_id = None
            if action == "journey_opened":
                pairs.append((JOURNEYS.name, identity[journey_id]))
            for table, row, _when, _why in mine:
                pairs.append((table.name, row))
                inserts.append((table, row))
            # A move's clinical time is kept in its entry only; another lone row's too.
            moving = [m for m in mine if m[0] is TRANSITIONS]
            timed = moving[0] if moving else mine[0] if len(mine) == 1 else None
            if timed is not None:
                occurred, reason = _new_time(timed[2]), timed[3]
        fields = (
            seq, seq, action, journey_id, patient_id, occurred, recorded_at, actor, reason, key,
        )  # fmt: skip
        hashed = chain.entry_hash(prev, fields, rows_digest(pairs))
        conn.execute(AUDIT.sqlite_insert(), (*fields, None, hashed))
        for table, row in inserts:
            if table is PATIENT_ERASURES or table is PATIENTS:
                conn.execute(table.insert(), row)
        if action == "journey_opened":
            old = conn.execute("SELECT * FROM v1_journeys WHERE id = ?", (journey_id,)).fetchone()
            moved = moves[(journey_id, last_move[journey_id])]
            done_seq, done_at = last_of[journey_id]
            conn.execute(
                JOURNEYS.insert(),
                (
                    *identity[journey_id],
                    old[6],
                    old[7],
                    old[8],
                    moved[1],
                    _new_time(moved[6]),
                    _new_time(old[10]),
                    done_at,
                    done_seq,
                ),
            )
        for table, row in inserts:
            if table is not PATIENT_ERASURES and table is not PATIENTS:
                conn.execute(table.insert(), row)
        prev = hashed
    reason = (
        f"schema 1 to {SCHEMA_VERSION}; the schema-1 chain ended at entry {count} with hash {head}"
    )
    fields = (
        count + 1,
        count + 1,
        "migrated",
        None,
        None,
        None,
        time_text(engine.clock.now()),
        _ACTOR,
        reason,
        None,
    )
    conn.execute(
        AUDIT.sqlite_insert(), (*fields, None, chain.entry_hash(prev, fields, rows_digest([])))
    )
