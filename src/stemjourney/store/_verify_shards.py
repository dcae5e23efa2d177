"""The row pass of ``verify()`` on several cores: ranges of journeys checked at once.

A store in an SQLite file splits its journeys into ranges of ids (as the cohort report
does, :func:`._shards.ranges_of`). This process checks the first range; each other range
goes to a worker (:mod:`stemjourney._workers`: a fresh ``python`` running :func:`main`)
that opens the file read-only, checks its range in one read transaction with the same
code (:func:`._verify_rows.scan_rows`), and answers the chain head it read under, the
problems it found and the digests of the audit entries its rows name. They are merged
here in range order, so the problems are those of one pass over the journeys (an entry
named by rows of two ranges is reported when the ranges are merged). A worker that
cannot start, fails, does not answer in time (:func:`~stemjourney._workers.deadline`) or
read under another head than this process's read (a write landed in between) leaves its
range to this process, which checks it in its own read; so does anything amiss in
setting the ranges up (the one pass then reports what is wrong with the file).
The chain pass that follows reads the merged digests as it reads those of one pass.
"""

from __future__ import annotations

import pickle
import sqlite3
import time
from typing import IO, Any

from stemjourney import _workers
from stemjourney.clinical._protocol import Protocol
from stemjourney.journey._pipeline import Pipeline
from stemjourney.store._connect import uri_path
from stemjourney.store._shards import ranges_of
from stemjourney.store._tables import JOURNEYS, OBSERVATIONS, RECORDS, SCHEDULE, TRANSITIONS
from stemjourney.store._verify_rows import Covered, Found, Taken, scan_rows
from stemjourney.store._writes import last_entry

__all__ = ["SHARED_FROM", "main", "scan_journeys", "scan_share"]

SHARED_FROM = 20_000
"""The fewest journeys a store holds for ``verify()`` to check them on several cores when
the caller leaves ``workers`` to it: below it a worker's start-up outweighs its range."""

Task = tuple[str, "str | None", "str | None", Pipeline, Protocol, int]
"""A worker's range: (path, first, stop, pipeline, protocol, the last audit entry's id)."""

Answer = tuple[tuple[int, bytes], list[tuple[Any, ...]], dict[str, tuple[int, str]], Taken]
"""A worker's answer: (head read under, problems, each journey's last entry, entries taken)."""

_NULL_IDS = (
    " UNION ALL ".join(
        f"SELECT 1 FROM {table.name} WHERE {column} IS NULL"
        for table, column in (
            (JOURNEYS, "id"),
            (TRANSITIONS, "journey_id"),
            (RECORDS, "journey_id"),
            (OBSERVATIONS, "journey_id"),
            (SCHEDULE, "journey_id"),
        )
    )
    + " LIMIT 1"
)
"""A row without a journey id (only an altered schema lets one in) sorts before every range:
one pass reports it."""


def scan_journeys(
    conn: Any,
    pipeline: Pipeline,
    protocol: Protocol,
    covered: Covered,
    found: Found,
    path: str | None,
    workers: int | None,
) -> dict[str, tuple[int, str]]:
    """:func:`scan_rows` of every journey, on ``workers`` processes when the store is an
    SQLite file at ``path`` (``None``: :func:`~stemjourney._workers.default_workers`, for a
    store of :data:`SHARED_FROM` journeys or more); one pass otherwise."""
    try:
        ranges = _ranges(conn, path, workers)
        head = last_entry(conn) if len(ranges) > 1 else None
        payloads = [
            pickle.dumps((path, first, stop, pipeline, protocol, covered.last))
            for first, stop, _ in ranges[1:]
        ]
    except Exception:  # a damaged file (one pass reports it), a pipeline that cannot be pickled
        ranges = ()
    if len(ranges) < 2 or path is None:
        return scan_rows(conn, pipeline, protocol, covered, found)
    children: list[_workers.Child | None] = []
    try:
        children.extend(_workers.start(__name__, payload) for payload in payloads)
        began = time.monotonic()
        updated = scan_rows(conn, pipeline, protocol, covered, found, ranges[0][:2])
        deadline = _workers.deadline(began)
        for (first, stop, _), child in zip(ranges[1:], children, strict=True):
            answer: Answer | None = _workers.finish(child, deadline)
            if answer is None or answer[0] != head:
                updated.update(scan_rows(conn, pipeline, protocol, covered, found, (first, stop)))
                continue
            _, problems, theirs, taken = answer
            for problem in problems:
                found(*problem)
            covered.merge(taken, found)
            updated.update(theirs)
    finally:
        _workers.stop(children)
    return updated


def _ranges(
    conn: Any, path: str | None, workers: int | None
) -> tuple[tuple[str | None, str | None, int], ...]:
    if path is None or workers == 1 or not isinstance(conn, sqlite3.Connection):
        return ()
    count = _workers.default_workers() if workers is None else workers
    if count < 2 or conn.execute(_NULL_IDS).fetchone() is not None:
        return ()
    ranges = ranges_of(conn, count)
    if workers is None and sum(n for _, _, n in ranges) < SHARED_FROM:
        return ()
    return ranges


def scan_share(task: Task) -> Answer:
    """Check one range of journeys of the file, read-only in one read transaction."""
    path, first, stop, pipeline, protocol, last = task
    conn = sqlite3.connect(f"file:{uri_path(path)}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")
        head = last_entry(conn)
        problems: list[tuple[Any, ...]] = []
        covered = Covered(last)

        def found(*problem: Any) -> None:
            problems.append(problem)

        updated = scan_rows(conn, pipeline, protocol, covered, found, (first, stop))
        return head, problems, updated, covered.took()
    finally:
        conn.close()


def main(given: IO[bytes] | None = None, answer: IO[bytes] | None = None) -> int:
    """A worker: read its range (a pickle after the import path), check it, write the answer
    as a pickle. Nothing read is ever printed."""
    return _workers.serve(scan_share, given, answer)
