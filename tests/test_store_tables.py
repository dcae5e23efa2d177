"""The one canonical encoding of a row: the compiled encoder equals the JSON encoder."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stemjourney.store._tables import _ENCODER, TABLES, canonical, canonical_score_row

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.binary(max_size=40),
)


def _reference(table: str, row: list[Any]) -> bytes:
    """The canonical bytes as ``json.JSONEncoder.encode`` gives them (blobs as hex)."""
    values = [bytes(v).hex() if isinstance(v, bytes) else v for v in row]
    return _ENCODER.encode([table, *values]).encode("utf-8", "surrogateescape")


@given(st.sampled_from([t.name for t in TABLES]), st.lists(_VALUES, max_size=16))
def test_the_compiled_encoder_writes_the_json_encoders_bytes(table: str, row: list[Any]) -> None:
    """Any row of scalars, text with any code point, blobs: byte for byte the same."""
    assert canonical(table, row) == _reference(table, row)


def test_a_non_finite_number_still_has_bytes() -> None:
    """A NaN the store never writes (it may be tampered in) is encoded, not raised."""
    assert canonical("observations", ["j-1", math.nan]).startswith(b"[")


_SCORE_ROWS = st.tuples(
    st.text(),
    st.integers(min_value=1),
    st.text(),
    st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans()),
    st.one_of(st.none(), st.text()),
    st.text(),
    st.one_of(st.integers(), st.text()),  # cycle and stage as read from a summary row,
    st.one_of(st.integers(), st.text()),  # text only when the row was tampered with
    st.one_of(st.none(), st.integers(), st.text()),
    st.integers(),
)


@given(_SCORE_ROWS)
def test_the_score_row_form_writes_the_canonical_bytes(row: tuple[Any, ...]) -> None:
    """The bulk import's one-step form of an observations row is byte for byte
    ``canonical``'s, for text with any code point, whole and real values, and (passed on to
    ``canonical``) values of other types, text in a whole-number column included."""
    assert canonical_score_row(row) == canonical("observations", row)
    assert canonical_score_row(row) == _reference("observations", list(row))
