"""Clean minute bars out of a live feed: gaps filled from history, nothing emitted twice.

Each symbol's bars must come out once each, in time order, with no regular-session minute missing
that the provider has. When a bar arrives and regular-session minutes between it and the previous
bar of its symbol are missing (a dropped connection, a silent minute), those minutes are fetched
from the historical API and emitted first, flagged ``BACKFILL``. A bar already emitted is not
emitted again (a provider repeat after a reconnect); a provider revision of an emitted minute is
passed on flagged ``REVISION``. ``finish`` fills a gap at the end of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from quantterminal.core.calendar import trading_minutes
from quantterminal.core.feed_events import BarSource, BarUpdate
from quantterminal.core.ports import HistoricalBars

MINUTE = timedelta(minutes=1)


@dataclass
class BarStreamStats:
    """Gaps found, bars backfilled, repeats suppressed, revisions passed on."""

    emitted: int = 0
    gaps: int = 0
    backfilled: int = 0
    repeats: int = 0
    revisions: int = 0


class BarStream:
    """Provider (or built) minute bars in; each symbol's clean, ordered bars out through ``emit``."""

    def __init__(self, history: HistoricalBars, emit: Callable[[BarUpdate], None]) -> None:
        self.history = history
        self.emit = emit
        self.stats = BarStreamStats()
        self._last: dict[str, datetime] = {}

    def on_bar(self, update: BarUpdate) -> None:
        """Take one bar update from the feed."""
        if update.source is BarSource.DAILY:
            return
        symbol, start = update.bar.symbol, update.bar.timestamp
        last = self._last.get(symbol)
        if last is not None and start <= last:
            if update.source is BarSource.REVISION:
                self.stats.revisions += 1
                self.emit(update)
            else:
                self.stats.repeats += 1
            return
        if last is not None:
            self._fill(symbol, last + MINUTE, start)
        self._send(update)

    def finish(self, symbol: str, end: datetime) -> None:
        """Fill whatever is missing for ``symbol`` up to ``end`` (exclusive)."""
        last = self._last.get(symbol)
        if last is not None:
            self._fill(symbol, last + MINUTE, end)

    def _fill(self, symbol: str, start: datetime, end: datetime) -> None:
        if next(trading_minutes(start, end), None) is None:
            return  # nothing missing: the market was closed in between
        self.stats.gaps += 1
        for bar in self.history.minute_bars(symbol, start, end):
            self.stats.backfilled += 1
            self._send(BarUpdate(bar, BarSource.BACKFILL))

    def _send(self, update: BarUpdate) -> None:
        self._last[update.bar.symbol] = update.bar.timestamp
        self.stats.emitted += 1
        self.emit(update)
