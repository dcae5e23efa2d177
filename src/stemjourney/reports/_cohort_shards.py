"""The cohort report of a large store on several cores: shares of its journeys folded at once.

A store in an SQLite file splits its journeys into shares by id
(:meth:`Store.outcome_fact_shards <stemjourney.store.Store.outcome_fact_shards>`), a few
for each process (:data:`SLICES`). Each worker (:mod:`stemjourney._workers`: a fresh
``python`` running :func:`main`) gets its shares and the report's terms as a pickle,
folds them with :class:`~stemjourney.reports.CohortAggregator` and writes back what it
folded (:meth:`~stemjourney.reports.CohortAggregator.folded`). This process folds the
first shares meanwhile (one more than a worker's, as it starts at once) and merges the
rest. A worker that cannot start, fails or does not answer in time
(:func:`~stemjourney._workers.deadline`) leaves its shares to this process. Every
share must have been read under the same chain head, that is from the same store: when a
write landed between the shares' reads, nothing is merged and the caller folds the store
in one pass instead.
"""

from __future__ import annotations

import pickle
import time
from datetime import date, tzinfo
from typing import IO

from stemjourney import _workers
from stemjourney.clinical._protocol import Protocol
from stemjourney.outcomes._sources import FactShare, ShardedFactSource
from stemjourney.reports._cohort import CohortAggregator, Folded

__all__ = ["PARALLEL_FROM", "default_workers", "fold_shared", "fold_shares", "main"]

PARALLEL_FROM = 20_000
"""The fewest journeys a store holds for the cohort report to fold it on several cores when
the caller leaves ``workers`` to it: below it a worker's start-up outweighs its share."""

SLICES = 6
"""Each worker's part, in shares of the store; this process takes one share more, as it
starts folding at once while a worker is still starting (a fresh interpreter)."""

Terms = tuple[date, Protocol, str, "str | None", tzinfo]
"""What a worker needs to fold as the report does: (on, protocol, instrument, void stage, tz)."""

Shared = tuple[frozenset[object], Folded]
"""Shares' result: the heads they were read under and what was folded."""


def default_workers() -> int:
    """The processes a large report folds on: the cores this process may run on, up to 4."""
    return _workers.default_workers()


def fold_shared(source: object, aggregator: CohortAggregator, workers: int | None) -> bool:
    """Fold every journey of ``source`` into ``aggregator`` on ``workers`` processes
    (``None``: :func:`default_workers`, for a store of :data:`PARALLEL_FROM` journeys or
    more). False, with ``aggregator`` untouched, when the source cannot be shared, is too
    small, or changed while it was read: the caller then folds it in one pass."""
    if workers == 1 or not isinstance(source, ShardedFactSource):
        return False
    count = default_workers() if workers is None else workers
    if count < 2:
        return False
    shares = list(source.outcome_fact_shards(SLICES * count + 1))
    if len(shares) < 2 or (workers is None and sum(s.journeys for s in shares) < PARALLEL_FROM):
        return False
    terms: Terms = (
        aggregator.on,
        aggregator.protocol,
        aggregator.instrument,
        aggregator.void,
        aggregator.tz,
    )
    mine, theirs = _parts(shares, count)
    try:
        payloads = [pickle.dumps((given, terms)) for given in theirs]
    except Exception:  # a protocol or zone of the caller's that cannot be pickled
        return False
    children: list[_workers.Child | None] = []
    try:
        children.extend(_workers.start(__name__, payload) for payload in payloads)
        began = time.monotonic()
        results = [fold_shares(mine, terms)]
        deadline = _workers.deadline(began)
        for given, child in zip(theirs, children, strict=True):
            found = _workers.finish(child, deadline)
            results.append(fold_shares(given, terms) if found is None else found)
    finally:
        _workers.stop(children)
    if len({head for heads, _ in results for head in heads}) != 1:
        return False
    for _, folded in results:
        aggregator.merge(folded)
    return True


def _parts(shares: list[FactShare], count: int) -> tuple[list[FactShare], list[list[FactShare]]]:
    """``shares`` split among this process and at most ``count - 1`` workers, in order: as
    many to each worker, the rest (one more than a worker's, or as many) to this one."""
    count = min(count, len(shares))
    each = max(1, (len(shares) - 1) // count)
    first = len(shares) - each * (count - 1)
    theirs = [shares[first + k * each : first + (k + 1) * each] for k in range(count - 1)]
    return shares[:first], theirs


def fold_shares(shares: list[FactShare], terms: Terms) -> Shared:
    """Fold ``shares`` as the report would: the heads they were read under, what was folded."""
    on, protocol, instrument, void, tz = terms
    aggregator = CohortAggregator(on=on, protocol=protocol, instrument=instrument, tz=tz)
    aggregator.void = void
    heads = set()
    for share in shares:
        with share.read(instrument=instrument) as (head, facts):
            heads.add(head)
            for one in facts:
                aggregator.add(one)
    return frozenset(heads), aggregator.folded()


def main(given: IO[bytes] | None = None, answer: IO[bytes] | None = None) -> int:
    """A worker: read its shares and the terms (a pickle after the import path), fold the
    shares, write what was folded as a pickle. Nothing read is ever printed."""
    return _workers.serve(lambda task: fold_shares(*task), given, answer)
