"""FHIR R4B export: a patient and their journeys as a Bundle of plain JSON-able dicts.

No FHIR library is needed at run time. Resources and how they are filled:

- ``Patient``: identifier = the clinic's external id; ``name`` and ``birthDate`` only
  when the patient has them.
- ``Condition``: the journey's condition and treated site (SNOMED CT where known).
- ``EpisodeOfCare``: one per journey, with ``status`` and ``statusHistory`` mapped
  from the stage history by :data:`EPISODE_STATUS`: consultation -> ``planned``;
  harvest, processing, injection, recovery, follow-up -> ``active``; completed ->
  ``finished``; ineligible and withdrawn -> ``cancelled``; voided ->
  ``entered-in-error``. Consecutive stages with the same status share one period.
- ``Procedure``: each harvest (bone marrow aspiration is SNOMED CT 49401003) and
  each injection (``usedReference`` -> its product), status ``completed``.
- ``BiologicallyDerivedProduct``: each processed cell product (category ``cells``,
  quantity = doses, processing method and times, lab counts as extensions).
- ``Observation``: each score in force (category ``survey``); NRS as LOINC 72514-3
  with ``valueInteger``, VAS as LOINC 38214-3 with ``valueQuantity`` in mm, other
  instruments by their LOINC code when the registry has one, else by the
  stemjourney instrument code. Status ``final``, or ``corrected`` when the score was
  amended (the resource then carries the amended value under the original's id).
  Its outcome, as every report shows it (see "How outcomes are computed"), is the
  extension ``urn:stemjourney:fhir:outcome``: ``timePoint`` (code), ``baseline``
  (boolean: the journey's baseline), and from that baseline ``change`` (value -
  baseline), ``improvement`` and ``improvementPercent`` (in the instrument's good
  direction) and one ``responder`` per rule (``rule`` and ``met``).
- ``AdverseEvent``: actuality ``actual``, seriousness, severity (CTCAE grade 1 mild,
  2 moderate, 3-5 severe; the grade itself as an extension), outcome, and the
  injected product as suspect entity with the causality assessment.

Resource ids are UUIDs derived from stemjourney ids, so an export is repeatable and
references (``urn:uuid:...``) resolve inside the Bundle.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from stemjourney.clinical import _validation as v
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import AdverseEvent, Harvest, Injection, Processing
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import AEOutcome, CellSource, Relatedness
from stemjourney.exceptions import NotFoundError, ValidationError
from stemjourney.journey._journey import Journey, RecordEntry
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._sources import ClinicSource, patients_with_journeys
from stemjourney.journey._table import DEFAULT_PIPELINE
from stemjourney.outcomes import BASELINE, SeriesPoint, get_instrument, points_by_version

__all__ = [
    "EPISODE_STATUS",
    "ID_SYSTEM",
    "OUTCOME_EXTENSION",
    "episode_status",
    "fhir_bundle",
    "patient_resource",
    "fhir_resources",
    "write_fhir_bundle",
]

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
ID_SYSTEM = "urn:stemjourney"
"""Prefix of the identifier systems (``urn:stemjourney:journey``...) and extension urls."""
OUTCOME_EXTENSION = f"{ID_SYSTEM}:fhir:outcome"
"""The url of the extension holding a score Observation's outcome."""

EPISODE_STATUS: Mapping[str, str] = {
    "consultation": "planned",
    "harvest": "active",
    "processing": "active",
    "injection": "active",
    "recovery": "active",
    "follow_up": "active",
    "completed": "finished",
    "ineligible": "cancelled",
    "withdrawn": "cancelled",
    "voided": "entered-in-error",
}
"""The EpisodeOfCare status of each stage and outcome of the default pipeline."""

