"""Exports: FHIR R4B Bundles for clinical systems, de-identified CSV for research.

Both read a store (or anything with ``patient(id)`` and ``iter_journeys()``, such as
the in-memory demo clinic) and stream it, one patient at a time.
"""

from stemjourney.export._fhir import (
    EPISODE_STATUS,
    FHIR_BASE,
    episode_status,
    fhir_bundle,
    fhir_resources,
    patient_resource,
    write_fhir_bundle,
)
from stemjourney.export._fhir_definitions import fhir_definitions
from stemjourney.export._fhir_import import import_fhir, read_fhir_bundle
from stemjourney.export._research import (
    DATE_MODES,
    MIN_KEY_BYTES,
    RESEARCH_COLUMNS,
    age_band,
    date_offset,
    pseudonym,
    research_csv,
    research_rows,
)
from stemjourney.journey._sources import ClinicSource

__all__ = [
    "DATE_MODES",
    "EPISODE_STATUS",
    "FHIR_BASE",
    "MIN_KEY_BYTES",
    "RESEARCH_COLUMNS",
    "ClinicSource",
    "age_band",
    "date_offset",
    "episode_status",
    "fhir_bundle",
    "fhir_definitions",
    "fhir_resources",
    "import_fhir",
    "patient_resource",
    "pseudonym",
    "read_fhir_bundle",
    "research_csv",
    "research_rows",
    "write_fhir_bundle",
]
