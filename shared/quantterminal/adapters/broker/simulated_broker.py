"""The simulated broker: the embedded default for backtests, paper runs and tests.

Simulated time advances with the bars it is shown (``on_bar``): an order submitted at time t
becomes workable after ``latency`` and is worked on bars that start at or after that, by the one
fill model (``core.fill_model``: market orders at the open with slippage, limit orders only when
the bar reaches the limit, at most ``participation`` of a bar's volume, commission per fill). Buys
that cash cannot fund are refused at submit, as Alpaca refuses them (403).

Updates (new, partial_fill, fill, pending_cancel, canceled) are queued with a due time and
delivered by ``advance``/``on_bar`` to the handler, in Alpaca's cumulative format. With
``chaos=True`` each is delayed at random, some are delivered twice, so they arrive late, duplicated
and out of order -- everything a real stream does to a trading system (``update_delivery``).

Like a real broker, the account outlives our process: with an ``AccountJournal`` every change is
saved (see ``simulated_account``) and a restarted broker carries on with the same orders,
positions and cash. Updates already handed to the handler stay in an outbox until ``checkpoint``
says they were booked; a restart delivers them again (booking is idempotent), so none is lost
between the broker and the books. Order and execution ids derive from the client order id, which
is unique per decision, so ids never repeat across restarts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from quantterminal.adapters.broker.simulated_account import (
    AccountJournal,
    AccountSnapshot,
    SimulatorConfig,
    WorkingOrder,
    decode_account,
    encode_account,
)
from quantterminal.adapters.broker.update_delivery import UpdateDelivery
from quantterminal.adapters.broker.venue_orders import (
    ExitLegBook,
    exit_legs,
    follow,
    session_close,
    wrong_side_of_market,
)
from quantterminal.core.accounting.orders import Order, OrderTermsError, OrderType, OrderUpdate, TimeInForce
from quantterminal.core.accounting.portfolio import Portfolio
from quantterminal.core.models import Bar, Execution, Fill, Side
from quantterminal.core.money import ZERO, to_decimal
from quantterminal.core.simulation.fill_model import BarFill, trailing_stop, trigger_price
from quantterminal.core.trading.broker import BrokerAccount, BrokerPosition, BrokerRejected, BrokerUnavailable

__all__ = ["SimulatedBroker", "SimulatorConfig"]  # the config is defined with the account it configures

_MINUTE = timedelta(minutes=1)
_NEW = frozenset({"new"})
log = logging.getLogger(__name__)


class SimulatedBroker:
    """An in-process broker account driven by bars."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        start: datetime | None = None,
        journal: AccountJournal | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.now = start or datetime(1970, 1, 1, tzinfo=UTC)
        self._orders: dict[str, WorkingOrder] = {}
        self._working: dict[str, list[WorkingOrder]] = {}  # by symbol: orders not yet terminal
        self._portfolio = Portfolio(self.config.initial_cash)
        self._held: dict[str, None] = {}  # the symbols of the open positions (a universe holds few at once)
        self._last: dict[str, Decimal] = {}  # exact last prices, made from ``_closes`` when asked for
        self._closes: dict[str, float] = {}  # the last close of each symbol, as the bars carry it
        self._updates = UpdateDelivery(self.config)
        self._handler: Callable[[OrderUpdate], None] | None = None
        self._faults: list[bool] = []
        self._lock = threading.RLock()  # the API thread reads the account while the trader trades
        self._journal = journal
        self._changed = False  # anything to save since the last save
        self.journal_behind = False  # the last save failed: the journal lags the account
        self.fills: list[Fill] = []
        self.restored = self._restore()
        self._legs = ExitLegBook(self._orders)

    # --- durability -----------------------------------------------------------------------------

    def _restore(self) -> bool:
        """Carry on with the journal's account, if there is one; undelivered and unconfirmed
        updates are queued to be delivered (again) at once."""
        text = None if self._journal is None else self._journal.load()
        if text is None:
            return False
        saved = decode_account(text)
        self.now = max(self.now, saved.now)
        self._portfolio, self._last, self._orders = saved.portfolio, saved.last, saved.orders
        self._held = {symbol: None for symbol, p in self._portfolio.positions.items() if p.qty}
        self._updates.restore(saved.queued, saved.outbox, saved.seq, saved.now)
        for working in self._orders.values():
            if not working.order.status.terminal and not working.held:
                self._working.setdefault(working.order.symbol, []).append(working)
        return True

    def _save(self) -> None:
        """Write the account to its journal. A venue keeps trading while our store is away: a
        failed write is logged once and made again with the next change (a crash meanwhile
        loses what the journal has not -- the run's outage record says when that was)."""
        self._changed = False
        if self._journal is None:
            return
        snapshot = AccountSnapshot(self.now, self._portfolio, self._marks(), self._orders, *self._updates.saved())
        try:
            self._journal.save(encode_account(snapshot))
        except Exception as exc:
            self._changed = True
            if not self.journal_behind:
                log.warning("paper account not saved, will save again: %s", exc)
            self.journal_behind = True
            return
        if self.journal_behind:
            log.warning("paper account saved again")
        self.journal_behind = False

    def checkpoint(self) -> None:
        """Every update delivered so far is booked: forget them (a restart will not repeat them)."""
        with self._lock:
            if self._updates.confirm():
                self._save()

    # --- the Broker port ------------------------------------------------------------------------

    def on_update(self, handler: Callable[[OrderUpdate], None]) -> None:
        self._handler = handler

    def submit(self, order: Order) -> Order:
        with self._lock:
            try:
                return self._submit(order)
            finally:
                self._save()

    def _submit(self, order: Order) -> Order:
        landed_but_lost = self._faults.pop(0) if self._faults else None
        if landed_but_lost is False:
            raise BrokerUnavailable("simulated timeout before the order reached the broker")
        if order.client_order_id in self._orders:
            raise BrokerRejected(f"client_order_id must be unique: {order.client_order_id}")
        if order.qty <= 0:
            raise BrokerRejected(f"qty must be positive, got {order.qty}")
        if self.config.refuse_wash_trades and any(
            w.order.side is not order.side for w in self._working.get(order.symbol, ())
        ):
            # Alpaca refuses an order opposite to one of the account's own working orders (HTTP 403)
            raise BrokerRejected("potential wash trade detected. use complex orders")
        try:
            order.check_terms()
        except OrderTermsError as exc:
            raise BrokerRejected(str(exc)) from None
        mark = self._mark(order.symbol)
        refused = wrong_side_of_market(order, mark)
        if refused:
            raise BrokerRejected(refused)
        reference = order.limit_price or mark or order.decision_price or ZERO
        if order.side is Side.BUY and self._portfolio.qty(order.symbol) + order.qty > 0:
            needed = order.qty * reference
            if needed > self._buying_power():
                raise BrokerRejected(f"insufficient buying power: need {needed:.2f}, have {self._buying_power():.2f}")
        # The venue's copy: the terms as submitted, none of our bookkeeping, acknowledged ("new").
        accepted = Order(
            order.client_order_id,
            order.strategy,
            order.symbol,
            order.side,
            order.qty,
            order.order_type,
            order.decision_time,
            order.decision_price,
            order.limit_price,
            events=_NEW,
            broker_order_id=f"sim-{order.client_order_id}",
            created_at=self.now,
            updated_at=self.now,
            stop_price=order.stop_price,
            trail_bps=order.trail_bps,
            time_in_force=order.time_in_force,
            take_profit=order.take_profit,
            stop_loss=order.stop_loss,
            parent=order.parent,
            oco=order.oco,
        )
        working = WorkingOrder(accepted, self.now + self.config.latency)
        if order.order_type is OrderType.TRAILING_STOP:
            working.best = mark or order.decision_price  # the best price so far: the market's, now
        self._orders[order.client_order_id] = working
        self._working.setdefault(order.symbol, []).append(working)
        # an entry's legs are held until it fills; a one-cancels-other exit's works beside it at once
        legs = [WorkingOrder(leg, working.workable_at, held=not accepted.oco) for leg in exit_legs(accepted)]
        for leg in legs:
            self._orders[leg.order.client_order_id] = leg
        self._legs.add(legs)
        for placed in (working, *(leg for leg in legs if not leg.held)):
            if placed is not working:
                self._working[order.symbol].append(placed)
            self._emit(
                OrderUpdate(
                    placed.order.client_order_id,
                    "new",
                    self.now + self.config.latency,
                    0,
                    broker_order_id=placed.order.broker_order_id,
                )
            )
        if landed_but_lost:
            raise BrokerUnavailable("simulated: the order landed but the response was lost")
        return accepted

    def cancel(self, client_order_id: str) -> None:
        with self._lock:
            self._cancel(client_order_id)
            self._save()

    def _cancel(self, client_order_id: str) -> None:
        working = self._orders.get(client_order_id)
        if working is None or working.order.status.terminal:
            self._emit(
                OrderUpdate(
                    client_order_id, "order_cancel_rejected", self.now, working.order.filled_qty if working else 0
                )
            )
            return
        self._end(working, "canceled", self.now, pending="pending_cancel")

    def replace(self, client_order_id: str, new_client_order_id: str, qty: int, limit_price: Decimal | None) -> Order:
        with self._lock:
            try:
                return self._replace(client_order_id, new_client_order_id, qty, limit_price)
            finally:
                self._save()

    def _replace(self, client_order_id: str, new_client_order_id: str, qty: int, limit_price: Decimal | None) -> Order:
        working = self._orders.get(client_order_id)
        if working is None or working.order.status.terminal:
            raise BrokerRejected(f"order {client_order_id} is not working; it cannot be replaced")
        old = working.order
        if old.parent is not None or old.take_profit is not None or old.stop_loss is not None:
            raise BrokerRejected(f"order {client_order_id} has exit legs or is one: cancel it instead")
        request = Order(
            new_client_order_id,
            old.strategy,
            old.symbol,
            old.side,
            qty,
            old.order_type,
            old.decision_time,
            old.decision_price,
            limit_price if limit_price is not None else old.limit_price,
            stop_price=old.stop_price,
            trail_bps=old.trail_bps,
            time_in_force=old.time_in_force,
        )
        new = self._submit(request)
        self._end(working, "replaced", self.now, pending="pending_replace")
        return new

    def exit_legs(self, client_order_id: str) -> list[Order]:
        with self._lock:
            entry = self._orders.get(client_order_id)
            return [] if entry is None else [leg.order for leg in self._legs.of(entry)]

    def get_order(self, client_order_id: str) -> Order | None:
        with self._lock:
            working = self._orders.get(client_order_id)
            return None if working is None else working.order

    def all_orders(self) -> list[Order]:
        """Every order the broker has received, terminal or not."""
        with self._lock:
            return [w.order for w in self._orders.values()]

    def open_orders(self) -> list[Order]:
        with self._lock:
            return [w.order for w in self._orders.values() if not w.order.status.terminal]

    def positions(self) -> list[BrokerPosition]:
        with self._lock:
            return [
                BrokerPosition(symbol, p.qty, p.avg_price or ZERO)
                for symbol, p in sorted(self._portfolio.positions.items())
                if p.qty
            ]

    def account(self) -> BrokerAccount:
        with self._lock:
            # Portfolio.equity, in one pass over the open positions: a decision reads this for every
            # order (and every refused one), so not over every symbol ever traded
            cash = self._portfolio.cash
            equity = cash
            positions = self._portfolio.positions
            for symbol in self._held:
                equity += positions[symbol].qty * (self._mark(symbol) or ZERO)
            return BrokerAccount(cash, equity, self._buying_power())

    # --- simulation ---------------------------------------------------------------------------

    def fail_next_submits(self, *landed: bool) -> None:
        """Make the next submits fail ambiguously: ``True`` lands the order but loses the response,
        ``False`` fails before the order reaches the broker."""
        self._faults.extend(landed)

    def on_bar(self, bar: Bar, in_session: bool = True) -> None:
        """Work the orders of ``bar.symbol`` against this bar, then advance time to its close. A
        bar outside the regular session (``in_session`` false: the kernel's ``SessionRule``) works
        no order: they are day orders without extended hours, as Alpaca takes them."""
        with self._lock:
            self._closes[bar.symbol] = bar.close  # made exact only when a price is needed
            working = self._working.get(bar.symbol)
            if working and in_session:
                for order in list(working):
                    self._work(order, bar)
            close = bar.timestamp + _MINUTE
            if not self._updates and not self._changed:  # the usual bar: only the clock moves
                self.now = max(self.now, close)
                return
            self.advance(close)

    def working(self, symbol: str) -> bool:
        """Whether an order in ``symbol`` is still being worked."""
        return bool(self._working.get(symbol))

    def close_out(self, bar: Bar) -> None:
        """Fill the working market orders of ``bar.symbol`` at ``bar``'s close, now: the closing
        auction. A backtest uses it to leave a position before a hole in its data."""
        with self._lock:
            for working in list(self._working.get(bar.symbol, ())):
                if working.order.order_type is OrderType.MARKET:
                    at_close = replace(bar, open=bar.close, high=bar.close, low=bar.close)
                    working.workable_at = bar.timestamp
                    self._work(working, at_close, full=True)
            self.advance(self.now)

    def _retire(self, working: WorkingOrder) -> None:
        """``working`` reached a terminal status: no bar works it again."""
        orders = self._working.get(working.order.symbol)
        if orders is not None and working in orders:
            orders.remove(working)

    def advance(self, now: datetime) -> None:
        """Move simulated time to ``now`` and deliver every update that is due. They are saved as
        delivered (the outbox) before the handler sees them: a crash in between repeats them."""
        with self._lock:
            self.now = max(self.now, now)
            if not self._updates:
                if self._changed:
                    self._save()
                return
            due = self._updates.take_due(self.now, delivering=self._handler is not None)
            self._changed = self._changed or (self._handler is not None and bool(due))
            if self._changed:  # a bar that moved nothing but the clock and the marks saves nothing
                self._save()
        for update in due:
            if self._handler is not None:
                self._handler(update)

    def flush(self) -> None:
        """Deliver everything still queued, whatever its delay."""
        last = self._updates.last_due()
        if last is not None:
            self.advance(last)

    def _mark(self, symbol: str) -> Decimal | None:
        """The exact last price of ``symbol`` (``None`` before its first bar)."""
        close = self._closes.pop(symbol, None)
        if close is not None:
            self._last[symbol] = to_decimal(close)
        return self._last.get(symbol)

    def _marks(self) -> dict[str, Decimal]:
        for symbol in list(self._closes):
            self._mark(symbol)
        return self._last

    def _buying_power(self) -> Decimal:
        committed = sum(
            (
                (w.order.qty - w.order.filled_qty)
                * (w.order.limit_price or self._mark(w.order.symbol) or w.order.decision_price or ZERO)
                for orders in self._working.values()
                for w in orders
                # a leg closes what its entry opened, a one-cancels-other exit what is held
                if w.order.side is Side.BUY and w.order.parent is None and not w.order.oco
            ),
            ZERO,
        )
        return self._portfolio.cash - committed

    def _work(self, working: WorkingOrder, bar: Bar, full: bool = False) -> None:
        if bar.timestamp + _MINUTE <= working.workable_at:
            return
        order = working.order
        if working.expires_at is not None and bar.timestamp >= working.expires_at:
            self._end(working, "expired", working.expires_at)
            return
        if working.expires_at is None and order.time_in_force is TimeInForce.DAY:
            working.expires_at = session_close(bar.timestamp)
        remaining = order.qty - order.filled_qty
        if order.parent is not None:
            remaining = min(remaining, self._legs.unprotected(working))
        elif order.oco:
            remaining -= self._legs.closed_by_legs(working)
        fills = self.config.fills
        done = self._bar_fill(working, bar, remaining) if remaining else None
        if done is None and full:  # the closing auction fills whatever the bar's volume
            done = replace(fills, participation=None).fill(order.side, order.order_type, None, remaining, bar)
        if order.order_type is OrderType.TRAILING_STOP and working.best is not None:
            working.best = follow(order.side, working.best, bar)  # after the check: the next bar's level
        if done is not None:
            self._execute(working, bar, done.qty, done.price, done.commission)
        if order.time_in_force is TimeInForce.IOC and not working.order.status.terminal:
            self._end(working, "canceled", bar.timestamp + _MINUTE)  # its one chance was this bar

    def _bar_fill(self, working: WorkingOrder, bar: Bar, remaining: int) -> BarFill | None:
        """What ``bar`` fills of ``working`` by the fill model's rules, with the venue's state of
        its stop: a trailing stop's level from its best price, a stop-limit's trigger."""
        order, fills = working.order, self.config.fills
        kind, stop = order.order_type, order.stop_price
        if kind is OrderType.TRAILING_STOP:
            if working.best is None:
                working.best = to_decimal(bar.open)  # no price known at submit: the first it works on
            assert order.trail_bps is not None
            stop = trailing_stop(order.side, working.best, order.trail_bps)
        elif kind is OrderType.STOP_LIMIT:
            if working.triggered:
                stop = None  # a limit order since its stop was reached
            else:
                assert stop is not None
                working.triggered = trigger_price(order.side, stop, bar) is not None
                if not working.triggered:
                    return None
        return fills.fill(order.side, kind, order.limit_price, remaining, bar, stop)

    def _execute(self, working: WorkingOrder, bar: Bar, qty: int, price: Decimal, commission: Decimal) -> None:
        order = working.order
        working.executions += 1
        working.notional += qty * price
        filled = order.filled_qty + qty
        when = max(bar.timestamp, working.workable_at)
        execution = Execution(f"{order.broker_order_id}-x{working.executions}", qty, price, when)
        event = "fill" if filled == order.qty else "partial_fill"
        working.order = replace(
            order,
            events=order.events | {event},
            updated_at=when,
            filled_qty=filled,
            filled_avg_price=working.notional / filled,
        )
        if event == "fill":
            self._retire(working)
        fill = Fill(
            order.symbol, when, order.side, qty, price, commission, order.client_order_id, execution.execution_id
        )
        self._portfolio.apply_fill(fill)
        if self._portfolio.qty(fill.symbol):
            self._held[fill.symbol] = None
        else:
            self._held.pop(fill.symbol, None)
        self.fills.append(fill)
        self._emit(OrderUpdate(order.client_order_id, event, when, filled, execution, order.broker_order_id))
        if event == "fill":
            self._activate_legs(working, bar.timestamp + _MINUTE)
        elif order.oco and filled + self._legs.closed_by_legs(working) >= order.qty:
            self._end(working, "canceled", when)  # its leg closed the rest: nothing is left to sell
        if order.parent is not None:
            for done in self._legs.closed(working):  # the position it protected is closed: the others go
                self._end(done, "canceled", when)

    def _end(self, working: WorkingOrder, event: str, at: datetime, pending: str | None = None) -> None:
        """``working`` ends by ``event`` (canceled, expired, replaced) at ``at``; an entry's legs
        then work for what it filled, or end with it if it filled nothing."""
        working.order = _with_event(working.order, event, at)
        self._retire(working)
        if pending is not None:
            self._emit(OrderUpdate(working.order.client_order_id, pending, at, working.order.filled_qty))
            at = at + self.config.latency
        self._emit(OrderUpdate(working.order.client_order_id, event, at, working.order.filled_qty))
        self._activate_legs(working, at)

    def _activate_legs(self, entry: WorkingOrder, at: datetime) -> None:
        """The held legs of ``entry`` (done filling) work from ``at`` for the shares it filled; a
        one-cancels-other exit's leg ends with it (its take-profit filled, or it was canceled)."""
        if entry.order.oco:
            for leg in self._legs.of(entry):
                if not leg.order.status.terminal:
                    self._end(leg, "canceled", at)
            return
        for leg in self._legs.held(entry):
            leg.held = False
            if entry.order.filled_qty == 0:
                self._end(leg, "canceled", at)
                continue
            leg.order = replace(leg.order, qty=entry.order.filled_qty, events=_NEW, updated_at=at)
            leg.workable_at = at
            self._working.setdefault(leg.order.symbol, []).append(leg)
            self._emit(OrderUpdate(leg.order.client_order_id, "new", at, 0, broker_order_id=leg.order.broker_order_id))

    def _emit(self, update: OrderUpdate) -> None:
        self._changed = True
        self._updates.emit(update)


def _with_event(order: Order, event: str, now: datetime) -> Order:
    """The venue's order after ``event`` happened to it at ``now``."""
    return replace(order, events=order.events | {event}, updated_at=now)
