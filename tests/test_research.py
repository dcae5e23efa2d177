"""The de-identified research export: keyed pseudonyms, no identifying data, intervals kept."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stemjourney as sj
from stemjourney.demo import DemoClinic, demo_clinic
from stemjourney.exceptions import ValidationError
from stemjourney.export import (
    MIN_KEY_BYTES,
    RESEARCH_COLUMNS,
    age_band,
    date_offset,
    pseudonym,
    research_csv,
    research_rows,
)
from stemjourney.journey._sources import patients_with_journeys

KEY = b"a research key of 32 bytes......"
TODAY = date(2026, 11, 23)
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
SECRETS = (
    "Zelda Quixotic-Marrow",  # the patient's name
    "1961-07-14",  # the birth date
    "MRN-SECRET-77",  # the external id
    "p-secret",  # the internal patient id
    "j-secret",  # the journey id
    "called her daughter",  # free text in a reason
    "rash near the tattoo",  # free text in an adverse event
    "iliac crest under the scar",  # free text body site
    "Lab Gizmo 3000",  # free text device
    "dr.secret",  # staff name
    "bmac-secret-1",  # product id
    "Zelda's knee",  # a condition typed with a name in it
)


class _Clock:
    def now(self) -> datetime:
        return T0 + timedelta(days=900)


def _journey(engine: sj.Engine, jid: str, condition: str) -> sj.Journey:
    """A journey full of free text: every field that could leak, filled."""
    day = timedelta(days=1)
    j = engine.open(jid, patient_id="p-secret", condition=condition, site="knee", side="left",
                    cell_source="bone_marrow", actor="dr.secret", occurred_at=T0)  # fmt: skip
    j, _ = engine.record(j, sj.nrs(8, T0), actor="dr.secret")
    j, _ = engine.record(j, sj.EligibilityAssessment(assessed_at=T0, assessor="dr.secret"),
                         actor="dr.secret")  # fmt: skip
    j, _ = engine.record(j, sj.Consent(signed_at=T0, form_version="v1"), actor="dr.secret")
    t = T0 + 10 * day
    j, _ = engine.move(j, "harvest", actor="dr.secret", occurred_at=t)
    harvest = sj.Harvest(harvested_at=t, source="bone_marrow", side="left", volume_ml=60,
                         body_site="iliac crest under the scar")  # fmt: skip
    j, _ = engine.record(j, harvest, actor="dr.secret")
    j, _ = engine.move(j, "processing", actor="dr.secret", occurred_at=t + timedelta(hours=1))
    product = sj.Processing(product_id="bmac-secret-1", started_at=t + timedelta(hours=1),
                            finished_at=t + timedelta(hours=2), method="Lab Gizmo 3000 spin",
                            manipulation="minimal", final_volume_ml=5, tnc_per_ml=3e7,
                            viability_pct=88.5, released=True, device="Lab Gizmo 3000")  # fmt: skip
    j, _ = engine.record(j, product, actor="dr.secret")
    j, _ = engine.move(j, "injection", actor="dr.secret", occurred_at=t + timedelta(hours=3))
    shot = sj.Injection(injected_at=t + timedelta(hours=3), site="knee", side="left",
                        guidance="ultrasound", volume_ml=5, product_id="bmac-secret-1")  # fmt: skip
    j, _ = engine.record(j, shot, actor="dr.secret")
    j, _ = engine.move(j, "recovery", actor="dr.secret", occurred_at=t + timedelta(hours=4))
    event = sj.AdverseEvent(onset_at=t + day, site="knee", grade=1, serious=False,
                            relatedness="probable", outcome="recovered",
                            action_taken="called her daughter",
                            description="rash near the tattoo")  # fmt: skip
    j, _ = engine.record(j, event, actor="dr.secret")
    j, _ = engine.move(j, "follow_up", actor="dr.secret", occurred_at=t + 9 * day,
                       override_reason="called her daughter")  # fmt: skip
    visit = sj.FollowUpVisit(visited_at=t + 42 * day, time_point="6w")
    j, _ = engine.record(j, visit, actor="dr.secret")
    j, first = engine.record(j, sj.nrs(4, t + 42 * day), actor="dr.secret")
    j, _ = engine.record(j, sj.nrs(3, t + 42 * day), actor="dr.secret", amends=first.version,
                         reason="called her daughter")  # fmt: skip
    reason = sj.WithdrawalReason(initiated_by="patient", code="patient_choice",
                                 detail="called her daughter")  # fmt: skip
    j, _ = engine.move(j, "withdrawn", actor="dr.secret", occurred_at=t + 60 * day, reason=reason)
    return j


@pytest.fixture(scope="module")
def secret_clinic() -> DemoClinic:
    engine = sj.Engine(clock=_Clock())
    clinic = DemoClinic()
    clinic.patients["p-secret"] = sj.Patient(
        id="p-secret",
        external_id="MRN-SECRET-77",
        display_name="Zelda Quixotic-Marrow",
        birth_date=date(1961, 7, 14),
    )
    clinic.journeys.append(_journey(engine, "j-secret", "Zelda's knee"))
    return clinic


@pytest.fixture(scope="module")
def clinic() -> DemoClinic:
    return demo_clinic(seed=17, patients=30, today=TODAY)


def _export(source: Any, **kw: Any) -> tuple[str, list[dict[str, str]]]:
    out = io.StringIO()
    research_csv(source, out, key=kw.pop("key", KEY), **kw)
    text = out.getvalue()
    return text, list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("dates", ["shift", "days"])
def test_no_name_birth_date_id_or_free_text_is_exported(
    secret_clinic: DemoClinic, dates: str
) -> None:
    """Names, birth dates, ids, staff and every free-text field stay out of the export."""
    text, rows = _export(secret_clinic, dates=dates)
    for secret in SECRETS:
        assert secret.casefold() not in text.casefold(), secret
    assert "1961" not in text
    assert rows
    assert {r["condition"] for r in rows} == {"other"}


def test_the_export_keeps_what_research_needs(secret_clinic: DemoClinic) -> None:
    """Codes, scores, grades, age band and the withdrawal code are kept."""
    _, rows = _export(secret_clinic, dates="days")
    events = [r["event"] for r in rows]
    assert events.count("score") == 2
    scores = [r for r in rows if r["event"] == "score"]
    assert [(s["value"], s["amended"]) for s in scores] == [("8", "false"), ("3", "true")]
    [ae] = [r for r in rows if r["event"] == "adverse_event"]
    assert (ae["grade"], ae["serious"], ae["relatedness"], ae["ae_outcome"]) == (
        "1", "false", "probable", "recovered",
    )  # fmt: skip
    [withdrawal] = [r for r in rows if r["stage"] == "withdrawn"]
    assert withdrawal["reason_code"] == "patient_choice"
    [visit] = [r for r in rows if r["event"] == "follow_up_visit"]
    assert visit["time_point"] == "6w"
    [product] = [r for r in rows if r["event"] == "processing"]
    assert (product["viability_pct"], product["released"]) == ("88.5", "true")
    assert {r["age_band"] for r in rows} == {"60-64"}
    assert {r["side"] for r in rows} == {"left"}
    assert {r["site"] for r in rows} == {"knee"}


def test_header_and_columns_are_fixed(clinic: DemoClinic) -> None:
    """The CSV header is exactly RESEARCH_COLUMNS and every row has each column."""
    text, rows = _export(clinic)
    assert text.splitlines()[0] == ",".join(RESEARCH_COLUMNS)
    assert all(list(r) == list(RESEARCH_COLUMNS) for r in rows)


def test_days_are_counted_from_the_first_injection(secret_clinic: DemoClinic) -> None:
    """In ``days`` mode the first injection is day 0 and other events keep their distance."""
    _, rows = _export(secret_clinic, dates="days")
    [shot] = [r for r in rows if r["event"] == "injection"]
    assert shot["when"] == "0"
    [opened] = [r for r in rows if r["event"] == "opened"]
    assert opened["when"] == "-10"
    [withdrawn] = [r for r in rows if r["stage"] == "withdrawn"]
    assert withdrawn["when"] == "60"


def test_shifted_dates_keep_every_interval(clinic: DemoClinic) -> None:
    """Shifted dates differ from the true ones but keep every interval within a patient."""
    _, shifted = _export(clinic, dates="shift")
    _, days = _export(clinic, dates="days")
    assert len(shifted) == len(days)
    by_patient: dict[str, list[tuple[date, int]]] = {}
    for s, d in zip(shifted, days, strict=True):
        assert s["patient"] == d["patient"]
        by_patient.setdefault(s["patient"], []).append(
            (date.fromisoformat(s["when"]), int(d["when"]))
        )
    assert len(by_patient) == 30
    for pairs in by_patient.values():
        (first_date, first_day) = pairs[0]
        for when, day in pairs:
            assert (when - first_date).days == day - first_day


def test_shift_is_per_patient_and_secret(clinic: DemoClinic) -> None:
    """Every date of a patient moves by the same non-zero offset, which depends on the key."""
    patients = list(clinic.iter_patients())
    offsets = {date_offset(KEY, p) for p in patients}
    assert len(offsets) > 20
    other = {date_offset(b"another key, also long enough", p) for p in patients}
    assert offsets != other
    for patient, journeys in patients_with_journeys(clinic):
        offset = date_offset(KEY, patient)
        rows = list(research_rows(clinic, key=KEY, patient_ids=[patient.id]))
        opened = [r for r in rows if r["event"] == "opened"]
        for journey, row in zip(journeys, opened, strict=True):
            true = journey.opened_at.astimezone(UTC).date()
            assert date.fromisoformat(row["when"]) - true == offset


@given(st.binary(min_size=MIN_KEY_BYTES, max_size=64), st.text(min_size=1, max_size=30))
def test_offsets_are_between_one_and_365_days(key: bytes, external: str) -> None:
    """The date shift is never zero and never more than a year either way."""
    try:
        patient = sj.Patient(id="p-1", external_id=external)
    except ValidationError:
        return
    days = abs(date_offset(key, patient).days)
    assert 1 <= days <= 365


def test_pseudonyms_are_keyed_and_stable(clinic: DemoClinic) -> None:
    """The same key gives the same pseudonyms; another key unlinkable ones."""
    _, first = _export(clinic)
    _, again = _export(clinic)
    _, other = _export(clinic, key=b"some other key of enough length")
    assert [r["patient"] for r in first] == [r["patient"] for r in again]
    assert not {r["patient"] for r in first} & {r["patient"] for r in other}
    assert not {r["journey"] for r in first} & {r["journey"] for r in other}
    assert len({r["patient"] for r in first}) == 30
    assert pseudonym(KEY, "patient", "x").startswith("P-")
    assert len(pseudonym(KEY, "journey", "x")) == 22
    assert pseudonym(KEY.decode(), "patient", "x") == pseudonym(KEY, "patient", "x")


@pytest.mark.parametrize("key", [b"", b"15 bytes only..", "short text key"])
def test_short_keys_are_refused(clinic: DemoClinic, key: bytes | str) -> None:
    """A key shorter than 16 bytes is refused before anything is written; it is not echoed."""
    out = io.StringIO()
    with pytest.raises(ValidationError, match="at least 16 bytes") as info:
        research_csv(clinic, out, key=key)
    assert out.getvalue() == ""
    if key:
        assert str(key) not in str(info.value)


def test_a_key_that_is_not_bytes_or_text_is_refused(clinic: DemoClinic) -> None:
    """Only bytes or text make a key."""
    with pytest.raises(ValidationError, match="key: expected bytes or text"):
        list(research_rows(clinic, key=12345678901234567890))  # type: ignore[arg-type]


def test_an_unknown_date_mode_is_refused(clinic: DemoClinic) -> None:
    """``dates`` must be one of the documented modes."""
    with pytest.raises(ValidationError, match="dates: is not a known value; allowed: shift, days"):
        list(research_rows(clinic, key=KEY, dates="exact"))


def test_allow_lists_can_be_extended(secret_clinic: DemoClinic) -> None:
    """A condition on the caller's allow-list is written, normalised; others stay ``other``."""
    _, rows = _export(secret_clinic, conditions=["  ZELDA'S   knee "], sites=["Knee"])
    assert {r["condition"] for r in rows} == {"zelda's knee"}


