"""Shares of an SQLite store's journeys whose outcome facts another process can read.

A report over a large store can fold its journeys in several processes at once: each
takes a :class:`FactShard`, a range of journey ids of the same file, opens the file
read-only (nothing it does can change the file), and reads that range's facts as
:func:`~stemjourney.store._facts.iter_facts` reads a whole store. Each shard reads in
one read transaction and says which chain head it read under; shards that read under
the same head read the same store, since every change appends an audit entry in the
transaction that makes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from stemjourney.outcomes import OutcomeFacts
from stemjourney.store._connect import uri_path
from stemjourney.store._errors import map_errors
from stemjourney.store._facts import iter_facts
from stemjourney.store._writes import last_entry

__all__ = ["FactShard", "ranges_of", "shards_of"]

_IDS = "SELECT id FROM journeys ORDER BY id LIMIT 1 OFFSET ?"


@attrs.frozen
class FactShard:
    """The journeys of the SQLite file at ``path`` whose id is ``first`` or later and before
    ``stop`` (``None`` leaves that end open); about ``journeys`` of them."""

    path: str
    first: str | None
    stop: str | None
    journeys: int

    @contextmanager
    def read(
        self, *, instrument: str | None = None
    ) -> Iterator[tuple[tuple[int, bytes], Iterator[OutcomeFacts]]]:
        """The chain head (sequence number, hash) and the shard's outcome facts by journey id,
        as :meth:`Store.iter_outcome_facts <stemjourney.store.Store.iter_outcome_facts>`
        gives them (only ``instrument``'s scores when given), all read in one transaction
        of a read-only connection of its own."""
        with map_errors("read outcome facts"):
            conn = sqlite3.connect(
                f"file:{uri_path(self.path)}?mode=ro", uri=True, isolation_level=None
            )
        try:
            with map_errors("read outcome facts"):
                conn.execute("BEGIN")
                head = last_entry(conn)
                facts = iter_facts(
                    conn,
                    instrument=instrument,
                    stages=None,
                    journey_ids=None,
                    with_scores=True,
                    batch_size=1,
                    between=(self.first, self.stop),
                )
                yield head, _mapped(facts)
        finally:
            conn.close()


def _mapped(facts: Iterator[OutcomeFacts]) -> Iterator[OutcomeFacts]:
    with map_errors("read outcome facts"):
        yield from facts


def ranges_of(
    conn: sqlite3.Connection, parts: int
) -> tuple[tuple[str | None, str | None, int], ...]:
    """The store's journeys as ``parts`` ranges (first, stop, how many) of about as many
    journeys each, in id order; an end that is ``None`` is open."""
    count = conn.execute("SELECT count(*) FROM journeys").fetchone()[0]
    parts = max(1, min(parts, count))
    cuts: list[str | None] = [None]
    for n in range(1, parts):
        cuts.append(conn.execute(_IDS, (count * n // parts,)).fetchone()[0])
    cuts.append(None)
    return tuple(
        (cuts[n], cuts[n + 1], count * (n + 1) // parts - count * n // parts) for n in range(parts)
    )


def shards_of(conn: sqlite3.Connection, path: str, parts: int) -> tuple[FactShard, ...]:
    """The journeys of the store at ``path`` (``conn`` open on it) as ``parts`` ranges of
    about as many journeys each, in id order."""
    return tuple(FactShard(path, *bounds) for bounds in ranges_of(conn, parts))
