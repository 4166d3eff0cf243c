"""The feed process: one provider connection in, clean minute bars out to every sink, with health.

``FeedPipeline`` routes what the connection delivers: trades into the ``MinuteBarBuilder``, the
provider's bars (and revisions) and the built bars through one ``BarStream`` (gap backfill, no
repeats, revisions flagged), then to each sink in turn. ``FeedService`` runs the connection in a
thread, closes built bars on the clock, and reports ``FeedHealth`` every few seconds to its
reporters (the ``qterm feed`` health line, structured logs, CloudWatch metrics as EMF).

One lock serialises the pipeline: the connection thread and the clock both feed it, and the
builder and stream are plain single-threaded objects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from quantterminal.adapters.market_data.feed_connection import FeedConnection, FeedSettings
from quantterminal.adapters.market_data.feed_frames import Provider
from quantterminal.core.market_data.bar_builder import MinuteBarBuilder
from quantterminal.core.market_data.bar_stream import BarStream
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.market_data.feed_events import BarUpdate, Control, FeedEvent, TradeCancel, TradeCorrection
from quantterminal.core.market_data.feed_health import FeedHealth
from quantterminal.core.models import Trade
from quantterminal.core.ports import HistoricalBars
from quantterminal.core.reporting.metrics import percentile

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)
STALE_AFTER = timedelta(minutes=2)


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
    ) -> None:
        self.sinks = list(sinks)
        self.clock = clock
        self.max_ahead = max_ahead  # a clock-skew allowance, not a way in for a bar dated 2100
        self.dropped_future = 0
        self.measure_lag = measure_lag  # off for replays of old data, where "lag" would be years
        self.builder = MinuteBarBuilder(grace)
        self.stream = BarStream(history, self._emit)
        self.lock = threading.Lock()
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

    def on_event(self, event: FeedEvent) -> None:
        """Take one event from the connection. Data dated beyond the clock is dropped: stored, it
        would make every real bar of its symbol look out of date."""
        with self.lock:
            if isinstance(event, Trade):
                if not self._from_the_future(event.timestamp, f"a {event.symbol} trade"):
                    self.builder.add(event)
            elif isinstance(event, BarUpdate):
                if not self._from_the_future(event.bar.timestamp, f"a {event.bar.symbol} bar"):
                    self.stream.on_bar(event)
            elif isinstance(event, TradeCancel | TradeCorrection):
                # The minute was already aggregated; the provider's revised bar corrects it.
                self.trade_cancels += 1
            elif isinstance(event, Control) and event.kind not in ("subscribed", "connected", "authenticated"):
                log.warning("feed control message: %s %s", event.kind, event.message)

    def tick(self) -> None:
        """Close the built bars whose minute (plus grace) has passed."""
        with self.lock:
            for update in self.builder.close_due(self.clock()):
                self.stream.on_bar(update)

    def finish(self, end: datetime | None = None) -> None:
        """Emit every open built bar; with ``end`` (a replay's last minute), also fill each
        symbol's gap up to it. A live feed leaves the tail to its next start, which sees the gap."""
        with self.lock:
            for update in self.builder.flush():
                self.stream.on_bar(update)
            if end is not None:
                for symbol in self.stream.symbols:
                    self.stream.finish(symbol, end)

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
        for sink in self.sinks:
            sink(update)


class FeedService:
    """A connection feeding a pipeline, a clock closing bars, and periodic health reports."""

    def __init__(
        self,
        settings: FeedSettings,
        provider: Provider,
        pipeline: FeedPipeline,
        reporters: Sequence[Callable[[FeedHealth], None]] = (),
        alert: Callable[[str], None] = lambda message: None,
        report_every: float = 10.0,
        tick_every: float = 0.2,
    ) -> None:
        self.pipeline = pipeline
        self.connection = FeedConnection(settings, self._on_event, alert=alert, provider=provider)
        self.reporters = list(reporters)
        self.report_every = report_every
        self.tick_every = tick_every
        self.last_event_at = time.monotonic()
        self._reported_at = time.monotonic()
        self._reported_events = 0
        self._reported_bars = 0
        self._reader: threading.Thread | None = None

    def _on_event(self, event: FeedEvent) -> None:
        self.last_event_at = time.monotonic()
        self.pipeline.on_event(event)

    def run(self, stop: threading.Event, idle_exit: float | None = None) -> None:
        """Run until ``stop`` is set (or nothing arrived for ``idle_exit`` seconds). The caller
        then ``pipeline.finish``-es, closes its sinks and takes a last ``report``."""
        stopping = threading.Event()
        thread = threading.Thread(target=self.connection.run, args=(stopping,), name="feed-connection", daemon=True)
        self._reader = thread
        thread.start()
        next_report = time.monotonic() + self.report_every
        try:
            while not stop.wait(self.tick_every):
                self.pipeline.tick()
                now = time.monotonic()
                if now >= next_report:
                    self.report()
                    next_report = now + self.report_every
                if idle_exit is not None and now - self.last_event_at >= idle_exit:
                    break
        finally:
            stopping.set()
            self.connection.interrupt()
            thread.join(15)
            self._reader = None

    def health(self) -> FeedHealth:
        """Health now (rates since the last report)."""
        c, s, p = self.connection.stats, self.pipeline.stream.stats, self.pipeline
        elapsed = max(1e-9, time.monotonic() - self._reported_at)
        lags = p.take_lags()
        last = p.last_bar
        return FeedHealth(
            messages_per_s=(c.events - self._reported_events) / elapsed,
            bars_per_min=(s.emitted - self._reported_bars) / elapsed * 60.0,
            lag_p50_ms=percentile(lags, 0.5) if lags else None,
            lag_p99_ms=percentile(lags, 0.99) if lags else None,
            messages=c.events,
            bars=s.emitted + s.revisions,
            reconnects=c.reconnects,
            silences=c.silences,
            refusals=c.refusals,
            gaps=s.gaps,
            backfilled=s.backfilled,
            unfilled=s.unfilled,
            revisions=s.revisions,
            malformed=c.malformed,
            late_trades=p.builder.late_trades,
            last_bar=None if last is None else f"{last.bar.symbol} {last.bar.timestamp:%Y-%m-%d %H:%M}Z",
            stale=self._stale(),
            dropped_stale=s.too_old,
            dropped_future=p.dropped_future,
            errors=c.errors,
            reader_alive=self._reader is None or self._reader.is_alive(),
        )

    def _stale(self) -> bool:
        now = self.pipeline.clock()
        if not is_market_open(now - STALE_AFTER):
            return False  # closed, or just opened: no bar is due yet
        emitted = self.pipeline.last_emit_at
        return emitted is None or now - emitted > STALE_AFTER

    def report(self) -> FeedHealth:
        """Compute health and hand it to every reporter."""
        health = self.health()
        self._reported_at = time.monotonic()
        self._reported_events = self.connection.stats.events
        self._reported_bars = self.pipeline.stream.stats.emitted
        for reporter in self.reporters:
            reporter(health)
        return health