_CONDITION_CODES = {
    "osteoarthritis of knee": ("239873007", "Osteoarthritis of knee"),
    "osteoarthritis of hip": ("239872002", "Osteoarthritis of hip"),
}
_SEVERITY = {1: "mild", 2: "moderate"}
_OUTCOME = {
    AEOutcome.RECOVERED: "resolved",
    AEOutcome.RECOVERING: "recovering",
    AEOutcome.NOT_RECOVERED: "ongoing",
    AEOutcome.RECOVERED_WITH_SEQUELAE: "resolvedWithSequelae",
    AEOutcome.FATAL: "fatal",
    AEOutcome.UNKNOWN: "unknown",
}
_CAUSALITY = {
    Relatedness.UNLIKELY: "Unlikely",
    Relatedness.POSSIBLE: "Possible",
    Relatedness.PROBABLE: "Probably-Likely",
    Relatedness.DEFINITE: "Certain",
}
_GENERIC_PAIN = ("38208-5", "Pain severity - Reported")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, ID_SYSTEM)


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def _ref(uid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{uid}"}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _ident(kind: str, value: str) -> list[dict[str, str]]:
    return [{"system": f"{ID_SYSTEM}:{kind}", "value": value}]


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {
        "coding": [{"system": system, "code": code, "display": display}],
        "text": text or display,
    }


def episode_status(stage: str, pipeline: Pipeline = DEFAULT_PIPELINE) -> str:
    """The EpisodeOfCare status of ``stage``; stages of a custom pipeline map by role.

    >>> episode_status("recovery"), episode_status("voided")
    ('active', 'entered-in-error')
    """
    if stage in EPISODE_STATUS:
        return EPISODE_STATUS[stage]
    if stage == pipeline.initial:
        return "planned"
    return "finished" if pipeline.is_outcome(stage) else "active"


def patient_resource(patient: Patient) -> dict[str, Any]:
    """The FHIR Patient of ``patient``: name and birth date only when present."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _uid("patient", patient.id),
        "identifier": _ident("external-id", patient.external_id),
    }
    if patient.display_name is not None:
        resource["name"] = [{"text": patient.display_name}]
    if patient.birth_date is not None:
        resource["birthDate"] = patient.birth_date.isoformat()
    return resource


def _condition(journey: Journey, patient_ref: dict[str, str]) -> dict[str, Any]:
    known = _CONDITION_CODES.get(journey.condition.casefold())
    code = (
        _concept(SNOMED, known[0], known[1], journey.condition)
        if known
        else {"text": journey.condition}
    )
    return {
        "resourceType": "Condition",
        "id": _uid("condition", journey.id),
        "code": code,
        "bodySite": [{"text": f"{journey.site}, {journey.side.value}"}],
        "subject": patient_ref,
    }


def _status_history(journey: Journey, pipeline: Pipeline) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for entry in journey.history:
        status = episode_status(entry.target, pipeline)
        if history and history[-1]["status"] == status:
            continue
        if history:
            history[-1]["period"]["end"] = _time(entry.occurred_at)
        history.append({"status": status, "period": {"start": _time(entry.occurred_at)}})
    return history


def _episode(journey: Journey, patient_ref: dict[str, str], pipeline: Pipeline) -> dict[str, Any]:
    period = {"start": _time(journey.opened_at)}
    if pipeline.is_outcome(journey.stage):
        period["end"] = _time(journey.last_move.occurred_at)
    return {
        "resourceType": "EpisodeOfCare",
        "id": _uid("journey", journey.id),
        "identifier": _ident("journey", journey.id),
        "status": episode_status(journey.stage, pipeline),
        "statusHistory": _status_history(journey, pipeline),
        "type": [{"text": f"autologous {journey.cell_source.value} cell therapy"}],
        "diagnosis": [{"condition": _ref(_uid("condition", journey.id))}],
        "patient": patient_ref,
        "period": period,
    }


def _harvest(entry: RecordEntry, record: Harvest, patient_ref: dict[str, str]) -> dict[str, Any]:
    if record.source is CellSource.BONE_MARROW:
        code = _concept(SNOMED, "49401003", "Bone marrow aspiration")
    else:
        code = {"text": "Liposuction (adipose tissue harvest)"}
    return {
        "resourceType": "Procedure",
        "id": _uid("record", entry.journey_id, entry.version),
        "identifier": _ident("record", f"{entry.journey_id}/{entry.version}"),
        "status": "completed",
        "code": code,
        "subject": patient_ref,
        "performedDateTime": _time(record.harvested_at),
        "bodySite": [{"text": f"{record.body_site}, {record.side.value}"}],
    }


def _injection(
    entry: RecordEntry, record: Injection, patient_ref: dict[str, str], journey: Journey
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": _uid("record", entry.journey_id, entry.version),
        "identifier": _ident("record", f"{entry.journey_id}/{entry.version}"),
        "status": "completed",
        "code": {"text": f"{record.guidance.value}-guided injection of autologous cells"},
        "subject": patient_ref,
        "performedDateTime": _time(record.injected_at),
        "bodySite": [{"text": f"{record.site}, {record.side.value}"}],
    }
    product = _product_uid(journey, record.product_id)
    if product is not None:
        resource["usedReference"] = [_ref(product)]
    return resource


def _product_uid(journey: Journey, product_id: str) -> str | None:
    for entry in journey.current_records():
        if isinstance(entry.record, Processing) and entry.record.product_id == product_id:
            return _uid("product", journey.id, product_id)
    return None


def _quantity_ext(name: str, value: float | None, unit: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [{"url": f"{ID_SYSTEM}:fhir:{name}", "valueQuantity": {"value": value, "unit": unit}}]


def _product(
    journey: Journey, record: Processing, patient_ref: dict[str, str], released: bool
) -> dict[str, Any]:
    harvest = next(
        (
            e.record
            for e in reversed(list(journey.current_records()))
            if isinstance(e.record, Harvest) and e.record.harvested_at <= record.started_at
        ),
        None,
    )
    collection: dict[str, Any] = {"source": patient_ref}
    if harvest is not None:
        collection["collectedDateTime"] = _time(harvest.harvested_at)
    return {
        "resourceType": "BiologicallyDerivedProduct",
        "id": _uid("product", journey.id, record.product_id),
        "identifier": _ident("product", record.product_id),
        "productCategory": "cells",
        "status": "available" if released else "unavailable",
        "quantity": record.doses,
        "collection": collection,
        "processing": [
            {
                "description": record.method,
                "timePeriod": {"start": _time(record.started_at), "end": _time(record.finished_at)},
            }
        ],
        "manipulation": {
            "description": f"{record.manipulation.value.replace('_', ' ')} manipulation"
        },
        "extension": [
            *_quantity_ext("final-volume", record.final_volume_ml, "mL"),
            *_quantity_ext("tnc-per-ml", record.tnc_per_ml, "cells/mL"),
            *_quantity_ext("viability", record.viability_pct, "%"),
            *_quantity_ext("cd34-per-ml", record.cd34_per_ml, "cells/mL"),
        ],
    }


def _observation_code(instrument: str) -> tuple[dict[str, Any], str]:
    """The Observation code of ``instrument`` and its unit."""
    try:
        spec = get_instrument(instrument)
    except NotFoundError:
        return {"coding": [{"system": f"{ID_SYSTEM}:instrument", "code": instrument}]}, "score"
    if spec.loinc is not None:
        return _concept(LOINC, spec.loinc, spec.name), spec.unit
    if "pain" in instrument and not spec.higher_is_better and not spec.items:
        return _concept(LOINC, *_GENERIC_PAIN, spec.name), spec.unit
    coding = {"system": f"{ID_SYSTEM}:instrument", "code": instrument, "display": spec.name}
    return {"coding": [coding], "text": spec.name}, spec.unit


def _decimal(name: str, value: float | None) -> list[dict[str, Any]]:
    return [] if value is None else [{"url": name, "valueDecimal": value}]


def _outcome(point: SeriesPoint) -> dict[str, Any]:
    """The ``outcome`` extension of one score: its time point, change and responder status."""
    parts: list[dict[str, Any]] = [
        {"url": "timePoint", "valueCode": point.time_point},
        {"url": "baseline", "valueBoolean": point.time_point == BASELINE},
    ]
    moved = point.change
    if moved is not None:
        parts += _decimal("change", moved.delta)
        parts += _decimal("improvement", moved.points)
        parts += _decimal("improvementPercent", moved.percent)
    for result in point.responders:
        parts.append(
            {
                "url": "responder",
                "extension": [
                    {"url": "rule", "valueString": result.label},
                    {"url": "met", "valueBoolean": result.met},
                ],
            }
        )
    return {"url": OUTCOME_EXTENSION, "extension": parts}


def _observation(
    entry: RecordEntry,
    score: Score,
    patient_ref: dict[str, str],
    root: int,
    point: SeriesPoint,
) -> dict[str, Any]:
    code, unit = _observation_code(score.instrument)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _uid("record", entry.journey_id, root),
        "identifier": _ident("record", f"{entry.journey_id}/{root}"),
        "status": "final" if entry.amends is None else "corrected",
        "category": [_concept(f"{TERMINOLOGY}/observation-category", "survey", "Survey")],
        "code": code,
        "subject": patient_ref,
        "effectiveDateTime": _time(score.measured_at),
        "issued": _time(entry.recorded_at),
        "extension": [_outcome(point)],
    }
    if score.instrument == "nrs":
        resource["valueInteger"] = int(score.value)
    else:
        ucum = {"mm": "mm", "%": "%"}.get(unit, "{score}")
        resource["valueQuantity"] = {
            "value": score.value,
            "unit": unit,
            "system": UCUM,
            "code": ucum,
        }
    return resource


def _adverse_event(
    entry: RecordEntry, event: AdverseEvent, patient_ref: dict[str, str], journey: Journey
) -> dict[str, Any]:
    seriousness = "serious" if event.serious else "non-serious"
    severity = _SEVERITY.get(event.grade, "severe")
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": _uid("record", entry.journey_id, entry.version),
        "identifier": {"system": f"{ID_SYSTEM}:record", "value": f"{journey.id}/{entry.version}"},
        "actuality": "actual",
        "event": {"text": event.description or f"adverse event at {event.site}"},
        "subject": patient_ref,
        "date": _time(event.onset_at),
        "recordedDate": _time(entry.recorded_at),
        "seriousness": _concept(
            f"{TERMINOLOGY}/adverse-event-seriousness", seriousness, seriousness.capitalize()
        ),
        "severity": _concept(
            f"{TERMINOLOGY}/adverse-event-severity",
            severity,
            severity.capitalize(),
            f"CTCAE grade {event.grade}",
        ),
        "outcome": _concept(
            f"{TERMINOLOGY}/adverse-event-outcome",
            _OUTCOME[event.outcome],
            event.outcome.value.replace("_", " ").capitalize(),
        ),
        "extension": [{"url": f"{ID_SYSTEM}:fhir:ctcae-grade", "valueInteger": event.grade}],
    }
    suspect = _suspect(journey, event)
    if suspect is not None and event.relatedness in _CAUSALITY:
        code = _CAUSALITY[event.relatedness]
        assessment = _concept(f"{TERMINOLOGY}/adverse-event-causality-assess", code, code)
        resource["suspectEntity"] = [
            {"instance": _ref(suspect), "causality": [{"assessment": assessment}]}
        ]
    return resource


def _suspect(journey: Journey, event: AdverseEvent) -> str | None:
    """The product injected last before the event's onset, if any."""
    shots = [
        e.record
        for e in journey.current_records()
        if isinstance(e.record, Injection) and e.record.injected_at <= event.onset_at
    ]
    if not shots:
        return None
    return _product_uid(journey, max(shots, key=lambda s: s.injected_at).product_id)


def _roots(journey: Journey) -> dict[int, int]:
    """For each record entry's version, the version of the original it corrects (or its own)."""
    roots: dict[int, int] = {}
    for entry in journey.records:
        roots[entry.version] = (
            roots.get(entry.amends, entry.version) if entry.amends else entry.version
        )
    return roots


def _journey_resources(
    journey: Journey, patient_ref: dict[str, str], pipeline: Pipeline, protocol: Protocol
) -> Iterator[dict[str, Any]]:
    yield _condition(journey, patient_ref)
    yield _episode(journey, patient_ref, pipeline)
    roots = _roots(journey)
    points = points_by_version(journey, protocol=protocol)
    voided = episode_status(journey.stage, pipeline) == "entered-in-error"
    for entry in journey.current_records():
        record = entry.record
        resource: dict[str, Any]
        if isinstance(record, Harvest):
            resource = _harvest(entry, record, patient_ref)
        elif isinstance(record, Processing):
            released = not protocol.release.failures(record)
            resource = _product(journey, record, patient_ref, released and not voided)
        elif isinstance(record, Injection):
            resource = _injection(entry, record, patient_ref, journey)
        elif isinstance(record, Score):
            resource = _observation(
                entry, record, patient_ref, roots[entry.version], points[entry.version]
            )
        elif isinstance(record, AdverseEvent):
            resource = _adverse_event(entry, record, patient_ref, journey)
        else:
            continue
        if voided and resource["resourceType"] in ("Procedure", "Observation"):
            resource["status"] = "entered-in-error"
        yield resource


def fhir_resources(
    patient: Patient,
    journeys: Iterable[Journey],
    *,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Iterator[dict[str, Any]]:
    """The FHIR R4B resources of one patient and their journeys, Patient first.

    Journeys of another patient are refused with a :class:`ValidationError`.
    """
    resource = patient_resource(patient)
    yield resource
    ref = _ref(resource["id"])
    for journey in journeys:
        if journey.patient_id != patient.id:
            raise ValidationError(
                "journeys",
                f"journey {journey.id} belongs to patient {journey.patient_id}, not {patient.id}",
                "the journeys of the patient being exported",
            )
        yield from _journey_resources(journey, ref, pipeline, protocol)


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _bundle_head(timestamp: datetime | None, *key: object) -> dict[str, Any]:
    stamp = datetime.now(UTC) if timestamp is None else v.aware("timestamp", timestamp)
    return {
        "resourceType": "Bundle",
        "id": _uid("bundle", *key, stamp.isoformat()),
        "type": "collection",
        "timestamp": _time(stamp),
    }


def fhir_bundle(
    patient: Patient,
    journeys: Iterable[Journey],
    *,
    timestamp: datetime | None = None,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> dict[str, Any]:
    """One patient with their journeys as a FHIR R4B ``collection`` Bundle (a plain dict).

    ``timestamp`` (when the Bundle was assembled) defaults to now.

    >>> from datetime import UTC, datetime
    >>> from stemjourney import Engine, Patient
    >>> patient = Patient(id="p-1", external_id="MRN-1")
    >>> journey = Engine().open("j-1", patient_id="p-1", condition="osteoarthritis of knee",
    ...     site="knee", side="left", cell_source="bone_marrow", actor="dr.a",
    ...     occurred_at=datetime(2026, 1, 5, 9, tzinfo=UTC))
    >>> bundle = fhir_bundle(patient, [journey], timestamp=datetime(2026, 1, 6, tzinfo=UTC))
    >>> [e["resource"]["resourceType"] for e in bundle["entry"]]
    ['Patient', 'Condition', 'EpisodeOfCare']
    >>> bundle["entry"][2]["resource"]["status"]
    'planned'
    """
    bundle = _bundle_head(timestamp, "patient", patient.id)
    resources = fhir_resources(patient, journeys, pipeline=pipeline, protocol=protocol)
    bundle["entry"] = [_entry(r) for r in resources]
    return bundle


def write_fhir_bundle(
    source: ClinicSource,
    out: TextIO,
    *,
    patient_ids: Iterable[str] | None = None,
    timestamp: datetime | None = None,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    protocol: Protocol = DEFAULT_PROTOCOL,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write the whole store (or the patients in ``patient_ids``) to ``out`` as one Bundle.

    The Bundle is streamed: one patient's journeys are held at a time, and each
    resource is written as it is made. ``progress`` is called with the number of
    patients written so far after each one. Returns the number of resources written.
    """
    head = json.dumps(_bundle_head(timestamp, "store"), ensure_ascii=False)
    out.write(head[:-1] + ', "entry": [')
    count = 0
    pairs = patients_with_journeys(source, patient_ids)
    for done, (patient, journeys) in enumerate(pairs, start=1):
        for resource in fhir_resources(patient, journeys, pipeline=pipeline, protocol=protocol):
            out.write(",\n" if count else "\n")
            out.write(json.dumps(_entry(resource), ensure_ascii=False))
            count += 1
        if progress is not None:
            progress(done)
    out.write("\n]}\n")
    return count
