"""FHIR R4B resources from a journey's history facts: one builder, for values and for a store.

:class:`ResourceBuilder` turns a patient and the :class:`~stemjourney.journey._history.HistoryFacts`
of their journeys into plain JSON-able dicts. It reads records as the codec encodes them
(times as the store's UTC text, which FHIR accepts as it is), computes each identifier
once, and places each score on the schedule with :class:`~stemjourney.outcomes._points.ScorePoints`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

from stemjourney.clinical._codec import canonical_json
from stemjourney.clinical._instruments import INSTRUMENTS, Instrument
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import Processing
from stemjourney.export import _fhir_terms as t
from stemjourney.journey._history import HistoryFacts, MoveFacts, RecordFacts, record_text
from stemjourney.journey._pipeline import Pipeline
from stemjourney.outcomes._points import PointValues, ScorePoints

__all__ = [
    "CTCAE_EXTENSION",
    "ENTERED_IN_ERROR_EXTENSION",
    "ENTRY_EXTENSION",
    "EPISODE_STATUS",
    "JOURNEY_EXTENSION",
    "OUTCOME_EXTENSION",
    "ResourceBuilder",
    "episode_status",
    "fhir_time",
]

OUTCOME_EXTENSION = f"{t.STRUCTURE}/outcome"
"""The url of the extension holding a score Observation's outcome."""
ENTRY_EXTENSION = f"{t.STRUCTURE}/entry"
"""The url of the extension holding a record's entry in the journey's history."""
JOURNEY_EXTENSION = f"{t.STRUCTURE}/journey"
"""The url of the EpisodeOfCare extension holding the journey's identity and every move."""
CTCAE_EXTENSION = f"{t.STRUCTURE}/ctcae-grade"
"""The url of the extension holding an adverse event's CTCAE grade."""
ENTERED_IN_ERROR_EXTENSION = f"{t.STRUCTURE}/entered-in-error"
"""The url of the modifier extension marking a product of a voided journey."""

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
    "osteoarthritis of knee": "239873007",
    "osteoarthritis of hip": "239872002",
}
_SEVERITY = {1: "mild", 2: "moderate"}
_OUTCOME = {
    "recovered": "resolved",
    "recovering": "recovering",
    "not_recovered": "ongoing",
    "recovered_with_sequelae": "resolvedWithSequelae",
    "fatal": "fatal",
    "unknown": "unknown",
}
_CAUSALITY = {
    "unlikely": "Unlikely",
    "possible": "Possible",
    "probable": "Probably-Likely",
    "definite": "Certain",
}
_CONTACT = {"in_person": "AMB", "phone": "VR", "video": "VR"}
_UCUM = {"mm": "mm", "%": "%"}
_EIE = "entered-in-error"
_CATEGORY = f"{t.TERMINOLOGY}/observation-category"


def episode_status(stage: str, pipeline: Pipeline) -> str:
    """The EpisodeOfCare status of ``stage``; stages of a custom pipeline map by role."""
    if stage in EPISODE_STATUS:
        return EPISODE_STATUS[stage]
    if stage == pipeline.initial:
        return "planned"
    return "finished" if pipeline.is_outcome(stage) else "active"


def fhir_time(text: str) -> str:
    """A time as the store keeps it (UTC text, ``2026-01-05 09:00:00``) as a FHIR dateTime.

    >>> fhir_time("2026-01-05 09:00:00.000005")
    '2026-01-05T09:00:00.000005+00:00'
    """
    if len(text) > 10 and text[10] == "T":
        return text  # already ISO 8601 with its offset
    return f"{text[:10]}T{text[11:]}+00:00"


def _number(value: float) -> str:
    """A number as ``json.dumps`` writes it."""
    return float.__repr__(value) if isinstance(value, float) else int.__repr__(value)


