"""FHIR exchange: questionnaires and responses, the reference and terminology check, the
definitions, and reading a Bundle back into a store (round trip, refusals)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stemjourney as sj
from _fhir_check import check
from stemjourney.demo._build import build_demo_clinic
from stemjourney.exceptions import FhirImportError, StemJourneyError
from stemjourney.export import (
    fhir_bundle,
    fhir_definitions,
    fhir_resources,
    import_fhir,
    read_fhir_bundle,
    write_fhir_bundle,
)
from stemjourney.journey._history import history_facts
from stemjourney.outcomes import points_by_version, score_koos, score_questionnaire
from stemjourney.outcomes._points import ScorePoints
from stemjourney.store import open_store
from stemjourney.testing import (
    DEFAULT_START,
    EXAMPLE_INJECTION,
    ManualClock,
    move_sequences,
    play,
    treated_journey,
)

STAMP = datetime(2026, 11, 23, tzinfo=UTC)
Q = "https://stemjourney.org/fhir/Questionnaire"
SD = "https://stemjourney.org/fhir/StructureDefinition"
USED = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Procedure.used"


def by_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def scored_journey() -> tuple[sj.Patient, sj.Journey]:
    """A consultation with every questionnaire answered (one KOOS item blank) and an
    amended ODI."""
    clock = ManualClock(DEFAULT_START + timedelta(days=30))
    engine = sj.Engine(clock=clock)
    at = DEFAULT_START
    j = engine.open("j-q", patient_id="p-q", condition="osteoarthritis of knee", site="knee",
                    side="left", cell_source="bone_marrow", actor="dr", occurred_at=at)  # fmt: skip
    answers: list[float | None] = [2, 1, 2, 3, 2, 1, 0] + [2, 2, 1, 3, 2, 1, 2, 2, 1] + [1] * 26
    answers[3] = None
    for score in score_koos(answers, at).values():
        assert score is not None
        j, _ = engine.record(j, score, actor="rn")
    j, odi = engine.record(
        j, score_questionnaire("odi", [2, 2, 2, 2, 2, 2, 1, 1, 1, 1], at), actor="rn"
    )
    fixed = score_questionnaire("odi", [2, 2, 2, 2, 2, 2, 1, 1, 2, None], at)
    j, _ = engine.record(j, fixed, actor="rn", amends=odi.version, reason="misread")
    for code, answers2 in (
        ("ndi", [1, 2, 1, 0, 3, 2, 1, 1, 0, 2]),
        ("quickdash", [3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2]),
        ("ases", [6, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1]),
    ):
        j, _ = engine.record(j, score_questionnaire(code, answers2, at), actor="rn")
    return sj.Patient(id="p-q", external_id="MRN-Q"), j


def test_questionnaire_scores_are_responses_with_a_derived_observation() -> None:
    """Each questionnaire score is a QuestionnaireResponse with its answers (a blank item left
    out) and an Observation derived from it; the Bundle carries each Questionnaire answered."""
    patient, journey = scored_journey()
    bundle = fhir_bundle(patient, [journey], timestamp=STAMP)
    assert check(bundle).errors == []
    responses = {r["id"]: r for r in by_type(bundle, "QuestionnaireResponse")}
    assert len(responses) == 9  # five KOOS subscales, ODI, NDI, QuickDASH, ASES
    koos_symptoms = next(r for r in responses.values() if r["item"][0]["linkId"] == "koos_symptoms")
    assert koos_symptoms["questionnaire"] == f"{Q}/koos"
    symptoms = koos_symptoms["item"][0]["item"]
    assert [i["linkId"] for i in symptoms] == ["s1", "s2", "s3", "s5", "s6", "s7"]
    assert symptoms[0]["answer"] == [{"valueInteger": 2}]
    for obs in by_type(bundle, "Observation"):
        [ref] = obs["derivedFrom"]
        assert ref["reference"].removeprefix("urn:uuid:") in responses
    ases = next(r for r in responses.values() if r["questionnaire"] == f"{Q}/ases")
    assert ases["item"][0] == {"linkId": "pain_vas_cm", "answer": [{"valueDecimal": 6}]}
    odi = next(r for r in responses.values() if r["questionnaire"] == f"{Q}/odi")
    assert odi["status"] == "amended"
    assert [i["answer"][0]["valueInteger"] for i in odi["item"]][-1] == 2
    urls = sorted(q["url"] for q in by_type(bundle, "Questionnaire"))
    assert urls == [f"{Q}/{c}" for c in ("ases", "koos", "ndi", "odi", "quickdash")]


def test_questionnaires_carry_loinc_panels_and_items_where_loinc_has_them() -> None:
    """KOOS, ODI and NDI carry their LOINC panels, the NDI its item codes; QuickDASH and ASES,
    which LOINC lacks, none; every item has its range."""
    found = {q["url"].rsplit("/", 1)[1]: q for q in fhir_definitions() if "item" in q}
    panels = {code: q.get("code", [{}])[0].get("code") for code, q in found.items()}
    assert panels == {
        "koos": "72091-2", "odi": "97908-8", "ndi": "82226-2", "quickdash": None, "ases": None,
    }  # fmt: skip
    koos = found["koos"]
    assert [g["linkId"] for g in koos["item"]] == [
        "koos_symptoms", "koos_pain", "koos_adl", "koos_sport", "koos_qol",
    ]  # fmt: skip
    assert sum(len(g["item"]) for g in koos["item"]) == 42
    ndi_codes = [i["code"][0]["code"] for i in found["ndi"]["item"]]
    assert (ndi_codes[0], ndi_codes[-1]) == ("82227-0", "82236-1")
    assert all("code" not in i for i in found["odi"]["item"])
    first = found["odi"]["item"][0]
    assert [x["valueInteger"] for x in first["extension"]] == [0, 5]


def test_every_extension_and_code_system_the_export_uses_is_defined() -> None:
    """Each extension url of ours has a StructureDefinition, each code of ours a CodeSystem
    concept; the check refuses an extension or a code system it does not know."""
    patient, journey = scored_journey()
    bundle = fhir_bundle(patient, [journey], timestamp=STAMP)
    defined = {r["url"] for r in fhir_definitions()}
    text = json.dumps(bundle)
    for url in ("entry", "journey", "outcome"):
        assert f"{SD}/{url}" in text
        assert f"{SD}/{url}" in defined
    strange = copy.deepcopy(bundle)
    obs = by_type(strange, "Observation")[0]
    obs["extension"].append({"url": "urn:clinic:thing", "valueString": "x"})
    obs["code"]["coding"].append({"system": "urn:private", "code": "x"})
    errors = check(strange).errors
    assert any("extension urn:clinic:thing has no definition" in e for e in errors)
    assert any("code system urn:private is not known" in e for e in errors)


def test_the_check_refuses_what_a_validator_would() -> None:
    """Reference targets R4B does not allow, a reference that resolves nowhere, a display
    that is not the code system's, a code outside its value set are each reported."""
    treated = treated_journey()
    event = sj.AdverseEvent(onset_at=EXAMPLE_INJECTION + timedelta(days=1), site="knee",
                            grade=1, serious=False, relatedness="possible",
                            outcome="recovered", action_taken="ice")  # fmt: skip
    treated, _ = sj.Engine().record(treated, event, actor="rn")
    bundle = fhir_bundle(
        sj.Patient(id=treated.patient_id, external_id="MRN-T"), [treated], timestamp=STAMP
    )
    assert check(bundle).errors == []
    [product] = by_type(bundle, "BiologicallyDerivedProduct")
    [injection] = [
        p for p in by_type(bundle, "Procedure") if any(x["url"] == USED for x in p["extension"])
    ]
    injection["usedReference"] = [{"reference": f"urn:uuid:{product['id']}"}]
    [event] = by_type(bundle, "AdverseEvent")
    event["suspectEntity"] = [{"instance": {"reference": f"urn:uuid:{product['id']}"}}]
    event["outcome"]["coding"][0]["display"] = "Recovered"
    episode = by_type(bundle, "EpisodeOfCare")[0]
    episode["status"] = "closed"
    episode["diagnosis"][0]["condition"]["reference"] = "urn:uuid:nowhere"
    errors = "\n".join(check(bundle).errors)
    assert "Procedure.usedReference: points at a BiologicallyDerivedProduct; R4B allows " in errors
    assert "AdverseEvent.suspectEntity.instance: points at a BiologicallyDerivedProduct" in errors
    assert "is displayed 'Recovered'; the code system says 'Resolved'" in errors
    assert "EpisodeOfCare.status: 'closed' is not in its required value set" in errors
    assert "urn:uuid:nowhere does not resolve inside the Bundle" in errors


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo_clinic(path, today=date(2026, 11, 23))
    return path


