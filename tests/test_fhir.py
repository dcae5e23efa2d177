"""The FHIR R4B export: structure checked by fhir.resources; references, their target types,
codes and displays by the check of ``_fhir_check`` (what the HL7 validator would refuse)."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

import stemjourney as sj
from _fhir_check import REQUIRED, check
from stemjourney.demo import DemoClinic, demo_clinic
from stemjourney.demo._build import build_demo_clinic
from stemjourney.exceptions import ValidationError
from stemjourney.export import (
    EPISODE_STATUS,
    episode_status,
    fhir_bundle,
    fhir_resources,
    write_fhir_bundle,
)
from stemjourney.export import _fhir_resources as _res
from stemjourney.export._fhir_resources import observation_code
from stemjourney.outcomes import Instrument, get_instrument
from stemjourney.store import open_store

TODAY = date(2026, 11, 23)
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
SD = "https://stemjourney.org/fhir/StructureDefinition"
USED = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Procedure.used"
AE_STATUS = "http://hl7.org/fhir/5.0/StructureDefinition/extension-AdverseEvent.status"


def _codes(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c["system"] == system]


def validate(resource: dict[str, Any]) -> None:
    """Validate ``resource`` with its fhir.resources R4B model, its codes and references."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}],
    }
    errors = [e for e in check(bundle).errors if "does not resolve inside" not in e]
    assert errors == []


