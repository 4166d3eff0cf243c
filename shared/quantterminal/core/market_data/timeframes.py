"""Bar sizes a strategy may decide on -- 1, 5, 15, 30 or 60 minutes, or daily -- and the one way
bars of that size are built from minute bars, in the backtest, the paper run and the Lambdas alike.

Windows are aligned to the regular session of the exchange calendar, not to the clock: a 5-minute
window starts at 09:30, 09:35, ... New York; a 60-minute one at 09:30, 10:30, ... and the last
window of a day ends at the close, so it is shorter on the last hour (15:30-16:00) and on early
closes (12:30-13:00). A daily bar is the whole session, stamped at midnight New York of its date
(as Alpaca and Polygon stamp their daily bars). Minute bars outside the session (pre- and
post-market) belong to no window and are passed over; a 1-minute strategy sees every bar as is.

A window is complete when its last minute's bar arrives, or -- when that minute had no trades --
when the first bar past the window arrives. Both happen at the same point of the minute-bar
sequence wherever it is replayed, so the same minute bars always give the same bars of any size.
The window being built is plain data (``state``/``load``): it is saved with the strategy's
snapshot between Lambda invocations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quantterminal.core.market_data.calendar import session_bounds
from quantterminal.core.market_data.sessions import NEW_YORK, day_bounds
from quantterminal.core.models import Bar

MINUTE = timedelta(minutes=1)
ONE_MINUTE = "1min"  # the bar size every strategy gets unless it declares another
_MINUTES = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
_SPELLINGS = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "60m": "60min", "1h": "60min"}
_SPELLINGS |= {"1d": "1day", "daily": "1day", "day": "1day", "1hour": "60min", "hourly": "60min"}
TIMEFRAMES = (*_MINUTES, "1day")


SESSION_MINUTES = 390  # a full regular session, 09:30-16:00


def minutes_in(size: str) -> int:
    """Minute bars in one bar of ``size`` (a full session for a daily bar).

    >>> minutes_in("15min"), minutes_in("1day")
    (15, 390)
    """
    return SESSION_MINUTES if size == "1day" else _MINUTES[size]


class TimeframeError(ValueError):
    """A bar size that is not one of ``TIMEFRAMES``."""


def parse_timeframe(text: str) -> str:
    """The canonical name of a bar size (``5min``, ``60min``, ``1day``...).

    >>> parse_timeframe("1h"), parse_timeframe("Daily"), parse_timeframe("15min")
    ('60min', '1day', '15min')
    """
    name = str(text).strip().lower().replace(" ", "")
    name = _SPELLINGS.get(name, name)
    if name not in TIMEFRAMES:
        raise TimeframeError(f"bar size {text!r}: use one of {', '.join(TIMEFRAMES)}")
    return name


@dataclass(frozen=True)
class Window:
    """One bar of a timeframe: the minutes ``[start, end)`` it spans and the stamp it carries."""

    start: datetime
    end: datetime
    stamp: datetime


def window_of(ts: datetime, size: str) -> Window | None:
    """The ``size`` window holding the minute starting at ``ts``; ``None`` outside the session."""
    bounds = session_bounds(ts.astimezone(NEW_YORK).date())
    if bounds is None or not bounds[0] <= ts < bounds[1]:
        return None
    open_, close = bounds
    if size == "1day":
        return Window(open_, close, day_bounds(ts.astimezone(NEW_YORK).date())[0])
    step = timedelta(minutes=_MINUTES[size])
    start = open_ + step * ((ts - open_) // step)
    return Window(start, min(start + step, close), start)


class TimeframeBars:
    """Minute bars in, bars of one timeframe out (see the module docs)."""

    def __init__(self, size: str) -> None:
        self.size = parse_timeframe(size)
        self._window: Window | None = None
        self._bar: dict[str, Any] = {}

    def add(self, bar: Bar) -> list[Bar]:
        """The bars ``bar`` completes (none, or one, or two when it closes one window by crossing
        into the next and is also the last minute of its own)."""
        if self.size == "1min":
            return [bar]
        done = []
        if self._window is not None and bar.timestamp >= self._window.end:
            done.append(self._finish(bar.symbol))
        window = window_of(bar.timestamp, self.size)
        if window is None:
            return done
        if self._window is None:
            self._window = window
            self._bar = {
                "o": bar.open,
                "h": bar.high,
                "l": bar.low,
                "c": bar.close,
                "v": bar.volume,
                "pv": None if bar.vwap is None else bar.vwap * bar.volume,
                "n": bar.trade_count,
            }
        elif bar.timestamp >= self._window.start:  # (an older bar than the window is not for it)
            b = self._bar
            b["h"] = max(b["h"], bar.high)
            b["l"] = min(b["l"], bar.low)
            b["c"] = bar.close
            b["v"] += bar.volume
            b["pv"] = None if b["pv"] is None or bar.vwap is None else b["pv"] + bar.vwap * bar.volume
            b["n"] = None if b["n"] is None or bar.trade_count is None else b["n"] + bar.trade_count
        if bar.timestamp + MINUTE >= window.end:
            done.append(self._finish(bar.symbol))
        return done

    def _finish(self, symbol: str) -> Bar:
        assert self._window is not None
        b, stamp = self._bar, self._window.stamp
        self._window, self._bar = None, {}
        vwap = b["pv"] / b["v"] if b["pv"] is not None and b["v"] > 0 else None
        return Bar(symbol, stamp, b["o"], b["h"], b["l"], b["c"], b["v"], vwap, b["n"])

    def state(self) -> dict[str, Any] | None:
        """The window being built, as JSON-ready data (``None``: none)."""
        if self._window is None:
            return None
        w = self._window
        return {"start": w.start.isoformat(), "end": w.end.isoformat(), "stamp": w.stamp.isoformat(), **self._bar}

    def load(self, state: Mapping[str, Any] | None) -> None:
        """Continue from ``state()``."""
        if state is None:
            self._window, self._bar = None, {}
            return
        self._window = Window(*(datetime.fromisoformat(state[k]) for k in ("start", "end", "stamp")))
        self._bar = {k: state[k] for k in ("o", "h", "l", "c", "v", "pv", "n")}


def resample(bars: Iterable[Bar], size: str) -> list[Bar]:
    """``bars`` (one symbol's minute bars, in time order) as complete bars of ``size``; a window
    the bars end inside of is left out, as a live run would not have it yet."""
    builder = TimeframeBars(size)
    return [done for bar in bars for done in builder.add(bar)]


def bar_state(bar: Bar) -> dict[str, Any]:
    """A bar as JSON-ready data (its symbol is known where it is stored)."""
    return {"t": bar.timestamp.isoformat(), "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close, "v": bar.volume}


def bar_from_state(data: Mapping[str, Any] | None, symbol: str) -> Bar | None:
    """The bar ``bar_state`` stored (``None`` for none)."""
    if data is None:
        return None
    return Bar(symbol, datetime.fromisoformat(data["t"]), data["o"], data["h"], data["l"], data["c"], data["v"])
