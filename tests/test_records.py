"""Clinical records: each field is checked when the record is built, and named when refused."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given

from stemjourney import (
    AdverseEvent,
    Consent,
    EligibilityAssessment,
    FollowUpVisit,
    Harvest,
    IneligibilityReason,
    Injection,
    Processing,
    VoidReason,
    WithdrawalReason,
)
from stemjourney.exceptions import ValidationError
from stemjourney.testing import records

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
NAIVE = datetime(2026, 1, 5, 9)

VALID: dict[type[Any], dict[str, Any]] = {
    EligibilityAssessment: {"assessed_at": T0, "contraindications": set(), "assessor": "dr.a"},
    Consent: {"signed_at": T0, "form_version": "v3", "scope": "treatment"},
    Harvest: {
        "harvested_at": T0,
        "source": "bone_marrow",
        "body_site": "iliac crest",
        "side": "left",
        "volume_ml": 60,
        "guidance": "ultrasound",
    },
    Processing: {
        "product_id": "p-1",
        "started_at": T0,
        "finished_at": T0 + timedelta(hours=1),
        "method": "centrifuge",
        "manipulation": "minimal",
        "final_volume_ml": 6,
        "tnc_per_ml": 2.5e7,
        "viability_pct": 92,
        "released": True,
        "aspirate_volume_ml": 60,
        "cd34_per_ml": 1e5,
        "cfu_f_per_ml": 100,
        "device": "kit a",
        "doses": 2,
    },
    Injection: {
        "injected_at": T0,
        "site": "knee",
        "side": "left",
        "guidance": "fluoroscopy",
        "volume_ml": 6,
        "product_id": "p-1",
    },
    FollowUpVisit: {"visited_at": T0, "contact": "phone", "time_point": "6w"},
    AdverseEvent: {
        "onset_at": T0,
        "site": "knee",
        "grade": 2,
        "serious": False,
        "relatedness": "possible",
        "outcome": "recovered",
        "action_taken": "ice",
        "description": "swelling",
    },
    WithdrawalReason: {"initiated_by": "patient", "code": "patient_choice", "detail": "moved"},
    IneligibilityReason: {"contraindications": {"pregnancy"}, "detail": None},
    VoidReason: {"code": "duplicate", "detail": None},
}

BAD: list[tuple[type[Any], str, object]] = [
    (EligibilityAssessment, "assessed_at", NAIVE),
    (EligibilityAssessment, "assessed_at", "2026-01-05"),
    (EligibilityAssessment, "contraindications", "pregnancy"),
    (EligibilityAssessment, "contraindications", {"gout"}),
    (EligibilityAssessment, "contraindications", {"Clinic:X"}),
    (EligibilityAssessment, "contraindications", 5),
    (EligibilityAssessment, "assessor", ""),
    (Consent, "signed_at", None),
    (Consent, "form_version", "   "),
    (Consent, "form_version", "v" * 101),
    (Consent, "scope", "everything"),
    (Harvest, "harvested_at", NAIVE),
    (Harvest, "source", "umbilical"),
    (Harvest, "body_site", "a\x00b"),
    (Harvest, "side", "up"),
    (Harvest, "volume_ml", 0),
    (Harvest, "volume_ml", 1001),
    (Harvest, "volume_ml", math.nan),
    (Harvest, "volume_ml", "60"),
    (Harvest, "guidance", "x-ray"),
    (Processing, "product_id", "P 1"),
    (Processing, "product_id", ""),
    (Processing, "started_at", NAIVE),
    (Processing, "finished_at", NAIVE),
    (Processing, "method", ""),
    (Processing, "manipulation", "heavy"),
    (Processing, "final_volume_ml", 501),
    (Processing, "tnc_per_ml", -1),
    (Processing, "tnc_per_ml", math.inf),
    (Processing, "viability_pct", 100.5),
    (Processing, "viability_pct", True),
    (Processing, "released", 1),
    (Processing, "released", "yes"),
    (Processing, "aspirate_volume_ml", 0),
    (Processing, "cd34_per_ml", -5),
    (Processing, "cfu_f_per_ml", 2e9),
    (Processing, "device", "\x07"),
    (Processing, "doses", 0),
    (Processing, "doses", 1.5),
    (Processing, "doses", 51),
    (Injection, "injected_at", 0),
    (Injection, "site", ""),
    (Injection, "side", None),
    (Injection, "guidance", None),
    (Injection, "volume_ml", 100.01),
    (Injection, "product_id", "a" * 65),
    (FollowUpVisit, "visited_at", NAIVE),
    (FollowUpVisit, "contact", "letter"),
    (FollowUpVisit, "time_point", "x" * 41),
    (AdverseEvent, "onset_at", NAIVE),
    (AdverseEvent, "site", " "),
    (AdverseEvent, "grade", 0),
    (AdverseEvent, "grade", 6),
    (AdverseEvent, "grade", 2.5),
    (AdverseEvent, "grade", True),
    (AdverseEvent, "serious", None),
    (AdverseEvent, "relatedness", "maybe"),
    (AdverseEvent, "outcome", "fine"),
    (AdverseEvent, "action_taken", ""),
    (AdverseEvent, "description", "x" * 4001),
    (WithdrawalReason, "initiated_by", "family"),
    (WithdrawalReason, "code", "bored"),
    (WithdrawalReason, "detail", ""),
    (IneligibilityReason, "contraindications", {"unknown"}),
    (VoidReason, "code", "mistake"),
    (VoidReason, "detail", "\x1b[31m"),
]


@pytest.mark.parametrize("kind", list(VALID), ids=lambda k: k.__name__)
def test_valid_records_build(kind: type[Any]) -> None:
    """Each record builds from valid values and keeps them."""
    record = kind(**VALID[kind])
    assert record == kind(**VALID[kind])


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    BAD,
    ids=[f"{k.__name__}.{f}-{i}" for i, (k, f, _) in enumerate(BAD)],
)
def test_bad_field_is_refused_by_name(kind: type[Any], field: str, value: object) -> None:
    """A bad value is refused with a ValidationError naming its field."""
    with pytest.raises(ValidationError) as info:
        kind(**{**VALID[kind], field: value})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert info.value.allowed


def test_bad_text_is_not_echoed() -> None:
    """A refused text is never repeated in the message (it may be health information)."""
    with pytest.raises(ValidationError) as info:
        AdverseEvent(**{**VALID[AdverseEvent], "description": "Jane Doe\x00 has HIV"})
    assert "Jane" not in str(info.value)


def test_times_are_stored_in_utc() -> None:
    """A time in another zone is kept as the same instant in UTC."""
    from datetime import timezone

    local = datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1)))
    consent = Consent(signed_at=local, form_version="v1")
    assert consent.signed_at == T0
    assert consent.signed_at.tzinfo is UTC


def test_eligibility_follows_contraindications() -> None:
    """A patient is eligible when no contraindication was found, and not otherwise."""
    assert EligibilityAssessment(assessed_at=T0).eligible
    found = EligibilityAssessment(assessed_at=T0, contraindications=["pregnancy", "clinic:gout"])
    assert not found.eligible
    assert found.contraindications == {"pregnancy", "clinic:gout"}
    assert found.occurred_at == T0


@pytest.mark.parametrize("code", ["clinic:gout", "clinic:recent_surgery", "clinic:a.b-c"])
def test_clinic_contraindication_codes_are_accepted(code: str) -> None:
    """The clinic's own contraindications are accepted as 'clinic:<code>'."""
    assert code in EligibilityAssessment(assessed_at=T0, contraindications={code}).contraindications