def check_bundle(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate a whole Bundle: structure, references and their types, codes; return them."""
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    result = check(bundle)
    assert result.errors == []
    return [e["resource"] for e in bundle["entry"]]


def extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    [found] = [x for x in resource.get("extension", []) if x["url"] == url]
    return found


def entry_of(resource: dict[str, Any]) -> dict[str, Any]:
    """The entry extension of a record's resource, as {url: value or [parts]}."""
    parts: dict[str, Any] = {}
    for part in extension(resource, f"{SD}/entry")["extension"]:
        value = next((v for k, v in part.items() if k.startswith("value")), part)
        parts.setdefault(part["url"], []).append(value)
    return {k: v[0] if k != "previous" else v for k, v in parts.items()}


def by_type(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]


@pytest.fixture(scope="module")
def clinic() -> Any:
    return demo_clinic(seed=11, patients=40, today=TODAY)


class _Clock:
    def __init__(self) -> None:
        self.at = T0 + timedelta(days=400)

    def now(self) -> datetime:
        return self.at


def _treated_journey(
    engine: sj.Engine, clock: _Clock, jid: str = "j-1", pid: str = "p-1"
) -> sj.Journey:
    """A knee journey through one cycle, with an amended score and two adverse events."""
    day = timedelta(days=1)
    clock.at = T0 + day * 400
    j = engine.open(jid, patient_id=pid, condition="osteoarthritis of knee", site="knee",
                    side="left", cell_source="bone_marrow", actor="dr", occurred_at=T0)  # fmt: skip
    j, first = engine.record(j, sj.nrs(7, T0), actor="rn.b")
    j, _ = engine.record(j, sj.vas(68.5, T0), actor="rn.b")
    j, _ = engine.record(j, sj.nrs(6, T0), actor="rn.b", amends=first.version, reason="typo")
    j, _ = engine.record(j, sj.EligibilityAssessment(assessed_at=T0), actor="dr.a")
    j, _ = engine.record(j, sj.Consent(signed_at=T0, form_version="v1"), actor="dr.a")
    t = T0 + 7 * day
    j, _ = engine.move(j, "harvest", actor="dr.a", occurred_at=t)
    harvest = sj.Harvest(harvested_at=t, source="bone_marrow", body_site="posterior iliac crest",
                         side="right", volume_ml=60)  # fmt: skip
    j, _ = engine.record(j, harvest, actor="dr.a")
    j, _ = engine.move(j, "processing", actor="lab", occurred_at=t + timedelta(hours=1))
    product = sj.Processing(product_id="bmac-1", started_at=t + timedelta(hours=1),
                            finished_at=t + timedelta(hours=2), method="centrifugation",
                            manipulation="minimal", final_volume_ml=6, tnc_per_ml=2.5e7,
                            viability_pct=91, released=True, cd34_per_ml=5e4)  # fmt: skip
    j, _ = engine.record(j, product, actor="lab")
    j, _ = engine.move(j, "injection", actor="dr.a", occurred_at=t + timedelta(hours=3))
    shot = sj.Injection(injected_at=t + timedelta(hours=3), site="knee", side="left",
                        guidance="ultrasound", volume_ml=6, product_id="bmac-1")  # fmt: skip
    j, _ = engine.record(j, shot, actor="dr.a")
    j, _ = engine.move(j, "recovery", actor="dr.a", occurred_at=t + timedelta(hours=4))
    for grade, related, outcome in ((1, "probable", "recovered"), (4, "unrelated", "unknown")):
        event = sj.AdverseEvent(
            onset_at=t + day,
            site="knee",
            grade=grade,
            serious=grade > 3,
            relatedness=related,
            outcome=outcome,
            action_taken="ice",
        )
        j, _ = engine.record(j, event, actor="rn.b")
    j, _ = engine.move(j, "follow_up", actor="rn.b", occurred_at=t + 10 * day)
    j, _ = engine.record(j, sj.nrs(3, t + 45 * day), actor="rn.b")
    j, _ = engine.move(j, "completed", actor="dr.a", occurred_at=t + 60 * day, reason="done")
    return j


@pytest.fixture
def treated() -> tuple[sj.Patient, sj.Journey]:
    clock = _Clock()
    journey = _treated_journey(sj.Engine(clock=clock), clock)
    patient = sj.Patient(id="p-1", external_id="MRN-1", display_name="Test Person",
                         birth_date=date(1960, 2, 29))  # fmt: skip
    return patient, journey


def test_every_resource_of_a_treated_journey_validates(treated: Any) -> None:
    """Each resource of a full journey validates as R4B, with codes from the value sets."""
    patient, journey = treated
    bundle = fhir_bundle(patient, [journey], timestamp=T0)
    resources = check_bundle(bundle)
    kinds = {r["resourceType"] for r in resources}
    assert kinds == {
        "Patient", "Condition", "EpisodeOfCare", "Procedure", "BiologicallyDerivedProduct",
        "Observation", "AdverseEvent", "ClinicalImpression", "Consent",
    }  # fmt: skip


def test_patient_carries_external_id_name_and_birth_date(treated: Any) -> None:
    """The Patient's identifiers are the external id and the stemjourney id; name and birth
    date are given when known."""
    patient, _ = treated
    resource = next(fhir_resources(patient, []))
    assert resource["identifier"] == [
        {"system": "urn:stemjourney:external-id", "value": "MRN-1"},
        {"system": "urn:stemjourney:patient", "value": "p-1"},
    ]
    assert resource["name"] == [{"text": "Test Person"}]
    assert resource["birthDate"] == "1960-02-29"
    bare = next(fhir_resources(sj.Patient(id="p-2", external_id="MRN-2"), []))
    assert "name" not in bare
    assert "birthDate" not in bare
    validate(bare)


def test_episode_status_history_follows_the_stages(treated: Any) -> None:
    """Stages map to planned, active then finished, each status with one contiguous period."""
    patient, journey = treated
    episode = by_type(list(fhir_resources(patient, [journey])), "EpisodeOfCare")[0]
    assert episode["status"] == "finished"
    history = episode["statusHistory"]
    assert [h["status"] for h in history] == ["planned", "active", "finished"]
    for before, after in itertools.pairwise(history):
        assert before["period"]["end"] == after["period"]["start"]
    assert "end" not in history[-1]["period"]
    assert episode["period"]["end"] == history[-1]["period"]["start"]


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        ("consultation", "planned"),
        ("harvest", "active"),
        ("processing", "active"),
        ("injection", "active"),
        ("recovery", "active"),
        ("follow_up", "active"),
        ("completed", "finished"),
        ("ineligible", "cancelled"),
        ("withdrawn", "cancelled"),
        ("voided", "entered-in-error"),
    ],
)
def test_episode_status_mapping(stage: str, status: str) -> None:
    """Each stage of the default pipeline maps to the documented EpisodeOfCare status."""
    assert episode_status(stage) == status
    assert EPISODE_STATUS[stage] == status
    assert status in REQUIRED["EpisodeOfCare.status"]


