"""US equity session times: regular trading hours and session dates in America/New_York."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")
NEW_YORK = ZoneInfo("America/New_York")
RTH_OPEN = time(9, 30)
RTH_CLOSE = time(16, 0)


# The last New York day asked for, as (its first UTC instant, the next day's, the date): a time-zone
# conversion costs more than the risk check that asks for it, and the kernel asks for the date of
# every decision and order -- nearly always the day it asked about last. One tuple, replaced whole.
_last_day = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC), date.min)


def session_date(ts: datetime) -> date:
    """The New York calendar date of ``ts`` (tz-aware)."""
    global _last_day  # noqa: PLW0603 - a one-entry cache of a pure function (see above)
    start, end, day = _last_day
    if start <= ts < end:
        return day
    day = ts.astimezone(NEW_YORK).date()
    _last_day = (*day_bounds(day), day)
    return day


def next_midnight(day: date) -> datetime:
    """The instant the New York calendar day after ``day`` begins, in UTC (so comparing it with
    UTC timestamps needs no time-zone arithmetic)."""
    return datetime.combine(day + timedelta(days=1), time(0), NEW_YORK).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where New York date ``day`` begins and ends."""
    start = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
    return start, next_midnight(day)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_micros(ts: datetime) -> int:
    """Whole microseconds from the epoch to the tz-aware ``ts`` (exact, unlike ``timestamp()``)."""
    return (ts - _EPOCH) // _MICROSECOND


def from_epoch_micros(us: int) -> datetime:
    """The UTC datetime ``us`` microseconds after the epoch."""
    return datetime.fromtimestamp(us / 1e6, UTC)  # a float of µs rounds back to the exact µs


def day_spans(items: Sequence[T], stamp: Callable[[T], datetime]) -> Iterator[tuple[date, int, int]]:
    """The New York dates of time-ordered ``items`` and the index range ``[start, end)`` of each:
    a day at a time (a bisection to the next New York midnight), not an item at a time."""
    start, n = 0, len(items)
    while start < n:
        day = session_date(stamp(items[start]))
        end = bisect_left(items, next_midnight(day), lo=start + 1, key=stamp)
        yield day, start, end
        start = end
