"""The FHIR export against its floor: plain sqlite3 reading the same rows, json.dumps of dicts.

The floor is what a careful engineer would write against the store's tables without
the library: read every patient, journey, move, record and score row in journey
order, build for each the dict of the same shape as the resource the export writes
(the same keys and nesting, values straight from the row; no identifiers derived, no
lookups, no outcome arithmetic), and ``json.dumps`` it. ``fhir_vs_floor`` is the
export's resources per second over the floor's, in the same run.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from _measure import peak_mb

from stemjourney.export import write_fhir_bundle
from stemjourney.store import open_store

T = TypeVar("T")
STAMP = datetime(2026, 11, 23, tzinfo=UTC)
_ENC = json.JSONEncoder(ensure_ascii=False, check_circular=False)
# The same literal strings the export writes (a careful engineer would write the same).
_SD = "https://stemjourney.org/fhir/StructureDefinition"
_CS = "https://stemjourney.org/fhir/CodeSystem"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_NAMES = {
    "nrs": ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            "Pain numeric rating scale 0-10"),
}  # fmt: skip
_OTHER = ("", "", "")


class Sink:
    """A text file that keeps only the number of characters written to it."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def _by_journey(conn: sqlite3.Connection, sql: str) -> Iterator[tuple[str, list[Any]]]:
    for key, rows in itertools.groupby(conn.execute(sql), key=lambda row: row[0]):
        yield key, list(rows)


def _id(key: str) -> str:
    """A key padded to the length of a UUID, as long as the export's identifiers."""
    return f"{key:0>36}"


def _ref(key: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{_id(key)}"}


def _t(text: str) -> str:
    """The store's UTC text as a FHIR time (as the export writes it)."""
    return f"{text[:10]}T{text[11:]}+00:00"


def _entry_ext(row: Any, at: tuple[int, int, int, int, int], record: str | None) -> dict[str, Any]:
    cycle, stage, seq, recorded, actor = at
    parts = [
        {"url": "journey", "valueString": row[0]},
        {"url": "version", "valueInteger": row[1]},
        {"url": "cycle", "valueInteger": row[cycle]},
        {"url": "stage", "valueCode": row[stage]},
        {"url": "stageSeq", "valueInteger": row[seq]},
        {"url": "recorded", "valueInstant": _t(row[recorded])},
        {"url": "actor", "valueString": row[actor]},
    ]
    if record is not None:
        parts.append({"url": "record", "valueString": record})
    return {"url": f"{_SD}/entry", "extension": parts}


# where cycle, stage, stage seq, recorded time and actor are in each kind of row
_RECORD_AT = (5, 9, 6, 10, 11)
_SCORE_AT = (6, 10, 7, 11, 12)


def _record(row: Any, subject: dict[str, str]) -> dict[str, Any]:
    # The record whole, as the export writes it: the payload with its kind and time put
    # back from the row's columns (the time under one key for every kind).
    data = json.loads(row[4])
    data["kind"] = row[2]
    data["occurred_at"] = row[3]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        "resourceType": "Procedure",
        "id": _id(f"{row[0]}/{row[1]}"),
        "identifier": [{"system": "urn:stemjourney:record", "value": f"{row[0]}/{row[1]}"}],
        "extension": [_entry_ext(row, _RECORD_AT, text)],
        "status": "completed",
        "code": {"text": row[2]},
        "subject": subject,
        "performedDateTime": _t(row[3]),
        "bodySite": [{"text": f"{data.get('site')}, {data.get('side')}"}],
    }


