"""What makes market data valid: one place, used by every edge that admits data (CSV loader,
feed normalisers, ledger readers), so that bad input is refused the same way everywhere."""

from __future__ import annotations

import math
from datetime import timedelta

from quantterminal.core.models import Bar, Trade

_UTC_OFFSET = timedelta(0)
_INF = math.inf
MAX_SHARES = 2**63 - 1  # what a 64-bit column holds; anything larger is corrupt, not a big day


def bar_problem(bar: Bar) -> str | None:
    """The first thing wrong with ``bar``, or ``None`` when it is valid.

    Valid means: a timezone-aware UTC timestamp; finite, positive prices with
    ``low <= open, close <= high``; a non-negative integer volume; and, when present, a finite
    positive vwap and a non-negative trade count.
    """
    o, h, lo, c, volume = bar.open, bar.high, bar.low, bar.close, bar.volume
    # Fast path for the common, valid bar (ingest validates millions); NaN fails every comparison.
    if (
        type(o) is float
        and type(h) is float
        and type(lo) is float
        and type(c) is float
        and 0.0 < lo <= o <= h < _INF
        and lo <= c <= h
        and type(volume) is int
        and 0 <= volume <= MAX_SHARES
        and bar.vwap is None
        and bar.trade_count is None
        and bar.symbol
        and bar.timestamp.utcoffset() == _UTC_OFFSET
    ):
        return None
    ts = bar.timestamp
    if ts.tzinfo is None or ts.utcoffset() != _UTC_OFFSET:
        return f"timestamp {ts.isoformat()} is not timezone-aware UTC"
    if not bar.symbol:
        return "symbol is empty"
    for name, price in (("open", bar.open), ("high", bar.high), ("low", bar.low), ("close", bar.close)):
        problem = _price_problem(name, price)
        if problem:
            return problem
    if isinstance(bar.volume, bool) or not isinstance(bar.volume, int):
        return f"volume {bar.volume!r} is not a whole number of shares"
    if bar.volume < 0:
        return f"volume {bar.volume} is negative"
    if bar.volume > MAX_SHARES:
        return f"volume {bar.volume} is beyond any real volume (more than 2^63 - 1 shares)"
    if bar.high < bar.low:
        return f"high {bar.high} is below low {bar.low}"
    if not (bar.low <= bar.open <= bar.high and bar.low <= bar.close <= bar.high):
        return "open/close outside the bar's high-low range"
    if bar.vwap is not None:
        problem = _price_problem("vwap", bar.vwap)
        if problem:
            return problem
    count = bar.trade_count
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count > MAX_SHARES):
        return f"trade count {count!r} is not a whole number up to 2^63 - 1"
    if count is not None and count < 0:
        return f"trade count {count} is negative"
    return None


def _price_problem(name: str, price: float) -> str | None:
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return f"{name} {price!r} is not a number"
    if not math.isfinite(price):
        return f"{name} is {price}; prices must be finite"
    if price <= 0:
        return f"{name} {price} is not positive"
    return None


def trade_problem(trade: Trade) -> str | None:
    """The first thing wrong with ``trade``, or ``None``. A trade must carry the provider's trade
    id: it is the only way to recognise the same print delivered twice."""
    ts = trade.timestamp
    price, size = trade.price, trade.size
    # Fast path for the common, valid trade (a feed checks hundreds of thousands a second).
    if (
        type(price) is float
        and 0.0 < price < _INF
        and type(size) is int
        and 0 < size <= MAX_SHARES
        and trade.trade_id
        and trade.symbol
        and ts.utcoffset() == _UTC_OFFSET
    ):
        return None
    if ts.tzinfo is None or ts.utcoffset() != _UTC_OFFSET:
        return f"timestamp {ts.isoformat()} is not timezone-aware UTC"
    if not trade.symbol:
        return "symbol is empty"
    problem = _price_problem("price", trade.price)
    if problem:
        return problem
    if isinstance(trade.size, bool) or not isinstance(trade.size, int) or not 0 < trade.size <= MAX_SHARES:
        return f"size {trade.size!r} is not a positive whole number of shares up to 2^63 - 1"
    if not trade.trade_id:
        return "trade id is missing"
    return None
