"""US equity session times: regular trading hours and session dates in America/New_York."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
RTH_OPEN = time(9, 30)
RTH_CLOSE = time(16, 0)


def session_date(ts: datetime) -> date:
    """The New York calendar date of ``ts``."""
    return ts.astimezone(NEW_YORK).date()


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
