"""``Store.verify``: everything the store promises, checked from the raw rows; never raises.

The passes: the schema (every table, index, trigger and view present and unaltered),
SQLite's own checks, the file's chain settings, the rows (:mod:`._verify_rows`), then
the chain from the first entry to the head, and an expected head kept outside the
file. A problem names the table, the row (by id) and the column, never a stored
value; an empty report means all is well.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import attrs

from stemjourney.exceptions import StemJourneyError
from stemjourney.journey._engine import Engine
from stemjourney.store import _queries as q
from stemjourney.store._chain import GENESIS, Chain, Head
from stemjourney.store._schema import SCHEMA_VERSION, expected_objects
from stemjourney.store._tables import AUDIT, JOURNEYS, STORE_META
from stemjourney.store._upgrade import UPGRADES
from stemjourney.store._verify_rows import COVERS, Covered, scan_patients, scan_rows
from stemjourney.store._writes import ACTIONS

__all__ = ["Problem", "VerifyReport", "verify"]

_ROWS_OF = {
    "patient_added": COVERS["patients"],
    "patient_deleted": COVERS["patient_erasures"],
    "journey_opened": COVERS["journeys"] | COVERS["transitions"],
    "move": COVERS["transitions"],
    "scores_imported": COVERS["observations"],
    "history_imported": 0,
    "migrated": 0,
}
_ONE = ("patient_added", "patient_deleted", "move", "record", "score", "amendment")


@attrs.frozen
class Problem:
    """One thing ``verify()`` found: where (table, row, column) and what, ids only."""

    table: str
    row: str | None
    column: str | None
    what: str

    def __str__(self) -> str:
        where = self.table
        if self.row is not None:
            where += f" {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.what}"


@attrs.frozen
class VerifyReport:
    """What :meth:`Store.verify <stemjourney.store.Store.verify>` found.

    The report is empty (``len(report) == 0``, falsy) when all is well; otherwise
    ``problems`` says what is wrong, one line each, with ids only, and ``details``
    holds the same as :class:`Problem` values. ``head`` is the chain's head as found.
    """

    problems: tuple[str, ...] = ()
    audit_entries: int = 0
    journeys: int = 0
    details: tuple[Problem, ...] = ()
    head: Head | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[str]:
        return iter(self.problems)


class _Run:
    def __init__(self, conn: sqlite3.Connection, engine: Engine, chain: Chain) -> None:
        self.conn = conn
        self.engine = engine
        self.chain = chain
        self.details: list[Problem] = []
        self.entries = 0
        self.journeys = 0
        self.head: Head | None = None
        self.check_hashes = True

    def found(self, table: str, row: str | None, column: str | None, what: str) -> None:
        self.details.append(Problem(table, row, column, what))

    def step(self, name: str, check: Any, *args: Any) -> Any:
        try:
            return check(*args)
        except sqlite3.DatabaseError as error:
            code = getattr(error, "sqlite_errorname", None) or type(error).__name__
            self.found(name, None, None, f"cannot be read ({code}): the file may be damaged")
        except (StemJourneyError, ValueError, TypeError, KeyError, IndexError) as error:
            self.found(name, None, None, f"could not be checked ({type(error).__name__})")
        return None

    def schema(self) -> None:
        expected = expected_objects()
        seen: set[str] = set()
        for kind, name, sql in self.conn.execute(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
        ):
            seen.add(name)
            want = expected.get(name)
            if want is None:
                self.found("schema", name, None, f"is an unexpected {kind}")
            elif (kind, sql) != want:
                self.found("schema", name, None, f"the {want[0]} is altered")
        for name, (kind, _) in expected.items():
            if name not in seen:
                self.found("schema", name, None, f"the {kind} is missing")

    def sqlite(self) -> None:
        for (message,) in self.conn.execute("PRAGMA quick_check"):
            if message != "ok":
                self.found("sqlite", None, None, f"quick_check: {message}")
        for table, rowid, parent, _ in self.conn.execute("PRAGMA foreign_key_check"):
            self.found(str(table), str(rowid), None, f"refers to a missing {parent} row")

    def settings(self) -> None:
        found = dict(self.conn.execute(f"SELECT key, value FROM {STORE_META.name}").fetchall())
        for key in sorted(set(found) - set(_SETTINGS)):
            self.found(STORE_META.name, str(key), None, "is not a setting stemjourney writes")
        for key, allowed in _SETTINGS.items():
            if key in found and allowed and found[key] not in allowed:
                self.found(STORE_META.name, key, "value", "is not a value stemjourney writes")
        if found.get("schema") is None:
            self.found(STORE_META.name, "schema", None, "is missing")
        if (found.get("chain") == "hmac-sha256") != ("key_id" in found):
            self.found(STORE_META.name, "key_id", None, "does not match the chain's mode")
        mode = found.get("chain")
        if mode not in ("sha256", "hmac-sha256"):
            self.found(STORE_META.name, "chain", "value", "is not a chain mode")
        elif mode == "hmac-sha256" and self.chain.key is None:
            self.check_hashes = False
            self.found(
                STORE_META.name, "chain", None, "the chain is keyed: pass its key to check it"
            )
        elif mode == "hmac-sha256" and found.get("key_id") != self.chain.key_id():
            self.found(STORE_META.name, "key_id", None, "the key is not this file's key")

    def chain_pass(
        self, covered: Covered, updated: dict[str, tuple[int, str]], expected: Head | None
    ) -> None:
        prev, number = GENESIS, 0
        expected_hash = None
        last_of = {seq: jid for jid, (seq, _) in updated.items()}
        for row in self.conn.execute(AUDIT.select(order="seq")):
            number += 1
            self.entries += 1
            seq = row[0]
            name = f"entry {seq}"
            if seq != number:
                self.found(
                    AUDIT.name, name, "seq", f"follows entry {number - 1}: entries are missing"
                )
                number = seq if isinstance(seq, int) else number
            stored = row[9]
            if not isinstance(stored, bytes) or len(stored) != 32:
                self.found(AUDIT.name, name, "hash", "is not a 32-byte hash")
                stored = GENESIS
            inside = isinstance(seq, int) and 1 <= seq <= covered.last
            digest = _EMPTY
            if inside and covered.kinds[seq]:
                digest = bytes(covered.digests[32 * seq : 32 * seq + 32])
            if self.check_hashes and self.chain.entry_hash(prev, row[:9], digest) != stored:
                self.found(AUDIT.name, name, "hash", "does not match the entry and its rows")
            self._rows_of(covered, row, name, inside)
            if seq in last_of and updated[last_of[seq]][1] != row[5]:
                self.found(JOURNEYS.name, last_of[seq], "updated_at", "differs from its last entry")
            if expected is not None and seq == expected.seq:
                expected_hash = stored.hex()
            prev = stored
        for seq in range(number + 1, covered.last + 1):
            if covered.kinds[seq]:
                self.found(str(covered.owners[seq]), None, "audit_seq", "names no audit entry")
        self.head = Head(number, prev.hex()) if number else None
        if expected is not None:
            self._extends(expected, expected_hash, number)

    def _rows_of(self, covered: Covered, row: Any, name: str, inside: bool) -> None:
        seq, action, journey_id, patient_id = row[0], row[1], row[2], row[3]
        kinds = covered.kinds[seq] if inside else 0
        owner = covered.owners[seq] if inside else None
        if action not in ACTIONS:
            self.found(AUDIT.name, name, "action", "is not an action stemjourney writes")
            return
        wanted = _ROWS_OF.get(action)
        if action in ("record", "amendment"):
            good = kinds in (COVERS["records"], COVERS["observations"])
        elif action == "score":
            good = kinds == COVERS["observations"]
        else:
            good = kinds == wanted
        if action in _ONE and good:
            good = covered.counts[seq] == 1
        if not good:
            self.found(AUDIT.name, name, "action", "does not match the rows that name this entry")
        who = patient_id if action.startswith("patient_") else journey_id
        if kinds and owner != who:
            self.found(AUDIT.name, name, "journey_id", "differs from the rows that name this entry")

    def _extends(self, expected: Head, found: str | None, last: int) -> None:
        if found == expected.hash:
            return
        # A head kept from before an upgrade: the (chained) migration entry names it.
        for (reason,) in self.conn.execute(
            f"SELECT reason FROM {AUDIT.name} WHERE action = 'migrated'"
        ):
            if isinstance(reason, str) and reason.endswith(
                f"ended at entry {expected.seq} with hash {expected.hash}"
            ):
                return
        if last < expected.seq:
            self.found(
                AUDIT.name,
                f"entry {expected.seq}",
                None,
                f"the chain ends at entry {last}, before the expected head: entries were removed",
            )
        else:
            self.found(
                AUDIT.name,
                f"entry {expected.seq}",
                "hash",
                "differs from the expected head: the history was rewritten",
            )

    def replay(self) -> None:
        for journey in q.iter_journeys(self.conn, 200):
            try:
                self.engine.replay(journey)
            except StemJourneyError as error:
                self.found(
                    JOURNEYS.name, journey.id, None, f"replay refused: {type(error).__name__}"
                )


_SETTINGS: dict[str, tuple[str, ...]] = {
    "schema": (str(SCHEMA_VERSION),),
    "chain": ("sha256", "hmac-sha256"),
    "key_id": (),
    "upgraded_from": tuple(str(v) for v in UPGRADES),
}
"""The settings a file may hold, and the values each may take (any when empty)."""

_EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
"""SHA-256 of nothing: the digest of an entry that covers no rows."""


def verify(
    conn: sqlite3.Connection,
    engine: Engine,
    chain: Chain,
    *,
    expected_head: Head | None = None,
    replay: bool = False,
) -> VerifyReport:
    """Check everything the store promises; see :class:`VerifyReport`."""
    run = _Run(conn, engine, chain)
    factory = conn.text_factory
    conn.text_factory = _text
    try:
        run.step("schema", run.schema)
        run.step("sqlite", run.sqlite)
        run.step(STORE_META.name, run.settings)
        last = run.step(AUDIT.name, _last_seq, conn)
        covered = Covered(last or 0)
        updated = (
            run.step(
                "journeys", scan_rows, conn, engine.pipeline, engine.protocol, covered, run.found
            )
            or {}
        )
        run.journeys = len(updated)
        run.step("patients", scan_patients, conn, covered, run.found)
        run.step(AUDIT.name, run.chain_pass, covered, updated, expected_head)
        if replay:
            conn.text_factory = factory
            run.step("replay", run.replay)
    finally:
        conn.text_factory = factory
    details = tuple(run.details)
    return VerifyReport(
        tuple(str(p) for p in details), run.entries, run.journeys, details, run.head
    )


def _text(raw: bytes) -> str:
    """Text as stored, undecodable bytes kept (so a damaged text is reported, not raised)."""
    return raw.decode("utf-8", "surrogateescape")


def _last_seq(conn: sqlite3.Connection) -> int:
    found = conn.execute(f"SELECT max(seq) FROM {AUDIT.name}").fetchone()[0]
    return found if isinstance(found, int) else 0
