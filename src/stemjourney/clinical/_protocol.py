"""What differs between clinics: schedule, rest, release criteria, recency, guidance, thresholds.

:data:`DEFAULT_PROTOCOL` is drawn from published practice: follow-up at 6 weeks and
3, 6, 12 and 24 months; responders by a fall of at least 30 % and 2 points on the
pain NRS (Farrar 2001), 50 % as substantial (IMMPACT, Dworkin 2008), and the
minimal important changes of Ostelo 2008 (15 mm VAS, 10 ODI points); an eligibility
assessment at most 30 days old and a consent at most 60 days old when they unlock a
treatment (see :class:`Recency`); image-guided injections.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import attrs

from stemjourney.clinical import _fields as f
from stemjourney.clinical._fields import enum_value
from stemjourney.clinical._records import Processing
from stemjourney.clinical._vocabulary import IMAGE_GUIDANCE, Guidance
from stemjourney.exceptions import ValidationError

__all__ = [
    "CONSENT_SOURCE",
    "DEFAULT_PROTOCOL",
    "ELIGIBILITY_SOURCE",
    "Protocol",
    "Recency",
    "ReleaseCriteria",
    "ResponderRule",
    "ScheduledVisit",
]

ELIGIBILITY_SOURCE = (
    "CMS Conditions of Participation, 42 CFR 482.22(c)(5)(i) (hospitals) and, until 2019, "
    "416.52(a) (ambulatory surgery centres): the medical history and physical examination "
    "before a procedure is done no more than 30 days before it, and updated for any change; "
    "contraindications (a pregnancy, new anticoagulation, an infection) arise within weeks."
)
"""Why an eligibility assessment may be at most 30 days old by default."""

CONSENT_SOURCE = (
    "VHA Handbook 1004.01 (2009) and 38 CFR 17.32: a signed consent stays valid for 60 "
    "calendar days (extended from 30); hospital policies commonly set 30 to 90 days; the "
    "GMC's Decision making and consent (2020) asks that consent be reviewed when time has "
    "passed or circumstances changed."
)
"""Why a consent may be at most 60 days old by default."""


def _age(value: object, field: str) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError(field, "is not a duration", "a timedelta of 0 or more")
    return value


def _eligibility_age(value: object) -> timedelta:
    return _age(value, "eligibility")


def _consent_age(value: object) -> timedelta:
    return _age(value, "consent")


def _baseline_age(value: object) -> timedelta | None:
    return None if value is None else _age(value, "baseline")


@attrs.frozen(kw_only=True)
class Recency:
    """How old a record may be when it unlocks a treatment: harvest, or a stored dose.

    Ages are counted from the record's clinical time to the move's; a record exactly
    as old as the limit still counts.

    - ``eligibility``: the eligibility assessment, 30 days by default
      (:data:`ELIGIBILITY_SOURCE`: the pre-procedure history and physical);
    - ``consent``: the signed consent, 60 days by default (:data:`CONSENT_SOURCE`);
    - ``baseline``: the baseline pain score; ``None`` (the default) means the
      protocol's ``baseline_lookback`` (90 days), so the score that unlocks a
      treatment is one the outcomes may take as its baseline.

    >>> from datetime import timedelta
    >>> Recency(consent=timedelta(days=90)).consent.days
    90
    """

    eligibility: timedelta = attrs.field(default=timedelta(days=30), converter=_eligibility_age)
    consent: timedelta = attrs.field(default=timedelta(days=60), converter=_consent_age)
    baseline: timedelta | None = attrs.field(default=None, converter=_baseline_age)


def _guidance(value: object) -> frozenset[Guidance]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(
            "injection_guidance",
            "expected a set of guidance values",
            "a set such as {'ultrasound'}",
        )
    found = frozenset(enum_value(Guidance, g, "injection_guidance") for g in value)
    if not found:
        raise ValidationError(
            "injection_guidance", "is empty", ", ".join(g.value for g in Guidance)
        )
    return found


@attrs.frozen
class ReleaseCriteria:
    """The lab results a product must reach before it may be injected."""

    min_viability_pct: float = f.quantity(low=0, high=100)
    min_tnc_total: float | None = f.optional_quantity(low=0)
    min_cd34_per_ml: float | None = f.optional_quantity(low=0)

    def failures(self, product: Processing) -> list[str]:
        """Each criterion ``product`` misses, as a phrase; empty when it may be released."""
        missing = []
        if not product.released:
            missing.append(f"product {product.product_id} released by the lab")
        if product.viability_pct < self.min_viability_pct:
            missing.append(f"viability of at least {self.min_viability_pct:g} %")
        if self.min_tnc_total is not None and product.tnc_total < self.min_tnc_total:
            missing.append(f"at least {self.min_tnc_total:g} total nucleated cells")
        if self.min_cd34_per_ml is not None and (
            product.cd34_per_ml is None or product.cd34_per_ml < self.min_cd34_per_ml
        ):
            missing.append(f"a CD34+ count of at least {self.min_cd34_per_ml:g} per mL")
        return missing


@attrs.frozen
class ScheduledVisit:
    """A follow-up time point: an offset from the injection and a window around it.

    >>> from datetime import datetime, UTC
    >>> ScheduledVisit("3m", months=3, window_days=21).due(datetime(2026, 11, 30, tzinfo=UTC))
    datetime.datetime(2027, 2, 28, 0, 0, tzinfo=datetime.timezone.utc)
    """

    label: str = f.text(max_length=40)
    weeks: int = f.whole(low=0, high=520, default=0)
    months: int = f.whole(low=0, high=240, default=0)
    window_days: int = f.whole(low=0, high=365, default=14)

    def __attrs_post_init__(self) -> None:
        if self.weeks == 0 and self.months == 0:
            raise ValidationError(
                "ScheduledVisit", f"'{self.label}' has no offset", "weeks or months above 0"
            )

    def due(self, injected_at: datetime) -> datetime:
        """The due moment: calendar months and weeks after ``injected_at`` (month ends clamp).

        The schedule itself works in the clinic's days:
        :func:`stemjourney.outcomes.planned_visits` gives each visit's due day and
        window (see :meth:`due_on`).
        """
        from dateutil.relativedelta import relativedelta  # on first use: start-up stays light

        return injected_at + relativedelta(months=self.months, weeks=self.weeks)

    def due_on(self, injected_on: date) -> date:
        """The due day after an injection on the day ``injected_on``: the same calendar
        months and weeks (month ends clamp). The schedule's rule, used by every report.

        >>> ScheduledVisit("1m", months=1).due_on(date(2026, 1, 31))
        datetime.date(2026, 2, 28)
        """
        from dateutil.relativedelta import relativedelta

        shifted: date = injected_on + relativedelta(months=self.months, weeks=self.weeks)
        return shifted

    def window(self, injected_at: datetime) -> tuple[datetime, datetime]:
        """Deprecated: the due moment plus or minus ``window_days``, without the schedule's
        limits (a window opens after the injection day and closes by the next cycle's).
        Use :func:`stemjourney.outcomes.planned_visits`."""
        warnings.warn(
            "ScheduledVisit.window() is deprecated; use stemjourney.outcomes.planned_visits",
            DeprecationWarning,
            stacklevel=2,
        )
        due = self.due(injected_at)
        return due - timedelta(days=self.window_days), due + timedelta(days=self.window_days)

    @property
    def nominal_days(self) -> int:
        """The offset in days, months counted as 30.44 days: for sorting and grouping."""
        return round(self.weeks * 7 + self.months * 30.4375)

    @property
    def _earliest_days(self) -> int:
        return self.weeks * 7 + self.months * 28 - self.window_days

    @property
    def _latest_days(self) -> int:
        return self.weeks * 7 + self.months * 31 + self.window_days


COMBINATORS = ("all", "any")
"""How a responder rule joins its thresholds: ``all`` must be met, or ``any`` one."""


def _combinator(value: object) -> str:
    if not isinstance(value, str) or value not in COMBINATORS:
        raise ValidationError("combine", "is not a combinator", "'all' or 'any'")
    return value


@attrs.frozen(init=False)
class ResponderRule:
    """A responder definition on one instrument: thresholds on the improvement from baseline.

    ``min_points`` is an improvement in the instrument's units and ``min_percent``
    one in per cent of the baseline's distance from the best score (see
    :func:`stemjourney.outcomes.change_of`). ``combine`` says how the thresholds
    join: ``"all"`` (each one met) or ``"any"`` (at least one). ``source`` cites
    where the thresholds come from.

    >>> rule = ResponderRule("nrs", "responder", min_points=2, min_percent=30, combine="all")
    >>> rule.combine, rule.require_all
    ('all', True)
    """

    instrument: str = f.code_field()
    label: str = f.text(max_length=60)
    min_points: float | None = f.optional_quantity(low=0)
    min_percent: float | None = f.optional_quantity(low=0, high=100)
    combine: str = attrs.field(default="all", converter=_combinator)
    source: str | None = f.optional_text(max_length=500)

    def __init__(
        self,
        instrument: str,
        label: str,
        min_points: float | None = None,
        min_percent: float | None = None,
        combine: str | bool = "all",
        *,
        source: str | None = None,
        require_all: bool | None = None,
    ) -> None:
        if isinstance(combine, bool):  # the old positional ``require_all``
            require_all = combine
        if require_all is not None:
            warnings.warn(
                "ResponderRule(require_all=...) is deprecated; use combine='all' or 'any'",
                DeprecationWarning,
                stacklevel=2,
            )
            combine = "all" if require_all else "any"
        self.__attrs_init__(instrument, label, min_points, min_percent, combine, source)

    def __attrs_post_init__(self) -> None:
        if self.min_points is None and self.min_percent is None:
            raise ValidationError(
                "ResponderRule", f"'{self.label}' has no threshold", "min_points or min_percent"
            )

    @property
    def require_all(self) -> bool:
        """``True`` when every threshold must be met (deprecated: read ``combine``)."""
        return self.combine == "all"

    def describe(self) -> str:
        """The rule in words, as the reports print it.

        >>> DEFAULT_PROTOCOL.rules_for("nrs")[0].describe()
        'an improvement of at least 2 points and at least 30 % from baseline'
        """
        parts = []
        if self.min_points is not None:
            parts.append(f"at least {self.min_points:g} points")
        if self.min_percent is not None:
            parts.append(f"at least {self.min_percent:g} %")
        joiner = " and " if self.combine == "all" else " or "
        return f"an improvement of {joiner.join(parts)} from baseline"


def _schedule(value: Iterable[ScheduledVisit]) -> tuple[ScheduledVisit, ...]:
    visits = tuple(value)
    if not visits:
        raise ValidationError("schedule", "is empty", "at least one scheduled visit")
    labels = [v.label for v in visits]
    if len(set(labels)) != len(labels):
        raise ValidationError("schedule", "repeats a label", "distinct visit labels")
    for before, after in itertools.pairwise(visits):
        if after._earliest_days <= before._latest_days:
            raise ValidationError(
                "schedule",
                f"the windows of '{before.label}' and '{after.label}' can overlap",
                "visits in order with windows that never overlap",
            )
    return visits


def _rules(value: Iterable[ResponderRule]) -> tuple[ResponderRule, ...]:
    return tuple(value)


def _codes(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(f.code(c, "instruments") for c in value)


@attrs.frozen(kw_only=True)
class Protocol:
    """A clinic's protocol. Build your own, or ``attrs.evolve(DEFAULT_PROTOCOL, ...)``.

    - ``schedule``: the follow-up visits, offsets from the injection with windows;
    - ``release``: the criteria a product must meet before injection;
    - ``responder_rules``: the responder definitions, per instrument;
    - ``minimum_rest``: the rest after an injection before follow-up (7 days);
    - ``baseline_lookback``: how long before the first injection a score may be measured
      and still be the baseline (90 days; see "How outcomes are computed");
    - ``clock_skew``: how far in the future a time may be (5 minutes);
    - ``instruments``: the instruments collected, the first one reported by default;
    - ``recency``: how old an eligibility assessment, a consent and a baseline score
      may be when they unlock a treatment (:class:`Recency`: 30 days, 60 days, the
      baseline look-back);
    - ``injection_guidance``: how an injection may be guided (ultrasound or
      fluoroscopy; add ``"landmark"`` if your clinic allows it).
    """

    name: str = f.text(max_length=100)
    schedule: tuple[ScheduledVisit, ...] = attrs.field(converter=_schedule)
    release: ReleaseCriteria = attrs.field(factory=lambda: ReleaseCriteria(70.0))
    responder_rules: tuple[ResponderRule, ...] = attrs.field(default=(), converter=_rules)
    minimum_rest: timedelta = attrs.field(default=timedelta(days=7))
    baseline_lookback: timedelta = attrs.field(default=timedelta(days=90))
    clock_skew: timedelta = attrs.field(default=timedelta(minutes=5))
    instruments: tuple[str, ...] = attrs.field(default=("nrs",), converter=_codes)
    recency: Recency = attrs.field(factory=Recency)
    injection_guidance: frozenset[Guidance] = attrs.field(
        default=IMAGE_GUIDANCE, converter=_guidance
    )

    @recency.validator
    def _is_recency(self, _attribute: object, value: object) -> None:
        if not isinstance(value, Recency):
            raise ValidationError("recency", "is not a Recency", "a Recency(...) value")

    @minimum_rest.validator
    @baseline_lookback.validator
    @clock_skew.validator
    def _non_negative(self, attribute: attrs.Attribute[timedelta], value: object) -> None:
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise ValidationError(attribute.name, "is not a duration", "a timedelta of 0 or more")

    def max_age(self, what: str) -> timedelta:
        """How old a record of ``what`` may be when it unlocks a treatment.

        ``what`` is ``"eligibility"``, ``"consent"`` or ``"baseline"`` (see :class:`Recency`).

        >>> DEFAULT_PROTOCOL.max_age("baseline").days
        90
        """
        if what == "baseline":
            found = self.recency.baseline
            return self.baseline_lookback if found is None else found
        limit: timedelta = getattr(self.recency, what)
        return limit

    def rules_for(self, instrument: str) -> tuple[ResponderRule, ...]:
        """The responder rules that apply to ``instrument``."""
        return tuple(r for r in self.responder_rules if r.instrument == instrument)


_FARRAR = (
    "Farrar JT et al. Clinical importance of changes in chronic pain intensity measured "
    "on an 11-point numerical pain rating scale. Pain 2001;94:149-158: a fall of about "
    "2 points or 30 % matched 'much improved'; both are required here, the stricter reading."
)
_IMMPACT = (
    "Dworkin RH et al. (IMMPACT). Interpreting the clinical importance of treatment "
    "outcomes in chronic pain clinical trials. J Pain 2008;9:105-121: 50 % is substantial."
)
_OSTELO = (
    "Ostelo RW et al. Interpreting change scores for pain and functional status in low "
    "back pain. Spine 2008;33:90-94: 15 mm VAS, 10 ODI points, or 30 %."
)

DEFAULT_PROTOCOL = Protocol(
    name="default",
    schedule=(
        ScheduledVisit("6w", weeks=6, window_days=14),
        ScheduledVisit("3m", months=3, window_days=21),
        ScheduledVisit("6m", months=6, window_days=30),
        ScheduledVisit("12m", months=12, window_days=45),
        ScheduledVisit("24m", months=24, window_days=60),
    ),
    release=ReleaseCriteria(70.0),
    responder_rules=(
        ResponderRule(
            "nrs",
            "responder",
            min_points=2,
            min_percent=30,
            combine="all",
            source=_FARRAR,
        ),
        ResponderRule("nrs", "substantial", min_percent=50, source=_IMMPACT),
        ResponderRule(
            "vas", "responder", min_points=15, min_percent=30, combine="any", source=_OSTELO
        ),
        ResponderRule(
            "odi", "responder", min_points=10, min_percent=30, combine="any", source=_OSTELO
        ),
    ),
)
"""The protocol stemjourney uses when none is given."""