def test_demo_conditions_are_written(clinic: DemoClinic) -> None:
    """The product's conditions are on the built-in allow-list."""
    _, rows = _export(clinic)
    conditions = {r["condition"] for r in rows}
    assert "other" not in conditions
    assert "osteoarthritis of knee" in conditions


def test_reason_codes_only(clinic: DemoClinic) -> None:
    """Moves carry only codes: withdrawal, ineligibility and void codes, never reason text."""
    _, rows = _export(clinic)
    codes = {r["reason_code"] for r in rows if r["event"] == "move"}
    allowed = sj.WITHDRAWAL_CODES | {"duplicate", ""}
    for code in codes:
        assert code in allowed or set(code.split("+")) <= sj.CONTRAINDICATIONS


def test_progress_is_reported_after_each_patient(clinic: DemoClinic) -> None:
    """``progress`` hears the number of patients written after each one."""
    seen: list[int] = []
    count = research_csv(clinic, io.StringIO(), key=KEY, progress=seen.append)
    assert seen == list(range(1, 31))
    assert count == len(list(research_rows(clinic, key=KEY)))


@pytest.mark.parametrize(
    ("birth", "on", "band"),
    [
        (date(1970, 6, 1), date(2026, 5, 31), "55-59"),
        (date(1970, 6, 1), date(2026, 6, 1), "55-59"),
        (date(1966, 6, 1), date(2026, 6, 1), "60-64"),
        (date(1936, 1, 1), date(2026, 1, 1), "90+"),
        (None, date(2026, 1, 1), ""),
        (date(1970, 1, 1), None, ""),
    ],
)
def test_age_bands(birth: date | None, on: date | None, band: str) -> None:
    """Ages fall in 5-year bands, top-coded at 90; unknown gives blank."""
    assert age_band(birth, on) == band


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 1, 1)), st.integers(0, 40000))
def test_age_band_holds_the_age(birth: date, days: int) -> None:
    """The band always contains the exact age in whole years."""
    on = birth + timedelta(days=days)
    band = age_band(birth, on)
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if age >= 90:
        assert band == "90+"
    else:
        low, high = (int(x) for x in band.split("-"))
        assert low <= age <= high
        assert high - low == 4


