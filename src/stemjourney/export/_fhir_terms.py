"""The FHIR export's vocabulary: canonical URLs, code systems with their display text, LOINC.

Everything the export codes is drawn from here, with the display text the code
system itself gives (HL7's code systems, SNOMED CT, LOINC), so the tests can check
each coded value against one table. Our own definitions (extensions, code systems,
questionnaires) have canonical ``https`` URLs under :data:`FHIR_BASE`; identifier
systems are the ``urn:stemjourney:<kind>`` namespaces, which name nothing to resolve.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

__all__ = [
    "CODE_SYSTEM",
    "CONCEPTS",
    "FHIR_BASE",
    "GENERIC_PAIN",
    "ID_SYSTEM",
    "LOINC",
    "LOINC_ITEMS",
    "LOINC_NAMES",
    "LOINC_PANELS",
    "QUESTIONNAIRE",
    "SNOMED",
    "STRUCTURE",
    "TERMINOLOGY",
    "UCUM",
    "XVER_ADVERSE_EVENT_STATUS",
    "XVER_PROCEDURE_USED",
    "concept",
    "coding",
    "display",
    "questionnaire_code",
    "uid",
]

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
ID_SYSTEM = "urn:stemjourney"
"""Prefix of the identifier systems: ``urn:stemjourney:patient``, ``...:journey``..."""
FHIR_BASE = "https://stemjourney.org/fhir"
"""Base of the canonical URLs of stemjourney's own FHIR definitions."""
STRUCTURE = f"{FHIR_BASE}/StructureDefinition"
CODE_SYSTEM = f"{FHIR_BASE}/CodeSystem"
QUESTIONNAIRE = f"{FHIR_BASE}/Questionnaire"

XVER_PROCEDURE_USED = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Procedure.used"
"""HL7's cross-version extension for R5 ``Procedure.used`` (which allows the product)."""
XVER_ADVERSE_EVENT_STATUS = (
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-AdverseEvent.status"
)
"""HL7's cross-version extension for R5 ``AdverseEvent.status`` (a modifier)."""

# LOINC codes with LOINC's own long common name.
LOINC_NAMES: dict[str, str] = {
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
}
GENERIC_PAIN = "38208-5"
"""LOINC for a registered pain scale that has no code of its own."""
LOINC_PANELS: dict[str, str] = {"koos": "72091-2", "odi": "97908-8", "ndi": "82226-2"}
"""The LOINC panel of each questionnaire that LOINC has (QuickDASH and ASES have none)."""
LOINC_ITEMS: dict[str, dict[str, str]] = {
    "ndi": {
        "i1": "82227-0",
        "i2": "82228-8",
        "i3": "82229-6",
        "i4": "82230-4",
        "i5": "82231-2",
        "i6": "82232-0",
        "i7": "82233-8",
        "i8": "82234-6",
        "i9": "82235-3",
        "i10": "82236-1",
    },
}
"""LOINC item codes by questionnaire and item (only the NDI's are carried; see the docs)."""

# Codes of other code systems, with the code system's own display text.
_DISPLAYS: dict[tuple[str, str], str] = {
    (SNOMED, "239873007"): "Osteoarthritis of knee",
    (SNOMED, "239872002"): "Osteoarthritis of hip",
    (SNOMED, "49401003"): "Bone marrow aspiration",
    (f"{TERMINOLOGY}/observation-category", "survey"): "Survey",
    (f"{TERMINOLOGY}/adverse-event-seriousness", "serious"): "Serious",
    (f"{TERMINOLOGY}/adverse-event-seriousness", "non-serious"): "Non-serious",
    (f"{TERMINOLOGY}/adverse-event-severity", "mild"): "Mild",
    (f"{TERMINOLOGY}/adverse-event-severity", "moderate"): "Moderate",
    (f"{TERMINOLOGY}/adverse-event-severity", "severe"): "Severe",
    (f"{TERMINOLOGY}/adverse-event-outcome", "resolved"): "Resolved",
    (f"{TERMINOLOGY}/adverse-event-outcome", "recovering"): "Recovering",
    (f"{TERMINOLOGY}/adverse-event-outcome", "ongoing"): "Ongoing",
    (f"{TERMINOLOGY}/adverse-event-outcome", "resolvedWithSequelae"): "Resolved with Sequelae",
    (f"{TERMINOLOGY}/adverse-event-outcome", "fatal"): "Fatal",
    (f"{TERMINOLOGY}/adverse-event-outcome", "unknown"): "Unknown",
    (f"{TERMINOLOGY}/adverse-event-causality-assess", "Certain"): "Certain",
    (f"{TERMINOLOGY}/adverse-event-causality-assess", "Probably-Likely"): "Probably/Likely",
    (f"{TERMINOLOGY}/adverse-event-causality-assess", "Possible"): "Possible",
    (f"{TERMINOLOGY}/adverse-event-causality-assess", "Unlikely"): "Unlikely",
    (f"{TERMINOLOGY}/condition-ver-status", "entered-in-error"): "Entered in Error",
    (f"{TERMINOLOGY}/consentscope", "treatment"): "Treatment",
    (f"{TERMINOLOGY}/v3-ActCode", "AMB"): "ambulatory",
    (f"{TERMINOLOGY}/v3-ActCode", "VR"): "virtual",
}

CONCEPTS: dict[str, tuple[str, str]] = {
    "eligibility-assessment": (
        "Eligibility assessment",
        "The screening at consultation for contraindications to autologous cell therapy.",
    ),
    "pregnancy": ("Pregnancy", "A contraindication screened for at consultation."),
    "active_infection": ("Active infection", "A contraindication screened for at consultation."),
    "recent_malignancy": (
        "Recent malignancy",
        "A contraindication screened for at consultation.",
    ),
    "bleeding_disorder": (
        "Bleeding disorder",
        "A contraindication screened for at consultation.",
    ),
    "anticoagulation": ("Anticoagulation", "A contraindication screened for at consultation."),
    "immunosuppression": (
        "Immunosuppression",
        "A contraindication screened for at consultation.",
    ),
    "recent_intra_articular_injection": (
        "Recent intra-articular injection",
        "A contraindication screened for at consultation.",
    ),
}
"""The codes of stemjourney's ``concept`` code system: display and definition."""


def display(system: str, code: str) -> str | None:
    """The display text ``system`` itself gives ``code``, where the export knows it."""
    if system == LOINC:
        return LOINC_NAMES.get(code)
    if system == f"{CODE_SYSTEM}/concept":
        found = CONCEPTS.get(code)
        return None if found is None else found[0]
    return _DISPLAYS.get((system, code))


def coding(system: str, code: str) -> dict[str, str]:
    """A Coding with the code system's own display text (none when it is not known)."""
    shown = display(system, code)
    if shown is None:
        return {"system": system, "code": code}
    return {"system": system, "code": code, "display": shown}


def concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept of one coding; ``text`` is how it was said (the display by default)."""
    found = coding(system, code)
    return {"coding": [found], "text": text or found.get("display", code)}


def questionnaire_code(instrument: str) -> str:
    """The questionnaire an instrument's answers belong to (the KOOS subscales share one)."""
    return "koos" if instrument.startswith("koos_") else instrument


_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, ID_SYSTEM).bytes


def uid(name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, computed without building a UUID object.

    >>> uid("patient/p-1") == str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, ID_SYSTEM),
    ...                                     "patient/p-1"))
    True
    """
    raw = bytearray(hashlib.sha1(_NAMESPACE + name.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
