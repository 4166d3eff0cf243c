"""The NYSE trading calendar: which days trade, when sessions open and close, which minutes exist.

Full-day closures come from the ``holidays`` package's NYSE calendar (which includes one-off
closures such as national days of mourning). Early closes at 13:00 New York follow the exchange's
standing rules: the day after Thanksgiving, Christmas Eve when it falls Monday–Thursday, and July 3
when it falls Monday–Thursday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from quantterminal.core.market_data.sessions import NEW_YORK, RTH_CLOSE, RTH_OPEN, session_date

EARLY_CLOSE = time(13, 0)
_MINUTE = timedelta(minutes=1)


@lru_cache(maxsize=64)
def _closures(year: int) -> frozenset[date]:
    return frozenset(holidays.financial_holidays("NYSE", years=year))


def is_trading_day(day: date) -> bool:
    """True when the NYSE holds a session on ``day``."""
    return day.weekday() < 5 and day not in _closures(day.year)


def is_early_close(day: date) -> bool:
    """True when the session on ``day`` (a trading day) ends at 13:00 New York."""
    if not is_trading_day(day):
        return False
    if day.month == 11 and day.weekday() == 4 and 23 <= day.day <= 29:
        return True  # the Friday after Thanksgiving (the fourth Thursday, Nov 22-28)
    if (day.month, day.day) in ((12, 24), (7, 3)):
        return day.weekday() < 4
    return False


@lru_cache(maxsize=8192)  # asked for every order and every decision: a pure function of the date
def session_bounds(day: date) -> tuple[datetime, datetime] | None:
    """Open and close of the regular session on ``day`` in UTC, or ``None`` on a closed day."""
    if not is_trading_day(day):
        return None
    close = EARLY_CLOSE if is_early_close(day) else RTH_CLOSE
    return (
        datetime.combine(day, RTH_OPEN, NEW_YORK).astimezone(UTC),
        datetime.combine(day, close, NEW_YORK).astimezone(UTC),
    )


def is_market_open(ts: datetime) -> bool:
    """Whether the regular session is open at ``ts`` (holidays and early closes included)."""
    bounds = session_bounds(session_date(ts))
    return bounds is not None and bounds[0] <= ts < bounds[1]


def trading_minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    """Start times (UTC) of the regular-session minute bars in ``[start, end)``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    day = start.astimezone(NEW_YORK).date()
    last_day = end.astimezone(NEW_YORK).date()
    while day <= last_day:
        bounds = session_bounds(day)
        if bounds is not None:
            minute = max(bounds[0], _ceil_minute(start.astimezone(UTC)))
            stop = min(bounds[1], end.astimezone(UTC))
            while minute < stop:
                yield minute
                minute += _MINUTE
        day += timedelta(days=1)


def _ceil_minute(ts: datetime) -> datetime:
    floored = ts.replace(second=0, microsecond=0)
    return floored if floored == ts else floored + _MINUTE


REGULAR, EXTENDED = "regular", "extended"
SESSIONS = (REGULAR, EXTENDED)


class SessionRule:
    """The one rule of which minute bars a strategy sees, used by every environment (backtest,
    paper replay, the Lambdas, the feed task's consumers): ``regular`` -- the bars of the regular
    session on the exchange calendar (holidays and early closes included), the default -- or
    ``extended`` -- every bar, pre- and post-market too.

    ``in_regular_session`` is asked for every bar of a backtest, so the day's bounds are kept:
    after the first bar of a day it is two comparisons.
    """

    __slots__ = ("_close", "_day_end", "_day_start", "_open")

    def __init__(self) -> None:
        self._day_start = self._day_end = self._open = self._close = datetime.min.replace(tzinfo=UTC)

    def in_regular_session(self, ts: datetime) -> bool:
        """Whether the minute starting at ``ts`` lies in the regular session (see ``is_market_open``)."""
        if not self._day_start <= ts < self._day_end:
            day = ts.astimezone(NEW_YORK).date()
            midnight = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
            self._day_start = midnight
            self._day_end = datetime.combine(day + timedelta(days=1), time(0), NEW_YORK).astimezone(UTC)
            bounds = session_bounds(day)
            self._open, self._close = bounds if bounds is not None else (midnight, midnight)
        return self._open <= ts < self._close

    def sees(self, session: str, ts: datetime) -> bool:
        """Whether a strategy of ``session`` (``regular`` or ``extended``) sees the minute bar at ``ts``."""
        return session == EXTENDED or self.in_regular_session(ts)
