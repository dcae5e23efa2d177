"""The definitions behind the export's own URLs: StructureDefinitions, CodeSystems, Questionnaires.

A validator that is given these (``fhir_definitions()``, written as a Bundle for the
HL7 validator's ``-ig``) knows every extension, code system and questionnaire a
stemjourney Bundle uses; the Questionnaires themselves also travel in each Bundle
that holds a response to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stemjourney.clinical._instruments import INSTRUMENTS, KOOS_SUBSCALES, Instrument
from stemjourney.export import _fhir_terms as t
from stemjourney.export._fhir_resources import (
    CTCAE_EXTENSION,
    ENTERED_IN_ERROR_EXTENSION,
    ENTRY_EXTENSION,
    JOURNEY_EXTENSION,
    OUTCOME_EXTENSION,
)

__all__ = ["code_systems", "fhir_definitions", "questionnaire", "structure_definitions"]

_VERSION = "1.0.0"
_PUBLISHER = "The stemjourney developers"

# (name, type) of a sub-extension; "*" after the name: it may repeat; "?": optional.
_ENTRY_PARTS = [
    ("version", "integer"),
    ("cycle", "integer"),
    ("stage", "code"),
    ("stageSeq", "integer"),
    ("recorded", "instant"),
    ("actor", "string"),
    ("amends?", "integer"),
    ("reason?", "string"),
    ("record", "string"),
]
_MOVE_PARTS = [
    ("seq", "integer"),
    ("version", "integer"),
    ("source?", "code"),
    ("target", "code"),
    ("cycle", "integer"),
    ("occurred", "dateTime"),
    ("recorded", "instant"),
    ("actor", "string"),
    ("reason?", "string"),
    ("lateReason?", "string"),
    ("overrideReason?", "string"),
    ("reasonRecord?", "string"),
]
_SIMPLE: list[tuple[str, str, str, str]] = [
    (CTCAE_EXTENSION, "AdverseEvent", "integer", "The CTCAE grade (1 mild to 5 death)."),
    (f"{t.STRUCTURE}/final-volume", "BiologicallyDerivedProduct", "Quantity", "Final volume."),
    (
        f"{t.STRUCTURE}/tnc-per-ml",
        "BiologicallyDerivedProduct",
        "Quantity",
        "Nucleated cells per mL.",
    ),
    (f"{t.STRUCTURE}/viability", "BiologicallyDerivedProduct", "Quantity", "Cell viability, %."),
    (f"{t.STRUCTURE}/cd34-per-ml", "BiologicallyDerivedProduct", "Quantity", "CD34+ cells per mL."),
]


def _name(url: str) -> str:
    tail = url.rsplit("/", 1)[1]
    return "".join(part.capitalize() for part in tail.split("-"))


def _slices(path: str, parts: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    for raw, kind in parts:
        name = raw.rstrip("?*")
        low = 0 if raw.endswith(("?", "*")) else 1
        high = "*" if raw.endswith("*") else "1"
        base = f"{path}.extension:{name}"
        elements.append(
            {
                "id": base,
                "path": f"{path}.extension",
                "sliceName": name,
                "min": low,
                "max": high,
            }
        )
        elements.append({"id": f"{base}.url", "path": f"{path}.extension.url", "fixedUri": name})
        if isinstance(kind, list):
            elements += _slices(base, kind)
            elements.append(
                {"id": f"{base}.value[x]", "path": f"{path}.extension.value[x]", "max": "0"}
            )
        else:
            elements.append(
                {
                    "id": f"{base}.value[x]",
                    "path": f"{path}.extension.value[x]",
                    "min": 1,
                    "type": [{"code": kind}],
                }
            )
    return elements


def _extension(
    url: str,
    contexts: Iterable[str],
    description: str,
    *,
    value: str | None = None,
    parts: list[tuple[str, Any]] | None = None,
    modifier: bool = False,
) -> dict[str, Any]:
    root: dict[str, Any] = {"id": "Extension", "path": "Extension", "short": description}
    if modifier:
        root["isModifier"] = True
        root["isModifierReason"] = "It marks the resource as entered in error."
    elements = [root]
    if parts is not None:
        elements.append({"id": "Extension.extension", "path": "Extension.extension", "min": 1})
        elements += _slices("Extension", parts)
    elements.append({"id": "Extension.url", "path": "Extension.url", "fixedUri": url})
    if value is not None:
        elements.append(
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [{"code": value}],
            }
        )
    else:
        elements.append({"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"})
    return {
        "resourceType": "StructureDefinition",
        "id": url.rsplit("/", 1)[1],
        "url": url,
        "version": _VERSION,
        "name": _name(url),
        "status": "active",
        "publisher": _PUBLISHER,
        "description": description,
        "fhirVersion": "4.3.0",
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": c} for c in contexts],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def structure_definitions() -> list[dict[str, Any]]:
    """The StructureDefinition of every extension the export defines."""
    entry_types = [
        "Observation",
        "ClinicalImpression",
        "Procedure",
        "BiologicallyDerivedProduct",
        "AdverseEvent",
        "Consent",
        "Encounter",
    ]
    found = [
        _extension(
            ENTRY_EXTENSION,
            entry_types,
            "The record's entry in its journey's history: version, cycle, stage, when it was "
            "recorded and by whom, what it amends and why, the record as stemjourney stores "
            "it (JSON), and each earlier version it replaced.",
            parts=[
                ("journey", "string"),
                *_ENTRY_PARTS,
                ("previous*", _ENTRY_PARTS),
            ],
        ),
        _extension(
            JOURNEY_EXTENSION,
            ["EpisodeOfCare"],
            "The journey's condition, treated site, side and cell source, and every move of "
            "its history (seq, version, stages, cycle, times, actor, reasons).",
            parts=[
                ("condition", "string"),
                ("site", "string"),
                ("side", "code"),
                ("cellSource", "code"),
                ("move*", _MOVE_PARTS),
            ],
        ),
        _extension(
            OUTCOME_EXTENSION,
            ["Observation"],
            "The score's outcome as every stemjourney report shows it: time point, baseline, "
            "change, improvement and responder verdicts.",
            parts=[
                ("timePoint", "code"),
                ("baseline", "boolean"),
                ("change?", "decimal"),
                ("improvement?", "decimal"),
                ("improvementPercent?", "decimal"),
                ("responder*", [("rule", "string"), ("met", "boolean")]),
            ],
        ),
        _extension(
            ENTERED_IN_ERROR_EXTENSION,
            ["BiologicallyDerivedProduct"],
            "The product belongs to a journey that was voided (opened by mistake).",
            value="boolean",
            modifier=True,
        ),
    ]
    for url, context, value, description in _SIMPLE:
        found.append(_extension(url, [context], description, value=value))
    return found


def code_systems() -> list[dict[str, Any]]:
    """stemjourney's code systems: the instruments registered here, and its concepts."""
    instruments = [
        {"code": code, "display": spec.name, "definition": spec.source}
        for code in INSTRUMENTS
        if (spec := INSTRUMENTS.get(code)) is not None
    ]
    concepts = [
        {"code": code, "display": shown, "definition": definition}
        for code, (shown, definition) in t.CONCEPTS.items()
    ]
    return [
        _code_system("instrument", "Instruments", "Pain scales and questionnaires.", instruments),
        _code_system("concept", "Concepts", "Eligibility and contraindications.", concepts),
    ]


