"""stemjourney: follow regenerative-medicine patients through their treatment journey.

The public API is re-exported here; the implementation lives in private modules.
Each name is imported when it is first used (:pep:`562`), so ``import stemjourney``
and the command line load only what they need: ``stemjourney.Store`` brings in the
store, ``stemjourney.worklist`` the outcome arithmetic, and so on.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stemjourney.clinical._patient import Patient, normalise_external_id
    from stemjourney.clinical._protocol import (
        DEFAULT_PROTOCOL,
        Protocol,
        Recency,
        ReleaseCriteria,
        ResponderRule,
        ScheduledVisit,
    )
    from stemjourney.clinical._records import (
        AdverseEvent,
        Consent,
        EligibilityAssessment,
        FollowUpVisit,
        Harvest,
        IneligibilityReason,
        Injection,
        Processing,
        Record,
        VoidReason,
        WithdrawalReason,
    )
    from stemjourney.clinical._scores import Score, nrs, vas
    from stemjourney.clinical._vocabulary import (
        CONTRAINDICATIONS,
        IMAGE_GUIDANCE,
        WITHDRAWAL_CODES,
        AEOutcome,
        CellSource,
        ConsentScope,
        Guidance,
        Initiator,
        Manipulation,
        Relatedness,
        Side,
    )
    from stemjourney.exceptions import StemJourneyError
    from stemjourney.journey._clock import Clock, SystemClock
    from stemjourney.journey._diagrams import requirements_table, to_dot, to_mermaid
    from stemjourney.journey._engine import Engine
    from stemjourney.journey._guards import GuardContext
    from stemjourney.journey._journey import (
        Journey,
        JourneyState,
        RecordEntry,
        TransitionEntry,
    )
    from stemjourney.journey._pipeline import Guard, Pipeline, Stage, Transition
    from stemjourney.journey._table import DEFAULT_PIPELINE
    from stemjourney.outcomes import (
        baseline,
        schedule_status,
        score_koos,
        score_questionnaire,
        worklist,
    )
    from stemjourney.store import Store, open_store

__version__ = "0.1.0.dev0"

_HOMES: dict[str, tuple[str, ...]] = {
    "stemjourney.clinical._patient": ("Patient", "normalise_external_id"),
    "stemjourney.clinical._protocol": (
        "DEFAULT_PROTOCOL",
        "Protocol",
        "Recency",
        "ReleaseCriteria",
        "ResponderRule",
        "ScheduledVisit",
    ),
    "stemjourney.clinical._records": (
        "AdverseEvent",
        "Consent",
        "EligibilityAssessment",
        "FollowUpVisit",
        "Harvest",
        "IneligibilityReason",
        "Injection",
        "Processing",
        "Record",
        "VoidReason",
        "WithdrawalReason",
    ),
    "stemjourney.clinical._scores": ("Score", "nrs", "vas"),
    "stemjourney.clinical._vocabulary": (
        "CONTRAINDICATIONS",
        "IMAGE_GUIDANCE",
        "WITHDRAWAL_CODES",
        "AEOutcome",
        "CellSource",
        "ConsentScope",
        "Guidance",
        "Initiator",
        "Manipulation",
        "Relatedness",
        "Side",
    ),
    "stemjourney.exceptions": ("StemJourneyError",),
    "stemjourney.journey._clock": ("Clock", "SystemClock"),
    "stemjourney.journey._diagrams": ("requirements_table", "to_dot", "to_mermaid"),
    "stemjourney.journey._engine": ("Engine",),
    "stemjourney.journey._guards": ("GuardContext",),
    "stemjourney.journey._journey": (
        "Journey",
        "JourneyState",
        "RecordEntry",
        "TransitionEntry",
    ),
    "stemjourney.journey._pipeline": ("Guard", "Pipeline", "Stage", "Transition"),
    "stemjourney.journey._table": ("DEFAULT_PIPELINE",),
    "stemjourney.outcomes": (
        "baseline",
        "schedule_status",
        "score_koos",
        "score_questionnaire",
        "worklist",
    ),
    "stemjourney.store": ("Store", "open_store"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # the next look-up is a plain attribute
        return value
    if name == "OPEN_STAGES":
        warnings.warn(
            "stemjourney.OPEN_STAGES is deprecated; use DEFAULT_PIPELINE.open_stages",
            DeprecationWarning,
            stacklevel=2,
        )
        return __getattr__("DEFAULT_PIPELINE").open_stages  # type: ignore[attr-defined]
    raise AttributeError(f"module 'stemjourney' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "CONTRAINDICATIONS",
    "DEFAULT_PIPELINE",
    "DEFAULT_PROTOCOL",
    "IMAGE_GUIDANCE",
    "WITHDRAWAL_CODES",
    "AEOutcome",
    "AdverseEvent",
    "CellSource",
    "Clock",
    "Consent",
    "ConsentScope",
    "EligibilityAssessment",
    "Engine",
    "FollowUpVisit",
    "Guard",
    "GuardContext",
    "Guidance",
    "Harvest",
    "IneligibilityReason",
    "Initiator",
    "Injection",
    "Journey",
    "JourneyState",
    "Manipulation",
    "Patient",
    "Pipeline",
    "Processing",
    "Protocol",
    "Recency",
    "Record",
    "RecordEntry",
    "Relatedness",
    "ReleaseCriteria",
    "ResponderRule",
    "ScheduledVisit",
    "Score",
    "Side",
    "Stage",
    "StemJourneyError",
    "Store",
    "SystemClock",
    "Transition",
    "TransitionEntry",
    "VoidReason",
    "WithdrawalReason",
    "baseline",
    "normalise_external_id",
    "nrs",
    "open_store",
    "requirements_table",
    "schedule_status",
    "score_koos",
    "score_questionnaire",
    "to_dot",
    "to_mermaid",
    "vas",
    "worklist",
]
