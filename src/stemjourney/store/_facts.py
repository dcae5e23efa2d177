"""Outcome facts read straight from the tables: the store's producer of ``OutcomeFacts``.

The outcome arithmetic looks at a journey's identity and stage, its injections and
adverse events, and its scores; nothing else (see
:class:`stemjourney.outcomes.OutcomeFacts`, which
:func:`stemjourney.outcomes.facts_of` takes from a journey value). Reading those
columns straight from the tables, instead of rebuilding every journey with its whole
history, keeps a report over a hundred thousand journeys a light loop. Everything
returned is in force (an amended entry is replaced by its amendment, as
``Journey.current_records`` does); times are the store's fixed-width UTC text, which
sorts as time does (an injection's ``occurred_at`` column is its ``injected_at``).
The versions amended are read first, all kinds at once, through the partial indexes
of amendments (few rows), so a journey that amends nothing costs no Python step per
row to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from stemjourney.outcomes import OutcomeFacts
from stemjourney.store._db import Db, id_range

__all__ = ["OutcomeFacts", "iter_facts"]


_JOURNEYS = "SELECT id, patient_id, condition, site, side, cell_source, stage FROM journeys"
_RECORDS = (
    "SELECT journey_id, version, kind = 'injection', cycle, CASE kind "
    "WHEN 'injection' THEN occurred_at "
    "ELSE json_extract(payload, '$.serious') END "
    "FROM records WHERE kind IN ('injection', 'adverse_event')"
)
_SCORES = "SELECT journey_id, version, measured_at, value FROM observations WHERE 1"
_OF_INSTRUMENT = " AND instrument = ?"
_BY_IDS = " AND {column} IN (SELECT value FROM json_each(?))"
_SINCE = " AND measured_at >= ?"
_AMENDED = (
    "SELECT journey_id, amends FROM records WHERE amends IS NOT NULL{where} UNION ALL "
    "SELECT journey_id, amends FROM observations WHERE amends IS NOT NULL{where}"
)
"""Every version amended, of any kind (a journey's versions are one sequence, so a version
amended on another kind or instrument matches none of the rows read): through the
partial indexes of the amendments, few rows."""
_IN_STAGES = (
    " AND {column} IN (SELECT id FROM journeys WHERE stage IN (SELECT value FROM json_each(?)))"
)
_FIRST = itemgetter(0)
_VERSION = itemgetter(1)
_TIME_VALUE = itemgetter(2, 3)
_NONE: frozenset[int] = frozenset()


def iter_facts(
    conn: Db,
    *,
    instrument: str | None,
    stages: Sequence[str] | None,
    journey_ids: Iterable[str] | None,
    with_scores: bool,
    batch_size: int,
    scores_since: str | None = None,
    with_records: bool = True,
    between: tuple[str | None, str | None] = (None, None),
) -> Iterator[OutcomeFacts]:
    """The facts of every journey (or those in ``stages`` and of ``journey_ids``), by id.

    Journeys, records and scores are read as three streams ordered by journey id
    and merged, so a whole store streams in one pass; ``journey_ids`` are read
    ``batch_size`` at a time. ``scores_since`` (time text) keeps the scores measured
    from then on (with ``journey_ids`` only), read through the series index.
    ``between`` (first, stop) keeps the journeys whose id is ``first`` or later and
    before ``stop`` (an end that is ``None`` is open), read as one range of each
    table's journey order: a share of the store another process may read.
    """
    first, stop = between
    if journey_ids is None:
        scores = _Scores(instrument, with_scores, None, with_records)
        if first is not None or stop is not None:
            inside, bounds = id_range("{column}", first, stop)
            yield from _merged(conn, " AND " + inside, bounds, scores)
        elif stages is None:
            yield from _merged(conn, "", (), scores)
        else:
            yield from _merged(conn, _IN_STAGES, (json.dumps(list(stages)),), scores)
        return
    scores = _Scores(instrument, with_scores, scores_since, with_records)
    wanted = sorted(set(journey_ids))
    for start in range(0, len(wanted), batch_size):
        args: tuple[str, ...] = (json.dumps(wanted[start : start + batch_size]),)
        for facts in _merged(conn, _BY_IDS, args, scores):
            if stages is None or facts.stage in stages:
                yield facts


class _Scores(NamedTuple):
    instrument: str | None
    wanted: bool
    since: str | None
    records: bool = True


def _merged(conn: Db, where: str, args: tuple[str, ...], wanted: _Scores) -> Iterator[OutcomeFacts]:
    if where == _IN_STAGES:
        own = " WHERE stage IN (SELECT value FROM json_each(?))"
    else:
        own = where.replace(" AND", " WHERE", 1).format(column="id")
    journeys = conn.execute(_JOURNEYS + own + " ORDER BY id", args)
    records: Iterator[tuple[str, Iterator[Any]]] = iter(())
    if wanted.records:
        sql = _RECORDS + where.format(column="journey_id") + " ORDER BY journey_id, version"
        records = groupby(conn.execute(sql, args), _FIRST)
    scores: Iterator[tuple[str, Iterator[Any]]] = iter(())
    if wanted.wanted:
        sql = _SCORES + where.format(column="journey_id")
        more = args
        if wanted.instrument is not None:
            sql += _OF_INSTRUMENT
            more = (*more, wanted.instrument)
        if wanted.since is not None:
            # In the series index's order, so that only the recent scores are read.
            sql += _SINCE + " ORDER BY journey_id, measured_at"
            more = (*more, wanted.since)
        else:
            sql += " ORDER BY journey_id, version"
        scores = groupby(conn.execute(sql, more), _FIRST)
    amended = _amended(conn, where.format(column="journey_id"), args)
    resort = wanted.since is not None
    next_record = next(records, None)
    next_scores = next(scores, None)
    for jid, patient, condition, site, side, source, stage in journeys:
        mine: list[Any] = []
        while next_record is not None and next_record[0] <= jid:
            if next_record[0] == jid:
                mine = list(next_record[1])
            next_record = next(records, None)
        scored: list[Any] = []
        while next_scores is not None and next_scores[0] <= jid:
            if next_scores[0] == jid:
                scored = list(next_scores[1])
            next_scores = next(scores, None)
        gone = amended.get(jid, _NONE)
        injections = []
        events = []
        for r in mine:
            if gone and r[1] in gone:
                continue
            if r[2]:
                injections.append((r[3], r[4]))
            else:
                events.append((r[3], bool(r[4])))
        if resort:
            scored.sort(key=_VERSION)
        if gone:
            kept = tuple([(r[2], r[3]) for r in scored if r[1] not in gone])
        else:
            kept = tuple(map(_TIME_VALUE, scored))
        yield OutcomeFacts(
            jid,
            patient,
            condition,
            site,
            side,
            source,
            stage,
            tuple(injections),
            tuple(events),
            kept,
        )


def _amended(conn: Db, where: str, args: tuple[str, ...]) -> dict[str, frozenset[int]]:
    """The versions amended of each journey ``where`` picks (column ``journey_id``)."""
    found: dict[str, set[int]] = {}
    for jid, version in conn.execute(_AMENDED.format(where=where), args + args):
        found.setdefault(jid, set()).add(version)
    return {jid: frozenset(versions) for jid, versions in found.items()}
