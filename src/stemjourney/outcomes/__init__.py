"""Pain and function over time: instruments, baselines, change, responders, the schedule.

Everything here is pure: it reads journeys and a protocol and returns values that
reports, charts and the store use.
"""

from stemjourney.clinical._instruments import (
    BUILT_IN,
    INSTRUMENTS,
    KOOS_SUBSCALES,
    Instrument,
    InstrumentRegistry,
    Item,
    get_instrument,
    register_instrument,
)
from stemjourney.clinical._questionnaires import (
    KOOS_ITEMS,
    recompute,
    score_koos,
    score_questionnaire,
)
from stemjourney.outcomes._baseline import (
    Baseline,
    Change,
    baseline,
    change,
    day_of,
    injection_dates,
)
from stemjourney.outcomes._responders import ResponderResult, meets, responder_status
from stemjourney.outcomes._schedule import (
    PlannedVisit,
    VisitState,
    VisitStatus,
    planned_visits,
    schedule_status,
    worklist,
)
from stemjourney.outcomes._series import BASELINE, UNSCHEDULED, Series, SeriesPoint, series

__all__ = [
    "BASELINE",
    "BUILT_IN",
    "INSTRUMENTS",
    "KOOS_ITEMS",
    "KOOS_SUBSCALES",
    "UNSCHEDULED",
    "Baseline",
    "Change",
    "Instrument",
    "InstrumentRegistry",
    "Item",
    "PlannedVisit",
    "ResponderResult",
    "Series",
    "SeriesPoint",
    "VisitState",
    "VisitStatus",
    "baseline",
    "change",
    "day_of",
    "get_instrument",
    "injection_dates",
    "meets",
    "planned_visits",
    "recompute",
    "register_instrument",
    "responder_status",
    "schedule_status",
    "score_koos",
    "score_questionnaire",
    "series",
    "worklist",
]
