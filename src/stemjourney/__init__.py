"""stemjourney: follow regenerative-medicine patients through their treatment journey.

The public API is re-exported here; the implementation lives in private modules.
"""

import warnings

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
from stemjourney.journey._journey import Journey, JourneyState, RecordEntry, TransitionEntry
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


def __getattr__(name: str) -> object:
    if name == "OPEN_STAGES":
        warnings.warn(
            "stemjourney.OPEN_STAGES is deprecated; use DEFAULT_PIPELINE.open_stages",
            DeprecationWarning,
            stacklevel=2,
        )
        return DEFAULT_PIPELINE.open_stages
    raise AttributeError(f"module 'stemjourney' has no attribute {name!r}")


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
