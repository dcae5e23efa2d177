"""Instruments, their scoring rules and the registry: the worked examples of PRODUCT.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import stemjourney as sj
from stemjourney.exceptions import DuplicateError, NotFoundError, ValidationError
from stemjourney.outcomes import (
    BUILT_IN,
    INSTRUMENTS,
    KOOS_ITEMS,
    KOOS_SUBSCALES,
    Instrument,
    InstrumentRegistry,
    Item,
    get_instrument,
    recompute,
    register_instrument,
    score_koos,
    score_questionnaire,
)

AT = datetime(2025, 3, 3, 10, tzinfo=UTC)
KOOS_PAIN = [2, 2, 1, 3, 2, 1, 2, 2, 1]
ODI_16 = [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]


def test_koos_pain_worked_example() -> None:
    """KOOS Pain items 2,2,1,3,2,1,2,2,1 score 55.6."""
    assert round(score_questionnaire("koos_pain", KOOS_PAIN, AT).value, 1) == 55.6


def test_odi_worked_example_all_answered() -> None:
    """ODI 16 of 50 scores 32."""
    assert score_questionnaire("odi", ODI_16, AT).value == 32.0


def test_odi_worked_example_one_section_unanswered() -> None:
    """ODI 16 of 45, one section unanswered, scores 35.6."""
    answers = [2, 2, 2, 2, 2, 2, 2, 1, 1, None]
    assert round(score_questionnaire("odi", answers, AT).value, 1) == 35.6


def test_quickdash_worked_example() -> None:
    """QuickDASH sum 27 over 11 items scores 36.4."""
    answers = [3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2]
    assert sum(answers) == 27
    assert round(score_questionnaire("quickdash", answers, AT).value, 1) == 36.4


def test_quickdash_one_missing_is_scored_on_the_rest() -> None:
    """QuickDASH with one item missing averages the ten answered."""
    answers = [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, None]
    assert score_questionnaire("quickdash", answers, AT).value == 50.0


def test_quickdash_not_scored_with_two_missing() -> None:
    """QuickDASH with more than one item missing is refused, saying what it needs."""
    answers = [3, 3, 3, 3, 3, 3, 3, 3, 3, None, None]
    with pytest.raises(ValidationError, match="9 of 11 items answered") as err:
        score_questionnaire("quickdash", answers, AT)
    assert err.value.allowed == "at least 10 of 11 items answered"


def test_ases_worked_example() -> None:
    """ASES with pain VAS 6 cm and function sum 17 scores 48.3."""
    answers = [6, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1]
    assert round(score_questionnaire("ases", answers, AT).value, 1) == 48.3


def test_ases_accepts_a_fractional_pain_vas() -> None:
    """The ASES pain VAS is in cm and may have a decimal; the activity items may not."""
    assert score_questionnaire("ases", [6.5, *[3] * 10], AT).value == pytest.approx(67.5)
    with pytest.raises(ValidationError, match=r"answers\[f1\]: is not a whole number"):
        score_questionnaire("ases", [6, 2.5, *[3] * 9], AT)


def test_ases_needs_every_answer() -> None:
    """ASES has no missing-answer rule, so a blank item leaves it unscored."""
    with pytest.raises(ValidationError, match="10 of 11 items answered"):
        score_questionnaire("ases", [None, *[3] * 10], AT)


def test_ndi_is_the_total_doubled() -> None:
    """NDI total 16 of 50 is 32 %."""
    assert score_questionnaire("ndi", ODI_16, AT).value == 32.0


def test_ndi_imputes_a_missed_item_with_the_mean() -> None:
    """An NDI missed item counts as the mean of the others: nine 2s give 40 %."""
    assert score_questionnaire("ndi", [2] * 9 + [None], AT).value == pytest.approx(40.0)


@pytest.mark.parametrize("instrument", ["odi", "ndi"])
def test_odi_and_ndi_refuse_more_than_two_missing(instrument: str) -> None:
    """ODI and NDI are not scored with three of ten answers missing."""
    score_questionnaire(instrument, [1] * 8 + [None] * 2, AT)
    with pytest.raises(ValidationError, match="7 of 10"):
        score_questionnaire(instrument, [1] * 7 + [None] * 3, AT)


@pytest.mark.parametrize(("code", "needed"), [("koos_pain", 5), ("koos_qol", 2), ("koos_adl", 9)])
def test_koos_subscale_needs_half_its_items(code: str, needed: int) -> None:
    """A KOOS subscale is scored from half its items answered, not from fewer."""
    count = KOOS_SUBSCALES[code][2]
    enough = [1] * needed + [None] * (count - needed)
    assert score_questionnaire(code, enough, AT).value == 75.0
    too_few = [1] * (needed - 1) + [None] * (count - needed + 1)
    with pytest.raises(ValidationError, match=f"{needed - 1} of {count}"):
        score_questionnaire(code, too_few, AT)


def test_score_keeps_answers_for_audit() -> None:
    """A questionnaire score keeps its answers, and recompute gives the same value."""
    score = score_questionnaire("odi", ODI_16, AT)
    assert score.answers == tuple(ODI_16)
    assert recompute(score) == score.value
    assert recompute(sj.nrs(4, AT)) is None


def test_answer_out_of_range_names_the_item() -> None:
    """An answer outside its item's range is refused, naming the item and the range."""
    with pytest.raises(ValidationError) as err:
        score_questionnaire("koos_pain", [2, 2, 5, 2, 2, 2, 2, 2, 2], AT)
    assert err.value.field == "answers[p3]"
    assert err.value.allowed == "0 to 4 for koos_pain"