def test_custom_pipeline_stages_map_by_role() -> None:
    """Stages of a custom pipeline map by role: first planned, outcomes finished, else active."""
    t = sj.Transition
    pipeline = sj.Pipeline(
        transitions=[
            t("intake", "treating", _fhir_guard()),
            t("treating", "discharged", _fhir_guard()),
        ],
        initial="intake",
        outcomes={"discharged"},
    )
    assert [episode_status(s, pipeline) for s in pipeline.stages] == [
        "planned", "active", "finished",
    ]  # fmt: skip


def _fhir_guard() -> sj.Guard:
    return sj.Guard("none", "nothing", lambda _ctx: [])


def test_scores_use_loinc_and_the_right_value_type(treated: Any) -> None:
    """NRS is LOINC 72514-3 with valueInteger; VAS is LOINC 38214-3 in mm."""
    patient, journey = treated
    observations = by_type(list(fhir_resources(patient, [journey])), "Observation")
    nrs = [o for o in observations if _codes(o["code"], "http://loinc.org") == ["72514-3"]]
    vas = [o for o in observations if _codes(o["code"], "http://loinc.org") == ["38214-3"]]
    assert sorted(o["valueInteger"] for o in nrs) == [3, 6]
    assert vas[0]["valueQuantity"] == {
        "value": 68.5, "unit": "mm", "system": "http://unitsofmeasure.org", "code": "mm",
    }  # fmt: skip


def test_an_amended_score_is_corrected_under_the_original_id(treated: Any) -> None:
    """An amended score is exported once, status corrected, with the original's id."""
    patient, journey = treated
    observations = by_type(list(fhir_resources(patient, [journey])), "Observation")
    corrected = [o for o in observations if o["status"] == "corrected"]
    assert len(corrected) == 1
    assert corrected[0]["valueInteger"] == 6
    original = journey.records[0]
    assert corrected[0]["identifier"][0]["value"] == f"j-1/{original.version}"
    assert {o["status"] for o in observations} == {"final", "corrected"}


def test_a_chain_of_amendments_keeps_the_first_id() -> None:
    """A correction of a correction still carries the id of the first entry."""
    clock = _Clock()
    engine = sj.Engine(clock=clock)
    j = engine.open("j-9", patient_id="p-9", condition="tendon injury", site="lateral elbow",
                    side="right", cell_source="adipose", actor="dr.a", occurred_at=T0)  # fmt: skip
    j, first = engine.record(j, sj.nrs(7, T0), actor="rn")
    j, second = engine.record(j, sj.nrs(6, T0), actor="rn", amends=first.version, reason="x")
    j, _ = engine.record(j, sj.nrs(5, T0), actor="rn", amends=second.version, reason="y")
    patient = sj.Patient(id="p-9", external_id="MRN-9")
    [observation] = by_type(list(fhir_resources(patient, [j])), "Observation")
    assert observation["valueInteger"] == 5
    assert observation["identifier"][0]["value"] == f"j-9/{first.version}"


