"""The controlled vocabularies records draw from: sides, cell sources, guidance, codes."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AEOutcome",
    "CONTRAINDICATIONS",
    "CellSource",
    "ConsentScope",
    "Guidance",
    "IMAGE_GUIDANCE",
    "Initiator",
    "Manipulation",
    "Relatedness",
    "Side",
    "WITHDRAWAL_CODES",
]


class Side(StrEnum):
    """Which side of the body a site is on."""

    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"
    MIDLINE = "midline"


class CellSource(StrEnum):
    """Where the cells are harvested from."""

    BONE_MARROW = "bone_marrow"
    ADIPOSE = "adipose"


class Guidance(StrEnum):
    """How a needle is guided to its target."""

    ULTRASOUND = "ultrasound"
    FLUOROSCOPY = "fluoroscopy"
    LANDMARK = "landmark"


IMAGE_GUIDANCE: frozenset[Guidance] = frozenset({Guidance.ULTRASOUND, Guidance.FLUOROSCOPY})
"""The image guidance the default protocol requires for an injection (landmark is not)."""


class Manipulation(StrEnum):
    """How much the lab changes the cells (the regulatory distinction)."""

    MINIMAL = "minimal"
    MORE_THAN_MINIMAL = "more_than_minimal"


class Relatedness(StrEnum):
    """How likely an adverse event is related to the treatment."""

    UNRELATED = "unrelated"
    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    PROBABLE = "probable"
    DEFINITE = "definite"


class AEOutcome(StrEnum):
    """How an adverse event ended, or stands."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"


class Initiator(StrEnum):
    """Who decided to stop a journey."""

    PATIENT = "patient"
    CLINICIAN = "clinician"


class ConsentScope(StrEnum):
    """What a signed consent covers.

    ``treatment`` and ``treatment_and_registry`` cover a treatment cycle: harvest,
    processing and injection (a repeat injection of stored product included);
    ``repeat_injection`` covers only a repeat injection of stored product.

    >>> ConsentScope.REPEAT_INJECTION.covers("harvest")
    False
    >>> ConsentScope.TREATMENT.covers("repeat_injection")
    True
    """

    TREATMENT = "treatment"
    TREATMENT_AND_REGISTRY = "treatment_and_registry"
    REPEAT_INJECTION = "repeat_injection"

    def covers(self, what: str) -> bool:
        """True when this scope covers ``what``: ``"harvest"`` or ``"repeat_injection"``."""
        if what == "repeat_injection":
            return True
        return self is not ConsentScope.REPEAT_INJECTION


CONTRAINDICATIONS: frozenset[str] = frozenset(
    {
        "pregnancy",
        "active_infection",
        "recent_malignancy",
        "bleeding_disorder",
        "anticoagulation",
        "immunosuppression",
        "recent_intra_articular_injection",
    }
)
"""Contraindications every clinic screens for; a clinic adds its own as ``clinic:<code>``."""

WITHDRAWAL_CODES: frozenset[str] = frozenset(
    {
        "adverse_event",
        "lack_of_efficacy",
        "patient_choice",
        "lost_to_follow_up",
        "protocol_deviation",
        "other",
    }
)
"""Why a journey was withdrawn."""
