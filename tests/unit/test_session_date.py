"""``session_date`` keeps the last New York day it was asked about (the kernel asks for the date of
every decision and order): whatever the order of the questions, it answers as the time-zone
conversion does -- across midnights and the daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.core.market_data.calendar import is_market_open, session_bounds
from quantterminal.core.market_data.sessions import NEW_YORK, session_date

# the instants around New York's midnights and its 2024 clock changes (2 a.m. local, both ways)
EDGES = [
    datetime(2024, 3, 10, 5, tzinfo=UTC),  # midnight EST before the spring change
    datetime(2024, 3, 10, 7, tzinfo=UTC),  # 3 a.m. EDT: the clocks just moved
    datetime(2024, 3, 11, 4, tzinfo=UTC),  # midnight EDT after it
    datetime(2024, 11, 3, 4, tzinfo=UTC),  # midnight EDT before the autumn change
    datetime(2024, 11, 3, 6, tzinfo=UTC),  # 1 a.m. EST: the hour repeats
    datetime(2024, 11, 4, 5, tzinfo=UTC),  # midnight EST after it
]
instants = st.one_of(
    st.sampled_from(EDGES).flatmap(lambda t: st.integers(-3, 3).map(lambda us: t + timedelta(microseconds=us))),
    st.datetimes(datetime(2010, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001 - naive bounds, as hypothesis asks
)


@settings(max_examples=400)
@given(st.lists(instants, min_size=1, max_size=30))
def test_the_remembered_day_answers_as_the_conversion(asked: list[datetime]) -> None:
    for ts in asked:
        assert session_date(ts) == ts.astimezone(NEW_YORK).date(), ts
        assert session_date(ts.astimezone(NEW_YORK)) == ts.astimezone(NEW_YORK).date()  # any aware zone
        bounds = session_bounds(ts.astimezone(NEW_YORK).date())
        assert is_market_open(ts) == (bounds is not None and bounds[0] <= ts < bounds[1])