def _ref(uid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{uid}"}


def _ident(kind: str, value: str) -> list[dict[str, str]]:
    return [{"system": f"{t.ID_SYSTEM}:{kind}", "value": value}]


def _optional(parts: list[dict[str, Any]], url: str, key: str, value: object) -> None:
    if value is not None:
        parts.append({"url": url, key: value})


def _entry_parts(rec: RecordFacts, record: bool = True) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [
        {"url": "version", "valueInteger": rec.version},
        {"url": "cycle", "valueInteger": rec.cycle},
        {"url": "stage", "valueCode": rec.stage},
        {"url": "stageSeq", "valueInteger": rec.stage_seq},
        {"url": "recorded", "valueInstant": fhir_time(rec.recorded_at)},
        {"url": "actor", "valueString": rec.actor},
    ]
    _optional(parts, "amends", "valueInteger", rec.amends)
    _optional(parts, "reason", "valueString", rec.reason)
    if record:
        parts.append({"url": "record", "valueString": record_text(rec)})
    return parts


def _move_parts(move: MoveFacts) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [
        {"url": "seq", "valueInteger": move.seq},
        {"url": "version", "valueInteger": move.version},
    ]
    _optional(parts, "source", "valueCode", move.source)
    parts += [
        {"url": "target", "valueCode": move.target},
        {"url": "cycle", "valueInteger": move.cycle},
        {"url": "occurred", "valueDateTime": fhir_time(move.occurred_at)},
        {"url": "recorded", "valueInstant": fhir_time(move.recorded_at)},
        {"url": "actor", "valueString": move.actor},
    ]
    _optional(parts, "reason", "valueString", move.reason)
    _optional(parts, "lateReason", "valueString", move.late_reason)
    _optional(parts, "overrideReason", "valueString", move.override_reason)
    if move.reason_record is not None:
        parts.append({"url": "reasonRecord", "valueString": canonical_json(move.reason_record)})
    return parts


def _outcome(point: PointValues) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "timePoint", "valueCode": point.time_point},
        {"url": "baseline", "valueBoolean": point.time_point == "baseline"},
    ]
    if point.delta is not None:
        parts.append({"url": "change", "valueDecimal": point.delta})
        parts.append({"url": "improvement", "valueDecimal": point.points})
        if point.percent is not None:
            parts.append({"url": "improvementPercent", "valueDecimal": point.percent})
    for label, met in point.responders:
        parts.append(
            {
                "url": "responder",
                "extension": [
                    {"url": "rule", "valueString": label},
                    {"url": "met", "valueBoolean": met},
                ],
            }
        )
    return {"url": OUTCOME_EXTENSION, "extension": parts}