@pytest.mark.parametrize("bad", [True, "2", 1.5, float("nan")])
def test_answers_must_be_whole_numbers(bad: object) -> None:
    """Bools, strings, fractions and NaN are refused as item answers."""
    with pytest.raises(ValidationError):
        score_questionnaire("odi", [bad, *ODI_16[1:]], AT)


def test_wrong_number_of_answers_is_refused() -> None:
    """The answers must match the items one to one."""
    with pytest.raises(ValidationError, match="exactly 10"):
        score_questionnaire("odi", ODI_16[:9], AT)
    with pytest.raises(ValidationError, match="a tuple of answers"):
        score_questionnaire("odi", "2222222222", AT)  # type: ignore[arg-type]


def test_unknown_and_direct_instruments_are_refused() -> None:
    """score_questionnaire refuses unknown codes, NRS (a value) and bare 'koos'."""
    with pytest.raises(NotFoundError):
        score_questionnaire("womac", [1] * 24, AT)
    with pytest.raises(ValidationError, match="entered as a value"):
        score_questionnaire("nrs", [3], AT)
    with pytest.raises(ValidationError, match="score_koos"):
        score_questionnaire("koos", [1] * 42, AT)


def test_score_koos_from_the_whole_form() -> None:
    """The 42 answers in form order give five subscale scores."""
    form = [0] * 7 + KOOS_PAIN + [4] * 17 + [2] * 5 + [1] * 4
    assert len(form) == KOOS_ITEMS == 42
    scores = score_koos(form, AT)
    values = {code: round(s.value, 1) for code, s in scores.items() if s is not None}
    assert values == {
        "koos_symptoms": 100.0,
        "koos_pain": 55.6,
        "koos_adl": 0.0,
        "koos_sport": 50.0,
        "koos_qol": 75.0,
    }


def test_score_koos_leaves_out_a_subscale_with_too_few_answers() -> None:
    """A subscale under half answered is None; the others are still scored."""
    form: list[int | None] = [1] * 7 + KOOS_PAIN + [1] * 17 + [None] * 5 + [1] * 4
    scores = score_koos(form, AT)
    assert scores["koos_sport"] is None
    assert all(scores[c] is not None for c in KOOS_SUBSCALES if c != "koos_sport")


def test_score_koos_from_a_mapping() -> None:
    """Subscales may be given by code; the ones not given are None."""
    scores = score_koos({"koos_qol": [4, 4, 4, 4]}, AT)
    assert scores["koos_qol"] is not None
    assert scores["koos_qol"].value == 0.0
    assert scores["koos_pain"] is None


def test_score_koos_refuses_bad_shapes() -> None:
    """A KOOS form of the wrong length, or an unknown subscale code, is refused."""
    with pytest.raises(ValidationError, match="42 answers"):
        score_koos([1] * 41, AT)
    with pytest.raises(ValidationError, match="unknown KOOS subscale 'koos_x'"):
        score_koos({"koos_x": [1]}, AT)
    with pytest.raises(ValidationError, match="exactly 9"):
        score_koos({"koos_pain": [1]}, AT)


def test_score_value_is_checked_against_the_registry() -> None:
    """Score refuses values outside the instrument's range, and fractions on NRS."""
    with pytest.raises(ValidationError, match="0 to 100"):
        sj.Score(instrument="koos_pain", value=120, measured_at=AT)
    with pytest.raises(ValidationError, match="whole number"):
        sj.Score(instrument="nrs", value=4.5, measured_at=AT)
    assert sj.Score(instrument="ases", value=48.3, measured_at=AT).value == 48.3


def test_score_value_must_match_its_answers() -> None:
    """A score whose answers give another value is refused."""
    with pytest.raises(ValidationError, match="does not match the odi score"):
        sj.Score(instrument="odi", value=40, measured_at=AT, answers=ODI_16)
    assert sj.Score(instrument="odi", value=32, measured_at=AT, answers=ODI_16).value == 32


def test_score_answers_on_a_direct_scale_are_refused() -> None:
    """NRS takes a value, not answers."""
    with pytest.raises(ValidationError, match="takes no item answers"):
        sj.Score(instrument="nrs", value=3, measured_at=AT, answers=[3])


