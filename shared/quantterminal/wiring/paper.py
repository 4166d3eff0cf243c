"""The trading side of a local paper run: what the bar-handler and order-events Lambdas do, fed
from the in-process bus instead of Kinesis.

The feed puts bar records on the bus's "bars" stream; the broker's updates go onto its "orders"
stream as the same records the feed task forwards to Kinesis. ``PaperTrader`` consumes both with
the same ``TradingDesk`` the Lambdas run: before each bar is decided, the broker sees it (the
simulated broker fills working orders on it) and every order update waiting on the bus is booked,
so a decision sees the fills that happened before it -- as in the backtest. The desk's ``step``
then cancels the symbol's limit orders older than the configured cancel age (on the run's clock),
as in the backtest and the bar handler.

The clock: replayed history is traded on the bars' own time (each bar decided at its close),
otherwise every bar would be hours stale and nothing would trade; a live feed is traded on the
wall clock.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.streams.bus import LocalBus, Record
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.market_data.feed_events import TradingStatus
from quantterminal.core.trading.feed_codec import (
    RecordError,
    decode_feed_record,
    decode_order_update,
    encode_order_update,
)
from quantterminal.wiring.runtime import Runtime

log = logging.getLogger(__name__)
BARS, ORDERS = "bars", "orders"
MINUTE = timedelta(minutes=1)


@dataclass
class PaperStats:
    """What the trading side has done so far."""

    bars: int = 0
    signals: int = 0  # bars on which a strategy wanted a direction
    orders: int = 0
    rejected: int = 0
    rejected_by_rule: dict[str, int] = field(default_factory=dict)  # the risk rule that refused
    updates: int = 0
    fills: int = 0
    malformed: int = 0
    errors: int = 0
    outside_session: int = 0  # bars no strategy sees (the session rule): skipped as the backtest skips them
    last_bar: datetime | None = None


class PaperTrader:
    """Consumes the bus's bars and order updates with ``runtime``'s desk (see the module docs)."""

    def __init__(
        self,
        runtime: Runtime,
        bus: LocalBus,
        replay_clock: bool,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.runtime = runtime
        self.replay_clock = replay_clock
        self.wall_clock = wall_clock
        self.stats = PaperStats()
        self._bars: queue.Queue[Record] = bus.stream(BARS).subscribe()
        self._orders_stream = bus.stream(ORDERS)
        self._orders: queue.Queue[Record] = self._orders_stream.subscribe()
        self._now = datetime(1970, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()  # one decision or booking at a time, as one Lambda per shard
        runtime.broker.on_update(self._forward)

    def _forward(self, update: OrderUpdate) -> None:
        """The broker's update onto the "orders" stream (what the feed task does with trade_updates)."""
        self._orders_stream.put([(update.client_order_id, encode_order_update(update))])

    def now(self) -> datetime:
        """The run's clock: the last bar's close when replaying, else the wall clock."""
        return self._now if self.replay_clock else self.wall_clock()

    def catch_up(self) -> None:
        """Deliver and book what a restored paper account had not confirmed before a restart."""
        broker = self.runtime.broker
        if isinstance(broker, SimulatedBroker):
            broker.advance(broker.now)
        self.book_updates()

    def book_updates(self) -> None:
        """Book every order update waiting on the bus; once all were booked, tell the simulated
        broker (it stops keeping them for a redelivery after a restart)."""
        clean = True
        while True:
            try:
                _, data = self._orders.get_nowait()
            except queue.Empty:
                broker = self.runtime.broker
                if clean and isinstance(broker, SimulatedBroker):
                    broker.checkpoint()
                return
            try:
                update = decode_order_update(data)
                with self._lock:
                    fills = self.runtime.desk.on_update(update)
            except RecordError as exc:
                self.stats.malformed += 1
                log.warning("unreadable order update skipped: %s", exc)
                continue
            except Exception:
                self.stats.errors += 1
                clean = False
                log.exception("order update failed")
                continue
            self.stats.updates += 1
            self.stats.fills += len(fills)

    def on_bar_record(self, data: bytes) -> None:
        """Decide on one bar record."""
        try:
            update = decode_feed_record(data)
        except RecordError as exc:
            self.stats.malformed += 1
            log.warning("unreadable bar record skipped: %s", exc)
            return
        if isinstance(update, TradingStatus):  # an exchange halt or resumption
            with self._lock:
                self.runtime.desk.on_trading_status(update)
            return
        bar = update.bar
        desk = self.runtime.desk
        if not desk.admits(bar):  # outside every strategy's session: as in the backtest, never seen
            self.stats.outside_session += 1
            return
        if self.replay_clock:
            self._now = max(self._now, bar.timestamp + MINUTE)
        broker = self.runtime.broker
        if isinstance(broker, SimulatedBroker):
            broker.on_bar(bar, desk.in_session(bar))
        self.book_updates()
        now = self.now()
        try:
            with self._lock:
                outcome = self.runtime.desk.step(update, now)
        except Exception:
            self.stats.errors += 1
            log.exception("decision on %s %s failed", bar.symbol, bar.timestamp.isoformat())
            return
        self.stats.bars += 1
        self.stats.last_bar = bar.timestamp
        for decision in outcome.decisions.values():
            self.stats.signals += decision.wanted is not None
            self.stats.orders += decision.placed is not None
            if decision.risk is not None and not decision.risk.accepted:
                self.stats.rejected += 1
                rule = decision.risk.rule
                self.stats.rejected_by_rule[rule] = self.stats.rejected_by_rule.get(rule, 0) + 1
        self.book_updates()

    def run(self, stop: threading.Event, idle: Callable[[], None] = lambda: None) -> None:
        """Consume until ``stop`` is set and every bar taken so far is decided."""
        while True:
            try:
                _, data = self._bars.get(timeout=0.2)
            except queue.Empty:
                self.book_updates()
                idle()
                if stop.is_set():
                    return
                continue
            self.on_bar_record(data)

    def finish(self) -> None:
        """Let the simulated broker deliver what it still holds, and book it."""
        if isinstance(self.runtime.broker, SimulatedBroker):
            self.runtime.broker.flush()
        self.book_updates()