def _code_system(
    name: str, title: str, description: str, concepts: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": f"stemjourney-{name}",
        "url": f"{t.CODE_SYSTEM}/{name}",
        "version": _VERSION,
        "name": f"Stemjourney{title}",
        "title": f"stemjourney {title.lower()}",
        "status": "active",
        "publisher": _PUBLISHER,
        "description": description,
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _item(spec: Instrument, item: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "linkId": item.code,
        "text": f"{spec.name}: item {item.code.upper()}",
        "type": "integer" if item.integer else "decimal",
    }
    code = t.LOINC_ITEMS.get(t.questionnaire_code(spec.code), {}).get(item.code)
    if code is not None:
        found["code"] = [t.coding(t.LOINC, code)]
    kind = "valueInteger" if item.integer else "valueDecimal"
    low = int(item.low) if item.integer else item.low
    high = int(item.high) if item.integer else item.high
    found["extension"] = [
        {"url": "http://hl7.org/fhir/StructureDefinition/minValue", kind: low},
        {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", kind: high},
    ]
    return found


def questionnaire(code: str) -> dict[str, Any]:
    """The Questionnaire of ``code`` (an instrument with items, or ``koos`` for all five
    KOOS subscales, each a group of its items)."""
    if code == "koos":
        title = "Knee injury and Osteoarthritis Outcome Score (KOOS)"
        items = []
        for sub in KOOS_SUBSCALES:
            spec = INSTRUMENTS[sub]
            items.append(
                {
                    "linkId": sub,
                    "text": spec.name,
                    "type": "group",
                    "item": [_item(spec, i) for i in spec.items],
                }
            )
    else:
        spec = INSTRUMENTS[code]
        title = spec.name
        items = [_item(spec, i) for i in spec.items]
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": t.uid(f"questionnaire/{code}"),
        "url": f"{t.QUESTIONNAIRE}/{code}",
        "version": _VERSION,
        "name": "".join(ch for ch in code.title() if ch.isalnum()),
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": _PUBLISHER,
    }
    panel = t.LOINC_PANELS.get(code)
    if panel is not None:
        resource["code"] = [t.coding(t.LOINC, panel)]
    resource["item"] = items
    return resource


def questionnaire_codes() -> list[str]:
    """The questionnaire of every registered instrument with items (KOOS once)."""
    codes: dict[str, None] = {}
    for code in INSTRUMENTS:
        spec = INSTRUMENTS.get(code)
        if spec is not None and spec.items:
            codes[t.questionnaire_code(code)] = None
    return list(codes)


def fhir_definitions() -> list[dict[str, Any]]:
    """Every definition behind the export's own URLs, as FHIR R4B resources (plain dicts).

    The StructureDefinitions of the extensions, stemjourney's code systems and the
    Questionnaire of each registered questionnaire. Give them to a validator with the
    Bundle they define (for the HL7 validator, written out with ``-ig``).

    >>> kinds = {r["resourceType"] for r in fhir_definitions()}
    >>> sorted(kinds)
    ['CodeSystem', 'Questionnaire', 'StructureDefinition']
    """
    return [
        *structure_definitions(),
        *code_systems(),
        *(questionnaire(code) for code in questionnaire_codes()),
    ]