def _quantity_ext(name: str, value: object, unit: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [{"url": f"{t.STRUCTURE}/{name}", "valueQuantity": {"value": value, "unit": unit}}]


def observation_code(instrument: str) -> tuple[dict[str, Any], str]:
    """The Observation code of a score on ``instrument`` and its unit.

    LOINC's own code and name where the instrument has one (a registered pain scale
    without one gets LOINC's generic pain severity), then the instrument in
    stemjourney's ``instrument`` code system. An instrument not registered here is
    named in ``text`` only: no code system would define it.
    """
    spec = INSTRUMENTS.get(instrument)
    if spec is None:
        return {"text": instrument}, "score"
    codings = []
    loinc = spec.loinc
    if loinc is None and "pain" in instrument and not spec.higher_is_better and not spec.items:
        loinc = t.GENERIC_PAIN
    if loinc is not None:
        codings.append(t.coding(t.LOINC, loinc))
    codings.append(
        {"system": f"{t.CODE_SYSTEM}/instrument", "code": instrument, "display": spec.name}
    )
    return {"coding": codings, "text": spec.name}, spec.unit


_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_quote = json.encoder.encode_basestring
_RECORD, _RESPONSE, _CONDITION = 1, 2, 3
_RECORD_SYSTEM = f"{t.ID_SYSTEM}:record"
_MEMO = 4096


class _Product:
    """A processing record's encoding read as the release criteria read a Processing."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.__dict__.update(data)
        self.tnc_total = data["tnc_per_ml"] * data["final_volume_ml"]


class _Journey:
    """What one journey's resources share: its ids, its records in force, its lookups."""

    def __init__(self, facts: HistoryFacts, voided: bool) -> None:
        self.facts = facts
        self.voided = voided
        jid = facts.journey_id
        self.prefix = f"record/{jid}/"
        records = facts.records
        amended = {r.amends for r in records if r.amends is not None}
        root: dict[int, int] = {}
        self.chains: dict[int, list[RecordFacts]] = {}
        for r in records:
            top = root.get(r.amends, r.version) if r.amends is not None else r.version
            root[r.version] = top
            self.chains.setdefault(top, []).append(r)
        self.root = root
        self.in_force = [r for r in records if r.version not in amended]
        # every id of the journey is its EpisodeOfCare's UUID with the last 48 bits
        # (hash bits of the UUID's node field) marked by kind and version: one hash each
        self.id = t.uid(f"journey/{jid}")
        self._head = self.id[:24]
        self._node = int(self.id[24:], 16)
        self._ids: dict[int, str] = {}

    def derived(self, kind: int, number: int) -> str:
        """The id of the ``kind``'s resource ``number`` of this journey."""
        return f"{self._head}{self._node ^ (kind << 44) ^ number:012x}"

    def rid(self, root: int) -> str:
        found = self._ids.get(root)
        if found is None:
            found = self._ids[root] = self.derived(_RECORD, root)
        return found

    def last(self, kind: str, before: str | None = None, key: str = "") -> RecordFacts | None:
        """The latest record of ``kind`` in force (by ``key`` time, at or before ``before``)."""
        found = None
        for r in self.in_force:
            if r.kind != kind:
                continue
            if before is not None and r.data[key] > before:
                continue
            if found is None or not key or r.data[key] >= found.data[key]:
                found = r
        return found


class ResourceBuilder:
    """Builds the resources of patients and their journeys under one pipeline and protocol.

    ``questionnaires`` collects the questionnaire codes the responses it made refer to,
    so a Bundle can carry those Questionnaires too.
    """

    def __init__(self, pipeline: Pipeline, protocol: Protocol) -> None:
        self.pipeline = pipeline
        self.protocol = protocol
        self.points = ScorePoints(protocol)
        self.questionnaires: set[str] = set()
        # Values that repeat, built once per builder: the resources of one export share
        # them (as they share their subject), so copy a resource before changing it.
        self._outcomes: dict[PointValues, dict[str, Any]] = {}
        self._outcome_texts: dict[PointValues, str] = {}
        self._fixed_texts: dict[tuple[str, str], tuple[str, str, str, Instrument | None]] = {}
        self._codes: dict[str, tuple[dict[str, Any], str, Instrument | None]] = {}
        self._survey = [t.concept(_CATEGORY, "survey")]
        self._seriousness = {
            code: t.concept(f"{t.TERMINOLOGY}/adverse-event-seriousness", code)
            for code in ("serious", "non-serious")
        }
        self._ae_outcomes = {
            ours: t.concept(f"{t.TERMINOLOGY}/adverse-event-outcome", theirs)
            for ours, theirs in _OUTCOME.items()
        }

    def _observation_code(
        self, instrument: str, spec: Instrument | None
    ) -> tuple[dict[str, Any], str]:
        found = self._codes.get(instrument)
        if found is None or found[2] is not spec:
            code, unit = observation_code(instrument)
            found = self._codes[instrument] = (code, unit, spec)
        return found[0], found[1]

    def _outcome(self, point: PointValues) -> dict[str, Any]:
        """The outcome extension of ``point``, shared by the scores with the same outcome."""
        found = self._outcomes.get(point)
        if found is None:
            if len(self._outcomes) >= _MEMO:
                self._outcomes.clear()
            found = self._outcomes[point] = _outcome(point)
        return found

    # -- patient, condition, episode -------------------------------------------------------

    def patient(self, patient: Patient) -> dict[str, Any]:
        """The FHIR Patient of ``patient``: name and birth date only when present."""
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": t.uid(f"patient/{patient.id}"),
            "identifier": [
                *_ident("external-id", patient.external_id),
                *_ident("patient", patient.id),
            ],
        }
        if patient.display_name is not None:
            resource["name"] = [{"text": patient.display_name}]
        if patient.birth_date is not None:
            resource["birthDate"] = patient.birth_date.isoformat()
        return resource

    def journey(
        self, facts: HistoryFacts, subject: dict[str, str], *, text: bool = False
    ) -> Iterator[dict[str, Any] | tuple[str, str]]:
        """The resources of one journey, Condition and EpisodeOfCare first.

        With ``text``, a plain score's Observation comes as (id, its JSON) instead of a
        dict: the same resource, written without building it (the export's commonest).
        """
        status = episode_status(facts.moves[-1].target, self.pipeline)
        j = _Journey(facts, status == _EIE)
        condition_id = j.derived(_CONDITION, 0)
        yield self._condition(j, condition_id, subject)
        yield self._episode(j, status, condition_id, subject)
        points = self._points(j)
        for rec in j.in_force:
            kind = rec.kind
            if kind == "score":
                yield from self._score(j, rec, subject, points[rec.version], text)
                continue
            if kind == "harvest":
                resource = self._harvest(j, rec.data, subject)
            elif kind == "processing":
                resource = self._product(j, rec, subject)
            elif kind == "injection":
                resource = self._injection(j, rec.data, subject)
            elif kind == "adverse_event":
                resource = self._adverse_event(j, rec.data, subject)
            elif kind == "eligibility":
                resource = self._eligibility(j, rec.data, subject)
            elif kind == "consent":
                resource = self._consent(j, rec.data, subject)
            else:
                resource = self._visit(j, rec.data, subject)
            yield self._entry(j, rec, resource)

    def _entry(
        self, j: _Journey, rec: RecordFacts, resource: dict[str, Any], record: bool = True
    ) -> dict[str, Any]:
        top = j.root[rec.version]
        parts = [{"url": "journey", "valueString": j.facts.journey_id}, *_entry_parts(rec, record)]
        for earlier in j.chains[top][:-1]:
            parts.append({"url": "previous", "extension": _entry_parts(earlier)})
        kind = resource.pop("resourceType")
        mine = {"system": _RECORD_SYSTEM, "value": f"{j.facts.journey_id}/{top}"}
        # R4B's AdverseEvent has one identifier; every other type a list
        ident = mine if kind == "AdverseEvent" else [mine, *resource.pop("identifier", ())]
        extension = [{"url": ENTRY_EXTENSION, "extension": parts}, *resource.pop("extension", ())]
        return {
            "resourceType": kind,
            "id": j.rid(top),
            "identifier": ident,
            "extension": extension,
            **resource,
        }

    def _condition(self, j: _Journey, uid: str, subject: dict[str, str]) -> dict[str, Any]:
        facts = j.facts
        known = _CONDITION_CODES.get(facts.condition.casefold())
        code = t.concept(t.SNOMED, known, facts.condition) if known else {"text": facts.condition}
        resource: dict[str, Any] = {"resourceType": "Condition", "id": uid}
        if j.voided:
            resource["verificationStatus"] = t.concept(
                f"{t.TERMINOLOGY}/condition-ver-status", _EIE
            )
        resource["code"] = code
        resource["bodySite"] = [{"text": f"{facts.site}, {facts.side}"}]
        resource["subject"] = subject
        return resource

    def _episode(
        self, j: _Journey, status: str, condition: str, subject: dict[str, str]
    ) -> dict[str, Any]:
        facts = j.facts
        moves = facts.moves
        history: list[dict[str, Any]] = []
        for move in moves:
            state = episode_status(move.target, self.pipeline)
            if history and history[-1]["status"] == state:
                continue
            if history:
                history[-1]["period"]["end"] = fhir_time(move.occurred_at)
            history.append({"status": state, "period": {"start": fhir_time(move.occurred_at)}})
        period = {"start": fhir_time(moves[0].occurred_at)}
        if self.pipeline.is_outcome(moves[-1].target):
            period["end"] = fhir_time(moves[-1].occurred_at)
        identity: list[dict[str, Any]] = [
            {"url": "condition", "valueString": facts.condition},
            {"url": "site", "valueString": facts.site},
            {"url": "side", "valueCode": facts.side},
            {"url": "cellSource", "valueCode": facts.cell_source},
        ]
        identity += [{"url": "move", "extension": _move_parts(m)} for m in moves]
        return {
            "resourceType": "EpisodeOfCare",
            "id": j.id,
            "extension": [{"url": JOURNEY_EXTENSION, "extension": identity}],
            "identifier": _ident("journey", facts.journey_id),
            "status": status,
            "statusHistory": history,
            "type": [{"text": f"autologous {facts.cell_source} cell therapy"}],
            "diagnosis": [{"condition": _ref(condition)}],
            "patient": subject,
            "period": period,
        }

    # -- records ---------------------------------------------------------------------------

    def _done(self, j: _Journey, ok: str) -> str:
        return _EIE if j.voided else ok

    def _harvest(
        self, j: _Journey, data: Mapping[str, Any], subject: dict[str, str]
    ) -> dict[str, Any]:
        if data["source"] == "bone_marrow":
            code = t.concept(t.SNOMED, "49401003")
        else:
            code = {"text": "Liposuction (adipose tissue harvest)"}
        return {
            "resourceType": "Procedure",
            "status": self._done(j, "completed"),
            "code": code,
            "subject": subject,
            "performedDateTime": fhir_time(data["harvested_at"]),
            "bodySite": [{"text": f"{data['body_site']}, {data['side']}"}],
        }

    def _injection(
        self, j: _Journey, data: Mapping[str, Any], subject: dict[str, str]
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Procedure",
            "status": self._done(j, "completed"),
            "code": {"text": f"{data['guidance']}-guided injection of autologous cells"},
            "subject": subject,
            "performedDateTime": fhir_time(data["injected_at"]),
            "bodySite": [{"text": f"{data['site']}, {data['side']}"}],
        }
        product = self._product_of(j, data["product_id"])
        if product is not None:
            resource["extension"] = [
                {
                    "url": t.XVER_PROCEDURE_USED,
                    "valueCodeableReference": {"reference": _ref(product)},
                }
            ]
        return resource

    def _product_of(self, j: _Journey, product_id: str) -> str | None:
        found = None
        for r in j.in_force:
            if r.kind == "processing" and r.data["product_id"] == product_id:
                found = r
        return None if found is None else j.rid(j.root[found.version])

    def _product(self, j: _Journey, rec: RecordFacts, subject: dict[str, str]) -> dict[str, Any]:
        data = rec.data
        product = cast(Processing, _Product(data))
        released = not j.voided and not self.protocol.release.failures(product)
        harvest = j.last("harvest", data["started_at"], "harvested_at")
        collection: dict[str, Any] = {"source": subject}
        if harvest is not None:
            collection["collectedDateTime"] = fhir_time(harvest.data["harvested_at"])
        resource: dict[str, Any] = {
            "resourceType": "BiologicallyDerivedProduct",
            "extension": [
                *_quantity_ext("final-volume", data["final_volume_ml"], "mL"),
                *_quantity_ext("tnc-per-ml", data["tnc_per_ml"], "cells/mL"),
                *_quantity_ext("viability", data["viability_pct"], "%"),
                *_quantity_ext("cd34-per-ml", data["cd34_per_ml"], "cells/mL"),
            ],
        }
        if j.voided:
            resource["modifierExtension"] = [
                {"url": ENTERED_IN_ERROR_EXTENSION, "valueBoolean": True}
            ]
        resource.update(
            {
                "productCategory": "cells",
                "status": "available" if released else "unavailable",
                "quantity": data["doses"],
                "collection": collection,
                "processing": [
                    {
                        "description": data["method"],
                        "timePeriod": {
                            "start": fhir_time(data["started_at"]),
                            "end": fhir_time(data["finished_at"]),
                        },
                    }
                ],
                "manipulation": {
                    "description": f"{data['manipulation'].replace('_', ' ')} manipulation"
                },
            }
        )
        resource["identifier"] = _ident("product", data["product_id"])
        return resource

    def _adverse_event(
        self, j: _Journey, data: Mapping[str, Any], subject: dict[str, str]
    ) -> dict[str, Any]:
        seriousness = "serious" if data["serious"] else "non-serious"
        severity = _SEVERITY.get(data["grade"], "severe")
        resource: dict[str, Any] = {
            "resourceType": "AdverseEvent",
            "extension": [{"url": CTCAE_EXTENSION, "valueInteger": data["grade"]}],
        }
        if j.voided:
            resource["modifierExtension"] = [
                {"url": t.XVER_ADVERSE_EVENT_STATUS, "valueCode": _EIE}
            ]
        resource.update(
            {
                "actuality": "actual",
                "event": {"text": data["description"] or f"adverse event at {data['site']}"},
                "subject": subject,
                "date": fhir_time(data["onset_at"]),
                "seriousness": self._seriousness[seriousness],
                "severity": t.concept(
                    f"{t.TERMINOLOGY}/adverse-event-severity",
                    severity,
                    f"CTCAE grade {data['grade']}",
                ),
                "outcome": self._ae_outcomes[data["outcome"]],
            }
        )
        code = _CAUSALITY.get(data["relatedness"])
        shot = j.last("injection", data["onset_at"], "injected_at")
        if shot is not None and code is not None:
            assessment = t.concept(f"{t.TERMINOLOGY}/adverse-event-causality-assess", code)
            resource["suspectEntity"] = [
                {
                    "instance": _ref(j.rid(j.root[shot.version])),
                    "causality": [{"assessment": assessment}],
                }
            ]
        return resource

    def _eligibility(
        self, j: _Journey, data: Mapping[str, Any], subject: dict[str, str]
    ) -> dict[str, Any]:
        found = data["contraindications"]
        resource: dict[str, Any] = {
            "resourceType": "ClinicalImpression",
            "status": self._done(j, "completed"),
            "code": t.concept(f"{t.CODE_SYSTEM}/concept", "eligibility-assessment"),
            "subject": subject,
            "effectiveDateTime": fhir_time(data["assessed_at"]),
        }
        if data["assessor"] is not None:
            resource["assessor"] = {"display": data["assessor"]}
        resource["summary"] = (
            "no contraindication found" if not found else "contraindications found"
        )
        if found:
            resource["finding"] = [
                {
                    "itemCodeableConcept": t.concept(f"{t.CODE_SYSTEM}/concept", code)
                    if code in t.CONCEPTS
                    else {"text": code}
                }
                for code in found
            ]
        return resource

    def _consent(
        self, j: _Journey, data: Mapping[str, Any], subject: dict[str, str]
    ) -> dict[str, Any]:
        return {
            "resourceType": "Consent",
            "status": self._done(j, "active"),
            "scope": t.concept(f"{t.TERMINOLOGY}/consentscope", "treatment"),
            "category": [{"text": f"consent to {data['scope'].replace('_', ' ')}"}],
            "patient": subject,
            "dateTime": fhir_time(data["signed_at"]),
            "policyRule": {"text": f"consent form {data['form_version']}"},
        }

    def _visit(
        self, j: _Journey, data: Mapping[str, Any], subject: dict[str, str]
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "status": self._done(j, "finished"),
            "class": t.coding(f"{t.TERMINOLOGY}/v3-ActCode", _CONTACT[data["contact"]]),
            "type": [{"text": f"follow-up visit ({data['contact'].replace('_', ' ')})"}],
            "subject": subject,
            "period": {"start": fhir_time(data["visited_at"])},
        }
        if data["time_point"] is not None:
            resource["reasonCode"] = [{"text": f"follow-up time point {data['time_point']}"}]
        return resource

    # -- scores ----------------------------------------------------------------------------

    def _points(self, j: _Journey) -> dict[int, PointValues]:
        injections = [(r.cycle, r.data["injected_at"]) for r in j.in_force if r.kind == "injection"]
        scores = [
            (r.version, r.data["instrument"], r.data["measured_at"], r.data["value"])
            for r in j.in_force
            if r.kind == "score"
        ]
        return self.points.of(injections, scores) if scores else {}

    def _score(
        self,
        j: _Journey,
        rec: RecordFacts,
        subject: dict[str, str],
        point: PointValues,
        text: bool = False,
    ) -> Iterator[dict[str, Any] | tuple[str, str]]:
        data = rec.data
        instrument = data["instrument"]
        top = j.root[rec.version]
        amended = len(j.chains[top]) > 1
        spec = INSTRUMENTS.get(instrument)
        if text and not amended and (data["answers"] is None or (spec is not None and spec.items)):
            yield from self._score_text(j, rec, subject, point, spec)
            return
        code, unit = self._observation_code(instrument, spec)
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "extension": [self._outcome(point)],
            "status": _EIE if j.voided else "corrected" if amended else "final",
            "category": self._survey,
            "code": code,
            "subject": subject,
            "effectiveDateTime": fhir_time(data["measured_at"]),
            "issued": fhir_time(rec.recorded_at),
        }
        if instrument == "nrs":
            resource["valueInteger"] = int(data["value"])
        else:
            resource["valueQuantity"] = {
                "value": data["value"],
                "unit": unit,
                "system": t.UCUM,
                "code": _UCUM.get(unit, "{score}"),
            }
        answers = data["answers"]
        if answers is not None and spec is not None and spec.items:
            response = self._response(j, top, data, spec.items, subject, amended)
            resource["derivedFrom"] = [_ref(response["id"])]
            yield response
            answers = None
        # the score is read back from the Observation (and its response): the record's
        # JSON travels only for answers no response can hold (an unregistered instrument)
        yield self._entry(j, rec, resource, record=answers is not None)

    def _score_text(
        self,
        j: _Journey,
        rec: RecordFacts,
        subject: dict[str, str],
        point: PointValues,
        spec: Instrument | None,
    ) -> Iterator[dict[str, Any] | tuple[str, str]]:
        """The Observation :meth:`_score` builds for a score not amended, as its JSON."""
        data = rec.data
        instrument = data["instrument"]
        jid = j.facts.journey_id
        top = rec.version
        fixed = self._fixed(instrument, spec, subject)
        derived = ""
        if data["answers"] is not None and spec is not None:
            response = self._response(j, top, data, spec.items, subject, False)
            derived = f', "derivedFrom": [{{"reference": "urn:uuid:{response["id"]}"}}]'
            yield response
        if instrument == "nrs":
            value = f'"valueInteger": {int(data["value"])}'
        else:
            value = f'"valueQuantity": {{"value": {_number(data["value"])}, {fixed[2]}}}'
        optional = ""
        if rec.reason is not None:
            optional = f', {{"url": "reason", "valueString": {_quote(rec.reason)}}}'
        rid = j.rid(top)
        status = _EIE if j.voided else "final"
        recorded = fhir_time(rec.recorded_at)
        yield (
            rid,
            f'{{"resourceType": "Observation", "id": "{rid}", "identifier": [{{"system": '
            f'"{_RECORD_SYSTEM}", "value": {_quote(f"{jid}/{top}")}}}], "extension": [{{'
            f'"url": "{ENTRY_EXTENSION}", "extension": [{{"url": "journey", "valueString": '
            f'{_quote(jid)}}}, {{"url": "version", "valueInteger": {rec.version}}}, {{"url": '
            f'"cycle", "valueInteger": {rec.cycle}}}, {{"url": "stage", "valueCode": '
            f'{_quote(rec.stage)}}}, {{"url": "stageSeq", "valueInteger": {rec.stage_seq}}}, '
            f'{{"url": "recorded", "valueInstant": "{recorded}"}}, {{"url": "actor", '
            f'"valueString": {_quote(rec.actor)}}}{optional}]}}, {self._outcome_text(point)}], '
            f'"status": "{status}", {fixed[0]}, "subject": {fixed[1]}, "effectiveDateTime": '
            f'"{fhir_time(data["measured_at"])}", "issued": "{recorded}", {value}{derived}}}',
        )

    def _fixed(
        self, instrument: str, spec: Instrument | None, subject: dict[str, str]
    ) -> tuple[str, str, str]:
        """The JSON of what a score Observation shares: category and code, subject, unit."""
        key = (instrument, subject["reference"])
        found = self._fixed_texts.get(key)
        if found is None or found[3] is not spec:
            code, unit = self._observation_code(instrument, spec)
            encode = _ENCODE
            head = f'"category": {encode(self._survey)}, "code": {encode(code)}'
            quantity = (
                f'"unit": {_quote(unit)}, "system": "{t.UCUM}", '
                f'"code": {_quote(_UCUM.get(unit, "{score}"))}'
            )
            if len(self._fixed_texts) >= _MEMO:
                self._fixed_texts.clear()
            found = self._fixed_texts[key] = (head, encode(subject), quantity, spec)
        return found[0], found[1], found[2]

    def _outcome_text(self, point: PointValues) -> str:
        found = self._outcome_texts.get(point)
        if found is None:
            if len(self._outcome_texts) >= _MEMO:
                self._outcome_texts.clear()
            found = self._outcome_texts[point] = _ENCODE(self._outcome(point))
        return found

    def _response(
        self,
        j: _Journey,
        top: int,
        data: Mapping[str, Any],
        items: Any,
        subject: dict[str, str],
        amended: bool,
    ) -> dict[str, Any]:
        instrument = data["instrument"]
        code = t.questionnaire_code(instrument)
        self.questionnaires.add(code)
        answered = []
        for item, answer in zip(items, data["answers"], strict=True):
            if answer is None:
                continue
            value = {"valueInteger": int(answer)} if item.integer else {"valueDecimal": answer}
            answered.append({"linkId": item.code, "answer": [value]})
        if code != instrument:
            answered = [{"linkId": instrument, "item": answered}]
        return {
            "resourceType": "QuestionnaireResponse",
            "id": j.derived(_RESPONSE, top),
            "identifier": {
                "system": f"{t.ID_SYSTEM}:record",
                "value": f"{j.facts.journey_id}/{top}",
            },
            "questionnaire": f"{t.QUESTIONNAIRE}/{code}",
            "status": _EIE if j.voided else "amended" if amended else "completed",
            "subject": subject,
            "authored": fhir_time(data["measured_at"]),
            "item": answered,
        }