def test_procedures_code_harvest_and_link_injection_to_product(treated: Any) -> None:
    """Harvest is SNOMED 49401003; the injection uses the processed product, linked with HL7's
    cross-version extension for R5's Procedure.used (R4B's usedReference allows no product)."""
    patient, journey = treated
    resources = list(fhir_resources(patient, [journey]))
    harvest, injection = by_type(resources, "Procedure")
    assert _codes(harvest["code"], "http://snomed.info/sct") == ["49401003"]
    assert harvest["bodySite"] == [{"text": "posterior iliac crest, right"}]
    assert harvest["status"] == injection["status"] == "completed"
    [product] = by_type(resources, "BiologicallyDerivedProduct")
    assert "usedReference" not in injection
    assert extension(injection, USED)["valueCodeableReference"] == {
        "reference": {"reference": f"urn:uuid:{product['id']}"}
    }
    assert injection["bodySite"] == [{"text": "knee, left"}]
    assert product["productCategory"] == "cells"
    assert product["quantity"] == 1
    assert product["status"] == "available"
    assert product["collection"]["collectedDateTime"] == harvest["performedDateTime"]


def test_adverse_events_map_grade_seriousness_outcome_and_causality(treated: Any) -> None:
    """Grade 1 is mild and non-serious; grade 4 severe and serious; the suspect of a related
    event is the injection before it (a Procedure, as R4B allows); unrelated has no suspect."""
    patient, journey = treated
    mild, severe = by_type(list(fhir_resources(patient, [journey])), "AdverseEvent")
    assert mild["actuality"] == "actual"
    assert mild["severity"]["coding"][0]["code"] == "mild"
    assert mild["seriousness"]["coding"][0]["code"] == "non-serious"
    assert mild["outcome"]["coding"][0]["code"] == "resolved"
    assert mild["outcome"]["coding"][0]["display"] == "Resolved"
    assessment = mild["suspectEntity"][0]["causality"][0]["assessment"]
    assert assessment["coding"][0] == {
        "system": f"{TERMINOLOGY}/adverse-event-causality-assess",
        "code": "Probably-Likely",
        "display": "Probably/Likely",
    }
    injection = by_type(list(fhir_resources(patient, [journey])), "Procedure")[1]
    assert mild["suspectEntity"][0]["instance"] == {"reference": f"urn:uuid:{injection['id']}"}
    assert severe["severity"]["coding"][0]["code"] == "severe"
    assert severe["seriousness"]["coding"][0]["code"] == "serious"
    assert extension(severe, f"{SD}/ctcae-grade") == {
        "url": f"{SD}/ctcae-grade",
        "valueInteger": 4,
    }
    assert "suspectEntity" not in severe


def test_a_voided_journey_is_entered_in_error_in_every_resource(treated: Any) -> None:
    """Every resource of a voided journey is marked: status entered-in-error where the type
    has it, the Condition's verification status, R5's AdverseEvent status through HL7's
    cross-version modifier extension, and our modifier extension on the product."""
    patient, _ = treated
    clock = _Clock()
    engine = sj.Engine(clock=clock)
    j = _treated_journey(engine, clock, jid="j-v")
    j = sj.Journey(j.id, j.patient_id, j.condition, j.site, j.side, j.cell_source,
                   history=j.history[:-1], records=j.records)  # fmt: skip
    j, _ = engine.move(j, "voided", actor="dr.a", occurred_at=j.last_move.occurred_at,
                       reason=sj.VoidReason(code="duplicate"))  # fmt: skip
    resources = check_bundle(fhir_bundle(patient, [j], timestamp=T0))
    marked = {r["resourceType"]: r for r in resources}
    assert marked["EpisodeOfCare"]["status"] == "entered-in-error"
    for kind in ("Procedure", "Observation", "ClinicalImpression", "Consent"):
        assert {r["status"] for r in by_type(resources, kind)} == {"entered-in-error"}, kind
    condition = marked["Condition"]
    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert _codes(condition["code"], "http://snomed.info/sct") == ["239873007"]
    for event in by_type(resources, "AdverseEvent"):
        assert event["modifierExtension"] == [{"url": AE_STATUS, "valueCode": "entered-in-error"}]
    [product] = by_type(resources, "BiologicallyDerivedProduct")
    assert product["status"] == "unavailable"
    assert product["modifierExtension"] == [{"url": f"{SD}/entered-in-error", "valueBoolean": True}]