def _export(store: Any) -> str:
    out = io.StringIO()
    write_fhir_bundle(store, out, timestamp=STAMP)
    return out.getvalue()


def test_the_whole_demo_bundle_passes_the_reference_and_terminology_check(demo: Path) -> None:
    """The full demo Bundle (300 patients): every reference resolves to a type R4B allows,
    every code is in its code system with its own display, no error at all."""
    with open_store(demo) as store:
        bundle = json.loads(_export(store))
    result = check(bundle)
    assert result.errors == []
    counts = result.counts
    assert counts["Patient"] == 300
    assert counts["references"] > 10_000
    assert counts["codings"] > 10_000
    assert counts["QuestionnaireResponse"] == counts["canonicals"] > 0
    used = [
        x for p in by_type(bundle, "Procedure") for x in p.get("extension", ()) if x["url"] == USED
    ]
    assert used


def test_a_demo_bundle_reads_back_into_an_empty_store_whole(demo: Path) -> None:
    """The same patients, journeys (stages, cycles, records, amendments, scores with their
    answers), a history that verifies, and the same Bundle exported again."""
    with open_store(demo) as store:
        text = _export(store)
        patients = list(store.iter_patients())
        journeys = list(store.iter_journeys())
    with open_store(":memory:") as copy_store:
        assert import_fhir(copy_store, json.loads(text), actor="it:import") == (300, len(journeys))
        assert list(copy_store.iter_patients()) == patients
        assert list(copy_store.iter_journeys()) == journeys
        assert copy_store.verify().ok
        assert _export(copy_store) == text
    assert any(e.amends is not None for j in journeys for e in j.records)


