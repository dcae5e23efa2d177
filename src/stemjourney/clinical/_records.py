"""The clinical records a journey's moves are checked against.

Each record is a frozen attrs value, validated when it is built, with a ``kind``
that names it in the store and an ``occurred_at`` clinical time.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from stemjourney.clinical import _fields as f
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
from stemjourney.exceptions import ValidationError

VOID_CODES = ("duplicate", "wrong_patient", "opened_in_error", "other")
"""Why a journey may be voided."""

__all__ = [
    "RECORD_TYPES",
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
]


def _contraindications(value: object) -> frozenset[str]:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise ValidationError(
            "contraindications", "expected a collection of codes", "a set of codes"
        )
    codes = frozenset(value)
    for c in codes:
        f.code(c, "contraindications")
        if c not in CONTRAINDICATIONS and not c.startswith("clinic:"):
            raise ValidationError(
                "contraindications",
                "holds a code that is not a known contraindication",
                ", ".join(sorted(CONTRAINDICATIONS)) + ", or a clinic code 'clinic:<code>'",
            )
    return codes


@attrs.frozen(kw_only=True)
class EligibilityAssessment:
    """The screening at consultation: which contraindications were found.

    The patient is eligible when none was found.

    >>> from datetime import datetime, UTC
    >>> EligibilityAssessment(assessed_at=datetime(2026, 1, 5, tzinfo=UTC)).eligible
    True
    """

    kind: ClassVar[str] = "eligibility"
    time_field: ClassVar[str] = "assessed_at"
    assessed_at: datetime = f.moment()
    contraindications: frozenset[str] = attrs.field(factory=frozenset, converter=_contraindications)
    assessor: str | None = f.optional_text(max_length=200)

    @property
    def eligible(self) -> bool:
        """True when no contraindication was found."""
        return not self.contraindications

    @property
    def occurred_at(self) -> datetime:
        """The clinical time of the assessment."""
        return self.assessed_at


@attrs.frozen(kw_only=True)
class Consent:
    """A signed informed consent."""

    kind: ClassVar[str] = "consent"
    time_field: ClassVar[str] = "signed_at"
    signed_at: datetime = f.moment()
    form_version: str = f.text(max_length=100)
    scope: ConsentScope = f.member(ConsentScope, default=ConsentScope.TREATMENT)

    @property
    def occurred_at(self) -> datetime:
        """The time the consent was signed."""
        return self.signed_at


@attrs.frozen(kw_only=True)
class Harvest:
    """A bone marrow aspiration or a liposuction."""

    kind: ClassVar[str] = "harvest"
    time_field: ClassVar[str] = "harvested_at"
    harvested_at: datetime = f.moment()
    source: CellSource = f.member(CellSource)
    body_site: str = f.text(max_length=200)
    side: Side = f.member(Side)
    volume_ml: float = f.quantity(low=0.1, high=1000, unit="mL")
    guidance: Guidance | None = f.optional_member(Guidance)

    @property
    def occurred_at(self) -> datetime:
        """The time of the harvest."""
        return self.harvested_at


@attrs.frozen(kw_only=True)
class Processing:
    """The lab's processing of a harvest into a product, and its release decision.

    ``doses`` is how many injections the product allows (stored aliquots included).
    ``product_id`` may be the lab's own spelling ("BMAC-2026-0042"); it is kept
    normalised as external ids are (``"bmac-2026-0042"``), so either spelling finds it.
    """

    kind: ClassVar[str] = "processing"
    time_field: ClassVar[str] = "finished_at"
    product_id: str = f.identifier_field()
    started_at: datetime = f.moment()
    finished_at: datetime = f.moment()
    method: str = f.text(max_length=200)
    manipulation: Manipulation = f.member(Manipulation)
    final_volume_ml: float = f.quantity(low=0.1, high=500, unit="mL")
    tnc_per_ml: float = f.quantity(low=0, high=1e12, unit="cells/mL")
    viability_pct: float = f.quantity(low=0, high=100, unit="%")
    released: bool = f.flag()
    aspirate_volume_ml: float | None = f.optional_quantity(low=0.1, high=1000)
    cd34_per_ml: float | None = f.optional_quantity(low=0, high=1e12)
    cfu_f_per_ml: float | None = f.optional_quantity(low=0, high=1e9)
    device: str | None = f.optional_text(max_length=200)
    doses: int = f.whole(low=1, high=50, default=1)

    def __attrs_post_init__(self) -> None:
        if self.finished_at < self.started_at:
            raise ValidationError(
                "finished_at", "is before started_at", "a time at or after started_at"
            )

    @property
    def tnc_total(self) -> float:
        """Total nucleated cells in the final product."""
        return self.tnc_per_ml * self.final_volume_ml

    @property
    def occurred_at(self) -> datetime:
        """The time processing finished."""
        return self.finished_at


@attrs.frozen(kw_only=True)
class Injection:
    """An injection of a product into the treated site, and how the needle was guided.

    The default protocol requires image guidance (ultrasound or fluoroscopy) before
    the journey may move on; ``product_id`` is normalised as in :class:`Processing`.
    """

    kind: ClassVar[str] = "injection"
    time_field: ClassVar[str] = "injected_at"
    injected_at: datetime = f.moment()
    site: str = f.text(max_length=200)
    side: Side = f.member(Side)
    guidance: Guidance = f.member(Guidance)
    volume_ml: float = f.quantity(low=0.1, high=100, unit="mL")
    product_id: str = f.identifier_field()

    @property
    def occurred_at(self) -> datetime:
        """The time of the injection."""
        return self.injected_at


@attrs.frozen(kw_only=True)
class FollowUpVisit:
    """A follow-up contact, in person or remote."""

    kind: ClassVar[str] = "follow_up_visit"
    time_field: ClassVar[str] = "visited_at"
    visited_at: datetime = f.moment()
    contact: str = f.one_of(("in_person", "phone", "video"), default="in_person")
    time_point: str | None = f.optional_text(max_length=40)

    @property
    def occurred_at(self) -> datetime:
        """The time of the visit."""
        return self.visited_at


@attrs.frozen(kw_only=True)
class AdverseEvent:
    """An adverse event, graded by CTCAE (1 mild to 5 death)."""

    kind: ClassVar[str] = "adverse_event"
    time_field: ClassVar[str] = "onset_at"
    onset_at: datetime = f.moment()
    site: str = f.text(max_length=200)
    grade: int = f.whole(low=1, high=5)
    serious: bool = f.flag()
    relatedness: Relatedness = f.member(Relatedness)
    outcome: AEOutcome = f.member(AEOutcome)
    action_taken: str = f.text(max_length=500)
    description: str | None = f.optional_text()

    def __attrs_post_init__(self) -> None:
        if self.grade == 5 and (not self.serious or self.outcome is not AEOutcome.FATAL):
            raise ValidationError(
                "grade", "5 (death) needs serious=True and outcome 'fatal'", "a consistent record"
            )
        if self.outcome is AEOutcome.FATAL and self.grade != 5:
            raise ValidationError("outcome", "'fatal' needs grade 5", "grade 5 with outcome fatal")

    @property
    def occurred_at(self) -> datetime:
        """The onset of the event."""
        return self.onset_at


@attrs.frozen(kw_only=True)
class WithdrawalReason:
    """Why a journey was withdrawn, and who decided."""

    kind: ClassVar[str] = "withdrawal_reason"
    initiated_by: Initiator = f.member(Initiator)
    code: str = f.one_of(tuple(sorted(WITHDRAWAL_CODES)))
    detail: str | None = f.optional_text()

    def __str__(self) -> str:
        return f"withdrawn by {self.initiated_by.value}: {self.code}"


@attrs.frozen(kw_only=True)
class IneligibilityReason:
    """Why a candidate was screened out at consultation."""

    kind: ClassVar[str] = "ineligibility_reason"
    contraindications: frozenset[str] = attrs.field(factory=frozenset, converter=_contraindications)
    detail: str | None = f.optional_text()

    def __attrs_post_init__(self) -> None:
        if not self.contraindications and self.detail is None:
            raise ValidationError(
                "contraindications", "is empty and no detail was given", "codes, or a detail"
            )

    def __str__(self) -> str:
        codes = ", ".join(sorted(self.contraindications)) or "see detail"
        return f"ineligible: {codes}"


@attrs.frozen(kw_only=True)
class VoidReason:
    """Why a journey opened by mistake is voided."""

    kind: ClassVar[str] = "void_reason"
    code: str = f.one_of(VOID_CODES)
    detail: str | None = f.optional_text()

    def __str__(self) -> str:
        return f"voided: {self.code}"


RECORD_TYPES = (
    EligibilityAssessment,
    Consent,
    Harvest,
    Processing,
    Injection,
    FollowUpVisit,
    AdverseEvent,
)
"""Every kind of clinical record, for ``isinstance`` checks."""

Record = (
    EligibilityAssessment
    | Consent
    | Harvest
    | Processing
    | Injection
    | FollowUpVisit
    | AdverseEvent
)
"""Any clinical record a journey holds."""
