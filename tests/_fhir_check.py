"""A reference and terminology check of FHIR R4B Bundles, driven by fhir.resources' metadata.

What the HL7 validator checks of a Bundle and fhir.resources does not: every
``Reference.reference`` resolves to an entry of the Bundle and points at a resource
type that R4B allows for that element (each Reference field's ``enum_reference_types``
in fhir.resources' R4B models; for an extension, the types its definition allows);
every Coding's code is in its code system with that system's own display text (the
tables below, from HL7's code systems, LOINC and SNOMED CT, and our own CodeSystems);
every code-typed element with a required binding holds a code of its value set; every
extension and canonical URL is defined.
"""

from __future__ import annotations

import functools
import typing
from collections import Counter
from collections.abc import Iterable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from stemjourney.export import fhir_definitions

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"

NDI_ITEMS = (
    "82227-0", "82228-8", "82229-6", "82230-4", "82231-2",
    "82232-0", "82233-8", "82234-6", "82235-3", "82236-1",
)  # fmt: skip

# Codes of the code systems we use, with each system's own display text.
CODES: dict[str, dict[str, str]] = {
    "http://loinc.org": {
        "72514-3": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "38214-3": "Pain severity [Score] Visual analog score",
        "38208-5": "Pain severity - Reported",
        "72091-2": "Knee injury and Osteoarthritis Outcome Score [KOOS]",
        "72102-7": "Pain score [KOOS]",
        "72101-9": "Symptoms score [KOOS]",
        "72100-1": "Activities of daily living score [KOOS]",
        "72099-5": "Sport-recreation score [KOOS]",
        "72098-7": "Quality of life score [KOOS]",
        "97908-8": "Oswestry Disability Index",
        "97909-6": "Oswestry disability index score ODI",
        "82226-2": "Neck Disability Index [NDI]",
        # the NDI's items; the export gives no display for them
        **dict.fromkeys(NDI_ITEMS, ""),
    },
    "http://snomed.info/sct": {
        "239873007": "Osteoarthritis of knee",
        "239872002": "Osteoarthritis of hip",
        "49401003": "Bone marrow aspiration",
    },
    f"{TERMINOLOGY}/observation-category": {"survey": "Survey"},
    f"{TERMINOLOGY}/adverse-event-seriousness": {
        "serious": "Serious",
        "non-serious": "Non-serious",
    },
    f"{TERMINOLOGY}/adverse-event-severity": {
        "mild": "Mild",
        "moderate": "Moderate",
        "severe": "Severe",
    },
    f"{TERMINOLOGY}/adverse-event-outcome": {
        "resolved": "Resolved",
        "recovering": "Recovering",
        "ongoing": "Ongoing",
        "resolvedWithSequelae": "Resolved with Sequelae",
        "fatal": "Fatal",
        "unknown": "Unknown",
    },
    f"{TERMINOLOGY}/adverse-event-causality-assess": {
        "Certain": "Certain",
        "Probably-Likely": "Probably/Likely",
        "Possible": "Possible",
        "Unlikely": "Unlikely",
        "Conditional-Classified": "Conditional/Classified",
        "Unassessable-Unclassifiable": "Unassessable/Unclassifiable",
    },
    f"{TERMINOLOGY}/condition-ver-status": {"entered-in-error": "Entered in Error"},
    f"{TERMINOLOGY}/consentscope": {"treatment": "Treatment"},
    f"{TERMINOLOGY}/v3-ActCode": {"AMB": "ambulatory", "VR": "virtual"},
}