class _PlainSource:
    """A source with only ``patient(id)`` and ``iter_journeys()``."""

    def __init__(self, clinic: DemoClinic) -> None:
        self.clinic = clinic

    def patient(self, patient_id: str) -> sj.Patient:
        return self.clinic.patient(patient_id)

    def iter_journeys(self) -> Any:
        return iter(self.clinic.journeys)


def test_a_plain_source_exports_the_same_rows(clinic: DemoClinic) -> None:
    """A source that can only stream journeys gives the same export as one that can list."""
    plain, _ = _export(_PlainSource(clinic))
    listed, _ = _export(clinic)
    assert plain == listed


def test_score_rows_carry_the_cycle_they_follow_and_their_outcome() -> None:
    """A baseline score follows no cycle; a 6-week score follows cycle 1, with its change."""
    from stemjourney.export import research_rows
    from stemjourney.testing import treated_journey

    journey = treated_journey(scores=[(-3, 8), (42, 5)])
    patient = sj.Patient(id="p-1", external_id="MRN-1")

    class Source:
        def patient(self, patient_id: str) -> sj.Patient:
            return patient

        def iter_journeys(self) -> list[sj.Journey]:
            return [journey]

    rows = research_rows(Source(), key="a secret of 16+ bytes", dates="days")  # type: ignore[arg-type]
    scored = [
        (r["when"], r["value"], r["cycle"], r["time_point"], r["is_baseline"], r["change"])
        for r in rows
        if r["event"] == "score"
    ]
    assert scored == [
        ("-3", "8", "", "baseline", "true", ""),
        ("42", "5", "1", "6w", "false", "-3"),
    ]
