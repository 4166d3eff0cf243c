"""US equity session times: regular trading hours and session dates in America/New_York."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
RTH_OPEN = time(9, 30)
RTH_CLOSE = time(16, 0)


def is_regular_hours(ts: datetime) -> bool:
    """True when a bar *starting* at ``ts`` lies in 09:30–16:00 New York time.

    Half-day closes (13:00) are not known here; data for those days simply has no later bars.
    """
    local = ts.astimezone(NEW_YORK).time()
    return RTH_OPEN <= local < RTH_CLOSE


def session_date(ts: datetime) -> date:
    """The New York calendar date of ``ts``."""
    return ts.astimezone(NEW_YORK).date()


def session_dates(timestamps: Iterable[datetime]) -> Iterator[date]:
    """``session_date`` for each of a time-ordered series, converting once per day rather than
    once per timestamp (the next New York midnight is the only boundary that matters)."""
    boundary: datetime | None = None
    current: date | None = None
    for ts in timestamps:
        if boundary is None or ts >= boundary:
            current = session_date(ts)
            next_midnight = datetime.combine(current + timedelta(days=1), time(0), NEW_YORK)
            boundary = next_midnight
        assert current is not None
        yield current
