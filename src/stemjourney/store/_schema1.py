"""Schema 1 as it was written, read only to check a file before it is upgraded.

A schema-1 file kept a JSON copy of each row in its audit entry and hex hashes. Its
chain and those copies are checked here exactly as schema 1's own ``verify()`` did,
so an upgrade never carries a tampered schema-1 file into the new chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import defaultdict
from typing import Any

__all__ = ["V1_TABLES", "check_schema1"]

V1_TABLES = ("patients", "audit_log", "journeys", "transitions", "records", "observations")
"""The tables of a schema-1 file."""

_GENESIS = "0" * 64
_FIELDS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_MOVE_KEYS = (
    "journey_id", "seq", "version", "source", "target", "cycle", "occurred_at", "recorded_at",
    "actor", "reason", "late_reason", "override_reason",
)  # fmt: skip


def _entry_hash(prev: str, fields: tuple[Any, ...]) -> str:
    return hashlib.sha256(_FIELDS.encode([prev, *fields]).encode("utf-8")).hexdigest()


def _move(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(_MOVE_KEYS, row[:12], strict=True))


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "journey_id": row[0],
        "record": json.loads(row[4]),
        "cycle": row[5],
        "stage": row[6],
        "stage_seq": row[7],
        "recorded_at": row[8],
        "actor": row[9],
        "version": row[1],
        "amends": row[10],
        "reason": row[11],
    }


def _score(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "journey_id": row[0],
        "record": {
            "kind": "score",
            "instrument": row[2],
            "value": row[3],
            "measured_at": row[5],
            "answers": None if row[4] is None else json.loads(row[4]),
        },
        "cycle": row[6],
        "stage": row[7],
        "stage_seq": row[8],
        "recorded_at": row[9],
        "actor": row[10],
        "version": row[1],
        "amends": row[11],
        "reason": row[12],
    }


def _imported(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    hasher = hashlib.sha256()
    for o in rows:
        hasher.update(f"{o[1]}|{o[2]}|{o[3]!r}|{o[5]}|{o[4]}\n".encode())
    return {
        "count": len(rows),
        "first_version": rows[0][1],
        "last_version": rows[-1][1],
        "digest": hasher.hexdigest(),
    }


def check_schema1(conn: sqlite3.Connection) -> tuple[int, str, int]:
    """Check a schema-1 file's chain and rows; return (entries, head hash, problems found)."""
    covered: dict[int, list[tuple[str, tuple[Any, ...]]]] = defaultdict(list)
    for table in ("transitions", "records", "observations"):
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY journey_id, version"):
            covered[row[-1]].append((table, row))
    identity = {
        row[0]: {
            "patient_id": row[1],
            "condition": row[2],
            "site": row[3],
            "side": row[4],
            "cell_source": row[5],
        }
        for row in conn.execute("SELECT * FROM journeys")
    }
    patients = {
        row[0]: hashlib.sha256(_CANONICAL.encode(list(row)).encode("utf-8")).hexdigest()
        for row in conn.execute("SELECT * FROM patients")
    }
    problems = 0
    prev, expected, count = _GENESIS, 1, 0
    for row in conn.execute("SELECT * FROM audit_log ORDER BY id"):
        count += 1
        seq, action, patient_id, journey_id = row[0], row[1], row[2], row[3]
        if seq != expected or row[9] != prev or _entry_hash(row[9], row[:9]) != row[10]:
            problems += 1
        prev, expected = row[10], seq + 1
        mine = covered.pop(seq, [])
        payload = json.loads(row[8])
        if action == "journey_opened":
            good = len(mine) == 1 and payload == {
                "journey": identity.get(journey_id),
                "entry": _move(mine[0][1]),
            }
        elif action == "move":
            good = len(mine) == 1 and payload == {"entry": _move(mine[0][1])}
        elif action in ("record", "score", "amendment"):
            shape = _record if mine and mine[0][0] == "records" else _score
            good = len(mine) == 1 and payload == {"entry": shape(mine[0][1])}
        elif action == "scores_imported":
            good = bool(mine) and payload == _imported([r for _, r in mine])
        elif action == "patient_added":
            good = patient_id not in patients or payload == {"patient": patients[patient_id]}
        else:
            good = True
        problems += not good
    problems += len(covered)
    return count, prev, problems