def test_store_histories_are_the_facts_of_its_journeys(demo: Path) -> None:
    """``Store.iter_histories`` streams each patient with the same facts its journeys give."""
    with open_store(demo) as store:
        streamed = list(store.iter_histories(batch_size=7))
        assert [p for p, _ in streamed] == list(store.iter_patients())
        for patient, facts in streamed:
            assert facts == [history_facts(j) for j in store.journeys_of(patient.id)]


def _refused(bundle: dict[str, Any], field: str, problem: str) -> None:
    with open_store(":memory:") as store:
        with pytest.raises(FhirImportError) as info:
            import_fhir(store, bundle)
        assert info.value.field == field
        assert problem in info.value.problem
        assert list(store.iter_patients()) == []
        assert store.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_a_bundle_we_did_not_write_is_refused_naming_resource_and_element() -> None:
    """Foreign resources, a Patient or record without our identifiers or extensions, an id
    not ours, an unreadable record: each refused, naming the resource and element."""
    patient, journey = scored_journey()
    bundle = fhir_bundle(patient, [journey], timestamp=STAMP)
    _refused({"resourceType": "Patient"}, "Bundle.resourceType", "is not a Bundle")
    foreign = copy.deepcopy(bundle)
    foreign["entry"].append(
        {"fullUrl": "urn:uuid:m-1", "resource": {"resourceType": "Medication", "id": "m-1"}}
    )
    _refused(foreign, "Medication/m-1.resourceType", "is not a resource the export writes")
    stranger = copy.deepcopy(bundle)
    person = by_type(stranger, "Patient")[0]
    person["identifier"] = person["identifier"][:1]
    _refused(stranger, f"Patient/{person['id']}.identifier", "urn:stemjourney:patient")
    moved = copy.deepcopy(bundle)
    obs = by_type(moved, "Observation")[0]
    obs["extension"] = obs["extension"][1:]
    _refused(moved, f"Observation/{obs['id']}.extension", "has no")
    broken = copy.deepcopy(bundle)
    episode = by_type(broken, "EpisodeOfCare")[0]
    side = next(p for p in episode["extension"][0]["extension"] if p["url"] == "side")
    side["valueCode"] = "upper"
    _refused(broken, f"EpisodeOfCare/{episode['id']}.extension[journey].side", "is not a side")


