"""What differs between clinics: schedule, rest, release criteria, instruments, thresholds.

:data:`DEFAULT_PROTOCOL` is drawn from published practice: follow-up at 6 weeks and
3, 6, 12 and 24 months; responders by a fall of at least 30 % and 2 points on the
pain NRS (Farrar 2001), 50 % as substantial (IMMPACT, Dworkin 2008), and the
minimal important changes of Ostelo 2008 (15 mm VAS, 10 ODI points).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs
from dateutil.relativedelta import relativedelta

from stemjourney.clinical import _fields as f
from stemjourney.clinical._records import Processing
from stemjourney.exceptions import ValidationError

__all__ = ["DEFAULT_PROTOCOL", "Protocol", "ReleaseCriteria", "ResponderRule", "ScheduledVisit"]


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
        """The due date: calendar months and weeks after ``injected_at`` (month ends clamp)."""
        return injected_at + relativedelta(months=self.months, weeks=self.weeks)

    def window(self, injected_at: datetime) -> tuple[datetime, datetime]:
        """The first and last moment of the visit window."""
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


@attrs.frozen
class ResponderRule:
    """A responder definition on one instrument.

    ``min_points`` and ``min_percent`` are improvements from baseline; with
    ``require_all`` both must be met, otherwise either is enough.
    """

    instrument: str = f.code_field()
    label: str = f.text(max_length=60)
    min_points: float | None = f.optional_quantity(low=0)
    min_percent: float | None = f.optional_quantity(low=0, high=100)
    require_all: bool = f.flag(default=True)

    def __attrs_post_init__(self) -> None:
        if self.min_points is None and self.min_percent is None:
            raise ValidationError(
                "ResponderRule", f"'{self.label}' has no threshold", "min_points or min_percent"
            )


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
    """A clinic's protocol. Build your own, or ``attrs.evolve(DEFAULT_PROTOCOL, ...)``."""

    name: str = f.text(max_length=100)
    schedule: tuple[ScheduledVisit, ...] = attrs.field(converter=_schedule)
    release: ReleaseCriteria = attrs.field(factory=lambda: ReleaseCriteria(70.0))
    responder_rules: tuple[ResponderRule, ...] = attrs.field(default=(), converter=_rules)
    minimum_rest: timedelta = attrs.field(default=timedelta(days=7))
    baseline_lookback: timedelta = attrs.field(default=timedelta(days=90))
    clock_skew: timedelta = attrs.field(default=timedelta(minutes=5))
    instruments: tuple[str, ...] = attrs.field(default=("nrs",), converter=_codes)

    @minimum_rest.validator
    @baseline_lookback.validator
    @clock_skew.validator
    def _non_negative(self, attribute: attrs.Attribute[timedelta], value: object) -> None:
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise ValidationError(attribute.name, "is not a duration", "a timedelta of 0 or more")

    def rules_for(self, instrument: str) -> tuple[ResponderRule, ...]:
        """The responder rules that apply to ``instrument``."""
        return tuple(r for r in self.responder_rules if r.instrument == instrument)


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
        ResponderRule("nrs", "responder", min_points=2, min_percent=30),
        ResponderRule("nrs", "substantial", min_percent=50),
        ResponderRule("vas", "responder", min_points=15, min_percent=30, require_all=False),
        ResponderRule("odi", "responder", min_points=10, min_percent=30, require_all=False),
    ),
)
"""The protocol stemjourney uses when none is given."""
