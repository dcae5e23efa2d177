"""Hypothesis strategies for stemjourney's values: times, clinical records, pain scores.

Every record strategy takes ``at``: a datetime (every drawn record happens then), a
strategy of datetimes, or ``None`` for :func:`aware_datetimes`. The record's
``occurred_at`` is always that time, so records drawn for "now" are never refused
as being in the future.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from stemjourney.clinical import _validation as v
from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, ReleaseCriteria
from stemjourney.clinical._records import (
    AdverseEvent,
    Consent,
    EligibilityAssessment,
    FollowUpVisit,
    Harvest,
    Injection,
    Processing,
    Record,
    WithdrawalReason,
)
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import (
    CONTRAINDICATIONS,
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

__all__ = [
    "DEFAULT_START",
    "TimeSpec",
    "adverse_events",
    "aware_datetimes",
    "consents",
    "contraindication_codes",
    "eligibility_assessments",
    "follow_up_visits",
    "free_text",
    "harvests",
    "injections",
    "invalid_pain_values",
    "pain_scores",
    "processings",
    "records",
    "withdrawal_reasons",
]

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""The clinical time the testing helpers start from unless told otherwise."""

TimeSpec = datetime | st.SearchStrategy[datetime] | None
"""What ``at`` accepts: a fixed aware datetime, a strategy of them, or None (any)."""

_ZONES = (
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
)