# Code-typed elements with a required binding: the codes of their value sets (R4B).
EVENT_STATUS = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
REQUIRED: dict[str, set[str]] = {
    "Bundle.type": {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    },
    "EpisodeOfCare.status": {
        "planned",
        "waitlist",
        "active",
        "onhold",
        "finished",
        "cancelled",
        "entered-in-error",
    },
    "Procedure.status": EVENT_STATUS,
    "Observation.status": {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
    "AdverseEvent.actuality": {"actual", "potential"},
    "BiologicallyDerivedProduct.productCategory": {
        "organ",
        "tissue",
        "fluid",
        "cells",
        "biologicalAgent",
    },
    "BiologicallyDerivedProduct.status": {"available", "unavailable"},
    "QuestionnaireResponse.status": {
        "in-progress",
        "completed",
        "amended",
        "entered-in-error",
        "stopped",
    },
    "Questionnaire.status": {"draft", "active", "retired", "unknown"},
    "Questionnaire.item.type": {
        "group",
        "display",
        "boolean",
        "decimal",
        "integer",
        "date",
        "dateTime",
        "time",
        "string",
        "text",
        "url",
        "choice",
        "open-choice",
        "attachment",
        "reference",
        "quantity",
    },
    "ClinicalImpression.status": {"in-progress", "completed", "entered-in-error"},
    "Consent.status": {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    "Encounter.status": {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
}
REQUIRED["EpisodeOfCare.statusHistory.status"] = REQUIRED["EpisodeOfCare.status"]
REQUIRED["Questionnaire.item.item.type"] = REQUIRED["Questionnaire.item.type"]

# Extensions defined by HL7 that the export uses, with the reference targets their
# definitions allow (R5's Procedure.used: Device, Medication, Substance, BDP).
HL7_EXTENSIONS: dict[str, set[str] | None] = {
    f"{XVER}Procedure.used": {"Device", "Medication", "Substance", "BiologicallyDerivedProduct"},
    f"{XVER}AdverseEvent.status": None,
    "http://hl7.org/fhir/StructureDefinition/minValue": None,
    "http://hl7.org/fhir/StructureDefinition/maxValue": None,
}
MODIFIERS = {f"{XVER}AdverseEvent.status"}


@functools.cache
def _ours() -> tuple[dict[str, dict[str, str]], dict[str, bool], set[str]]:
    """Our code systems' codes and displays, our extensions (url -> is modifier), our
    questionnaire canonicals."""
    systems: dict[str, dict[str, str]] = {}
    extensions: dict[str, bool] = {}
    questionnaires: set[str] = set()
    for resource in fhir_definitions():
        kind = resource["resourceType"]
        if kind == "CodeSystem":
            systems[resource["url"]] = {c["code"]: c["display"] for c in resource["concept"]}
        elif kind == "StructureDefinition":
            root = resource["differential"]["element"][0]
            extensions[resource["url"]] = bool(root.get("isModifier"))
        else:
            questionnaires.add(resource["url"])
    return systems, extensions, questionnaires


@functools.cache
def _fields(model: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """JSON name -> (FHIR type name, allowed reference targets) of a model's elements."""
    cls = get_fhir_model_class(model)
    found = {}
    for name, field in cls.model_fields.items():
        inner = field.annotation
        while typing.get_args(inner):
            inner = next(a for a in typing.get_args(inner) if a is not type(None))
        type_name = getattr(inner, "__name__", "")
        type_name = type_name.removesuffix("Type")
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        targets = tuple(typing.cast(Iterable[str], extra.get("enum_reference_types", ())))
        found[field.alias or name] = (type_name, targets)
    return found


class Checker:
    """Walks every resource of a Bundle; ``errors`` are what a validator would reject."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self.types = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
        self.canonicals = {
            e["resource"]["url"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Questionnaire"
        }
        self.errors: list[str] = []
        self.counts: Counter[str] = Counter()

    def run(self) -> Checker:
        Bundle.model_validate(self.bundle)
        self._code("Bundle.type", self.bundle["type"])
        urls = [e["fullUrl"] for e in self.bundle["entry"]]
        if len(urls) != len(set(urls)):
            self.errors.append("Bundle.entry.fullUrl: not unique")
        for entry in self.bundle["entry"]:
            resource = entry["resource"]
            kind = resource["resourceType"]
            self.counts["resources"] += 1
            self.counts[kind] += 1
            if entry["fullUrl"] != f"urn:uuid:{resource['id']}":
                self.errors.append(f"{kind}/{resource['id']}: fullUrl is not urn:uuid:<id>")
            self._walk(kind, resource, kind, f"{kind}/{resource['id']}", None)
        return self

    def _code(self, path: str, value: object) -> None:
        allowed = REQUIRED.get(path)
        if allowed is not None:
            self.counts["required codes"] += 1
            if value not in allowed:
                self.errors.append(f"{path}: {value!r} is not in its required value set")

    def _walk(
        self, model: str, value: dict[str, Any], path: str, where: str, targets: set[str] | None
    ) -> None:
        fields = _fields(model)
        for key, item in value.items():
            if key == "resourceType":
                continue
            info = fields.get(key)
            if info is None:
                continue
            type_name, allowed = info
            sub = f"{path}.{key}"
            for one in item if isinstance(item, list) else [item]:
                if not isinstance(one, dict):
                    self._code(sub, one)
                    if key == "questionnaire" and model == "QuestionnaireResponse":
                        self._canonical(f"{where} {sub}", one)
                    continue
                inherited = targets if type_name == "CodeableReference" else None
                if type_name == "Extension" and model != "Extension":
                    # an extension of an element (those inside an extension are its parts)
                    found = self._extension(one, where, modifier=key == "modifierExtension")
                    inherited = targets if found is None else found
                elif type_name == "Extension":
                    inherited = targets
                if type_name == "Reference":
                    self._reference(f"{where} {sub}", one, targets or set(allowed))
                elif type_name == "Coding":
                    self._coding(f"{where} {sub}", one)
                try:
                    _fields(type_name)
                except Exception:
                    continue
                self._walk(type_name, one, sub, where, inherited)

    def _extension(self, value: dict[str, Any], where: str, *, modifier: bool) -> set[str] | None:
        url = value.get("url", "")
        ours = _ours()[1]
        self.counts["extensions"] += 1
        if url in ours:
            if ours[url] != modifier:
                self.errors.append(f"{where}: extension {url} is misplaced (modifier or not)")
            return None
        if url in HL7_EXTENSIONS:
            if (url in MODIFIERS) != modifier:
                self.errors.append(f"{where}: extension {url} is misplaced (modifier or not)")
            return HL7_EXTENSIONS[url]
        self.errors.append(f"{where}: extension {url} has no definition")
        return None

    def _reference(self, where: str, ref: dict[str, Any], allowed: set[str]) -> None:
        target = ref.get("reference")
        if target is None:
            return
        self.counts["references"] += 1
        kind = self.types.get(target)
        if kind is None:
            self.errors.append(f"{where}: {target} does not resolve inside the Bundle")
        elif allowed and "Resource" not in allowed and kind not in allowed:
            self.errors.append(
                f"{where}: points at a {kind}; R4B allows {', '.join(sorted(allowed))}"
            )

    def _canonical(self, where: str, url: str) -> None:
        self.counts["canonicals"] += 1
        if url not in self.canonicals or url not in _ours()[2]:
            self.errors.append(f"{where}: {url} is not a Questionnaire of the Bundle")

    def _coding(self, where: str, coding: dict[str, Any]) -> None:
        self.counts["codings"] += 1
        system, code = coding.get("system"), coding.get("code")
        table = CODES.get(system or "") or _ours()[0].get(system or "")
        if table is None:
            self.errors.append(f"{where}: code system {system} is not known")
            return
        if code not in table:
            self.errors.append(f"{where}: {code!r} is not a code of {system}")
            return
        shown = coding.get("display")
        if shown is not None and shown != table[code]:
            self.errors.append(
                f"{where}: {system}#{code} is displayed {shown!r}; the code system says "
                f"{table[code]!r}"
            )


def check(bundle: dict[str, Any]) -> Checker:
    """Run every check on ``bundle``; the result's ``errors`` should be empty."""
    return Checker(bundle).run()
