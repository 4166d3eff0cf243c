"""The trading desk: the one trading kernel -- every strategy of one account, fed bars and broker
updates -- run by the backtest, the local paper run and the Lambdas alike.

For each bar every strategy answers, and each acts through its own ``TradingEngine`` (size ->
risk -> record -> place); each broker update goes to the engine of the strategy that placed the
order. What differs per environment are the handlers plugged in, never these stages: the clock
(the ``now`` handed in), the broker (simulated or Alpaca), the state store (plain objects,
in-process documents or Redis), where strategies keep their state between bars (``StrategyHost``,
``strategy_hosts``: resident objects in a backtest, snapshots in the store where processes share
it or restart) and the ledger (none, SQLite, PostgreSQL).

A bar is traded only while it is fresh: a backfilled bar, a revision, or a bar delivered long
after it closed still feeds the strategies (their indicators must not skip a minute) but places
no order on an old price.

One session rule (``SessionRule``): a strategy instance sees the minute bars of the regular
session unless it asked for extended hours. A bar outside the regular session goes only to the
instances that did; when none did, the account does not see it at all (``admits``): the
backtest, the paper run and the Lambdas skip it before the broker or the equity curve does. A
decision on a regular-session minute is placed, the session's last one included: that order is
placed at the close and works from the next session's open (a day order placed after the close
waits for the next open, as Alpaca queues it; the simulated broker works orders on regular-session
bars only). A decision an extended-hours strategy makes outside the session places no order.

Round trips to the state store are what a bar costs live, so the desk makes them once for all its
strategies: the strategies' state is read and written in one go each; only if some strategy has
an answer are the account's positions in the symbol and its open orders read, once; the account
view (equity, cash) is built only if some strategy sizes an order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.accounting.ports import BarState, StateStore
from quantterminal.core.accounting.records import EquitySnapshot
from quantterminal.core.accounting.state import PositionState
from quantterminal.core.market_data.calendar import EXTENDED, SessionRule
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate, TradingStatus
from quantterminal.core.models import Bar, Direction, Fill
from quantterminal.core.money import to_decimal
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView
from quantterminal.core.strategies.trade_view import TradeView
from quantterminal.core.trading.answers import Consumed
from quantterminal.core.trading.decision import Decision
from quantterminal.core.trading.engine import TradingEngine
from quantterminal.core.trading.ports import Broker, TradeJournal
from quantterminal.core.trading.strategy_hosts import StrategyHost
from quantterminal.core.trading.trade_views import trade_views

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class BarOutcome:
    """What one bar led to, per strategy."""

    bar: Bar
    traded: bool
    decisions: Mapping[str, Decision]
    canceled: tuple[str, ...] = ()  # client order ids of stale limit orders asked to be canceled


def account_view(broker: Broker, bar: Bar, positions: Sequence[PositionState]) -> AccountView:
    """The account at decision time, as every environment builds it: cash and equity from the
    broker (Alpaca, or the simulated broker), the account's position in ``bar``'s symbol as the
    state store books it (``positions``: every strategy's, and what reconciliation adopted)."""
    summary = broker.account()
    qty = sum(p.qty for p in positions if p.symbol == bar.symbol)
    return AccountView(summary.equity, summary.cash, {bar.symbol: qty}, {bar.symbol: to_decimal(bar.close)})


class TradingDesk:
    """Strategies of one account over one state store; ``view`` gives the account at decision time
    from the bar and the account's stored positions in its symbol. Built by ``core.trading.kernel``
    (``build_kernel``), nowhere else."""

    def __init__(
        self,
        engines: Mapping[str, TradingEngine],
        store: StateStore,
        account: str,
        view: Callable[[Bar, Sequence[PositionState]], AccountView],
        max_bar_age: timedelta,
        ledger: TradeJournal | None,
        strategies: StrategyHost,
        interval: timedelta = MINUTE,
    ) -> None:
        self.engines = dict(engines)
        self.store = store
        self.account = account
        self.view = view
        self.max_bar_age = max_bar_age
        self.ledger = ledger
        self.strategies = strategies
        self.interval = interval  # the bar size: a bar closes ``interval`` after its timestamp
        self._equity_recorded_at: datetime | None = None
        self._by_symbol: dict[str, Mapping[str, TradingEngine]] = {}
        self._extended_by_symbol: dict[str, Mapping[str, TradingEngine]] = {}
        self.sessions = SessionRule()
        # bars longer than a minute (a daily backtest) are whole sessions: the rule is for minute bars
        self._whole_sessions = interval >= timedelta(days=1)
        self.extended_hours = any(e.instance.session == EXTENDED for e in self.engines.values())
        # the instances whose strategies read their trade: only for them are positions read first
        self.trade_aware = frozenset(n for n, e in self.engines.items() if e.instance.uses_trade)
        # whether any instance closes a position held its longest: only then are entry times handed over
        self.timed = any(e.longest_hold is not None for e in self.engines.values())

    def engines_for(self, symbol: str) -> Mapping[str, TradingEngine]:
        """The engines of the strategy instances that trade ``symbol``."""
        engines = self._by_symbol.get(symbol)
        if engines is None:
            every = all(e.instance.trades(symbol) for e in self.engines.values())
            engines = self.engines if every else {n: e for n, e in self.engines.items() if e.instance.trades(symbol)}
            self._by_symbol[symbol] = engines
        return engines

    def in_session(self, bar: Bar) -> bool:
        """Whether ``bar`` lies in the regular session (a bar of a day or longer always does)."""
        return self._whole_sessions or self.sessions.in_regular_session(bar.timestamp)

    def admits(self, bar: Bar) -> bool:
        """Whether any strategy of the account sees ``bar`` (see the module docs): a bar it does not
        is skipped whole, by the broker and the equity curve too."""
        return self.extended_hours or self.in_session(bar)

    def engines_for_bar(self, bar: Bar, in_session: bool | None = None) -> Mapping[str, TradingEngine]:
        """The engines of the instances that trade ``bar.symbol`` and see ``bar`` (the session rule;
        ``in_session``: ``self.in_session(bar)``, if the caller knows it already)."""
        if self.in_session(bar) if in_session is None else in_session:
            return self.engines_for(bar.symbol)
        engines = self._extended_by_symbol.get(bar.symbol)
        if engines is None:
            every = self.engines_for(bar.symbol)
            engines = {n: e for n, e in every.items() if e.instance.session == EXTENDED}
            self._extended_by_symbol[bar.symbol] = engines
        return engines

    def trades_for(
        self, bar: Bar, engines: Mapping[str, TradingEngine], read: BarState | None = None
    ) -> dict[str, TradeView] | None:
        """What each of ``engines``' strategies that ``uses_trade`` sees of its trade at ``bar``'s
        close (``None``: none of them reads it): from the store's positions and open orders, or
        from ``read`` if the bar's state was read in one go already."""
        names = [n for n in engines if n in self.trade_aware] if self.trade_aware else None
        if not names:
            return None
        if read is not None:
            return trade_views(names, bar, read.positions, read.open_orders)
        positions = {p.strategy: p for p in self.store.positions_in(self.account, bar.symbol)}
        return trade_views(names, bar, positions, self.store.open_orders(self.account))

    def fresh(self, update: BarUpdate, now: datetime) -> bool:
        """Whether ``update`` may be traded on at ``now``."""
        source = update.source
        if source is not BarSource.PROVIDER and source is not BarSource.BUILT:
            return False  # backfilled, revised, late or daily: history, not a moment to act in
        return now - update.bar.timestamp <= self.interval + self.max_bar_age

    def step(self, update: BarUpdate, now: datetime, answers: Mapping[str, Consumed] | None = None) -> BarOutcome:
        """The kernel's whole step for one bar, in every environment: every strategy decides,
        then this symbol's limit orders older than the cancel age are canceled. (Only this
        symbol's: on a replay clock another symbol's bar may already be past this one's next
        bar, which has not had its chance to fill them yet.) ``answers``: the strategies' answers
        to this bar, if the caller has already fed it to them."""
        outcome, open_orders = self._decide(update, now, answers)
        stale = self.cancel_stale(now, update.bar.symbol, open_orders=open_orders)
        return replace(outcome, canceled=tuple(stale)) if stale else outcome

    def on_bar(self, update: BarUpdate, now: datetime) -> BarOutcome:
        """Every strategy's decision on one bar (no cancels: ``step`` is the whole step)."""
        return self._decide(update, now)[0]

    def _decide(
        self, update: BarUpdate, now: datetime, answers: Mapping[str, Consumed] | None = None
    ) -> tuple[BarOutcome, list[Order] | None]:
        """The decisions, and the open orders read before them (``None``: not read)."""
        bar = update.bar
        if update.source is BarSource.REVISION or update.source is BarSource.LATE:
            # The minute was decided on already, or its successors were: strategies consume each
            # symbol's minutes once, in order.
            return BarOutcome(bar, False, {}), None
        engines = self.engines_for_bar(bar)
        if not engines:  # outside the session of every strategy of the symbol
            return BarOutcome(bar, False, {}), None
        traded = self.fresh(update, now)
        # the minute the market-hours rule judges: the bar's own (the last one closes at the
        # session's close), or the decision time for a bar that is a whole session
        session_time = now if self._whole_sessions else None
        read: BarState | None = None  # the store's reads for this bar, when taken in one go
        if answers is not None:
            consumed = answers
        elif self.strategies.in_snapshots:
            read = self.store.bar_state(self.account, list(engines), bar.symbol)
            consumed = self.strategies.answers(engines, bar, read.snapshots, self.trades_for(bar, engines, read))
        else:
            consumed = self.strategies.answers(engines, bar, trades=self.trades_for(bar, engines))
        acting = traded and any(c.wanted is not None for c in consumed.values())
        held: list[PositionState] = []
        risk = None  # the risk state as read with the bar's other state (until an order changes it)
        if not acting:
            open_orders, qty = [], {}
        elif read is not None:
            # The view's position in the symbol is only a first guess: the risk gate reads the
            # whole account's (reconciliation's adopted shares too) inside its compare-and-set.
            open_orders, held, risk = read.open_orders, list(read.positions.values()), read.risk
            qty = {name: p.qty for name, p in read.positions.items() if p.qty}
        else:
            held = self.store.positions_in(self.account, bar.symbol)
            open_orders = self.store.open_orders(self.account)
            qty = {p.strategy: p.qty for p in held} if held else {}
        exited = {p.strategy: Direction(p.exited) for p in held if p.exited} if held else {}
        opened = {p.strategy: p.opened_at for p in held if p.qty} if held and self.timed else {}
        views: list[AccountView] = []

        def view() -> AccountView:  # built once, and only if some strategy sizes an order
            if not views:
                views.append(self.view(bar, held))
            return views[0]

        decisions = {}
        last = len(consumed) - 1
        for i, (name, answer) in enumerate(consumed.items()):
            decision = decisions[name] = engines[name].act(
                bar,
                answer,
                view,
                now,
                traded,
                open_orders,
                qty.get(name, 0),
                session_time,
                risk,
                exited.get(name),
                opened.get(name),
            )
            if decision.order is not None and acting and i < last:
                risk = None  # the risk check moved it (a reservation, the peak): the next one reads it
                if decision.working is not None:
                    # the next strategy sees this order: it must not send the opposite side (a wash trade)
                    open_orders = [*open_orders, decision.working]
        if traded and self.ledger is not None:
            # equity and cash are the broker's: the positions matter only to a sized order's view
            self._record_equity(lambda: views[0] if views else self.view(bar, []), now)
        # Orders placed on this bar may not be in the list read before it; none is stale yet.
        return BarOutcome(bar, traded, decisions), open_orders if acting else None

    def close_positions(self, bar: Bar, now: datetime, intent: str) -> dict[str, Decision]:
        """Every strategy leaves its position in ``bar.symbol`` with a market order, its working
        orders there canceled first (a backtest before a hole in its data)."""
        self.cancel_stale(now, bar.symbol, max_age=timedelta(0))
        held = self.store.positions_in(self.account, bar.symbol)
        account = self.view(bar, held)
        return {
            p.strategy: self.engines[p.strategy].close_position(bar, p.qty, account, now, intent)
            for p in held
            if p.qty and p.strategy in self.engines
        }

    def cancel_stale(
        self,
        now: datetime,
        symbol: str | None = None,
        max_age: timedelta | None = None,
        open_orders: Sequence[Order] | None = None,
    ) -> list[str]:
        """Every strategy's stale limit orders (in ``symbol``, if given) canceled; one read of the
        open orders for all of them (none if given). ``max_age`` defaults to each engine's
        configured cancel age."""
        if open_orders is None:
            open_orders = self.store.open_orders(self.account)
        if not open_orders:
            return []
        return [
            coid
            for engine in self.engines.values()
            for coid in engine.cancel_stale(now, max_age, symbol=symbol, open_orders=open_orders)
        ]

    def _record_equity(self, view: Callable[[], AccountView], now: datetime) -> None:
        """One equity snapshot per account and minute (the equity curve of the API and the daily
        report); every symbol's bar of that minute writes the same key, so one write suffices."""
        minute = now.replace(second=0, microsecond=0)
        if self.ledger is None or self._equity_recorded_at == minute:
            return
        account = view()
        self.ledger.record_equity(EquitySnapshot(self.account, minute, account.equity, account.cash))
        self._equity_recorded_at = minute

    @property
    def gate(self) -> RiskGate:
        """The account's risk gate (one account, one risk state: every engine shares it)."""
        return next(iter(self.engines.values())).gate

    def on_trading_status(self, status: TradingStatus) -> None:
        """An exchange halted ``status.symbol`` or let it resume: the account's risk state says
        so, and the risk manager refuses every order for a halted symbol (rule ``symbol_halted``)."""
        if self.engines:
            self.gate.set_symbol_halted(status.symbol, status.halted, status.reason or status.code, status.timestamp)

    def on_update(self, update: OrderUpdate) -> list[Fill]:
        """Book a broker update with the strategy that placed the order (unknown orders are left
        to reconciliation)."""
        order = self.store.get_open_order(update.client_order_id)
        if order is None or order.strategy not in self.engines:
            return []
        return self.engines[order.strategy].on_update(update)
