"""Clean minute bars out of a live feed: gaps filled from history, nothing emitted twice.

Each symbol's bars come out once each, in time order, with no regular-session minute missing that
the provider has:

- When a bar arrives and regular-session minutes between it and the previous bar of its symbol are
  missing (a dropped connection, a silent minute), those minutes are fetched from the historical
  API and emitted first, flagged ``BACKFILL``. If the API cannot answer, the gap is counted as
  unfilled and the stream goes on (the scheduled backfill job repairs the ledger later).
- A bar for a minute before the symbol's latest that was never emitted (say, one inside a gap the
  history could not fill, arriving late) is passed on flagged ``LATE``: the ledger stores it, no
  strategy trades on it (a bar out of time order would be worse for a strategy than a missing one).
- A short run of missing minutes (up to ``quiet``) is not fetched: on Alpaca's IEX feed a minute
  without an IEX trade has no bar, and the historical API has none either (SPY and QQQ, Sep 2025
  - Jan 2026: 64 and 335 such runs of 1-3 minutes). They are counted as ``quiet``.
- Silence is a gap too: ``probe`` (called on the clock) fetches the minutes a symbol has gone
  without a bar for longer than ``quiet`` plus two bar intervals while the market is open, so a
  symbol whose bars stopped is backfilled without waiting for its next bar; a span found empty is
  not asked for again.
- A bar for a minute already emitted is compared with what was emitted. The same values (a
  provider repeat after a reconnect, or the provider's bar agreeing with the one built here from
  trades) are suppressed; different values -- the provider's bar correcting a built one, or an
  ``updatedBars`` revision -- are passed on flagged ``REVISION``.
- ``finish`` fills a gap at the end of a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from quantterminal.core.market_data.calendar import trading_minutes
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.market_data.ports import HistoricalBars, HistoryUnavailable
from quantterminal.core.models import Bar

MINUTE = timedelta(minutes=1)
PROBE_SPAN = timedelta(days=4)  # silences longer than this (a long weekend) are the scheduled backfill's


@dataclass
class BarStreamStats:
    """Gaps found (and left unfilled), bars backfilled, repeats suppressed, revisions passed on."""

    emitted: int = 0
    gaps: int = 0
    unfilled: int = 0
    backfilled: int = 0
    repeats: int = 0
    revisions: int = 0
    late: int = 0  # minutes that came after later ones (e.g. inside a gap history could not fill)
    quiet: int = 0  # short runs of missing minutes left alone (no trade on the feed's venue)
    probes: int = 0  # silences looked up in history before the next bar came


def _values(bar: Bar) -> tuple[float, float, float, float, int]:
    # vwap and trade count are left out: a provider's vwap differs in the last digits from one
    # computed here, and that is not a revision.
    return bar.open, bar.high, bar.low, bar.close, bar.volume


class BarStream:
    """Provider (or built) minute bars in; each symbol's clean, ordered bars out through ``emit``.

    ``memory`` is how far back emitted bars are remembered for recognising repeats and revisions
    (providers revise within seconds to a few minutes)."""

    def __init__(
        self,
        history: HistoricalBars,
        emit: Callable[[BarUpdate], None],
        memory: timedelta = timedelta(minutes=30),
        quiet: timedelta = timedelta(0),
    ) -> None:
        self.history = history
        self.emit = emit
        self.memory = memory
        self.quiet = quiet
        self._probed: dict[str, datetime] = {}  # symbol -> minutes before this were looked up already
        self.stats = BarStreamStats()
        self._last: dict[str, datetime] = {}
        self._resumed: dict[str, datetime] = {}  # symbol -> minutes from this on may be missing (``resume``)
        self._recent: dict[str, dict[datetime, tuple[float, float, float, float, int]]] = {}

    def on_bar(self, update: BarUpdate) -> None:
        """Take one bar update from the feed."""
        if update.source is BarSource.DAILY:
            return
        symbol, start = update.bar.symbol, update.bar.timestamp
        last = self._last.get(symbol)
        if last is None:  # the symbol's first bar: a predecessor's minutes since ``resume`` come first
            since = self._resumed.pop(symbol, None)
            last = None if since is None or start <= since else since - MINUTE
        if last is not None and start <= last:
            self._again(update)
            return
        if last is not None and start != last + MINUTE:
            begin = max(last + MINUTE, self._probed.get(symbol, last))
            if start - begin <= self.quiet:
                self.stats.quiet += begin < start
            else:
                self._fill(symbol, begin, start)
        self._send(update)

    def probe(self, now: datetime) -> None:
        """Backfill every symbol silent for longer than ``quiet`` plus two bar intervals (closed
        minutes only), once per silent span."""
        horizon = now.replace(second=0, microsecond=0) - MINUTE  # minutes before this are closed
        for symbol, last in list(self._last.items()):
            if horizon - last > PROBE_SPAN:
                continue  # not a silence: old data (a replay) or a long break -- the backfill job's work
            begin = max(last + MINUTE, self._probed.get(symbol, last))
            if horizon - begin <= self.quiet + 2 * MINUTE:
                continue
            if next(trading_minutes(begin, horizon), None) is None:
                continue
            self.stats.probes += 1
            self._probed[symbol] = horizon
            self._fill(symbol, begin, horizon)

    @property
    def symbols(self) -> list[str]:
        """Every symbol that has had a bar."""
        return list(self._last)

    def resume(self, symbols: Iterable[str], since: datetime) -> None:
        """Take over from a feed that stopped (a replaced task, a Spot interruption): the first
        bar of each of ``symbols`` not seen yet, if it is after ``since``, fetches the minutes from
        ``since`` to it first (ones the predecessor had emitted come again as backfill: the same
        minutes downstream). An older first bar (a replay of old data) is just a first bar."""
        minute = since.replace(second=0, microsecond=0)
        for symbol in symbols:
            if symbol not in self._last:
                self._resumed[symbol] = minute

    def finish(self, symbol: str, end: datetime) -> None:
        """Fill whatever is missing for ``symbol`` up to ``end`` (exclusive)."""
        last = self._last.get(symbol)
        if last is not None:
            self._fill(symbol, last + MINUTE, end)

    def _again(self, update: BarUpdate) -> None:
        """A bar for a minute at or before the symbol's latest emitted minute."""
        bar = update.bar
        seen = self._recent.get(bar.symbol, {}).get(bar.timestamp)
        if seen is None:
            # never emitted (or beyond memory): a real minute, out of order now -- the ledger keeps
            # it, no strategy sees it (they consume each symbol's minutes in order, once)
            self.stats.late += 1
            self._remember(bar)
            self.emit(BarUpdate(bar, BarSource.LATE))
        elif seen == _values(bar):
            self.stats.repeats += 1
        else:
            self.stats.revisions += 1
            self._remember(bar)
            self.emit(BarUpdate(bar, BarSource.REVISION))

    def _fill(self, symbol: str, start: datetime, end: datetime) -> None:
        if next(trading_minutes(start, end), None) is None:
            return  # nothing missing: the market was closed in between
        self.stats.gaps += 1
        try:
            bars = self.history.minute_bars(symbol, start, end)
        except HistoryUnavailable:
            self.stats.unfilled += 1
            return
        for bar in bars:
            self.stats.backfilled += 1
            self._send(BarUpdate(bar, BarSource.BACKFILL))

    def _send(self, update: BarUpdate) -> None:
        bar = update.bar
        self._last[bar.symbol] = bar.timestamp
        self._remember(bar)
        self.stats.emitted += 1
        self.emit(update)

    def _remember(self, bar: Bar) -> None:
        recent = self._recent.setdefault(bar.symbol, {})
        recent[bar.timestamp] = _values(bar)
        horizon = bar.timestamp - self.memory
        if len(recent) > 2 * self.memory / MINUTE:  # prune now and then, not on every bar
            for minute in [m for m in recent if m < horizon]:
                del recent[minute]
