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

Outages: when the state store or the ledger fails, the work is retried, not skipped
(``OutageGuard``): a bar is decided again, an update is booked again (a failed update is kept, and
the simulated broker is not told the updates were booked until they all were). Only a service
away past the budget, or any failure of this thread, stops the run -- through ``failed``, which
the command watches, never silently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.streams.bus import LocalBus, Record
from quantterminal.core.accounting.orders import OrderUpdate, OrderUpdateError
from quantterminal.core.market_data.feed_events import TradingStatus
from quantterminal.core.trading.feed_codec import (
    RecordError,
    decode_feed_record,
    decode_order_update,
    encode_order_update,
)
from quantterminal.wiring.outages import OutageGuard
from quantterminal.wiring.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")
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
    outside_session: int = 0  # bars no strategy sees (the session rule): skipped as the backtest skips them
    last_bar: datetime | None = None
    # monotonic seconds: the first bar taken and the last one decided -- the run's busy span,
    # without the wait for a first bar or the idle wait that ends a replay
    first_taken_at: float | None = None
    last_decided_at: float | None = None

    @property
    def busy_seconds(self) -> float:
        """From the first bar taken to the last one decided (0 before two)."""
        if self.first_taken_at is None or self.last_decided_at is None:
            return 0.0
        return max(0.0, self.last_decided_at - self.first_taken_at)


class PaperTrader:
    """Consumes the bus's bars and order updates with ``runtime``'s desk (see the module docs)."""

    def __init__(
        self,
        runtime: Runtime,
        bus: LocalBus,
        replay_clock: bool,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        guard: OutageGuard | None = None,
    ) -> None:
        self.runtime = runtime
        self.guard = guard or OutageGuard()
        self.failed = threading.Event()  # set when trading stopped on a failure (``failure`` says which)
        self.failure: BaseException | None = None
        self._retry: list[OrderUpdate] = []  # updates that failed to book: booked first, in order
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
        """Book every order update waiting (a kept one first), through outages; once all are
        booked, tell the simulated broker (it stops keeping them for a redelivery after a restart)."""
        self.guard.attempt(self._book_waiting, "booking order updates")
        broker = self.runtime.broker
        if isinstance(broker, SimulatedBroker):
            broker.checkpoint()

    def _book_waiting(self) -> None:
        """One pass: book kept updates, then the bus's; a failure keeps the update and raises."""
        while True:
            if self._retry:
                update = self._retry[0]
            else:
                try:
                    _, data = self._orders.get_nowait()
                except queue.Empty:
                    return
                try:
                    update = decode_order_update(data)
                except RecordError as exc:
                    self.stats.malformed += 1
                    log.warning("unreadable order update skipped: %s", exc)
                    continue
                self._retry.append(update)  # kept until booked: a failure below must not lose it
            try:
                with self._lock:
                    fills = self.runtime.desk.on_update(update)
            except OrderUpdateError as exc:  # an update that cannot belong to its order: never will
                self.stats.malformed += 1
                log.warning("impossible order update skipped: %s", exc)
                fills = []
            self._retry.pop(0)
            self.stats.updates += 1
            self.stats.fills += len(fills)

    def on_bar_record(self, data: bytes) -> None:
        """Decide on one bar record (through outages: the bar is decided again, never skipped)."""
        try:
            update = decode_feed_record(data)
        except RecordError as exc:
            self.stats.malformed += 1
            log.warning("unreadable bar record skipped: %s", exc)
            return
        desk = self.runtime.desk
        if isinstance(update, TradingStatus):  # an exchange halt or resumption
            status = update
            self._locked(lambda: desk.on_trading_status(status), f"recording the trading status of {status.symbol}")
            return
        bar = update.bar
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
        bar_update = update
        outcome = self._locked(
            lambda: desk.step(bar_update, now), f"deciding on {bar.symbol} {bar.timestamp.isoformat()}"
        )
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

    def _locked(self, work: Callable[[], T], what: str) -> T:
        """``work`` under the trader's lock, retried through outages (one decision or booking at a time)."""

        def locked() -> T:
            with self._lock:
                return work()

        return self.guard.attempt(locked, what)

    def run(self, stop: threading.Event, idle: Callable[[], None] = lambda: None) -> None:
        """Consume until ``stop`` is set and every bar taken so far is decided. Any failure (an
        outage past the budget, a bug) ends trading here with ``failure`` set and ``failed``
        signalled: the command stops the run and says so."""
        try:
            self._consume(stop, idle)
        except BaseException as exc:
            self.failure = exc
            log.error("trading stopped: %s", exc, exc_info=exc)
            self.failed.set()

    def _consume(self, stop: threading.Event, idle: Callable[[], None]) -> None:
        while True:
            try:
                _, data = self._bars.get(timeout=0.2)
            except queue.Empty:
                self.book_updates()
                idle()
                if stop.is_set():
                    return
                continue
            if self.stats.first_taken_at is None:
                self.stats.first_taken_at = time.monotonic()
            self.on_bar_record(data)
            self.stats.last_decided_at = time.monotonic()

    def finish(self) -> None:
        """Let the simulated broker deliver what it still holds, and book it."""
        if isinstance(self.runtime.broker, SimulatedBroker):
            self.runtime.broker.flush()
        self.book_updates()
