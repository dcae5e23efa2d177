"""Pain and function over time: instruments, baselines, change, responders, the schedule.

This package is the one place where outcome arithmetic lives: every report and export
calls it. Everything here is pure: it reads journeys (or their
:class:`OutcomeFacts`) and a protocol and returns values. The rules are explained,
with worked examples and sources, in the docs page "How outcomes are computed".

Each name is imported when first used, so the store (which needs only
:class:`OutcomeFacts`) does not load the whole outcome arithmetic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from stemjourney.outcomes._baseline import Baseline, baseline, baseline_index
    from stemjourney.outcomes._change import Change, change, change_of, improvement
    from stemjourney.outcomes._cycles import cycle_of, day_of, first_injections, injection_dates
    from stemjourney.outcomes._facts import OutcomeFacts, facts_of
    from stemjourney.outcomes._fold import CycleFacts, OutcomeFold, PointFacts, TextDays, VisitFacts
    from stemjourney.outcomes._responders import (
        ResponderResult,
        meets,
        meets_values,
        responder_status,
    )
    from stemjourney.outcomes._schedule import (
        PlannedVisit,
        VisitState,
        VisitStatus,
        Window,
        as_day,
        first_score_on,
        open_status,
        plan_windows,
        planned_visits,
        schedule_status,
        time_point_score,
        visit_status,
        worklist,
    )
    from stemjourney.outcomes._series import (
        BASELINE,
        UNSCHEDULED,
        Series,
        SeriesPoint,
        known_on,
        points_by_version,
        series,
    )

_HOMES: dict[str, tuple[str, ...]] = {
    "stemjourney.clinical._instruments": (
        "BUILT_IN",
        "INSTRUMENTS",
        "KOOS_SUBSCALES",
        "Instrument",
        "InstrumentRegistry",
        "Item",
        "get_instrument",
        "register_instrument",
    ),
    "stemjourney.clinical._questionnaires": (
        "KOOS_ITEMS",
        "recompute",
        "score_koos",
        "score_questionnaire",
    ),
    "stemjourney.outcomes._baseline": (
        "Baseline",
        "baseline",
        "baseline_index",
    ),
    "stemjourney.outcomes._change": (
        "Change",
        "change",
        "change_of",
        "improvement",
    ),
    "stemjourney.outcomes._cycles": (
        "cycle_of",
        "day_of",
        "first_injections",
        "injection_dates",
    ),
    "stemjourney.outcomes._facts": (
        "OutcomeFacts",
        "facts_of",
    ),
    "stemjourney.outcomes._fold": (
        "CycleFacts",
        "OutcomeFold",
        "PointFacts",
        "TextDays",
        "VisitFacts",
    ),
    "stemjourney.outcomes._responders": (
        "ResponderResult",
        "meets",
        "meets_values",
        "responder_status",
    ),
    "stemjourney.outcomes._schedule": (
        "PlannedVisit",
        "VisitState",
        "VisitStatus",
        "Window",
        "as_day",
        "first_score_on",
        "open_status",
        "plan_windows",
        "planned_visits",
        "schedule_status",
        "time_point_score",
        "visit_status",
        "worklist",
    ),
    "stemjourney.outcomes._series": (
        "BASELINE",
        "UNSCHEDULED",
        "Series",
        "SeriesPoint",
        "known_on",
        "points_by_version",
        "series",
    ),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BASELINE",
    "BUILT_IN",
    "INSTRUMENTS",
    "KOOS_ITEMS",
    "KOOS_SUBSCALES",
    "UNSCHEDULED",
    "Baseline",
    "Change",
    "CycleFacts",
    "Instrument",
    "InstrumentRegistry",
    "Item",
    "OutcomeFacts",
    "OutcomeFold",
    "PlannedVisit",
    "PointFacts",
    "ResponderResult",
    "Series",
    "SeriesPoint",
    "TextDays",
    "VisitFacts",
    "VisitState",
    "VisitStatus",
    "Window",
    "as_day",
    "baseline",
    "baseline_index",
    "change",
    "change_of",
    "cycle_of",
    "day_of",
    "facts_of",
    "first_injections",
    "first_score_on",
    "get_instrument",
    "improvement",
    "injection_dates",
    "known_on",
    "meets",
    "meets_values",
    "open_status",
    "plan_windows",
    "planned_visits",
    "points_by_version",
    "recompute",
    "register_instrument",
    "responder_status",
    "schedule_status",
    "score_koos",
    "score_questionnaire",
    "series",
    "time_point_score",
    "visit_status",
    "worklist",
]