def test_unregistered_instrument_needs_a_finite_value_and_numeric_answers() -> None:
    """A score on an unregistered code keeps working, with only finite numbers let in."""
    assert sj.Score(instrument="x-unknown", value=1234, measured_at=AT, answers=[1, None]).answers
    with pytest.raises(ValidationError, match="not finite"):
        sj.Score(instrument="x-unknown", value=float("inf"), measured_at=AT)
    with pytest.raises(ValidationError, match="answers"):
        sj.Score(instrument="x-unknown", value=1, measured_at=AT, answers=["a"])
    with pytest.raises(ValidationError, match="a tuple of answers"):
        sj.Score(instrument="x-unknown", value=1, measured_at=AT, answers=5)


def test_built_ins_carry_direction_loinc_and_source() -> None:
    """Each built-in has a direction, its source, and LOINC for NRS and VAS only."""
    assert [i.code for i in BUILT_IN] == [
        "nrs",
        "vas",
        *KOOS_SUBSCALES,
        "odi",
        "ndi",
        "quickdash",
        "ases",
    ]
    assert get_instrument("nrs").loinc == "72514-3"
    assert get_instrument("vas").loinc == "38214-3"
    assert get_instrument("koos_pain").higher_is_better
    assert not get_instrument("odi").higher_is_better
    assert all(i.source for i in BUILT_IN)
    assert "womac" not in INSTRUMENTS


def test_built_ins_agree_with_the_pain_scales_the_guards_use() -> None:
    """NRS and VAS in the registry have the ranges of PAIN_INSTRUMENTS."""
    from stemjourney.clinical._instruments import PAIN_INSTRUMENTS

    for code, (low, high, integer) in PAIN_INSTRUMENTS.items():
        spec = get_instrument(code)
        assert (spec.low, spec.high, spec.integer) == (low, high, integer)


def _own(code: str) -> Instrument:
    return Instrument(
        code=code,
        name="Clinic walking test",
        low=0,
        high=10,
        higher_is_better=True,
        source="Clinic protocol",
        items=(Item("w1", 0, 5), Item("w2", 0, 5)),
        scorer=lambda a: None if None in a else float(sum(x for x in a if x is not None)),
    )


def test_registry_refuses_to_replace_a_built_in_or_a_registered_code() -> None:
    """A registry keeps built-ins fixed and each code registered once."""
    registry = InstrumentRegistry(BUILT_IN)
    with pytest.raises(DuplicateError, match="built in"):
        registry.register(attrs_evolve(get_instrument("odi"), name="My ODI"))
    registry.register(_own("clinic:walk"))
    with pytest.raises(DuplicateError, match="already registered"):
        registry.register(_own("clinic:walk"))
    with pytest.raises(ValidationError, match="expected an Instrument"):
        registry.register("odi")  # type: ignore[arg-type]
    assert "clinic:walk" in registry
    assert 3 not in registry
    assert registry.is_built_in("odi")
    assert not registry.is_built_in("clinic:walk")
    assert len(registry) == len(list(registry)) == len(BUILT_IN) + 1
    with pytest.raises(NotFoundError, match="no instrument with id 'nope'"):
        registry["nope"]


def attrs_evolve(instrument: Instrument, **changes: Any) -> Instrument:
    """A copy of ``instrument`` with ``changes``."""
    return attrs.evolve(instrument, **changes)


def test_register_instrument_makes_scores_validated() -> None:
    """A clinic's registered instrument is scored and checked like a built-in."""
    register_instrument(_own("clinic:walk-test"))
    score = score_questionnaire("clinic:walk-test", [2, 3], AT)
    assert score.value == 5.0
    with pytest.raises(ValidationError, match="0 to 10"):
        sj.Score(instrument="clinic:walk-test", value=11, measured_at=AT)
    with pytest.raises(DuplicateError):
        register_instrument(_own("clinic:walk-test"))


def test_instrument_definitions_are_checked() -> None:
    """Instruments and items refuse empty ranges, repeated items and a missing scorer."""
    with pytest.raises(ValidationError, match="high <= low"):
        Item("a", 3, 3)
    with pytest.raises(ValidationError, match="high <= low"):
        attrs_evolve(_own("clinic:a"), low=10, high=0)
    with pytest.raises(ValidationError, match="distinct item codes"):
        attrs_evolve(_own("clinic:a"), items=(Item("a", 0, 1), Item("a", 0, 1)))
    with pytest.raises(ValidationError, match="items without a scorer"):
        attrs_evolve(_own("clinic:a"), scorer=None)


def test_best_end_follows_direction() -> None:
    """The best end is the top of KOOS and the bottom of NRS."""
    assert get_instrument("koos_qol").best == 100
    assert get_instrument("nrs").best == 0
