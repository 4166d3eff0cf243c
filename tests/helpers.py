"""Builders for test data: bars from price lists, timestamps on a minute grid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from quantterminal.core.models import Bar

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 New York


def minute(i: int, start: datetime = T0) -> datetime:
    """The i-th minute after ``start``."""
    return start + timedelta(minutes=i)


def bar(
    i: int,
    close: float,
    symbol: str = "SPY",
    open_: float | None = None,
    high: float | None = None,
    low: float | None = None,
    volume: int = 1000,
    start: datetime = T0,
) -> Bar:
    """A bar at minute ``i``; open defaults to close, high/low to the open/close range."""
    o = close if open_ is None else open_
    h = max(o, close) if high is None else high
    lo = min(o, close) if low is None else low
    return Bar(symbol, minute(i, start), o, h, lo, close, volume)


def bars_from_closes(closes: Sequence[float], symbol: str = "SPY", start: datetime = T0) -> list[Bar]:
    """Flat-range bars (open = high = low = close) at consecutive minutes."""
    return [bar(i, c, symbol, start=start) for i, c in enumerate(closes)]
