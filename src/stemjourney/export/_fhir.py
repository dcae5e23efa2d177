"""FHIR R4B export: patients and their journeys as a Bundle of plain JSON-able dicts.

No FHIR library is needed at run time. Resources and how they are filled (the docs page
"How to exchange FHIR" says why, with every URL):

- ``Patient``: identifiers = the clinic's external id and the stemjourney patient id;
  ``name`` and ``birthDate`` only when the patient has them.
- ``Condition``: the journey's condition and treated site (SNOMED CT where known).
- ``EpisodeOfCare``: one per journey, with ``status`` and ``statusHistory`` mapped
  from the stage history by :data:`EPISODE_STATUS` (consultation -> ``planned``;
  harvest to follow-up -> ``active``; completed -> ``finished``; ineligible and
  withdrawn -> ``cancelled``; voided -> ``entered-in-error``); every move whole (seq,
  cycle, times, actor, reasons) in the ``journey`` extension.
- ``Procedure``: each harvest (bone marrow aspiration is SNOMED CT 49401003) and each
  injection; the injected product is linked with HL7's cross-version extension for
  R5's ``Procedure.used`` (R4B's ``usedReference`` allows no product).
- ``BiologicallyDerivedProduct``: each processed cell product.
- ``Observation``: each eligibility assessment, and each score in force (LOINC where
  LOINC has the instrument, with LOINC's own name; status ``corrected`` when amended)
  with its outcome extension; a questionnaire score is derived from a
  ``QuestionnaireResponse`` holding the item answers, to a ``Questionnaire`` of ours
  that travels in the Bundle.
- ``Consent``, ``Encounter`` (follow-up visits) and ``AdverseEvent`` (the injection
  Procedure as suspect entity).

Every resource of a record carries the record's entry in the journey's history (the
``entry`` extension), so :func:`~stemjourney.export.read_fhir_bundle` can read the
journeys back whole. A voided journey's resources are all marked entered-in-error.
Resource ids are UUIDs derived from stemjourney ids, so an export is repeatable and
references (``urn:uuid:...``) resolve inside the Bundle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from stemjourney.clinical import _validation as v
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.exceptions import ValidationError
from stemjourney.export import _fhir_resources as r
from stemjourney.export._fhir_definitions import questionnaire
from stemjourney.export._fhir_terms import FHIR_BASE, ID_SYSTEM, uid
from stemjourney.journey._history import history_facts
from stemjourney.journey._journey import Journey
from stemjourney.journey._pipeline import Pipeline
from stemjourney.journey._sources import ClinicSource, histories
from stemjourney.journey._table import DEFAULT_PIPELINE

__all__ = [
    "EPISODE_STATUS",
    "FHIR_BASE",
    "ID_SYSTEM",
    "OUTCOME_EXTENSION",
    "episode_status",
    "fhir_bundle",
    "fhir_resources",
    "patient_resource",
    "write_fhir_bundle",
]

EPISODE_STATUS = r.EPISODE_STATUS
OUTCOME_EXTENSION = r.OUTCOME_EXTENSION
"""The url of the extension holding a score Observation's outcome."""

_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)


def episode_status(stage: str, pipeline: Pipeline = DEFAULT_PIPELINE) -> str:
    """The EpisodeOfCare status of ``stage``; stages of a custom pipeline map by role.

    >>> episode_status("recovery"), episode_status("voided")
    ('active', 'entered-in-error')
    """
    return r.episode_status(stage, pipeline)


def patient_resource(patient: Patient) -> dict[str, Any]:
    """The FHIR Patient of ``patient``: name and birth date only when present."""
    return r.ResourceBuilder(DEFAULT_PIPELINE, DEFAULT_PROTOCOL).patient(patient)


def _resources(
    builder: r.ResourceBuilder,
    patient: Patient,
    journeys: Iterable[Any],
    *,
    facts: bool,
    text: bool = False,
) -> Iterator[Any]:
    resource = builder.patient(patient)
    yield resource
    subject = {"reference": f"urn:uuid:{resource['id']}"}
    for journey in journeys:
        found = journey if facts else history_facts(journey)
        if found.patient_id != patient.id:
            raise ValidationError(
                "journeys",
                f"journey {found.journey_id} belongs to patient {found.patient_id}, "
                f"not {patient.id}",
                "the journeys of the patient being exported",
            )
        yield from builder.journey(found, subject, text=text)


def fhir_resources(
    patient: Patient,
    journeys: Iterable[Journey],
    *,
    pipeline: Pipeline = DEFAULT_PIPELINE,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Iterator[dict[str, Any]]:
    """The FHIR R4B resources of one patient and their journeys, Patient first.

    Journeys of another patient are refused with a :class:`ValidationError`. The
    Questionnaires the responses refer to are not among them (a Bundle carries them).
    The resources of one call share nested values that repeat (the subject reference,
    codes): copy a resource before changing it.
    """
    builder = r.ResourceBuilder(pipeline, protocol)
    return _resources(builder, patient, journeys, facts=False)


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _bundle_head(timestamp: datetime | None, *key: object) -> dict[str, Any]:
    stamp = datetime.now(UTC) if timestamp is None else v.aware("timestamp", timestamp)
    return {
        "resourceType": "Bundle",
        "id": uid("/".join(str(k) for k in ("bundle", *key, stamp.isoformat()))),
        "type": "collection",
        "timestamp": stamp.astimezone(UTC).isoformat(),
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

    ``timestamp`` (when the Bundle was assembled) defaults to now. The Bundle ends
    with the Questionnaire of each questionnaire the patient answered.

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
    builder = r.ResourceBuilder(pipeline, protocol)
    entries = [_entry(x) for x in _resources(builder, patient, journeys, facts=False)]
    entries += [_entry(questionnaire(code)) for code in sorted(builder.questionnaires)]
    bundle["entry"] = entries
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

    The Bundle is streamed: a store gives its patients with their journeys' history
    in one ordered pass (``Store.iter_histories()``), a batch at a time, and each
    resource is written as it is made; the Questionnaires answered come last.
    ``progress`` is called with the number of patients written so far after each
    one. Returns the number of resources written.
    """
    head = _ENCODER.encode(_bundle_head(timestamp, "store"))
    write = out.write
    write(head[:-1] + ', "entry": [')
    encode = _ENCODER.encode
    builder = r.ResourceBuilder(pipeline, protocol)
    count = 0
    for done, (patient, facts) in enumerate(histories(source, patient_ids), start=1):
        for item in _resources(builder, patient, facts, facts=True, text=True):
            # the entry as json.dumps writes it, without building its dict
            if isinstance(item, tuple):
                uid_, body = item
            else:
                uid_, body = item["id"], encode(item)
            lead = ",\n" if count else "\n"
            write(f'{lead}{{"fullUrl": "urn:uuid:{uid_}", "resource": {body}}}')
            count += 1
        if progress is not None:
            progress(done)
    for code in sorted(builder.questionnaires):
        write(",\n" if count else "\n")
        write(encode(_entry(questionnaire(code))))
        count += 1
    write("\n]}\n")
    return count
