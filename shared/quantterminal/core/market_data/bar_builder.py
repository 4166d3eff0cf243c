"""One-minute bars from trades, closed on the clock plus a grace period.

A trade belongs to the minute its exchange timestamp falls in (bars are labelled by their start).
The bar for minute m is emitted once the clock passes ``m + 1 min + grace``; trades arriving before
then are included in any arrival order (open and close follow exchange time, not arrival), and a
trade delivered twice (same exchange and trade id) counts once. A trade arriving after its minute
was emitted is too late: it is counted and dropped -- the provider's revised bar corrects the
minute. Each (symbol, minute) is emitted at most once, in time order per symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar, Trade

MINUTE = timedelta(minutes=1)


def minute_start(ts: datetime) -> datetime:
    """The start of the minute ``ts`` falls in."""
    return ts.replace(second=0, microsecond=0)


@dataclass
class _Bucket:
    first_ts: datetime
    open: float
    last_ts: datetime
    close: float
    high: float
    low: float
    volume: int = 0
    notional: float = 0.0
    count: int = 0
    seen: set[tuple[str, str]] = field(default_factory=set)


class MinuteBarBuilder:
    """Aggregates trades of many symbols into minute bars."""

    def __init__(self, grace: timedelta = timedelta(seconds=2)) -> None:
        if grace < timedelta(0) or grace >= MINUTE:
            raise ValueError(f"grace must be in [0, 60 s), got {grace}")
        self.grace = grace
        self._open: dict[str, dict[datetime, _Bucket]] = {}
        self._closed_through: datetime | None = None  # minutes starting at or before this are closed
        self._current: dict[str, tuple[datetime, datetime, _Bucket]] = {}  # symbol -> its latest minute
        self.late_trades = 0
        self.duplicate_trades = 0

    def add(self, trade: Trade) -> None:
        """Take one trade (already validated at the edge)."""
        ts = trade.timestamp
        symbol = trade.symbol
        current = self._current.get(symbol)
        if current is not None and current[0] <= ts < current[1]:
            bucket = current[2]  # the usual case: the same minute as this symbol's last trade
        else:
            start = minute_start(ts)
            if self._closed_through is not None and start <= self._closed_through:
                self.late_trades += 1  # its minute is closed (whether or not it had a bar)
                return
            buckets = self._open.setdefault(symbol, {})
            found = buckets.get(start)
            if found is None:
                found = buckets[start] = _Bucket(ts, trade.price, ts, trade.price, trade.price, trade.price)
            bucket = found
            self._current[symbol] = (start, start + MINUTE, bucket)
        if trade.trade_id:
            key = (trade.exchange or "", trade.trade_id)
            if key in bucket.seen:
                self.duplicate_trades += 1
                return
            bucket.seen.add(key)
        price, size = trade.price, trade.size
        if ts < bucket.first_ts:
            bucket.first_ts, bucket.open = ts, price
        if ts >= bucket.last_ts:
            bucket.last_ts, bucket.close = ts, price
        bucket.high = max(bucket.high, price)
        bucket.low = min(bucket.low, price)
        bucket.volume += size
        bucket.notional += price * size
        bucket.count += 1

    def close_due(self, now: datetime) -> list[BarUpdate]:
        """Emit every bar whose minute ended at least ``grace`` before ``now``, oldest first."""
        cutoff = minute_start(now - self.grace - MINUTE)  # minutes starting at or before this are closed
        if self._closed_through is None or cutoff > self._closed_through:
            self._closed_through = cutoff
        out: list[BarUpdate] = []
        for symbol, buckets in self._open.items():
            due = sorted(m for m in buckets if m <= cutoff)
            current = self._current.get(symbol)
            if current is not None and current[0] <= cutoff:
                del self._current[symbol]
            for start in due:
                b = buckets.pop(start)
                vwap = b.notional / b.volume if b.volume else None
                bar = Bar(symbol, start, b.open, b.high, b.low, b.close, b.volume, vwap, b.count)
                out.append(BarUpdate(bar, BarSource.BUILT))
        out.sort(key=lambda u: (u.bar.timestamp, u.bar.symbol))
        return out

    def flush(self) -> list[BarUpdate]:
        """Emit everything still open (at shutdown)."""
        latest = max((m for b in self._open.values() for m in b), default=None)
        return [] if latest is None else self.close_due(latest + MINUTE + self.grace)