def test_a_history_the_engine_refuses_is_not_written() -> None:
    """A Bundle whose journey the engine would not replay writes nothing at all."""
    first = treated_journey()
    second = treated_journey(journey_id="j-2", patient_id="p-2")
    bundle = fhir_bundle(sj.Patient(id=first.patient_id, external_id="MRN-1"), [first])
    other = fhir_bundle(sj.Patient(id="p-2", external_id="MRN-2"), [second])
    bundle["entry"] += other["entry"]
    episode = by_type(bundle, "EpisodeOfCare")[-1]
    moves = [p for p in episode["extension"][0]["extension"] if p["url"] == "move"]
    target = next(p for p in moves[1]["extension"] if p["url"] == "target")
    target["valueCode"] = "recovery"
    with open_store(":memory:") as store:
        with pytest.raises(StemJourneyError):
            import_fhir(store, bundle)
        assert list(store.iter_patients()) == []


# -- properties over generated journeys --------------------------------------------------


@st.composite
def journeys(draw: st.DrawFn) -> sj.Journey:
    """A journey of the default pipeline, sometimes with questionnaires and an amendment."""
    steps = draw(move_sequences(max_moves=8))
    clock = ManualClock(DEFAULT_START)
    engine = sj.Engine(clock=clock)
    journey = play(engine, steps, clock=clock)
    at = clock.now()
    extras: list[sj.Score] = []
    if draw(st.booleans()):
        extras.append(score_questionnaire("odi", draw(st.lists(st.integers(0, 5), min_size=10,
                                                               max_size=10)), at))  # fmt: skip
    if draw(st.booleans()):
        extras.append(score_questionnaire("ases", [draw(st.floats(0, 10)), *[2] * 10], at))
    for score in extras:
        try:
            journey, _ = engine.record(journey, score, actor="rn")
        except StemJourneyError:
            break
    scores = [e for e in journey.current_records() if isinstance(e.record, sj.Score)]
    if scores and draw(st.booleans()):
        entry = draw(st.sampled_from(scores))
        record = entry.record
        assert isinstance(record, sj.Score)
        if record.answers is None:
            fixed = sj.Score(instrument=record.instrument, value=record.value,
                             measured_at=record.measured_at + timedelta(minutes=1))  # fmt: skip
        else:
            fixed = record
        with contextlib.suppress(StemJourneyError):
            journey, _ = engine.amend(journey, entry.version, fixed, actor="rn", reason="fix")
    return journey


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_export_import_export_gives_the_same_bundle(journey: sj.Journey) -> None:
    """For any journey: the Bundle passes the check, reads back as the same patient and
    journey, and exported again is the same Bundle."""
    patient = sj.Patient(id=journey.patient_id, external_id="MRN-1")
    bundle = fhir_bundle(patient, [journey], timestamp=STAMP)
    assert check(bundle).errors == []
    patients, found = read_fhir_bundle(json.loads(json.dumps(bundle)))
    assert patients == [patient]
    assert found == [journey]
    assert fhir_bundle(patients[0], found, timestamp=STAMP) == bundle
    out = io.StringIO()
    write_fhir_bundle(_Source(patient, journey), out, timestamp=STAMP)
    assert json.loads(out.getvalue())["entry"] == bundle["entry"]


class _Source:
    """One patient and their journey, as a clinic source (no store: facts from values)."""

    def __init__(self, patient: sj.Patient, journey: sj.Journey) -> None:
        self._patient = patient
        self._journey = journey

    def patient(self, patient_id: str) -> sj.Patient:
        return self._patient

    def iter_journeys(self) -> Any:
        return iter([self._journey])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_score_points_from_facts_agree_with_points_by_version(journey: sj.Journey) -> None:
    """The export's outcome of each score, from plain values, is what points_by_version says."""
    facts = history_facts(journey)
    amended = {r.amends for r in facts.records if r.amends is not None}
    live = [r for r in facts.records if r.version not in amended]
    mine = ScorePoints(sj.DEFAULT_PROTOCOL).of(
        [(r.cycle, r.data["injected_at"]) for r in live if r.kind == "injection"],
        [
            (r.version, r.data["instrument"], r.data["measured_at"], r.data["value"])
            for r in live
            if r.kind == "score"
        ],
    )
    truth = points_by_version(journey)
    assert set(mine) == set(truth)
    for version, point in truth.items():
        change = point.change
        assert tuple(mine[version]) == (
            point.time_point,
            None if change is None else change.delta,
            None if change is None else change.points,
            None if change is None else change.percent,
            tuple((r.label, r.met) for r in point.responders),
        )


