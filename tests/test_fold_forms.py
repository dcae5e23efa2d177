"""The fold's precompiled forms give what the plain rules give.

:class:`~stemjourney.outcomes.OutcomeFold` caches and compiles what a report repeats
journey after journey; each such form is checked here, on generated values, against the
plain computation it stands for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from stemjourney.clinical._codec import parse_time, time_text
from stemjourney.outcomes._fold import LookbackStarts

MOMENTS = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
)
"""Aware times, microseconds included, far enough from the calendar's ends to step back."""
LOOKBACKS = st.one_of(
    st.integers(0, 3650).map(lambda days: timedelta(days=days)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
)
"""Look-backs of whole days (the cached case) and of any length."""


def plain_lookback_start(injected: str, lookback: timedelta) -> str:
    """The look-back start as the rule reads: the injection time less the look-back."""
    return time_text(parse_time(injected) - lookback)


@given(moments=st.lists(MOMENTS, min_size=1, max_size=6), lookback=LOOKBACKS)
def test_a_lookback_start_is_the_injection_less_the_lookback(
    moments: list[datetime], lookback: timedelta
) -> None:
    """For the store's time text, whole days or not, cached or freshly worked out."""
    starts = LookbackStarts(lookback)
    for injected in [time_text(m) for m in moments] * 2:
        assert starts(injected) == plain_lookback_start(injected, lookback)


@given(
    moment=MOMENTS,
    days=st.integers(0, 400),
    offset=st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    separator=st.sampled_from([" ", "T"]),
)
def test_a_lookback_start_of_other_text_is_read_as_time(
    moment: datetime, days: int, offset: timedelta, separator: str
) -> None:
    """Text the store does not write (an offset, a "T", zero microseconds written out) is
    parsed, never cut up as text."""
    lookback = timedelta(days=days)
    texts = [
        moment.astimezone(timezone(offset)).isoformat(separator),
        moment.replace(microsecond=0).isoformat(separator, "microseconds").replace("+00:00", ""),
    ]
    starts = LookbackStarts(lookback)
    for injected in texts:
        assert starts(injected) == plain_lookback_start(injected, lookback)
