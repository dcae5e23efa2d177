"""``Store.verify``: the hash chain, each journey replayed, SQLite's own checks.

Problems are phrased with ids only; an empty report means all is well.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import attrs

from stemjourney.clinical._codec import canonical_json, encode, time_text
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import StemJourneyError
from stemjourney.journey._engine import Engine
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.store import _queries as q
from stemjourney.store import _rows as r
from stemjourney.store._chain import GENESIS, entry_hash
from stemjourney.store._errors import translate
from stemjourney.store._import import score_line
from stemjourney.store._writes import digest, entry_payload, opening_payload

__all__ = ["VerifyReport", "verify"]

_ENTRY_ACTIONS = frozenset({"move", "record", "score", "amendment"})


@attrs.frozen
class VerifyReport:
    """What :meth:`Store.verify <stemjourney.store.Store.verify>` found.

    The report is empty (``len(report) == 0``, falsy) when all is well; otherwise
    ``problems`` says what is wrong, with ids only.
    """

    problems: tuple[str, ...] = ()
    audit_entries: int = 0
    journeys: int = 0

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[str]:
        return iter(self.problems)


def verify(conn: sqlite3.Connection, engine: Engine) -> VerifyReport:
    """Check everything the store promises; see :class:`VerifyReport`."""
    problems: list[str] = []
    counts = [0, 0]
    for check in (_sqlite_checks, _chain, _patients, _journeys):
        try:
            check(conn, engine, problems, counts)
        except sqlite3.Error as error:
            problems.append(f"{check.__name__.strip('_')}: {translate(error, 'verify')}")
    return VerifyReport(tuple(problems), counts[0], counts[1])


def _sqlite_checks(
    conn: sqlite3.Connection, _engine: Engine, problems: list[str], _counts: list[int]
) -> None:
    for (message,) in conn.execute("PRAGMA integrity_check"):
        if message != "ok":
            problems.append(f"integrity_check: {message}")
    for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check"):
        problems.append(f"foreign_key_check: a {table} row ({rowid}) refers to a missing {parent}")


def _chain(
    conn: sqlite3.Connection, _engine: Engine, problems: list[str], counts: list[int]
) -> None:
    prev, expected_id = GENESIS, 1
    for row in conn.execute(
        "SELECT id, action, patient_id, journey_id, version, recorded_at, actor, "
        "idempotency_key, payload, prev_hash, hash FROM audit_log ORDER BY id"
    ):
        counts[0] += 1
        fields = row[:9]
        if row[0] != expected_id:
            problems.append(
                f"audit_log: entry {row[0]} follows {expected_id - 1} (entries missing)"
            )
        if row[9] != prev:
            problems.append(f"audit_log: entry {row[0]} does not chain to the entry before it")
        if entry_hash(row[9], fields) != row[10]:
            problems.append(f"audit_log: entry {row[0]} does not match its hash")
        prev, expected_id = row[10], row[0] + 1


def _patients(
    conn: sqlite3.Connection, _engine: Engine, problems: list[str], _counts: list[int]
) -> None:
    added: dict[str, str] = {}
    for pid, payload in conn.execute(
        "SELECT patient_id, payload FROM audit_log WHERE action = 'patient_added' ORDER BY id"
    ):
        added[pid] = json.loads(payload)["patient"]
    for row in conn.execute(
        "SELECT id, external_id, external_key, display_name, birth_date, added_at, added_by FROM "
        "patients ORDER BY id"
    ):
        expected = added.get(row[0])
        if expected is None:
            problems.append(f"patient {row[0]}: no audit entry added it")
        elif digest(list(row)) != expected:
            problems.append(f"patient {row[0]}: the row differs from its audit entry")


def _journeys(
    conn: sqlite3.Connection, engine: Engine, problems: list[str], counts: list[int]
) -> None:
    last = ""
    while True:
        rows = conn.execute(
            "SELECT id, patient_id, condition, site, side, cell_source, version, stage, cycle "
            "FROM journeys WHERE id > ? ORDER BY id "
            "LIMIT 200",
            (last,),
        ).fetchall()
        if not rows:
            return
        for row in rows:
            counts[1] += 1
            problems.extend(_journey(conn, engine, row))
        last = rows[-1][0]


def _journey(conn: sqlite3.Connection, engine: Engine, row: tuple[Any, ...]) -> list[str]:
    jid = row[0]
    found: list[str] = []
    entries = q.entries_with_audit(conn, jid)
    journey = r.journey_from_rows(
        row,
        (e for _, e in entries if isinstance(e, TransitionEntry)),
        (e for _, e in entries if isinstance(e, RecordEntry)),
    )
    covered: dict[int, list[TransitionEntry | RecordEntry]] = {}
    for audit_id, entry in entries:
        covered.setdefault(audit_id, []).append(entry)
    for audit_id, action, payload in conn.execute(
        "SELECT id, action, payload FROM audit_log WHERE journey_id = ? ORDER BY id", (jid,)
    ):
        mine = sorted(covered.pop(audit_id, []), key=lambda e: e.version)
        if _expected_payload(journey, action, mine) != payload:
            found.append(f"journey {jid}: audit entry {audit_id} ({action}) differs from its rows")
    for audit_id in covered:
        found.append(f"journey {jid}: rows refer to audit entry {audit_id} of another journey")
    versions = sorted(e.version for _, e in entries)
    if versions != list(range(1, len(versions) + 1)) or row[6] != len(versions):
        found.append(f"journey {jid}: versions are not 1..{row[6]} without gaps")
    if not journey.history or (row[7], row[8]) != (journey.stage, journey.cycle):
        found.append(f"journey {jid}: stored stage and cycle differ from its history")
        return found
    try:
        rebuilt = engine.replay(journey)
    except StemJourneyError as error:
        found.append(f"journey {jid}: replaying its history fails: {error}")
        return found
    if (rebuilt.stage, rebuilt.cycle, rebuilt.version) != (row[7], row[8], row[6]):
        found.append(f"journey {jid}: replay gives a different stage, cycle or version")
    return found


def _expected_payload(
    journey: Journey, action: str, entries: list[TransitionEntry | RecordEntry]
) -> str | None:
    if action == "journey_opened" and len(entries) == 1:
        return canonical_json(opening_payload(journey))
    if action in _ENTRY_ACTIONS and len(entries) == 1:
        return canonical_json(entry_payload(entries[0]))
    if action == "scores_imported" and entries:
        hasher = hashlib.sha256()
        for e in entries:
            if not isinstance(e, RecordEntry) or not isinstance(e.record, Score):
                return None
            score = e.record
            answers = None if score.answers is None else canonical_json(encode(score.answers))
            hasher.update(
                score_line(
                    e.version, score.instrument, score.value, time_text(score.measured_at), answers
                )
            )
        return canonical_json(
            {
                "count": len(entries),
                "first_version": entries[0].version,
                "last_version": entries[-1].version,
                "digest": hasher.hexdigest(),
            }
        )
    return None
