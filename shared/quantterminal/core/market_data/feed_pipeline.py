"""The feed's routing: what a provider connection delivers in, each symbol's clean minute bars out.

Trades go into the ``MinuteBarBuilder`` (sale conditions applied in the provider's vocabulary;
cancels and corrections of open minutes re-aggregate them); the provider's bars (and revisions) and the built bars go
through one ``BarStream`` (gap backfill, no repeats, revisions flagged), then to each sink in turn.
One lock serialises it: the connection thread and the clock both feed it, and the builder and
stream are plain single-threaded objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

from quantterminal.core.market_data.bar_builder import MinuteBarBuilder
from quantterminal.core.market_data.bar_stream import BarStream
from quantterminal.core.market_data.feed_events import (
    SESSION_STARTED,
    BarSource,
    BarUpdate,
    Control,
    FeedEvent,
    TradeCancel,
    TradeCorrection,
    TradingStatus,
)
from quantterminal.core.market_data.ports import HistoricalBars
from quantterminal.core.market_data.sale_conditions import SaleConditionRules
from quantterminal.core.models import Trade

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


class FeedPipeline:
    """Provider events in; each symbol's clean minute bars out to every sink, in order."""

    def __init__(
        self,
        history: HistoricalBars,
        sinks: Sequence[Callable[[BarUpdate], None]],
        grace: timedelta = timedelta(seconds=2),
        clock: Callable[[], datetime] = utc_now,
        measure_lag: bool = True,
        max_ahead: timedelta = timedelta(minutes=2),
        statuses: Sequence[Callable[[TradingStatus], None]] = (),
        conditions: SaleConditionRules | None = None,
        quiet: timedelta = timedelta(0),
        probe_silence: bool = False,
        lock: AbstractContextManager[object] | None = None,
        symbols: Iterable[str] | None = None,
    ) -> None:
        self.sinks = list(sinks)
        # The subscription: a provider (or a hostile server) sending other symbols is not a way to
        # fill the ledger and the stream with them. None: take every symbol (tests, benchmarks).
        self.symbols = None if symbols is None else frozenset(symbols)
        self.dropped_unsubscribed = 0
        # Halts, re-checked from the market itself: providers do not replay a status sent while
        # the feed was away (a reconnect, a redeploy), so a resume can be missed. A symbol halted
        # since minute t that prints a bar of a later minute trades again; after a session starts,
        # every symbol's first printed bar says so (a resume for a symbol not halted changes nothing).
        self._halted_since: dict[str, datetime] = {}
        self._unsure: set[str] = set()
        self.resumes_seen = 0
        self.status_sinks = list(statuses)  # trading halts and resumptions, as they come
        self.statuses = 0
        self.clock = clock
        self.max_ahead = max_ahead  # a clock-skew allowance, not a way in for a bar dated 2100
        self.dropped_future = 0
        self.measure_lag = measure_lag  # off for replays of old data, where "lag" would be years
        self.builder = MinuteBarBuilder(grace, conditions)
        self.stream = BarStream(history, self._emit, quiet=quiet)
        self.probe_silence = probe_silence  # live feeds: a silent symbol is backfilled on the clock
        # the feed's socket worker and its clock call in from two threads: the caller's lock serialises them
        self.lock: AbstractContextManager[object] = nullcontext() if lock is None else lock
        self.trade_cancels = 0
        self.last_bar: BarUpdate | None = None
        self.last_emit_at: datetime | None = None
        self._lags_ms: list[float] = []

    def _from_the_future(self, ts: datetime, what: str) -> bool:
        if ts <= self.clock() + self.max_ahead:
            return False
        self.dropped_future += 1
        if self.dropped_future == 1 or self.dropped_future % 1000 == 0:
            log.error("dropping %s dated %s, beyond the clock (%d so far)", what, ts.isoformat(), self.dropped_future)
        return True

    def _unsubscribed(self, event: FeedEvent) -> bool:
        symbol = event.bar.symbol if isinstance(event, BarUpdate) else getattr(event, "symbol", None)
        if self.symbols is None or symbol is None or symbol in self.symbols:
            return False
        self.dropped_unsubscribed += 1
        if self.dropped_unsubscribed == 1 or self.dropped_unsubscribed % 1000 == 0:
            log.error(
                "dropping %s for %.40r, a symbol not subscribed (%d so far)",
                type(event).__name__,
                symbol,
                self.dropped_unsubscribed,
            )
        return True

    def on_event(self, event: FeedEvent) -> None:
        """Take one event from the connection. Data for a symbol not subscribed is dropped, and so
        is data dated beyond the clock: stored, it would make every real bar of its symbol look
        out of date."""
        with self.lock:
            if self._unsubscribed(event):
                return
            if isinstance(event, Trade):
                if not self._from_the_future(event.timestamp, f"a {event.symbol} trade"):
                    self.builder.add(event)
            elif isinstance(event, BarUpdate):
                if not self._from_the_future(event.bar.timestamp, f"a {event.bar.symbol} bar"):
                    self.stream.on_bar(event)
            elif isinstance(event, TradingStatus):
                self.statuses += 1
                self._unsure.discard(event.symbol)
                if event.halted:
                    self._halted_since.setdefault(event.symbol, event.timestamp.replace(second=0, microsecond=0))
                else:
                    self._halted_since.pop(event.symbol, None)
                log.warning(
                    "%s %s: %s (%s)", event.symbol, "halted" if event.halted else "resumed", event.reason, event.code
                )
                for status_sink in self.status_sinks:
                    status_sink(event)
            elif isinstance(event, TradeCancel):
                self.trade_cancels += 1  # an emitted minute is corrected by the provider's revised bar
                self.builder.cancel(event.symbol, event.trade_id, event.exchange)
            elif isinstance(event, TradeCorrection):
                self.trade_cancels += 1
                original = event.original_trade_id
                self.builder.cancel(event.symbol, original, event.corrected.exchange or "", event.corrected)
            elif isinstance(event, Control) and event.kind == SESSION_STARTED:
                self._unsure = set(self.symbols if self.symbols is not None else self.stream.symbols)
            elif isinstance(event, Control) and event.kind not in ("subscribed", "connected", "authenticated"):
                log.warning("feed control message: %s %s", event.kind, event.message)

    def tick(self) -> None:
        """Close the built bars whose minute (plus grace) has passed; on a live feed, backfill
        symbols that have gone silent (``BarStream.probe``)."""
        with self.lock:
            now = self.clock()
            for update in self.builder.close_due(now):
                self.stream.on_bar(update)
            if self.probe_silence:
                self.stream.probe(now)

    def finish(self, end: datetime | None = None) -> None:
        """Emit every open built bar; with ``end`` (a replay's last minute), also fill each
        symbol's gap up to it. A live feed leaves the tail to its next start, which sees the gap."""
        with self.lock:
            for update in self.builder.flush():
                self.stream.on_bar(update)
            if end is not None:
                for symbol in self.stream.symbols:
                    self.stream.finish(symbol, end)

    def resume(self, since: datetime) -> None:
        """Take over from a predecessor that ran until about ``since`` (see ``BarStream.resume``)."""
        with self.lock:
            self.stream.resume(self.symbols or (), since)

    def take_lags(self) -> list[float]:
        """The lags measured since the last call, sorted."""
        with self.lock:
            lags, self._lags_ms = self._lags_ms, []
        return sorted(lags)

    def _emit(self, update: BarUpdate) -> None:
        if self.measure_lag:
            ended = update.bar.timestamp + MINUTE
            self._lags_ms.append((self.clock() - ended).total_seconds() * 1000.0)
        self.last_bar = update
        self.last_emit_at = self.clock()
        self._recheck_halt(update)
        for sink in self.sinks:
            sink(update)

    def _recheck_halt(self, update: BarUpdate) -> None:
        """A resume, told to the status sinks before the bar, when the bar shows trading again."""
        bar = update.bar
        if update.source not in (BarSource.PROVIDER, BarSource.BUILT) or bar.volume <= 0:
            return
        since = self._halted_since.get(bar.symbol)
        if since is not None and bar.timestamp > since:
            why = f"trading seen again at {bar.timestamp:%H:%M}Z after the halt (its resume was not received)"
        elif bar.symbol in self._unsure:
            why = "trading seen after the feed (re)connected (statuses sent meanwhile are not replayed)"
        else:
            return
        self._halted_since.pop(bar.symbol, None)
        self._unsure.discard(bar.symbol)
        self.resumes_seen += 1
        status = TradingStatus(bar.symbol, False, bar.timestamp, "", why)
        for status_sink in self.status_sinks:
            status_sink(status)
