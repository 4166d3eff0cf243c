"""What a backtest's bars really are: their bar size, and the trading sessions missing from them.

A hole in the data is not a quiet market. A folder of files years apart, or a sample with a
missing month, would otherwise let a position ride across the hole and book the whole move as one
bar's P&L. Gaps are counted against the NYSE calendar (holidays and weekends are not gaps), per
symbol, between consecutive bars.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import attrgetter

from quantterminal.core.market_data.bar_series import BarSeries
from quantterminal.core.market_data.calendar import is_trading_day
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.models import Bar

DAY = timedelta(days=1)
_SAMPLE = 1_000  # consecutive bars enough to tell the bar size
_HALF_DAY = timedelta(hours=12)
_WINDOW = 4_096  # how far one step of find_gaps looks ahead (more bars than a day holds)


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
    """The bar size: the most common spacing between consecutive bars less than half a day apart
    (within a session); a series with no such pair is daily."""
    spacings: Counter[timedelta] = Counter()
    sample = bars[:_SAMPLE]
    for earlier, later in itertools.pairwise(sample):
        spacing = later.timestamp - earlier.timestamp
        if spacing < _HALF_DAY:
            spacings[spacing] += 1
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
    """Every hole of at least ``min_sessions`` whole sessions, by symbol then time.

    A whole session can only be missing between consecutive bars more than a day apart, so the
    search jumps a day at a time (a bisection over the sorted bars) and looks only those pairs up
    in the calendar: a year of minute bars costs a few hundred steps, not a step per bar."""
    stamp = attrgetter("timestamp")
    gaps: list[Gap] = []
    for symbol in sorted(bars_by_symbol):
        bars = bars_by_symbol[symbol]
        i, n = 0, len(bars)
        while i < n - 1:
            hi = min(n, i + _WINDOW)
            j = bisect_right(bars, bars[i].timestamp + DAY, lo=i + 1, hi=hi, key=stamp)
            if j == hi:  # every bar in the window is within a day of bars[i]: no hole here
                i = hi - 1
                continue
            before, after = bars[j - 1].timestamp, bars[j].timestamp  # the only pair that can be a hole
            if after - before > DAY:
                missing = sessions_between(session_date(before), session_date(after))
                if missing >= min_sessions:
                    gaps.append(Gap(symbol, before, after, missing))
            i = j
    return gaps


def merge_bars(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> list[Bar]:
    """All bars in time order; bars with the same timestamp come in symbol order.

    Raises ``ValueError`` if a symbol's bars are out of order or carry another symbol.
    """
    return list(merged_bars(bars_by_symbol))


def merged_bars(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> Iterator[Bar]:
    """``merge_bars``, one bar at a time: no list of every bar is made (a ``BarSeries`` makes
    each ``Bar`` as its turn comes). The order is checked before the first bar is given -- a
    ``BarSeries`` was checked when it was built."""
    for symbol, bars in bars_by_symbol.items():
        if isinstance(bars, BarSeries) and bars.symbol == symbol:
            continue
        previous: datetime | None = None
        for bar in bars:
            if bar.symbol != symbol:
                raise ValueError(f"bar for {bar.symbol} found among bars of {symbol}")
            if previous is not None and bar.timestamp <= previous:
                raise ValueError(f"{symbol}: bars not strictly increasing at {bar.timestamp.isoformat()}")
            previous = bar.timestamp
    ordered = [bars_by_symbol[s] for s in sorted(bars_by_symbol)]
    if len(ordered) == 1:
        return iter(ordered[0])
    return heapq.merge(*ordered, key=attrgetter("timestamp"))
