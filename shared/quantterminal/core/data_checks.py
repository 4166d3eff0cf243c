"""What a backtest's bars really are: their bar size, and the trading sessions missing from them.

A hole in the data is not a quiet market. A folder of files years apart, or a sample with a
missing month, would otherwise let a position ride across the hole and book the whole move as one
bar's P&L. Gaps are counted against the NYSE calendar (holidays and weekends are not gaps), per
symbol, between consecutive bars.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from quantterminal.core.calendar import is_trading_day
from quantterminal.core.models import Bar
from quantterminal.core.sessions import session_date

DAY = timedelta(days=1)
_SAMPLE = 5_000  # consecutive bars enough to tell the bar size


@dataclass(frozen=True, slots=True)
class Gap:
    """Whole trading sessions with no bar of ``symbol`` between two of its bars."""

    symbol: str
    before: datetime  # the last bar before the hole
    after: datetime  # the first bar after it
    sessions: int

    def describe(self) -> str:
        return (
            f"{self.symbol}: {self.sessions} session(s) missing between "
            f"{session_date(self.before)} and {session_date(self.after)}"
        )


def bar_interval(bars: Sequence[Bar]) -> timedelta:
    """The bar size: the most common spacing between consecutive bars of one session; a series
    with at most one bar per session is daily."""
    spacings: Counter[timedelta] = Counter()
    previous: datetime | None = None
    previous_day: date | None = None
    for bar in bars[:_SAMPLE]:
        day = session_date(bar.timestamp)
        if previous is not None and day == previous_day:
            spacings[bar.timestamp - previous] += 1
        previous, previous_day = bar.timestamp, day
    return spacings.most_common(1)[0][0] if spacings else DAY


def describe_interval(interval: timedelta) -> str:
    """``1-minute``, ``5-minute``, ``hourly``, ``daily``..."""
    if interval >= DAY:
        return "daily"
    minutes = interval.total_seconds() / 60
    if minutes == 60:
        return "hourly"
    return f"{minutes:g}-minute" if minutes >= 1 else f"{interval.total_seconds():g}-second"


def sessions_between(first: date, last: date) -> int:
    """Trading sessions strictly between two dates."""
    count, day = 0, first + DAY
    while day < last:
        count += is_trading_day(day)
        day += DAY
    return count


def find_gaps(bars_by_symbol: Mapping[str, Sequence[Bar]], min_sessions: int = 1) -> list[Gap]:
    """Every hole of at least ``min_sessions`` whole sessions, by symbol then time. A whole session
    can only be missing between bars more than a day apart, so only those pairs are looked up in
    the calendar (a million bars cost one subtraction each)."""
    gaps: list[Gap] = []
    for symbol in sorted(bars_by_symbol):
        previous: datetime | None = None
        for bar in bars_by_symbol[symbol]:
            ts = bar.timestamp
            if previous is not None and ts - previous > DAY:
                missing = sessions_between(session_date(previous), session_date(ts))
                if missing >= min_sessions:
                    gaps.append(Gap(symbol, previous, ts, missing))
            previous = ts
    return gaps