def test_fhir_resources_and_the_streamed_bundle_agree(demo: Path) -> None:
    """The store's streamed Bundle (its commonest resources written as text) holds exactly
    what fhir_resources gives for each patient, then the Questionnaires answered."""
    with open_store(demo) as store:
        streamed = [e["resource"] for e in json.loads(_export(store))["entry"]]
        built = [
            resource
            for patient in store.iter_patients()
            for resource in fhir_resources(patient, store.journeys_of(patient.id))
        ]
    assert streamed[: len(built)] == built
    assert {r["resourceType"] for r in streamed[len(built) :]} == {"Questionnaire"}


# -- every refusal, one mutation each ---------------------------------------------------


def _first(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return by_type(bundle, kind)[0]


def _part(resource: dict[str, Any], url: str, name: str) -> dict[str, Any]:
    ext = next(x for x in resource["extension"] if x["url"].endswith(url))
    return next(p for p in ext["extension"] if p["url"] == name)


def _set(path: list[Any], value: Any) -> Any:
    def change(bundle: dict[str, Any]) -> None:
        target: Any = bundle
        for step in path[:-1]:
            target = step(bundle) if callable(step) else target[step]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()
_OBS = (lambda b: _first(b, "Observation"),)
_EPISODE = (lambda b: _first(b, "EpisodeOfCare"),)


def _rename(bundle: dict[str, Any], kind: str) -> None:
    entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == kind)
    entry["resource"]["id"] = "00000000-0000-5000-8000-000000000000"
    entry["fullUrl"] = f"urn:uuid:{entry['resource']['id']}"


def _consent_record(b: dict[str, Any]) -> dict[str, Any]:
    return _part(_first(b, "Consent"), "/entry", "record")