def test_scores_carry_loinc_with_loinc_names_and_our_instrument_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ODI is LOINC 97909-6 (LOINC's own name) and our instrument code; QuickDASH, which LOINC
    lacks, only ours; an unregistered instrument is named in text only; a registered pain
    scale without a code of its own gets 38208-5."""
    odi, unit = observation_code("odi")
    assert odi["coding"] == [
        {"system": "http://loinc.org", "code": "97909-6",
         "display": "Oswestry disability index score ODI"},
        {"system": "https://stemjourney.org/fhir/CodeSystem/instrument", "code": "odi",
         "display": "Oswestry Disability Index"},
    ]  # fmt: skip
    assert unit == "%"
    quick, _ = observation_code("quickdash")
    assert [c["system"] for c in quick["coding"]] == [
        "https://stemjourney.org/fhir/CodeSystem/instrument"
    ]
    assert observation_code("clinic:grip") == ({"text": "clinic:grip"}, "score")
    own = Instrument(code="clinic:pain_faces", name="Faces pain scale", low=0,
                     high=10, higher_is_better=False, source="clinic")  # fmt: skip
    registry = {"clinic:pain_faces": own}
    monkeypatch.setattr(_res, "INSTRUMENTS", registry)
    pain, _ = observation_code("clinic:pain_faces")
    assert _codes(pain, "http://loinc.org") == ["38208-5"]


def test_journeys_of_another_patient_are_refused(treated: Any) -> None:
    """Exporting a journey under the wrong patient raises a ValidationError naming ids only."""
    _, journey = treated
    other = sj.Patient(id="p-2", external_id="MRN-2", display_name="Someone Else")
    with pytest.raises(ValidationError, match="j-1 belongs to patient p-1, not p-2") as info:
        list(fhir_resources(other, [journey]))
    assert "Someone" not in str(info.value)


def test_ids_are_repeatable(treated: Any) -> None:
    """The same data gives the same resource ids and the same Bundle."""
    patient, journey = treated
    assert fhir_bundle(patient, [journey], timestamp=T0) == fhir_bundle(
        patient, [journey], timestamp=T0
    )


def test_demo_clinic_in_memory_exports_and_validates(clinic: Any) -> None:
    """The streamed export of the in-memory demo clinic is one valid Bundle."""
    out = io.StringIO()
    seen: list[int] = []
    count = write_fhir_bundle(clinic, out, timestamp=T0, progress=seen.append)
    bundle = json.loads(out.getvalue())
    resources = check_bundle(bundle)
    assert count == len(resources)
    assert seen == list(range(1, 41))
    assert len(by_type(resources, "Patient")) == 40
    assert len(by_type(resources, "EpisodeOfCare")) == len(clinic.journeys)
    loinc = {
        c for o in by_type(resources, "Observation") for c in _codes(o["code"], "http://loinc.org")
    }
    assert {"72514-3"} <= loinc


def test_one_patient_of_a_source_can_be_exported(clinic: Any) -> None:
    """``patient_ids`` limits the streamed Bundle to those patients."""
    out = io.StringIO()
    write_fhir_bundle(clinic, out, patient_ids=["demo-0003"], timestamp=T0)
    resources = check_bundle(json.loads(out.getvalue()))
    [patient] = by_type(resources, "Patient")
    assert patient["identifier"][0]["value"] == "DEMO-0003"


def test_an_empty_source_gives_an_empty_valid_bundle() -> None:
    """A source without patients still writes a valid, empty collection Bundle."""
    out = io.StringIO()
    assert write_fhir_bundle(DemoClinic(), out, timestamp=T0) == 0
    bundle = json.loads(out.getvalue())
    assert bundle["entry"] == []
    assert bundle["type"] == "collection"


def test_the_whole_demo_database_exports_and_validates_in_full(tmp_path: Path) -> None:
    """The database `make demo` builds (default seed and size) exports and validates in full."""
    path = tmp_path / "demo.db"
    summary = build_demo_clinic(path, today=TODAY)
    out = tmp_path / "bundle.json"
    with open_store(path) as store, out.open("w", encoding="utf-8") as fh:
        count = write_fhir_bundle(store, fh, timestamp=T0)
    bundle = json.loads(out.read_text(encoding="utf-8"))
    resources = check_bundle(bundle)
    assert count == len(resources)
    assert len(by_type(resources, "Patient")) == summary.patients
    statuses = {r["status"] for r in by_type(resources, "EpisodeOfCare")}
    assert {"active", "finished", "cancelled"} <= statuses
    assert by_type(resources, "AdverseEvent")
    assert by_type(resources, "BiologicallyDerivedProduct")


def test_bundle_timestamp_must_be_aware(treated: Any) -> None:
    """A naive timestamp is refused; the default stamp is now."""
    patient, journey = treated
    with pytest.raises(ValidationError, match="timestamp"):
        fhir_bundle(patient, [journey], timestamp=datetime(2026, 1, 1))
    stamp = datetime.fromisoformat(fhir_bundle(patient, [])["timestamp"])
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)


def test_instrument_registry_units_are_used() -> None:
    """Questionnaire quantities take the registry's unit (ODI in per cent)."""
    assert get_instrument("odi").unit == "%"


def test_loose_records_export_without_dangling_links() -> None:
    """A product with no harvest, a shot of an unknown product, an event before any shot."""
    engine = sj.Engine(clock=_Clock())
    j = engine.open("j-l", patient_id="p-l", condition="tendon injury", site="achilles tendon",
                    side="right", cell_source="adipose", actor="dr.a", occurred_at=T0)  # fmt: skip
    event = sj.AdverseEvent(onset_at=T0, site="heel", grade=2, serious=False,
                            relatedness="possible", outcome="recovering",
                            action_taken="rest")  # fmt: skip
    j, _ = engine.record(j, event, actor="rn")
    product = sj.Processing(product_id="svf-9", started_at=T0, finished_at=T0, method="digest",
                            manipulation="more_than_minimal", final_volume_ml=4, tnc_per_ml=1e7,
                            viability_pct=60, released=False)  # fmt: skip
    j, _ = engine.record(j, product, actor="lab")
    shot = sj.Injection(injected_at=T0 + timedelta(hours=1), site="achilles tendon", side="right",
                        guidance="ultrasound", volume_ml=2, product_id="svf-other")  # fmt: skip
    j, _ = engine.record(j, shot, actor="dr.a")
    resources = list(fhir_resources(sj.Patient(id="p-l", external_id="MRN-L"), [j]))
    for resource in resources:
        validate(resource)
    [bdp] = by_type(resources, "BiologicallyDerivedProduct")
    assert "collectedDateTime" not in bdp["collection"]
    assert bdp["status"] == "unavailable"
    [procedure] = by_type(resources, "Procedure")
    assert "usedReference" not in procedure
    assert [x["url"] for x in procedure["extension"]] == [f"{SD}/entry"]
    [ae] = by_type(resources, "AdverseEvent")
    assert "suspectEntity" not in ae
    assert ae["severity"]["coding"][0]["code"] == "moderate"
    assert ae["outcome"]["coding"][0]["code"] == "recovering"
    condition = by_type(resources, "Condition")[0]
    assert condition["code"] == {"text": "tendon injury"}


def test_a_patient_without_journeys_is_exported_from_a_store(tmp_path: Path) -> None:
    """A store lists its patients, so one with no journey yet still gets a Patient resource."""
    out = io.StringIO()
    with open_store(tmp_path / "one.db") as store:
        store.add_patient("MRN-7", actor="desk", patient_id="p-7")
        count = write_fhir_bundle(store, out, timestamp=T0)
    resources = check_bundle(json.loads(out.getvalue()))
    assert count == 1
    assert [r["resourceType"] for r in resources] == ["Patient"]
