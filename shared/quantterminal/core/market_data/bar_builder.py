"""One-minute bars from trades, closed on the clock plus a grace period.

A trade belongs to the minute its exchange timestamp falls in (bars are labelled by their start).
The bar for minute m is emitted once the clock passes ``m + 1 min + grace``; trades arriving before
then are included in any arrival order (open and close follow exchange time, not arrival), and a
trade delivered twice (same exchange and trade id) counts once. A trade arriving after its minute
was emitted is too late: it is counted and dropped -- the provider's revised bar corrects the
minute. Each (symbol, minute) is emitted at most once, in time order per symbol.

Sale conditions are applied as the consolidated tape does (``sale_conditions``): an odd lot adds
volume but moves no price, an out-of-sequence print may set the high or low but not the close, an
official open/close message counts for nothing; Form T prints set the prices of extended-hours
minutes. A minute whose trades may set no price (only odd lots, say) gives no bar. A trade cancel
or correction for an open minute takes the trade out (or replaces it) and the minute is
aggregated again from its remaining trades; for a minute already emitted it is counted
(``late_cancels``) and the provider's revised bar corrects it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.market_data.sale_conditions import ALL, Eligibility, SaleConditionRules
from quantterminal.core.models import Bar, Trade

MINUTE = timedelta(minutes=1)
# Sentinels rather than None: one comparison per trade instead of two on the hot path.
_NEVER_FIRST = datetime.max.replace(tzinfo=UTC)
_NEVER_LAST = datetime.min.replace(tzinfo=UTC)


def minute_start(ts: datetime) -> datetime:
    """The start of the minute ``ts`` falls in."""
    return ts.replace(second=0, microsecond=0)


@dataclass
class _Bucket:
    regular: bool  # a regular-session minute (Form T prints set no price in it)
    first_ts: datetime = _NEVER_FIRST  # of the first trade that may set the open
    open: float = 0.0
    last_ts: datetime = _NEVER_LAST
    close: float = 0.0
    high: float = float("-inf")
    low: float = float("inf")
    volume: int = 0
    notional: float = 0.0
    count: int = 0
    trades: list[Trade] = field(default_factory=list)  # kept to aggregate again after a cancel
    seen: set[tuple[str, str]] = field(default_factory=set)

    def reset(self) -> None:
        """Empty, as new (before aggregating its trades again)."""
        self.__init__(self.regular)  # type: ignore[misc]

    def take(self, trade: Trade, rule: Eligibility) -> None:
        ts, price = trade.timestamp, trade.price
        if rule.last:
            if ts < self.first_ts:
                self.first_ts, self.open = ts, price
            if ts >= self.last_ts:
                self.last_ts, self.close = ts, price
        if rule.high_low:
            self.high = max(self.high, price)
            self.low = min(self.low, price)
        if rule.volume:
            self.volume += trade.size
            self.notional += price * trade.size
        self.count += 1


class MinuteBarBuilder:
    """Aggregates trades of many symbols into minute bars."""

    def __init__(self, grace: timedelta = timedelta(seconds=2), conditions: SaleConditionRules | None = None) -> None:
        if grace < timedelta(0) or grace >= MINUTE:
            raise ValueError(f"grace must be in [0, 60 s), got {grace}")
        self.grace = grace
        self.conditions = conditions  # None: every trade updates everything
        self._open: dict[str, dict[datetime, _Bucket]] = {}
        self._closed_through: datetime | None = None  # minutes starting at or before this are closed
        self._current: dict[str, tuple[datetime, datetime, _Bucket]] = {}  # symbol -> its latest minute
        self.late_trades = 0
        self.duplicate_trades = 0
        self.late_cancels = 0  # cancels and corrections of minutes already emitted
        self.volume_only_minutes = 0  # minutes whose trades could set no price: no bar

    def _rule(self, trade: Trade, bucket: _Bucket) -> Eligibility:
        if self.conditions is None or not trade.conditions:
            return ALL
        return self.conditions.eligibility(trade.conditions, bucket.regular)

    def _bucket(self, symbol: str, ts: datetime) -> _Bucket | None:
        """The open bucket ``ts`` belongs in (made if new); None if its minute is closed."""
        start = minute_start(ts)
        if self._closed_through is not None and start <= self._closed_through:
            return None
        buckets = self._open.setdefault(symbol, {})
        found = buckets.get(start)
        if found is None:
            found = buckets[start] = _Bucket(is_market_open(start))
        self._current[symbol] = (start, start + MINUTE, found)
        return found

    def add(self, trade: Trade) -> None:
        """Take one trade (already validated at the edge)."""
        ts = trade.timestamp
        current = self._current.get(trade.symbol)
        if current is not None and current[0] <= ts < current[1]:
            bucket = current[2]  # the usual case: the same minute as this symbol's last trade
        else:
            found = self._bucket(trade.symbol, ts)
            if found is None:
                self.late_trades += 1  # its minute is closed (whether or not it had a bar)
                return
            bucket = found
        if trade.trade_id:
            key = (trade.exchange or "", trade.trade_id)
            if key in bucket.seen:
                self.duplicate_trades += 1
                return
            bucket.seen.add(key)
        bucket.trades.append(trade)
        conditions = self.conditions
        if conditions is not None and trade.conditions:
            bucket.take(trade, conditions.eligibility(trade.conditions, bucket.regular))
            return
        # every field (the common case, inlined: this runs for every trade of the feed)
        price = trade.price
        if ts < bucket.first_ts:
            bucket.first_ts, bucket.open = ts, price
        if ts >= bucket.last_ts:
            bucket.last_ts, bucket.close = ts, price
        if price > bucket.high:  # noqa: PLR1730 - a comparison is cheaper than a max() call, per trade
            bucket.high = price
        if price < bucket.low:  # noqa: PLR1730
            bucket.low = price
        bucket.volume += trade.size
        bucket.notional += price * trade.size
        bucket.count += 1

    def cancel(self, symbol: str, trade_id: str, exchange: str, replacement: Trade | None = None) -> bool:
        """Take the trade out of its open minute (putting ``replacement`` in, for a correction)
        and aggregate the minute again; False if no open minute holds it (already emitted)."""
        key = (exchange or "", trade_id)
        for bucket in self._open.get(symbol, {}).values():
            if key not in bucket.seen:
                continue
            kept = [t for t in bucket.trades if (t.exchange or "", t.trade_id) != key]
            bucket.reset()  # in place: ``_current`` may point at it
            bucket.seen = {(t.exchange or "", t.trade_id or "") for t in kept if t.trade_id}
            for t in kept:
                bucket.trades.append(t)
                bucket.take(t, self._rule(t, bucket))
            if replacement is not None:
                self.add(replacement)
            return True
        self.late_cancels += 1
        return False

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
                if b.first_ts is _NEVER_FIRST or b.high < b.low:
                    self.volume_only_minutes += b.count > 0
                    continue
                vwap = b.notional / b.volume if b.volume else None
                bar = Bar(symbol, start, b.open, b.high, b.low, b.close, b.volume, vwap, b.count)
                out.append(BarUpdate(bar, BarSource.BUILT))
        out.sort(key=lambda u: (u.bar.timestamp, u.bar.symbol))
        return out

    def flush(self) -> list[BarUpdate]:
        """Emit everything still open (at shutdown)."""
        latest = max((m for b in self._open.values() for m in b), default=None)
        return [] if latest is None else self.close_due(latest + MINUTE + self.grace)