MUTATIONS: list[tuple[str, Any, str, str]] = [
    ("not a collection", _set(["type"], "batch"), "Bundle.type", "is not 'collection'"),
    ("no entries", _set(["entry"], {}), "Bundle.entry", "is not a list"),
    ("an entry without resource", _set(["entry", 0, "resource"], None),
     "Bundle.entry[0].resource", "is missing"),
    ("a fullUrl not the id", _set(["entry", 0, "fullUrl"], "urn:uuid:x"), ".fullUrl",
     "is not urn:uuid:<id>"),
    ("a foreign Questionnaire", _set([lambda b: _first(b, "Questionnaire"), "url"],
     "http://example.org/q"), ".url", "is not a stemjourney questionnaire"),
    ("a patient id not ours", lambda b: _rename(b, "Patient"), ".id",
     "is not the id the export gives this patient"),
    ("a bad birth date", _set([lambda b: _first(b, "Patient"), "birthDate"], "1960-13-40"),
     ".birthDate", "is not a date"),
    ("an empty external id", _set([lambda b: _first(b, "Patient"), "identifier", 0, "value"],
     " "), "", "cannot be read as a patient"),
    ("an episode id not ours", lambda b: _rename(b, "EpisodeOfCare"), ".id",
     "is not the id the export gives this journey"),
    ("an episode of no patient", _set([*_EPISODE, "patient", "reference"], "urn:uuid:x"),
     ".patient", "is not a Patient of the Bundle"),
    ("a cell source unknown", _set([lambda b: _part(_first(b, "EpisodeOfCare"), "/journey",
     "cellSource"), "valueCode"], "blood"), ".cellSource", "is not a cell source"),
    ("a move without a seq", _set([lambda b: _part(_first(b, "EpisodeOfCare"), "/journey",
     "move")["extension"][0], "url"], "sequence"), ".move.seq", "is missing"),
    ("a move time without offset", _set([lambda b: next(
     p for p in _part(_first(b, "EpisodeOfCare"), "/journey", "move")["extension"]
     if p["url"] == "occurred"), "valueDateTime"], "2026-01-05"), ".move.occurred",
     "is not a time with an offset"),
    ("a version that is text", _set([lambda b: _part(_first(b, "Consent"), "/entry",
     "version"), "valueInteger"], "1"), ".version", "is not a int"),
    ("a record that is not JSON", _set([_consent_record, "valueString"], "{"), ".record",
     "is not JSON"),
    ("a record of no kind", _set([_consent_record, "valueString"], "[]"), ".record",
     "is not a stemjourney record"),
    ("a record refused by its class", _set([_consent_record, "valueString"],
     '{"kind":"consent","signed_at":"x"}'), ".extension", "cannot be read as a journey"),
    ("a consent without its record", _set([_consent_record, "url"], "other"), ".record",
     "is missing"),
    ("a score of no instrument", _set([*_OBS, "code"], {}), ".code", "names no instrument"),
    ("a score without a value", _set([*_OBS, "valueInteger"], True), ".value[x]",
     "is not a number"),
    ("a score without a time", _set([*_OBS, "effectiveDateTime"], _DELETE),
     ".effectiveDateTime", "is missing"),
    ("a sub-extension without url", _set([lambda b: _first(b, "Consent")["extension"][0],
     "extension", 0], {"valueString": "x"}), "", "has a sub-extension without a url"),
    ("a record of no journey", _set([lambda b: _part(_first(b, "Consent"), "/entry",
     "journey"), "valueString"], "j-none"), "journey j-none", "has records but no"),
    ("a journey twice", lambda b: b["entry"].append(copy.deepcopy(
     next(e for e in b["entry"] if e["resource"]["resourceType"] == "EpisodeOfCare"))),
     ".identifier", "repeats journey"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [m[1:] for m in MUTATIONS],
    ids=[m[0] for m in MUTATIONS],
)
def test_each_refusal_names_the_resource_and_element(change: Any, field: str, problem: str) -> None:
    """Each way a Bundle can differ from what the export writes is refused by name."""
    treated = treated_journey(scores=[(-3, 7), (42, 3)])
    bundle = fhir_bundle(sj.Patient(id="p-1", external_id="MRN-1"), [treated], timestamp=STAMP)
    patient, journey = scored_journey()
    bundle["entry"] += fhir_bundle(patient, [journey], timestamp=STAMP)["entry"]
    change(bundle)
    with pytest.raises(FhirImportError) as info:
        read_fhir_bundle(bundle)
    assert info.value.field.endswith(field)
    assert problem in info.value.problem


def test_responses_that_do_not_fit_their_instrument_are_refused() -> None:
    """A score derived from no response of the Bundle, from an item its instrument lacks,
    or on an instrument without items here, is refused by name."""
    patient, journey = scored_journey()
    bundle = fhir_bundle(patient, [journey], timestamp=STAMP)
    odi = next(o for o in by_type(bundle, "Observation") if "97909-6" in json.dumps(o["code"]))
    response = next(r for r in by_type(bundle, "QuestionnaireResponse")
                    if f"urn:uuid:{r['id']}" == odi["derivedFrom"][0]["reference"])  # fmt: skip
    response["item"][0]["linkId"] = "s99"
    with pytest.raises(FhirImportError, match="has item 's99', not one of odi"):
        read_fhir_bundle(bundle)
    odi["derivedFrom"] = [{"reference": "urn:uuid:nowhere"}]
    with pytest.raises(FhirImportError, match="is not a QuestionnaireResponse of the Bundle"):
        read_fhir_bundle(bundle)
    odi["derivedFrom"] = [{"reference": f"urn:uuid:{response['id']}"}]
    odi["code"] = {"text": "clinic:unknown"}
    with pytest.raises(FhirImportError, match="instrument clinic:unknown has no items"):
        read_fhir_bundle(bundle)


def test_import_reads_a_path_a_file_or_a_dict(tmp_path: Path) -> None:
    """The Bundle may be given as a path or an open file; other things are refused."""
    treated = treated_journey()
    bundle = fhir_bundle(sj.Patient(id="p-1", external_id="MRN-1"), [treated], timestamp=STAMP)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    with open_store(":memory:") as store:
        assert import_fhir(store, path) == (1, 1)
    with open_store(":memory:") as store, path.open(encoding="utf-8") as handle:
        assert import_fhir(store, handle) == (1, 1)
        assert store.journey("j-1") == treated
    with open_store(":memory:") as store:
        with pytest.raises(FhirImportError, match="is not a Bundle"):
            import_fhir(store, 42)
        with pytest.raises(FhirImportError, match="is not JSON"):
            import_fhir(store, io.StringIO("{"))