def aware_datetimes(
    min_value: datetime = datetime(2000, 1, 1),
    max_value: datetime = datetime(2099, 12, 31),
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes in UTC and in fixed offsets from -12:00 to +14:00.

    ``min_value`` and ``max_value`` are naive, read as local time in each offset.
    """
    return st.datetimes(min_value, max_value, timezones=st.sampled_from(_ZONES))


def _times(at: TimeSpec) -> st.SearchStrategy[datetime]:
    if at is None:
        return aware_datetimes()
    if isinstance(at, datetime):
        return st.just(v.aware("at", at))
    return at


def free_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-blank printable text (letters, digits, punctuation, spaces) the records accept."""
    alphabet = st.characters(categories=("L", "N", "P", "Zs"), max_codepoint=0x2FF)
    return st.text(alphabet, min_size=1, max_size=max_size).filter(str.strip)


def contraindication_codes(*, clinic: bool = True) -> st.SearchStrategy[str]:
    """Known contraindication codes and, with ``clinic``, the clinic's own ``clinic:<code>``."""
    known = st.sampled_from(sorted(CONTRAINDICATIONS))
    if not clinic:
        return known
    own = st.from_regex(r"\Aclinic:[a-z][a-z0-9_]{0,20}\Z")
    return st.one_of(known, own)


def eligibility_assessments(
    *, eligible: bool | None = None, at: TimeSpec = None
) -> st.SearchStrategy[EligibilityAssessment]:
    """Eligibility assessments; ``eligible=True`` finds no contraindication, ``False`` some."""
    if eligible is True:
        found: st.SearchStrategy[frozenset[str]] = st.just(frozenset())
    else:
        found = st.frozensets(contraindication_codes(), min_size=0 if eligible is None else 1)
    return st.builds(
        EligibilityAssessment,
        assessed_at=_times(at),
        contraindications=found,
        assessor=st.none() | free_text(),
    )


def consents(
    *, scope: ConsentScope | None = None, at: TimeSpec = None
) -> st.SearchStrategy[Consent]:
    """Signed consents of any scope, or of ``scope`` (a treatment cycle, a repeat injection)."""
    return st.builds(
        Consent,
        signed_at=_times(at),
        form_version=st.from_regex(r"\Av[0-9]{1,2}\Z"),
        scope=st.sampled_from(ConsentScope) if scope is None else st.just(scope),
    )


def harvests(
    *,
    source: CellSource | None = None,
    side: Side | None = None,
    at: TimeSpec = None,
) -> st.SearchStrategy[Harvest]:
    """Harvests; fix ``source`` (and ``side``) to match a journey so its guard passes."""
    return st.builds(
        Harvest,
        harvested_at=_times(at),
        source=st.sampled_from(CellSource) if source is None else st.just(source),
        body_site=st.sampled_from(("posterior iliac crest", "abdomen", "flank", "thigh")),
        side=st.sampled_from(Side) if side is None else st.just(side),
        volume_ml=st.floats(0.1, 1000),
        guidance=st.none() | st.sampled_from(Guidance),
    )


@st.composite
def processings(
    draw: st.DrawFn,
    released: bool | None = None,
    *,
    criteria: ReleaseCriteria = DEFAULT_PROTOCOL.release,
    product_id: str | None = None,
    at: TimeSpec = None,
) -> Processing:
    """Lab processing records; ``at`` is when processing finished.

    ``released=True`` gives products that pass ``criteria`` (the default protocol's
    release criteria unless given) and may be injected; ``False`` gives products that
    fail them (not released by the lab, or too few viable cells); ``None`` either.
    """
    passes = draw(st.booleans()) if released is None else released
    finished = draw(_times(at))
    volume = draw(st.floats(1, 20))
    tnc = draw(st.floats(1e6, 1e9))
    cd34 = draw(st.floats(1e3, 1e7))
    if passes:
        lab_ok = True
        viability = draw(st.floats(criteria.min_viability_pct, 100))
        if criteria.min_tnc_total is not None:
            tnc = max(tnc, min(1e12, math.ceil(criteria.min_tnc_total / volume) * 1.01))
        if criteria.min_cd34_per_ml is not None:
            cd34 = max(cd34, min(1e12, criteria.min_cd34_per_ml))
    else:
        lab_ok = criteria.min_viability_pct > 0 and draw(st.booleans())
        viability = (
            draw(st.floats(0, criteria.min_viability_pct, exclude_max=True))
            if lab_ok
            else draw(st.floats(0, 100))
        )
    return Processing(
        product_id=draw(st.from_regex(r"\Ap-[0-9]{1,6}\Z")) if product_id is None else product_id,
        started_at=finished - draw(st.timedeltas(timedelta(0), timedelta(hours=6))),
        finished_at=finished,
        method=draw(st.sampled_from(("density gradient", "automated centrifuge", "filtration"))),
        manipulation=draw(st.sampled_from(Manipulation)),
        final_volume_ml=volume,
        tnc_per_ml=tnc,
        viability_pct=viability,
        released=lab_ok,
        cd34_per_ml=cd34,
        doses=draw(st.integers(1, 3)),
    )


def injections(
    *,
    site: str | None = None,
    side: Side | None = None,
    product_id: str | None = None,
    guidance: Guidance | None = None,
    at: TimeSpec = None,
) -> st.SearchStrategy[Injection]:
    """Injections; fix ``site``, ``side`` and ``product_id`` to match a journey's product,
    and ``guidance`` to one the protocol allows (any guidance, landmark included, else)."""
    return st.builds(
        Injection,
        injected_at=_times(at),
        site=st.sampled_from(("knee", "hip", "shoulder", "lumbar facet"))
        if site is None
        else st.just(site),
        side=st.sampled_from(Side) if side is None else st.just(side),
        guidance=st.sampled_from(Guidance) if guidance is None else st.just(guidance),
        volume_ml=st.floats(0.1, 100),
        product_id=st.from_regex(r"\Ap-[0-9]{1,6}\Z")
        if product_id is None
        else st.just(product_id),
    )


@st.composite
def adverse_events(draw: st.DrawFn, *, at: TimeSpec = None) -> AdverseEvent:
    """Adverse events of CTCAE grades 1-5; grade 5 is always serious with outcome fatal."""
    grade = draw(st.integers(1, 5))
    fatal = grade == 5
    outcomes = [o for o in AEOutcome if o is not AEOutcome.FATAL]
    return AdverseEvent(
        onset_at=draw(_times(at)),
        site=draw(st.sampled_from(("knee", "iliac crest", "abdomen", "systemic"))),
        grade=grade,
        serious=True if fatal else draw(st.booleans()),
        relatedness=draw(st.sampled_from(Relatedness)),
        outcome=AEOutcome.FATAL if fatal else draw(st.sampled_from(outcomes)),
        action_taken=draw(st.sampled_from(("none", "analgesia", "ice and rest", "admitted"))),
        description=draw(st.none() | free_text()),
    )


def follow_up_visits(*, at: TimeSpec = None) -> st.SearchStrategy[FollowUpVisit]:
    """Follow-up contacts, in person, by phone or by video."""
    return st.builds(
        FollowUpVisit,
        visited_at=_times(at),
        contact=st.sampled_from(("in_person", "phone", "video")),
        time_point=st.none() | st.sampled_from(("6w", "3m", "6m", "12m", "24m")),
    )


def pain_scores(instrument: str | None = None, *, at: TimeSpec = None) -> st.SearchStrategy[Score]:
    """Pain scores: whole NRS points 0-10 and VAS millimetres 0-100 (``"nrs"``, ``"vas"``)."""
    chosen = sorted(PAIN_INSTRUMENTS) if instrument is None else [instrument]
    options = []
    for name in chosen:
        low, high, whole = PAIN_INSTRUMENTS[name]
        values: st.SearchStrategy[float] = (
            st.integers(int(low), int(high)).map(float) if whole else st.floats(low, high)
        )
        options.append(
            st.builds(Score, instrument=st.just(name), value=values, measured_at=_times(at))
        )
    return st.one_of(options)


def invalid_pain_values(instrument: str = "nrs") -> st.SearchStrategy[object]:
    """Values a pain score on ``instrument`` must refuse: out of range, fractional NRS,
    NaN, infinities, bools, strings and None.
    """
    low, high, whole = PAIN_INSTRUMENTS[instrument]
    fixed: list[object] = [
        high + 1,
        low - 1,
        math.nan,
        math.inf,
        -math.inf,
        True,
        False,
        str(int(high) // 2),
        None,
        [5],
    ]
    options: list[st.SearchStrategy[object]] = [
        st.sampled_from(fixed),
        st.integers(min_value=int(high) + 1),
        st.integers(max_value=int(low) - 1),
        st.floats(min_value=high, exclude_min=True, allow_infinity=False),
        st.floats(max_value=low, exclude_max=True, allow_infinity=False),
    ]
    if whole:
        options.append(st.floats(low, high).filter(lambda x: not x.is_integer()))
    return st.one_of(options)


def records(*, at: TimeSpec = None) -> st.SearchStrategy[Record]:
    """Any clinical record (not scores: see :func:`pain_scores`), each valid on its own."""
    return st.one_of(
        eligibility_assessments(at=at),
        consents(at=at),
        harvests(at=at),
        processings(at=at),
        injections(at=at),
        follow_up_visits(at=at),
        adverse_events(at=at),
    )


def withdrawal_reasons() -> st.SearchStrategy[WithdrawalReason]:
    """Reasons to withdraw a journey, by the patient or a clinician."""
    return st.builds(
        WithdrawalReason,
        initiated_by=st.sampled_from(Initiator),
        code=st.sampled_from(sorted(WITHDRAWAL_CODES)),
        detail=st.none() | free_text(),
    )
