"""The codec: records and scores to JSON-able dicts and back."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stemjourney as sj
from stemjourney.clinical._codec import (
    RECORD_TYPES,
    canonical_json,
    decode_record,
    encode,
    encode_record,
    parse_time,
    time_text,
)
from stemjourney.exceptions import ValidationError
from stemjourney.testing import records

T = datetime(2026, 3, 2, 9, tzinfo=UTC)


@given(records())
def test_every_record_round_trips(record: object) -> None:
    """Any record the strategies build decodes, from its JSON text, to an equal record."""
    text = canonical_json(encode_record(record))  # type: ignore[arg-type]
    assert decode_record(json.loads(text)) == record


@pytest.mark.parametrize(
    "record",
    [
        sj.WithdrawalReason(initiated_by="patient", code="patient_choice", detail="moved away"),
        sj.IneligibilityReason(contraindications={"pregnancy", "active_infection"}),
        sj.VoidReason(code="duplicate"),
        sj.Score(instrument="odi", value=32.0, measured_at=T),
    ],
)
def test_reason_records_round_trip(record: object) -> None:
    """Reason records and scores on other instruments round-trip too."""
    assert decode_record(json.loads(canonical_json(encode(record)))) == record


def test_encoding_is_plain_and_sorted() -> None:
    """Frozensets become sorted lists, enums their values, times fixed-width UTC text."""
    data = encode(sj.IneligibilityReason(contraindications={"pregnancy", "anticoagulation"}))
    assert data == {
        "kind": "ineligibility_reason",
        "contraindications": ["anticoagulation", "pregnancy"],
        "detail": None,
    }
    harvest = sj.Harvest(
        harvested_at=T, source="adipose", body_site="abdomen", side="midline", volume_ml=50
    )
    assert encode(harvest)["source"] == "adipose"
    assert encode(date(2001, 2, 3)) == "2001-02-03"
    assert encode({"a": (1, 2)}) == {"a": [1, 2]}


def test_times_are_utc_text_that_sorts() -> None:
    """Times in any zone are stored as UTC text whose order is the order of the times."""
    plus2 = timezone(timedelta(hours=2))
    early = datetime(2026, 3, 2, 10, 0, tzinfo=plus2)
    late = datetime(2026, 3, 2, 9, 0, 0, 1, tzinfo=UTC)
    assert time_text(early) == "2026-03-02 08:00:00"
    assert time_text(late) == "2026-03-02 09:00:00.000001"
    assert time_text(early) < time_text(late)
    assert time_text(late - timedelta(microseconds=1)) < time_text(late)
    assert parse_time(time_text(early)) == early
    assert parse_time(time_text(early)).tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [
                UTC,
                timezone(timedelta(hours=-11, minutes=-30)),
                timezone(timedelta(hours=5, minutes=45)),
            ]
        ),
    )
)
def test_time_text_is_the_isoformat_of_the_utc_time(moment: datetime) -> None:
    """``time_text`` is the ISO text of the UTC time with a space, without the offset, and
    without microseconds when there are none: the formula it is put together for."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    expected = utc.isoformat(" ", "microseconds" if utc.microsecond else "seconds")
    assert time_text(moment) == expected
    assert time_text(moment) == expected  # the second time from the kept day text


def test_unknown_kind_is_refused() -> None:
    """A dict whose kind no record class has is refused, naming the known kinds."""
    with pytest.raises(ValidationError, match="kind"):
        decode_record({"kind": "x-ray"})
    assert "score" in RECORD_TYPES


def test_unencodable_values_are_refused() -> None:
    """A value the codec does not know raises TypeError rather than guessing."""
    with pytest.raises(TypeError, match="cannot encode"):
        encode(object())


@given(st.dictionaries(st.text(), st.integers()))
def test_canonical_json_is_stable(data: dict[str, int]) -> None:
    """The same data gives the same text whatever the key order."""
    reordered = dict(reversed(list(data.items())))
    assert canonical_json(data) == canonical_json(reordered)
