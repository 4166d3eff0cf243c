"""The live decision path: one closed bar in, at most one order out -- the same stages the Lambda
bar handler and the local paper run execute.

``on_bar``: restore the strategy from the state store, let it decide, save it; size the order as
the backtester does; pass it through the risk gate (which reserves buying power atomically);
record it as an open order *before* submitting (so a redelivered bar finds it and places nothing);
place it exactly once.

``on_update``: book a broker update into this strategy's books (``core.trading.booking``: merged
into the stored order, new executions into the position once each, the reservation released as
the order fills or ends, the audit trail in the ledger).

An entry from flat carries its exit legs when the configuration asks for them
(``TradingConfig.stop_loss_bps`` / ``take_profit_bps``); the broker holds them, and they are
recorded as this strategy's open orders so their fills are booked to it. A configured trailing
stop (``trailing_stop_bps``) is placed by the kernel under a complete position with nothing else
working. A position no bracket protects (a stop entry's, a reversal's) gets the configured legs
as one-cancels-other once it is complete (``Order.oco``). Legs, one-cancels-other exits and
trailing stops alike are ``Order.protective``. A strategy that declares its own
exits (``Strategy.exit_orders``) trades with those instead, in every environment.

A decision the risk manager refused for what the account cannot do now (buying power, a limit,
a halted entry) is not asked again on every bar while nothing it depends on changed
(``core.trading.refusals``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from quantterminal.core.accounting.order_ids import STOP_EXIT, TIME_EXIT, client_order_id
from quantterminal.core.accounting.orders import PLACED_TYPES, Order, OrderStatus, OrderType, OrderUpdate, TimeInForce
from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.accounting.state import RiskState
from quantterminal.core.market_data.bar_builder import MINUTE
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.market_data.sessions import next_midnight, session_date
from quantterminal.core.models import Bar, Direction, Fill, Side, Signal
from quantterminal.core.money import to_decimal
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView, RiskDecision, short_of_buying_power
from quantterminal.core.strategies import StrategyInstance, builtin_instance
from quantterminal.core.strategies.trade_view import TradeView
from quantterminal.core.trading import refusals
from quantterminal.core.trading.answers import Consumed, WarmUpBars, answer
from quantterminal.core.trading.booking import UpdateBooking
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable, place_order
from quantterminal.core.trading.closing_orders import TRAIL, closing_order, oco_exit
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.decision import (
    ALREADY_PROCESSED,
    BROKER_REJECTED,
    FLAT_HELD,
    HALTED,
    LONG_HELD,
    LONG_TIMED,
    SAT_OUT,
    SHORT_HELD,
    SHORT_TIMED,
    WARMING_UP,
    Decision,
)
from quantterminal.core.trading.ports import Broker, TradeJournal
from quantterminal.core.trading.refusals import Refusal
from quantterminal.core.trading.sizing import target_quantity
from quantterminal.core.trading.strategy_terms import carries, not_placeable, placed_terms, side_for
from quantterminal.core.trading.trade_views import trade_views


class TradingEngine:
    """One strategy, one account: decisions from bars and bookkeeping from broker updates."""

    def __init__(
        self,
        strategy: str | StrategyInstance,
        account: str,
        store: StateStore,
        broker: Broker,
        gate: RiskGate,
        ledger: TradeJournal | None = None,
        params: dict[str, Any] | None = None,
        config: TradingConfig | None = None,
        wait: Callable[[int], None] = lambda attempt: None,
    ) -> None:
        self.instance = strategy if isinstance(strategy, StrategyInstance) else builtin_instance(strategy, params)
        self.strategy_name = self.instance.name
        config = config or TradingConfig()
        exits = self.instance.exit_orders()  # a strategy's own exits replace the configuration's, for it alone
        self.config = config if exits is None else config.with_exits(exits)
        self.longest_hold = self.config.max_holding  # read on every bar: kept, not rebuilt
        self.protected = self.config.trailing_stop_bps is not None or self.config.exit_legs  # (likewise)
        self.fraction = self.config.position_fraction * self.instance.capital_share  # of account equity
        self.account = account
        self.store = store
        self.broker = broker
        self.gate = gate
        self.ledger = ledger
        self.wait = wait
        self.booking = UpdateBooking(account, self.strategy_name, store, gate, ledger)
        self._refused: dict[str, Refusal] = {}  # by symbol: the standing refusal (``refusals``)

    # --- decisions --------------------------------------------------------------------------------

    def consume(
        self,
        bar: Bar,
        snapshot: dict[str, Any] | None,
        history: WarmUpBars | None = None,
        trade: TradeView | None = None,
    ) -> Consumed:
        """The strategy's answer to ``bar``, restored from ``snapshot`` (see ``answers``: a
        redelivered bar is not fed twice; a snapshot of other parameters is rebuilt, warmed up on
        ``history``; ``trade``: what it sees of its trade). The snapshot to save comes back with
        the answer; it must be saved before the answer is acted on."""
        return answer(self.instance, bar, snapshot, history, trade)

    def on_bar(self, bar: Bar, view: AccountView, now: datetime, trade: bool = True) -> Decision:
        """Decide on a closed ``bar``; see the module docs for the stages. With ``trade=False`` (a
        stale bar: backfilled, or delivered long after its minute) the strategy consumes it but no
        order is placed on an old price. (``TradingDesk`` runs the same stages for all strategies
        with one read and one write of their snapshots.)"""
        name, seen = self.strategy_name, None
        if self.instance.uses_trade:
            position = {name: self.store.get_position(self.account, name, bar.symbol)}
            seen = trade_views([name], bar, position, self.store.open_orders(self.account))[name]
        consumed = self.consume(bar, self.store.load_snapshot(name, bar.symbol), trade=seen)
        if consumed.snapshot is not None:
            self.store.save_snapshot(self.strategy_name, bar.symbol, consumed.snapshot)
        return self.act(bar, consumed, lambda: view, now, trade)

    def act(
        self,
        bar: Bar,
        consumed: Consumed,
        view: Callable[[], AccountView],
        now: datetime,
        trade: bool = True,
        open_orders: Sequence[Order] | None = None,
        position: int | None = None,
        session_time: datetime | None = None,
        risk_state: RiskState | None = None,
        exited: Direction | None = None,
        opened_at: datetime | None = None,
    ) -> Decision:
        """Carry out the strategy's answer: risk, record, place. ``view`` gives the account at
        decision time (called only when an order is sized); ``open_orders`` (the account's) and
        ``position`` (this strategy's in ``bar.symbol``) are read from the store if not given.
        ``session_time``: the minute whose session the decision belongs to (``None``: ``bar``'s own;
        the decision time for a bar that is a whole session). A decision on a minute of the
        regular session is placed, the last minute's too (it then works from the next open); one
        an extended-hours strategy makes outside it places no order. ``risk_state``: the account's,
        if the caller read it with the bar's other state (else it is read when an order may be made).
        ``exited``: the side an exit leg closed this strategy's position on (``PositionState.exited``):
        while flat it does not enter that way again until its answer has changed. ``opened_at``:
        when the position was opened (``PositionState.opened_at``; read from the store if not
        given and a longest hold is configured)."""
        wanted, new = consumed.wanted, consumed.new
        if wanted is None:
            return WARMING_UP if new else ALREADY_PROCESSED
        orders = self.store.open_orders(self.account) if open_orders is None else open_orders
        name = self.strategy_name
        working = [o for o in orders if o.strategy == name and o.symbol == bar.symbol] if orders else orders
        if position is None:
            stored = self.store.get_position(self.account, name, bar.symbol)
            position, opened_at = stored.qty, stored.opened_at
        held = Direction.FLAT if position == 0 else Direction.LONG if position > 0 else Direction.SHORT
        longest, timed_out = self.longest_hold, False
        # Held its longest at this bar's close: out now, whatever the answer. (A plain exit is on its
        # way already; a stop or limit the strategy asked for might never fill.)
        if (
            longest
            and position
            and opened_at
            and (wanted is held or consumed.terms is not None)
            and bar.timestamp + MINUTE - opened_at >= longest
        ):
            wanted, timed_out = Direction.FLAT, True
        terms = None if timed_out else consumed.terms  # a time exit is the kernel's own, on the configured terms
        if exited is not None and position == 0:
            if wanted is exited:  # its stop or target took it out; the same answer is not a new entry
                return SAT_OUT
            self.store.update_position(self.account, name, bar.symbol, lambda p: replace(p, exited=None))
        if wanted is held and not working and position and self.protected:
            # a trailing stop; or legs no bracket brought (a stop entry's position, a reversal's)
            return self._protect(bar, position, now, view, session_time, risk_state)
        if wanted is held and not working:
            if position and longest:
                return LONG_TIMED if position > 0 else SHORT_TIMED
            # the common bar: nothing to do, nothing built (identity: an Enum's hash is a Python call)
            return LONG_HELD if wanted is Direction.LONG else FLAT_HELD if wanted is Direction.FLAT else SHORT_HELD
        # The signal names the bar decided on (a longer one, for a strategy on 5-minute or daily
        # bars); the order, the minute it is placed on (its id, decision time and price).
        decided = bar if consumed.bar is None else consumed.bar
        signal = Signal(name, bar.symbol, decided.timestamp, wanted, decided.close)
        if not trade:
            return Decision(signal, note="stale bar: no order", wanted=wanted)
        if working:
            coid = client_order_id(name, bar.symbol, bar.timestamp, TIME_EXIT if timed_out else wanted.value)
            if any(o.client_order_id == coid for o in working):
                return self._resume(coid, signal, now)
            if wanted is not held and all(o.protective for o in working):
                # its exit legs (or trailing stop) hold the shares at the broker: canceled first, the exit follows
                for leg in working:
                    self._cancel(leg.client_order_id, now)
                return Decision(signal, note="exit legs canceled for the strategy's own exit", wanted=wanted)
            own = [o for o in working if o.strategy_terms and not o.status.terminal]
            if own and not all(carries(o, wanted, terms, position) for o in own):
                # a stop or limit the strategy asked for works only while it asks for it
                for order in own:
                    self._cancel(order.client_order_id, now)
                return Decision(signal, note="its working order canceled: the strategy's answer changed", wanted=wanted)
            note = "already positioned" if wanted is held else "an order is already working"
            return Decision(signal, note=note, wanted=wanted)
        if wanted is held:
            return Decision(signal, note="already positioned", wanted=wanted)
        minute = bar.timestamp if session_time is None else session_time
        if self.config.risk.regular_hours_only and not is_market_open(minute):
            # Not an order the risk manager must refuse every minute until the open: none is made.
            return Decision(signal, note="market closed: no order", wanted=wanted)
        if risk_state is None:
            risk_state = self.store.get_risk_state(self.account)
        if risk_state.halted:
            # Recorded (with its alert) when it happened: a refusal per bar would only bury it.
            return Decision(signal, note=f"{HALTED}: {risk_state.halt_reason}", wanted=wanted, idle=True)
        refused = self._refused.get(bar.symbol)
        if refused is not None:
            if refused.holds(wanted, risk_state, minute):
                return Decision(signal, note=refused.note, wanted=wanted)
            if refused.rule != "buying_power" or not refused.same_day_and_halts(wanted, risk_state, minute):
                refused = None
            del self._refused[bar.symbol]
        coid = client_order_id(name, bar.symbol, bar.timestamp, TIME_EXIT if timed_out else wanted.value)
        price = to_decimal(bar.close)
        side = side_for(wanted, position)
        if terms is None:
            kind, trigger, limit, tif = self.config.type, None, self.config.limit_price(side, price), TimeInForce.DAY
        else:  # the strategy's own stop or limit
            placed = placed_terms(terms, side)
            refused_terms = not_placeable(placed, side, price)
            if refused_terms:
                return Decision(signal, note=refused_terms, wanted=wanted)
            kind, trigger, limit, tif = placed.order_type, placed.stop_price, placed.limit_price, placed.time_in_force
        # An entry from flat carries its exit legs where a broker takes them (a market or limit entry
        # that is not ioc); any other gets them as one-cancels-other once it has filled (``_protect``).
        legs = position == 0 and self.config.exit_legs and kind in PLACED_TYPES and tif is not TimeInForce.IOC
        if legs:
            tif = TimeInForce.GTC  # the legs inherit it: they must outlive the session
        opposite = next((o for o in orders if o.symbol == bar.symbol and o.side is not side), None)
        if opposite is not None:  # the broker would refuse it as a wash trade: decide again next bar
            return Decision(signal, note=f"waiting: {opposite.strategy}'s opposite order works", wanted=wanted)
        account = view()
        # Sized on the order's own price (its limit, else its stop): a new position stays within a
        # position limit of that fraction.
        expected = limit or trigger or price
        target = target_quantity(wanted, position, self.fraction, account.equity, expected)
        delta = target - position
        if delta == 0:
            return Decision(signal, note="size rounds to zero", wanted=wanted)
        take = stop = None
        if legs:  # an entry from flat carries its exit legs, from where it is expected to fill
            take, stop = self.config.exits(side, price if terms is None else expected)
        order = Order(
            coid,
            name,
            bar.symbol,
            side,
            abs(delta),
            kind,
            bar.timestamp,
            price,
            limit,
            account=self.account,
            created_at=now,
            stop_price=trigger,
            time_in_force=tif,
            take_profit=take,
            stop_loss=stop,
            strategy_terms=terms is not None,
        )
        if refused is not None and short_of_buying_power(
            order, account.cash, self.gate.position(bar.symbol), risk_state
        ):
            # refused for buying power before, and orders have filled or ended since: sized again,
            # it still does not fit -- the risk manager would refuse it by that rule, so it is not asked
            self._refused[bar.symbol] = replace(refused, state=risk_state)
            return Decision(signal, note=refused.note, wanted=wanted)
        decision = self._place(signal, order, account, now, minute, risk_state)
        risk = decision.risk
        if risk is not None and not risk.accepted and risk.rule in refusals.STANDING_RULES:
            state = self.store.get_risk_state(self.account)
            until = next_midnight(session_date(minute))
            self._refused[bar.symbol] = Refusal(wanted, risk.rule, state, until, f"still refused: {risk.reason}")
        return decision

    def _protect(
        self,
        bar: Bar,
        position: int,
        now: datetime,
        view: Callable[[], AccountView],
        session_time: datetime | None,
        risk_state: RiskState | None,
    ) -> Decision:
        """Put the configured protection under ``position`` (complete, nothing else working):
        the trailing stop, or the take-profit and stop-loss as one-cancels-other measured from
        its average entry price -- through risk, recorded and placed once, like any order the
        kernel makes. Where the close has already crossed that stop-loss (the position is past its
        planned loss) it is closed at market instead. With one leg configured nothing is placed:
        Alpaca's oco takes both."""
        held = Direction.LONG if position > 0 else Direction.SHORT
        signal = Signal(self.strategy_name, bar.symbol, bar.timestamp, held, bar.close)
        minute = bar.timestamp if session_time is None else session_time
        if self.config.risk.regular_hours_only and not is_market_open(minute):
            return Decision(signal, note="market closed: its protection at the open", wanted=held)
        name, account, trail = self.strategy_name, self.account, self.config.trailing_stop_bps
        if trail is not None:
            order = closing_order(name, account, bar, position, now, TRAIL, trail)
            return self._place(signal, order, view(), now, minute, risk_state)
        entry = self.store.get_position(account, name, bar.symbol).avg_price
        close = to_decimal(bar.close)
        take, stop = self.config.exits(Side.BUY if position > 0 else Side.SELL, entry or close)
        if take is None or stop is None:  # Alpaca's oco takes both legs: one alone protects only entries
            return Decision(signal, note="one exit leg configured: none under this position", wanted=held, idle=True)
        if close <= stop if position > 0 else close >= stop:
            order = closing_order(name, account, bar, position, now, STOP_EXIT)
        else:  # a take-profit the market has passed already is a marketable limit: it fills at once
            order = oco_exit(name, account, bar, position, now, take, stop)
        return self._place(signal, order, view(), now, minute, risk_state)

    def close_position(self, bar: Bar, position: int, view: AccountView, now: datetime, intent: str) -> Decision:
        """Leave this strategy's ``position`` in ``bar.symbol`` with a market order (through risk,
        recorded, placed once like any order): a backtest leaving before a hole in its data."""
        order = closing_order(self.strategy_name, self.account, bar, position, now, intent)
        signal = Signal(self.strategy_name, bar.symbol, bar.timestamp, Direction.FLAT, bar.close)
        return self._place(signal, order, view, now)

    def _place(
        self,
        signal: Signal,
        order: Order,
        view: AccountView,
        now: datetime,
        minute: datetime | None = None,
        risk_state: RiskState | None = None,
    ) -> Decision:
        """Risk, record, place: every order the kernel makes goes this way (``minute``: the one
        whose session the order belongs to; ``None``: ``now``'s; ``risk_state``: as last read)."""
        coid = order.client_order_id
        if self.ledger is not None:
            self.ledger.record_signal(signal)
        risk = self.gate.check(order, view, now, minute, risk_state)
        # "duplicate", nothing recorded: an earlier attempt reserved, then crashed -- the reservation is ours
        if not risk.accepted and not (risk.rule == "duplicate" and self.store.get_open_order(coid) is None):
            return Decision(signal, order, risk, note=risk.reason, wanted=signal.direction)
        recorded = self.store.add_open_order(order)
        if not recorded:  # a concurrent delivery of the same bar recorded it first; its reservation stands
            return Decision(signal, order, risk, note="decision already placed", wanted=signal.direction, working=order)
        if self.ledger is not None:
            self.ledger.record_order(order)
        submitted = self._submit(signal, order, risk, now)
        if submitted.placed is not None:
            self._record_legs(order, now)
        return submitted if submitted.note.startswith(BROKER_REJECTED) else replace(submitted, working=order)

    def _record_legs(self, entry: Order, now: datetime) -> None:
        """Record the exit legs the broker holds for ``entry`` as this strategy's open orders (once:
        a second record of a leg changes nothing), so their updates are booked to its position."""
        if entry.take_profit is None and entry.stop_loss is None:
            return
        for leg in self.broker.exit_legs(entry.client_order_id):
            record = replace(
                leg,
                account=self.account,
                strategy=entry.strategy,
                # decided with its entry (a broker that names legs itself reports no decision)
                decision_time=entry.decision_time,
                decision_price=entry.decision_price,
                events=frozenset(),
                created_at=now,
                version=0,
            )
            if self.store.add_open_order(record) and self.ledger is not None:
                self.ledger.record_order(record)

    def _submit(
        self, signal: Signal, order: Order, risk: RiskDecision | None, now: datetime, note: str = ""
    ) -> Decision:
        """Place a recorded order at most once; a refusal releases its record and reservation."""
        try:
            placed = place_order(self.broker, order, wait=self.wait)
        except BrokerRejected as exc:
            if self.ledger is not None:  # the order's row gets its end: refused at submit
                self.ledger.append_order_event(OrderUpdate(order.client_order_id, "rejected", now))
            self.store.remove_open_order(order.client_order_id)
            self.gate.settle(order.client_order_id, 0)
            return Decision(signal, order, risk, note=f"{BROKER_REJECTED}: {exc}", wanted=signal.direction)
        except BrokerUnavailable as exc:
            note = f"in flight, outcome unknown ({exc}); reconcile will resolve it"
            return Decision(signal, order, risk, note=note, wanted=signal.direction)
        return Decision(signal, order, risk, placed, note=note, wanted=signal.direction)

    def _resume(self, coid: str, signal: Signal, now: datetime) -> Decision:
        """This decision's order is recorded already (a redelivered bar). If a crash or an outage
        came between recording it and the broker acknowledging it, make sure the ledger has it and
        it is placed -- by client order id, so the broker never gets it twice."""
        recorded = self.store.get_open_order(coid)
        wanted = signal.direction
        if recorded is None or recorded.broker_order_id is not None or recorded.status is not OrderStatus.NEW:
            return Decision(signal, note="decision already placed", wanted=wanted)
        if self.ledger is not None and recorded.decision_time is not None:
            self.ledger.record_order(recorded)  # once: a second record of the same order changes nothing
        try:
            placed = self.broker.get_order(coid)
        except BrokerUnavailable as exc:
            note = f"in flight, outcome unknown ({exc}); reconcile will resolve it"
            return Decision(signal, note=note, wanted=wanted)
        if placed is not None:
            self._record_legs(recorded, now)
            return Decision(signal, placed=placed, note="decision already placed", wanted=wanted)
        return self._submit(signal, recorded, None, now, note="placed after an interrupted attempt")

    def cancel_stale(
        self,
        now: datetime,
        max_age: timedelta | None = None,
        symbol: str | None = None,
        open_orders: Sequence[Order] | None = None,
    ) -> list[str]:
        """Ask the broker to cancel this strategy's limit orders (in ``symbol``, if given) still
        working ``max_age`` after they were placed (the first version let them rest; 13% never
        filled within 30 s); ``max_age`` defaults to the configured order cancel age. An order on
        the strategy's own terms works while its strategy asks for it: only an explicit
        ``max_age`` (a backtest leaving before a hole in its data) cancels it, stops included."""
        own_terms_too = max_age is not None
        max_age = self.config.cancel_after if max_age is None else max_age
        canceled: list[str] = []
        for order in self.store.open_orders(self.account) if open_orders is None else open_orders:
            if (
                order.strategy != self.strategy_name
                or (symbol is not None and order.symbol != symbol)
                or (order.strategy_terms and not own_terms_too)
                or (order.order_type is not OrderType.LIMIT and not order.strategy_terms)
                or order.protective  # an exit leg or trailing stop works until the position is closed
                or order.status is OrderStatus.PENDING_CANCEL
                or order.status.terminal  # done; only its last executions are awaited
                or order.created_at is None
                or now - order.created_at < max_age
            ):
                continue
            if self._cancel(order.client_order_id, now):
                canceled.append(order.client_order_id)
        return canceled

    def _cancel(self, coid: str, now: datetime) -> bool:
        """Cancel one order unless it finished meanwhile: ``open_orders`` may be a snapshot taken
        at the step's start, and the order-events handler books fills concurrently. A finished
        order is skipped, never canceled; one the broker says it cannot cancel is finishing (its
        update is on the way). The cancel is sent before it is recorded: a crash in between sends
        it again next time, which is harmless."""
        current = self.store.get_open_order(coid)
        if current is None or current.status.terminal or current.status is OrderStatus.PENDING_CANCEL:
            return False
        try:
            self.broker.cancel(coid)
        except BrokerRejected:
            return False
        try:
            self.store.update_open_order(coid, lambda o: replace(o, cancel_requested_at=now, updated_at=now))
        except KeyError:  # booked to its end while the cancel was on its way: nothing left to mark
            return False
        return True

    # --- broker updates ---------------------------------------------------------------------------

    def on_update(self, update: OrderUpdate) -> list[Fill]:
        """Book a broker update into this strategy's books (idempotent; any arrival order: see
        ``core.trading.booking``); the fills it brought, if any."""
        return self.booking.on_update(update)
