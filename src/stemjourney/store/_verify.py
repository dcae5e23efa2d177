"""``Store.verify``: everything the store promises, checked from the raw rows; never raises.

The passes: the schema (every table, index, trigger and view present and unaltered)
and the database's own checks (both the backend's), the chain settings, the rows
(:mod:`._verify_rows`), then the chain from the first entry to the head, and an
expected head kept outside the file. A problem names the table, the row (by id) and
the column, never a stored value; an empty report means all is well.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from stemjourney.exceptions import StemJourneyError
from stemjourney.journey._engine import Engine
from stemjourney.store import _queries as q
from stemjourney.store._chain import GENESIS, Chain, Head
from stemjourney.store._db import Backend, Db, stream
from stemjourney.store._schema import SCHEMA_VERSION
from stemjourney.store._tables import AUDIT, JOURNEYS, STORE_META
from stemjourney.store._upgrade import UPGRADES
from stemjourney.store._verify_rows import COVERS, Covered, scan_patients
from stemjourney.store._verify_shards import scan_journeys
from stemjourney.store._writes import ACTIONS, chain_order

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
_ONE = frozenset({"patient_added", "patient_deleted", "move", "record", "score", "amendment"})
_ENTRIES_OF_RECORDS = {
    "record": frozenset({COVERS["records"], COVERS["observations"]}),
    "amendment": frozenset({COVERS["records"], COVERS["observations"]}),
    "score": frozenset({COVERS["observations"]}),
}
_ENTRY_ROWS = {
    action: _ENTRIES_OF_RECORDS.get(action) or frozenset({_ROWS_OF[action]}) for action in ACTIONS
}
"""The kinds of rows (:data:`COVERS` bits) each action's entry may cover."""


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
    def __init__(self, conn: Db, backend: Backend, engine: Engine, chain: Chain) -> None:
        self.conn = conn
        self.backend = backend
        self.engine = engine
        self.chain = chain
        self.details: list[Problem] = []
        self.entries = 0
        self.journeys = 0
        self.head: Head | None = None
        self.check_hashes = True
        self.undecodable = False

    def found(self, table: str, row: str | None, column: str | None, what: str) -> None:
        self.details.append(Problem(table, row, column, what))

    def step(self, name: str, check: Any, *args: Any) -> Any:
        try:
            return check(*args)
        except self.backend.database_errors as error:
            if self.backend.undecodable(error):
                self.undecodable = True
            code = self.backend.error_name(error)
            self.found(name, None, None, f"cannot be read ({code}): the file may be damaged")
        except (StemJourneyError, ValueError, TypeError, KeyError, IndexError) as error:
            self.found(name, None, None, f"could not be checked ({type(error).__name__})")
        return None

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
        last_of = {entry_id: jid for jid, (entry_id, _) in updated.items()}
        seen = bytearray(covered.last + 1)
        entry_hash, check_hashes = self.chain.entry_hash, self.check_hashes
        entries = 0
        order = chain_order(self.backend.inline)
        for row in stream(self.conn, AUDIT.select("seq IS NOT NULL", order=order)):
            number += 1
            entries += 1
            seq = row[1]
            if seq != number:
                self.found(
                    AUDIT.name,
                    _name(row),
                    "seq",
                    f"follows entry {number - 1}: entries are missing",
                )
                number = seq if isinstance(seq, int) else number
            stored = row[11]
            if not isinstance(stored, bytes) or len(stored) != 32:
                self.found(AUDIT.name, _name(row), "hash", "is not a 32-byte hash")
                stored = GENESIS
            digest = self._digest(covered, row, seen)
            if row[10] is not None:
                self.found(
                    AUDIT.name, _name(row), "rows_digest", "is kept after the entry was sealed"
                )
            if check_hashes and entry_hash(prev, row[:10], digest) != stored:
                self.found(AUDIT.name, _name(row), "hash", "does not match the entry and its rows")
            if row[0] in last_of and updated[last_of[row[0]]][1] != row[6]:
                self.found(
                    JOURNEYS.name, last_of[row[0]], "updated_at", "differs from its last entry"
                )
            if expected is not None and seq == expected.seq:
                expected_hash = stored.hex()
            prev = stored
        self.entries += entries
        for row in self.conn.execute(AUDIT.select("seq IS NULL", order="id")):
            self.entries += 1
            digest = self._digest(covered, row, seen)
            if not self.backend.inline and row[10] == digest:
                continue  # committed a moment ago; sealed by the next write or head()
            self.found(AUDIT.name, _name(row), "seq", "is not sealed into the chain")
        for entry_id in range(1, covered.last + 1):
            if covered.kinds[entry_id] and not seen[entry_id]:
                self.found(str(covered.owners[entry_id]), None, "audit_id", "names no audit entry")
        self.head = Head(number, prev.hex()) if number else None
        if expected is not None:
            self._extends(expected, expected_hash, number)

    def _digest(self, covered: Covered, row: Any, seen: bytearray) -> bytes:
        """The digest of the rows that name entry ``row``; checks they are what it says."""
        entry_id = row[0]
        inside = isinstance(entry_id, int) and 1 <= entry_id <= covered.last
        kinds = 0
        digest = _EMPTY
        if inside:
            seen[entry_id] = 1
            kinds = covered.kinds[entry_id]
            if kinds:
                digest = bytes(covered.digests[32 * entry_id : 32 * entry_id + 32])
        self._rows_of(covered, row, kinds)
        staged = row[10]
        if staged is not None and staged != digest:
            self.found(
                AUDIT.name, _name(row), "rows_digest", "does not match the rows of the entry"
            )
        return digest

    def _rows_of(self, covered: Covered, row: Any, kinds: int) -> None:
        """Check that the rows naming entry ``row`` (their ``kinds``) are what its action
        writes, and whose they are."""
        action = row[2]
        allowed = _ENTRY_ROWS.get(action) if isinstance(action, str) else None
        if allowed is None:
            self.found(AUDIT.name, _name(row), "action", "is not an action stemjourney writes")
            return
        good = kinds in allowed
        if good and action in _ONE:
            good = covered.counts[row[0]] == 1
        if not good:
            self.found(
                AUDIT.name, _name(row), "action", "does not match the rows that name this entry"
            )
        if kinds and covered.owners[row[0]] != (row[4] if action[:8] == "patient_" else row[3]):
            self.found(
                AUDIT.name, _name(row), "journey_id", "differs from the rows that name this entry"
            )

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
    conn: Db,
    backend: Backend,
    engine: Engine,
    chain: Chain,
    *,
    expected_head: Head | None = None,
    replay: bool = False,
    path: str | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Check everything the store promises; see :class:`VerifyReport`. The journeys of an
    SQLite file at ``path`` are checked on ``workers`` processes
    (:func:`._verify_shards.scan_journeys`)."""
    for raw in (False, True):  # text decoded as usual; as stored when some is not UTF-8
        run = _Run(conn, backend, engine, chain)
        with backend.snapshot(conn, raw):
            run.step("schema", backend.check_schema, conn, run.found)
            run.step(backend.name, backend.check_database, conn, run.found)
            run.step(STORE_META.name, run.settings)
            last = run.step(AUDIT.name, _last_audit_id, conn)
            covered = Covered(last or 0)
            updated = (
                run.step(
                    "journeys",
                    scan_journeys,
                    conn,
                    engine.pipeline,
                    engine.protocol,
                    covered,
                    run.found,
                    path,
                    1 if raw else workers,
                )
                or {}
            )
            run.journeys = len(updated)
            run.step("patients", scan_patients, conn, covered, run.found)
            run.step(AUDIT.name, run.chain_pass, covered, updated, expected_head)
        if not run.undecodable:
            break
    if replay:
        run.step("replay", run.replay)
    details = tuple(run.details)
    return VerifyReport(
        tuple(str(p) for p in details), run.entries, run.journeys, details, run.head
    )


def _name(row: Any) -> str:
    """How a problem names an audit entry: by its place in the chain, or its id until sealed
    (numbers only, never other stored text)."""
    if isinstance(row[1], int):
        return f"entry {row[1]}"
    return f"entry id {row[0]}" if isinstance(row[0], int) else "entry"


def _last_audit_id(conn: Db) -> int:
    found = conn.execute(f"SELECT max(id) FROM {AUDIT.name}").fetchone()[0]
    return found if isinstance(found, int) else 0