def _score(row: Any, subject: dict[str, str]) -> Iterator[dict[str, Any]]:
    key = f"{row[0]}/{row[1]}"
    loinc, name, text = _NAMES.get(row[2], _OTHER)
    outcome = {
        "url": f"{_SD}/outcome",
        "extension": [
            {"url": "timePoint", "valueCode": "unscheduled"},
            {"url": "baseline", "valueBoolean": False},
            {"url": "change", "valueDecimal": row[3]},
            {"url": "improvement", "valueDecimal": row[3]},
            {"url": "improvementPercent", "valueDecimal": row[3]},
            {"url": "responder", "extension": [{"url": "rule", "valueString": "responder"},
                                               {"url": "met", "valueBoolean": True}]},
            {"url": "responder", "extension": [{"url": "rule", "valueString": "substantial"},
                                               {"url": "met", "valueBoolean": False}]},
        ],
    }  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id(key),
        "identifier": [{"system": "urn:stemjourney:record", "value": key}],
        "extension": [_entry_ext(row, _SCORE_AT, None), outcome],
        "status": "final",
        "category": [{"coding": [{"system": _CATEGORY, "code": "survey",
                                  "display": "Survey"}], "text": "Survey"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": name},
                            {"system": f"{_CS}/instrument", "code": row[2], "display": text}],
                 "text": text},
        "subject": subject,
        "effectiveDateTime": _t(row[5]),
        "issued": _t(row[11]),
        "valueQuantity": {"value": row[3], "unit": "points", "system": "http://unitsofmeasure.org",
                          "code": "{score}"},
    }  # fmt: skip
    if row[4] is not None:
        answers = json.loads(row[4])
        yield {
            "resourceType": "QuestionnaireResponse",
            "id": _id(f"response/{key}"),
            "questionnaire": row[2],
            "status": "completed",
            "subject": subject,
            "authored": _t(row[5]),
            "item": [{"linkId": str(n), "answer": [{"valueInteger": a}]}
                     for n, a in enumerate(answers) if a is not None],
        }  # fmt: skip
        resource["derivedFrom"] = [_ref(f"response/{key}")]
    yield resource


def _journey(j: Any, moves: list[Any], subject: dict[str, str]) -> Iterator[dict[str, Any]]:
    yield {
        "resourceType": "Condition",
        "id": _id(f"condition/{j[0]}"),
        "code": {"text": j[2]},
        "bodySite": [{"text": f"{j[3]}, {j[4]}"}],
        "subject": subject,
    }
    parts: list[dict[str, Any]] = [
        {"url": "condition", "valueString": j[2]},
        {"url": "site", "valueString": j[3]},
        {"url": "side", "valueCode": j[4]},
        {"url": "cellSource", "valueCode": j[5]},
    ]
    for m in moves:
        parts.append(
            {"url": "move", "extension": [
                {"url": "seq", "valueInteger": m[1]}, {"url": "version", "valueInteger": m[2]},
                {"url": "target", "valueCode": m[4]}, {"url": "cycle", "valueInteger": m[5]},
                {"url": "occurred", "valueDateTime": _t(m[6])},
                {"url": "recorded", "valueInstant": _t(m[11])},
                {"url": "actor", "valueString": m[12]},
            ]}
        )  # fmt: skip
    yield {
        "resourceType": "EpisodeOfCare",
        "id": _id(f"journey/{j[0]}"),
        "extension": [{"url": f"{_SD}/journey", "extension": parts}],
        "identifier": [{"system": "urn:stemjourney:journey", "value": j[0]}],
        "status": "active",
        "statusHistory": [{"status": m[4], "period": {"start": _t(m[6])}} for m in moves],
        "type": [{"text": f"autologous {j[5]} cell therapy"}],
        "diagnosis": [{"condition": _ref(f"condition/{j[0]}")}],
        "patient": subject,
        "period": {"start": _t(moves[0][6])},
    }


# The rows the store reads for a journey: each entry with its audit entry's times, actor and
# reason, each record and score with its stage, in journey order.
_MOVES = """
SELECT t.journey_id, t.seq, t.version, t.source, t.target, t.cycle, a.occurred_at,
       t.late_reason, t.override_reason, t.reason_record, t.audit_id,
       a.recorded_at, a.actor, a.reason
FROM transitions AS t JOIN audit_log AS a ON a.id = t.audit_id
ORDER BY t.journey_id, t.seq"""
_RECORDS = """
SELECT r.journey_id, r.version, r.kind, r.occurred_at, r.payload, r.cycle, r.stage_seq,
       r.amends, r.audit_id, s.target, a.recorded_at, a.actor, a.reason
FROM records AS r
JOIN transitions AS s ON s.journey_id = r.journey_id AND s.seq = r.stage_seq
JOIN audit_log AS a ON a.id = r.audit_id
ORDER BY r.journey_id, r.version"""
_SCORES = """
SELECT o.journey_id, o.version, o.instrument, o.value, o.answers, o.measured_at, o.cycle,
       o.stage_seq, o.amends, o.audit_id, s.target, a.recorded_at, a.actor, a.reason
FROM observations AS o
JOIN transitions AS s ON s.journey_id = o.journey_id AND s.seq = o.stage_seq
JOIN audit_log AS a ON a.id = o.audit_id
ORDER BY o.journey_id, o.version"""


