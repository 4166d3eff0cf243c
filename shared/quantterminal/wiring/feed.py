"""The feed process, wired: one provider connection in, clean minute bars out, with health.

``FeedService`` runs the connection in a thread, closes built bars on the clock (through the
core's ``FeedPipeline``) and reports ``FeedHealth`` every few seconds to its reporters (the ``qterm
feed`` health line, structured logs, CloudWatch metrics as EMF). ``qterm feed`` and ``qterm paper``
run it locally; ``feed_task`` wires it for the ECS task.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from quantterminal.adapters.market_data.feed_connection import FeedConnection, FeedSettings
from quantterminal.adapters.market_data.feed_frames import Provider
from quantterminal.core.accounting.metrics import percentile
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.market_data.feed_events import FeedEvent
from quantterminal.core.market_data.feed_health import FeedHealth
from quantterminal.core.market_data.feed_pipeline import FeedPipeline

if TYPE_CHECKING:
    from quantterminal.adapters.broker.alpaca_trade_stream import TradeStreamStats

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=2)


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
        order_stream: TradeStreamStats | None = None,
        reload_keys: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.order_stream = order_stream  # the account's trade_updates stream, reported beside the feed
        self.connection = FeedConnection(
            settings, self._on_event, alert=alert, provider=provider, reload_keys=reload_keys
        )
        self.reporters = list(reporters)
        self.report_every = report_every
        self.tick_every = tick_every
        self.last_event_at = time.monotonic()
        self._reported_at = time.monotonic()
        self._reported_events = 0
        self._reported_bars = 0
        self._reader: threading.Thread | None = None
        # Set when one of the feed's threads stopped on its own: ``run`` returns at once and the
        # command exits non-zero with this one line, rather than run on without a reader.
        self.failure: str | None = None
        self._worker: threading.Thread | None = None
        # The socket's thread only reads and hands events over: the pipeline (which may fetch a
        # gap's history over HTTP) runs on its own thread, so a slow backfill never stops the
        # reading -- pings stay answered and frames keep coming off the socket.
        self._inbox: queue.SimpleQueue[FeedEvent | None] = queue.SimpleQueue()

    def _on_event(self, event: FeedEvent) -> None:
        self.last_event_at = time.monotonic()
        self._inbox.put(event)

    def _work(self) -> None:
        """Feed the pipeline from the inbox, and close built bars on the clock, until ``None``."""
        ticked = time.monotonic()
        while True:
            arrived = True
            try:
                event = self._inbox.get(timeout=self.tick_every)
            except queue.Empty:
                arrived = False  # nothing came: just tick
            if arrived and event is None:
                return
            try:
                if arrived and event is not None:
                    self.pipeline.on_event(event)
                if time.monotonic() - ticked >= self.tick_every:
                    ticked = time.monotonic()
                    self.pipeline.tick()
            except Exception:  # one bad event must not stop the pipeline thread
                self.connection.stats.errors += 1
                log.exception("the feed pipeline failed on an event; going on")

    def _watched(self, work: Callable[[], None], what: str) -> Callable[[], None]:
        """``work`` for a thread of the feed: an exception escaping it is recorded as the run's
        ``failure`` (and logged with its traceback), not lost with the thread."""

        def run() -> None:
            try:
                work()
            except BaseException as exc:
                log.error("the feed's %s stopped: %s", what, exc, exc_info=exc)
                self.failure = self.failure or f"the feed's {what} stopped: {type(exc).__name__}: {exc}"

        return run

    def run(self, stop: threading.Event, idle_exit: float | None = None) -> None:
        """Run until ``stop`` is set (or nothing arrived for ``idle_exit`` seconds, or one of the
        feed's threads stopped: ``failure`` says which and why). The caller then
        ``pipeline.finish``-es, closes its sinks and takes a last ``report``."""
        stopping = threading.Event()
        reading = self._watched(lambda: self.connection.run(stopping), "connection reader")
        thread = threading.Thread(target=reading, name="feed-connection", daemon=True)
        worker = threading.Thread(target=self._watched(self._work, "bar pipeline"), name="feed-pipeline", daemon=True)
        self._reader, self._worker = thread, worker
        worker.start()
        thread.start()
        next_report = time.monotonic() + self.report_every
        try:
            while not stop.wait(self.tick_every):
                if self.failure is None and not (thread.is_alive() and worker.is_alive()):
                    self.failure = f"the feed's {'bar pipeline' if thread.is_alive() else 'connection reader'} ended"
                if self.failure is not None:
                    log.error("stopping the run: %s", self.failure)
                    break
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
            self._inbox.put(None)  # after every event read: the pipeline takes them all first
            worker.join(60)
            self._reader = self._worker = None

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
            late=s.late,
            dropped_future=p.dropped_future,
            dropped_unsubscribed=p.dropped_unsubscribed,
            errors=c.errors,
            reader_alive=all(t is None or t.is_alive() for t in (self._reader, self._worker)),
            **self._order_stream_health(),
        )

    def _order_stream_health(self) -> dict[str, Any]:
        o = self.order_stream
        if o is None:
            return {}
        state = "up" if o.connected else "refused" if o.refusals and not o.connects else "down"
        return {"order_stream": state, "order_updates": o.updates, "order_updates_recovered": o.recovered}

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