def test_unknown_contraindication_message_lists_known_codes() -> None:
    """An unknown code is refused with the known codes and the clinic form as allowed."""
    with pytest.raises(ValidationError) as info:
        EligibilityAssessment(assessed_at=T0, contraindications={"gout"})
    assert "pregnancy" in info.value.allowed
    assert "clinic:<code>" in info.value.allowed


def test_processing_finish_before_start_is_refused() -> None:
    """Processing that finished before it started is refused, naming finished_at."""
    with pytest.raises(ValidationError) as info:
        Processing(**{**VALID[Processing], "finished_at": T0 - timedelta(seconds=1)})
    assert info.value.field == "finished_at"


def test_processing_instant_is_accepted() -> None:
    """Processing that finished the moment it started is accepted; occurred_at is its end."""
    p = Processing(**{**VALID[Processing], "finished_at": T0})
    assert p.occurred_at == T0
    assert p.tnc_total == pytest.approx(6 * 2.5e7)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grade": 5, "serious": False, "outcome": "fatal"}, "grade"),
        ({"grade": 5, "serious": True, "outcome": "recovered"}, "grade"),
        ({"grade": 4, "serious": True, "outcome": "fatal"}, "outcome"),
    ],
)
def test_grade_five_rules(changes: dict[str, object], field: str) -> None:
    """Grade 5 (death) needs serious and outcome fatal, and fatal needs grade 5."""
    with pytest.raises(ValidationError) as info:
        AdverseEvent(**{**VALID[AdverseEvent], **changes})
    assert info.value.field == field


def test_grade_five_consistent_record_is_accepted() -> None:
    """A serious, fatal grade 5 event is accepted."""
    ae = AdverseEvent(**{**VALID[AdverseEvent], "grade": 5, "serious": True, "outcome": "fatal"})
    assert ae.grade == 5
    assert ae.occurred_at == T0


def test_ineligibility_needs_codes_or_detail() -> None:
    """An ineligibility reason with neither codes nor detail is refused."""
    with pytest.raises(ValidationError) as info:
        IneligibilityReason()
    assert info.value.field == "contraindications"
    assert str(IneligibilityReason(detail="frail")) == "ineligible: see detail"
    assert str(IneligibilityReason(contraindications={"pregnancy"})) == "ineligible: pregnancy"


def test_reasons_read_as_text() -> None:
    """Withdrawal and void reasons give short texts for the history."""
    assert (
        str(WithdrawalReason(**VALID[WithdrawalReason])) == "withdrawn by patient: patient_choice"
    )
    assert str(VoidReason(code="duplicate")) == "voided: duplicate"


def test_occurred_at_of_each_record() -> None:
    """Every record's occurred_at is its own clinical time field."""
    for kind, values in VALID.items():
        if hasattr(kind, "occurred_at"):
            expected = values["finished_at"] if kind is Processing else T0
            assert kind(**values).occurred_at == expected


@given(records())
def test_drawn_records_rebuild_equal(record: Any) -> None:
    """Any drawn record is valid: rebuilding it from its own fields gives an equal record."""
    import attrs

    assert attrs.evolve(record) == record
    assert record.occurred_at.tzinfo is UTC