def floor(conn: sqlite3.Connection, out: Sink) -> int:
    """Read the rows the export reads and dump a dict of each resource's shape; return the count."""
    patients = {
        row[0]: row for row in conn.execute("SELECT id, external_id FROM patients ORDER BY id")
    }
    journeys = conn.execute(
        "SELECT id, patient_id, condition, site, side, cell_source FROM journeys ORDER BY id"
    )
    moves = _by_journey(conn, _MOVES)
    records = _by_journey(conn, _RECORDS)
    scores = _by_journey(conn, _SCORES)
    count = 0
    pending = {"r": next(records, None), "s": next(scores, None)}
    for j in journeys:
        p = patients.pop(j[1], None)
        subject = _ref(f"patient/{j[1]}")
        found: list[dict[str, Any]] = []
        if p is not None:
            found.append(
                {"resourceType": "Patient", "id": _id(f"patient/{p[0]}"), "identifier": [
                    {"system": "urn:stemjourney:external-id", "value": p[1]},
                    {"system": "urn:stemjourney:patient", "value": p[0]}]}
            )  # fmt: skip
        _, mine = next(moves)
        found += _journey(j, mine, subject)
        r = pending["r"]
        if r is not None and r[0] == j[0]:
            found += (_record(row, subject) for row in r[1])
            pending["r"] = next(records, None)
        s = pending["s"]
        if s is not None and s[0] == j[0]:
            for row in s[1]:
                found += _score(row, subject)
            pending["s"] = next(scores, None)
        for resource in found:
            out.write(",\n")
            out.write(_ENC.encode({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}))
        count += len(found)
    return count


def _timed(work: Callable[[], T]) -> tuple[float, float, T]:
    """Wall seconds and this process's CPU seconds of one call of ``work``, and its result.

    On a shared machine the CPU time is what the code costs; the ratio is judged on it.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def fhir_step(path: Path, repeat: int) -> dict[str, Any]:
    """The export of the whole store against the floor, runs interleaved, best of ``repeat``
    (at least one).

    The ratio is of CPU time (this process's), the wall times are reported beside it.
    """
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    count = floor_count = 0
    ours_chars = floor_chars = 0
    export_peak = 0.0
    for _ in range(max(repeat, 1)):
        with open_store(path) as store:
            sink = Sink()
            wall, cpu, count = _timed(
                lambda s=store, k=sink: write_fhir_bundle(s, k, timestamp=STAMP)
            )
            ours.append((cpu, wall))
            ours_chars = sink.chars
        export_peak = peak_mb()
        conn = sqlite3.connect(path)
        sink = Sink()
        wall, cpu, floor_count = _timed(lambda c=conn, k=sink: floor(c, k))
        theirs.append((cpu, wall))
        floor_chars = sink.chars
        conn.close()
    ours_cpu, ours_wall = min(ours)
    floor_cpu, floor_wall = min(theirs)
    ours_rate = count / ours_cpu
    floor_rate = floor_count / floor_cpu
    return {
        "resources": count,
        "floor_resources": floor_count,
        "resources_per_s": round(ours_rate),
        "floor_resources_per_s": round(floor_rate),
        "bytes_per_resource": round(ours_chars / count),
        "floor_bytes_per_resource": round(floor_chars / floor_count),
        "export_cpu_s": round(ours_cpu, 2),
        "floor_cpu_s": round(floor_cpu, 2),
        "export_wall_s": round(ours_wall, 2),
        "floor_wall_s": round(floor_wall, 2),
        "ratio": round(ours_rate / floor_rate, 3),
        "ratio_wall": round((count / ours_wall) / (floor_count / floor_wall), 3),
        "export_peak_mb": export_peak,
        "peak_mb": peak_mb(),
    }
