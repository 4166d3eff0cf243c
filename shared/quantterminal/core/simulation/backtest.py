"""The backtest: bars in time order through the one trading kernel (``core.desk``), with the
backtest's handlers plugged in -- the same decide -> size -> risk -> order -> fill -> book stages
the paper run and the Lambdas execute, on the same ``TradingConfig``.

The handlers (built by ``quantterminal.wiring.backtest``):
- clock: the data's time -- each bar is decided at its close (for daily bars: in the session's
  last minute), so every bar is fresh and the risk manager's market-hours rule sees the real time;
- data: the merged bar stream of every symbol (bars of one timestamp in symbol order);
- broker: the simulated broker, its one fill model (``core.fill_model``: next bar of the symbol,
  market at the open with slippage, limits only when reached, a share of the bar's volume,
  commission) and a cash account that refuses buys it cannot fund;
- state: plain objects in this process (``ObjectStateStore``), strategies resident
  (``ResidentStrategies``); no ledger.

The session rule is the kernel's (``TradingDesk.admits``, ``core.calendar.SessionRule``): a bar
outside the regular session reaches only strategies that asked for extended hours, and none of the
run (broker, equity curve, bar count) when none did -- so a file with pre- and post-market bars
gives the backtest the paper run and the Lambdas get. ``BacktestResult.bars`` counts the bars the
kernel saw; ``outside_session`` the others.

So the risk manager runs in every backtest (position limit, daily loss halt, drawdown breaker,
market hours, price band, buying power); its refusals are in ``BacktestResult.refused`` by rule.
Limit orders are canceled after ``cancel_after_seconds`` by the kernel, as live; an order whose cancel
is confirmed is re-issued on a later bar while the strategy still wants the position.

Holes in the data (whole NYSE sessions with no bar of a symbol, ``core.data_checks``) are found
and reported. A position is not carried across a hole longer than ``max_gap_sessions``: at the
last bar before it, the kernel cancels the symbol's working orders and leaves the position with a
market order the simulated broker fills at that bar's close (the closing auction).

The equity curve is recorded once per distinct timestamp, after all bars of that timestamp,
marking open positions at their latest close: a float analytics series. Cash, positions, fills,
trades and final equity are the simulated broker's exact Decimals. Orders still working when the
data ends are reported as not filled; positions still open are marked at their last close.

No look-ahead: a strategy is handed bar t and nothing after it, and its order is worked on t+1.

Speed: most bars change nothing -- every strategy answers as on the symbol's last bar, is
positioned as it wants, and no order of the symbol is working or awaited. On such a bar the
kernel's step is idle whatever else happens, so the run feeds the strategies and skips the step
(``SKIP_QUIET``; a test shows that stepping every bar gives the same run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from quantterminal.core.accounting.equity_curve import EquityCurve
from quantterminal.core.accounting.metrics import compute_metrics
from quantterminal.core.accounting.order_ids import strategy_of
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderUpdate
from quantterminal.core.accounting.portfolio import Position
from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.accounting.trades import RoundTripBook, exit_reason
from quantterminal.core.market_data.calendar import session_bounds
from quantterminal.core.market_data.data_checks import bar_interval, find_gaps, merged_bars
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.models import Bar, Fill, Signal
from quantterminal.core.simulation.backtest_result import BacktestResult, OrderOutcome
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.simulation.ports import SimulatedVenue
from quantterminal.core.strategies import StrategyInstance, builtin_instance, share_capital
from quantterminal.core.trading.answers import Consumed
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.decision import HALTED, Decision
from quantterminal.core.trading.kernel import KernelHandlers, KernelSpec, build_kernel
from quantterminal.core.trading.strategy_hosts import ResidentStrategies

_PROGRESS_EVERY = 65_536
_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)
SKIP_QUIET = True  # ask the kernel only about bars where something can happen (see ``_Run.process``)
GAP_EXIT = "gap-exit"  # the intent in the client order id of an order leaving before a hole
_GAP_EXIT_ID = f"-{GAP_EXIT}-"  # how that intent shows in the id


@dataclass(frozen=True)
class BacktestConfig:
    """What to run (strategy instances on one account -- or built-in names, with ``params`` by
    name), and how it trades. Instances without an allocation share the account equally."""

    strategies: tuple[str | StrategyInstance, ...]
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by built-in name
    cash: Decimal = Decimal(100_000)  # BrokerSettings.cash's default (a test holds them equal)
    trading: TradingConfig = field(default_factory=TradingConfig)
    fills: FillModel = field(default_factory=FillModel)
    max_gap_sessions: int | None = 1  # close before a longer hole in the data (None: never)
    account: str = "backtest"
    instances: tuple[StrategyInstance, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        named = [s for s in self.strategies if isinstance(s, str)]
        unknown = set(self.params) - set(named)
        if unknown:
            raise ValueError(f"parameters for strategies not run: {', '.join(sorted(unknown))}")
        # an unknown name, a bad value, a name used twice or allocations over the whole account raise here
        built = (
            s if isinstance(s, StrategyInstance) else builtin_instance(s, self.params.get(s)) for s in self.strategies
        )
        object.__setattr__(self, "instances", share_capital(built))
        if self.max_gap_sessions is not None and self.max_gap_sessions < 0:
            raise ValueError(f"max gap sessions must be >= 0, got {self.max_gap_sessions}")
        if not self.cash.is_finite() or self.cash <= 0:
            raise ValueError(f"cash must be positive, got {self.cash}")

    @property
    def names(self) -> tuple[str, ...]:
        """The instances' names, in order."""
        return tuple(i.name for i in self.instances)


Handlers = Callable[["BacktestConfig"], tuple[SimulatedVenue, StateStore]]


class Backtester:
    """Runs strategies on one simulated account over a merged bar stream, through the kernel."""

    def __init__(self, config: BacktestConfig, handlers: Handlers) -> None:
        self.config = config
        self.handlers = handlers

    def run(
        self,
        bars_by_symbol: Mapping[str, Sequence[Bar]],
        progress: Callable[[int, int], None] | None = None,
        warmup: Mapping[str, Sequence[Bar]] | None = None,
    ) -> BacktestResult:
        """Run over ``bars_by_symbol``; ``progress(done, total)`` is called every 65,536 bars.
        ``warmup``: bars before the first, fed to the strategies only (no orders, no equity), as a
        live strategy is warmed up before it trades -- so the run's first bars are traded on."""
        iterator = merged_bars(bars_by_symbol)  # (checked before the first bar)
        gaps = find_gaps(bars_by_symbol)
        limit = self.config.max_gap_sessions
        exits = {(g.symbol, g.before) for g in gaps if limit is not None and g.sessions > limit}
        interval = min((bar_interval(b) for b in bars_by_symbol.values() if b), default=_MINUTE)
        run = _Run(self.config, self.handlers, sorted(bars_by_symbol), exits, interval)
        if warmup:
            run.warm(merged_bars(warmup))
        total = sum(len(bars) for bars in bars_by_symbol.values())
        done = 0
        while done < total:
            chunk = min(_PROGRESS_EVERY, total - done)
            run.process(islice(iterator, chunk))
            done += chunk
            if progress is not None:
                progress(done, total)
        result = run.finish(run.admitted)
        result.outside_session = total - run.admitted
        result.gaps = gaps
        result.interval = interval
        return result


class _Run:
    """One backtest run: the kernel and its handlers, and what the run records. ``process`` is
    the hot loop."""

    def __init__(
        self,
        config: BacktestConfig,
        handlers: Handlers,
        symbols: list[str],
        exits: set[tuple[str, datetime]],
        interval: timedelta,
    ) -> None:
        self.config = config
        self.symbols = symbols
        self.exits = exits  # (symbol, last bar before a hole too long to hold across)
        self.interval = interval
        self.venue, store = handlers(config)
        self.strategies = ResidentStrategies()
        self.quiet: dict[str, bool] = {}  # by symbol: see ``process``
        self.last_answers: dict[str, dict[str, Consumed]] = {}
        self.desk = build_kernel(
            KernelSpec(config.account, config.instances, config.trading),
            KernelHandlers(store, self.venue, strategies=self.strategies, interval=interval),
        )
        self.venue.on_update(self._book)
        self.positions: dict[tuple[str, str], Position] = {}  # by instance and symbol: for round trips
        self.book = RoundTripBook()
        self.cash_f = float(config.cash)
        self.held: dict[str, int] = {}
        self.closes: dict[str, float] = {}
        self.booked = 0  # the broker's fills seen so far
        self.last_wanted: dict[tuple[str, str], object] = {}
        self.signals: list[Signal] = []
        self.orders: list[Order] = []
        self.refused: list[OrderOutcome] = []
        self.halted = ""
        self.not_filled: list[OrderOutcome] = []
        self.gap_exits: list[Fill] = []
        self.curve = EquityCurve()
        self.exposed_points = 0
        self.current_ts: datetime | None = None
        self.admitted = 0  # bars inside the session of some strategy: the bars the kernel saw

    def _book(self, update: OrderUpdate) -> None:
        """The broker's update, booked by the kernel as it arrives (what the order-events handler does)."""
        self.desk.on_update(update)

    def clock(self, bar: Bar) -> datetime:
        """When ``bar`` is decided on: at its close; a daily bar in its session's last minute."""
        if self.interval < _DAY:
            return bar.timestamp + self.interval
        bounds = session_bounds(session_date(bar.timestamp))
        return bar.timestamp + self.interval if bounds is None else bounds[1] - _MINUTE

    def warm(self, bars: Iterable[Bar]) -> None:
        """Feed ``bars`` (all before the run's first) to the strategies that see them, and nothing
        else: no broker, no orders, no equity (``answers.warm_up`` does the same for a rebuilt live
        strategy; one that reads its trade sees none)."""
        desk = self.desk
        in_session, extended, engines_for = desk.in_session, desk.extended_hours, desk.engines_for_bar
        for bar in bars:
            session = in_session(bar)
            if session or extended:
                self.strategies.answers(engines_for(bar, session), bar)

    def process(self, bars: Iterable[Bar]) -> None:
        venue = self.venue
        desk = self.desk
        strategies, engines_for = self.strategies, desk.engines_for_bar
        closes = self.closes
        exits = self.exits
        quiet, last_answers = self.quiet, self.last_answers
        live = BarSource.PROVIDER
        skip_quiet = SKIP_QUIET
        intraday = self.interval if self.interval < _DAY else None
        fills = venue.fills
        current = self.current_ts
        in_session, extended = desk.in_session, desk.extended_hours
        trades_for = desk.trades_for if desk.trade_aware else None
        for bar in bars:
            session = in_session(bar)
            if not (
                session or extended
            ):  # outside the session of every strategy: the account never sees it (``admits``)
                continue
            self.admitted += 1
            ts = bar.timestamp
            symbol = bar.symbol
            if ts != current:
                if current is not None:
                    self._record_equity(current)
                current = self.current_ts = ts
            venue.on_bar(bar, session)
            if len(fills) > self.booked:
                self._take_fills()
            closes[symbol] = bar.close
            now = ts + intraday if intraday is not None else self.clock(bar)
            engines = engines_for(bar, session)
            if trades_for is None:
                answers = strategies.answers(engines, bar)
            else:  # a strategy reads its trade: the kernel's books at this bar's close, its fills included
                answers = strategies.answers(engines, bar, trades=trades_for(bar, engines))
            # A quiet symbol (its last step was idle for every strategy, no order of it is working
            # or awaited) whose strategies answer as on its last bar would get the same idle step:
            # nothing the kernel does depends on anything else that could have changed.
            if not (skip_quiet and quiet.get(symbol) and answers == last_answers.get(symbol)):
                outcome = desk.step(BarUpdate(bar, live), now, answers)
                for name, decision in outcome.decisions.items():
                    if decision.wanted is not None and decision.wanted is not self.last_wanted.get((name, symbol)):
                        self._note(name, answers[name].bar or bar, decision, now)
                    elif decision.order is not None or decision.note.startswith(HALTED):
                        self._note_order(decision, now)
                quiet[symbol] = (
                    all(d.idle for d in outcome.decisions.values())
                    and not venue.working(symbol)
                    and not any(o.symbol == symbol for o in desk.store.open_orders(desk.account))
                )
                last_answers[symbol] = answers
            if exits and (symbol, ts) in exits:
                self._exit_before_gap(bar, now)
                quiet[symbol] = False

    def _note(self, name: str, bar: Bar, decision: Decision, now: datetime) -> None:
        """A strategy changed its mind on ``bar`` (the bar it decides on): record the signal, and
        the order it led to."""
        assert decision.wanted is not None
        self.last_wanted[(name, bar.symbol)] = decision.wanted
        self.signals.append(Signal(name, bar.symbol, bar.timestamp, decision.wanted, bar.close))
        if decision.order is not None or decision.note.startswith(HALTED):
            self._note_order(decision, now)

    def _note_order(self, decision: Decision, now: datetime) -> None:
        order, risk = decision.order, decision.risk
        if order is None:  # a decision not carried out because trading is halted
            if not self.halted:
                self.halted = f"{now:%Y-%m-%d %H:%M} UTC, {decision.note}"
            return
        if risk is not None and not risk.accepted:
            self.refused.append(OrderOutcome(order, now, risk.reason, risk.rule))
            return
        self.orders.append(order)
        if decision.placed is None:
            self.not_filled.append(OrderOutcome(order, now, decision.note, "broker"))
        elif order.take_profit is not None or order.stop_loss is not None:
            self.orders += self.venue.exit_legs(order.client_order_id)  # placed with it: its fills are the strategy's

    def _exit_before_gap(self, bar: Bar, now: datetime) -> None:
        """The last bar before a hole: leave every position in the symbol at this bar's close,
        decided within the bar's session (the closing auction), whatever hours the data covers."""
        bounds = session_bounds(session_date(bar.timestamp))
        if bounds is not None:
            now = min(now, bounds[1] - _SECOND)
        decisions = self.desk.close_positions(bar, now, GAP_EXIT)
        for decision in decisions.values():
            if decision.order is not None:
                self._note_order(decision, now)
        before = len(self.venue.fills)
        self.venue.close_out(bar)
        self.gap_exits.extend(self.venue.fills[before:])
        self._take_fills()

    def _take_fills(self) -> None:
        """Follow the broker's new fills: exact round trips, float cash and holdings for the curve."""
        fills = self.venue.fills
        for fill in fills[self.booked :]:
            order = self.venue.get_order(fill.order_id)
            owner = order.strategy if order is not None else strategy_of(fill.order_id)
            # realised on the instance's own position, as the kernel books it
            position = self.positions.get((owner, fill.symbol))
            if position is None:
                position = self.positions[(owner, fill.symbol)] = Position(fill.symbol)
            realized = position.apply(fill.side, fill.qty, fill.price)
            reason = "gap-exit" if _GAP_EXIT_ID in fill.order_id else exit_reason(order)
            self.book.on_fill(fill, realized, reason, owner)
            signed = fill.side.sign * fill.qty
            self.cash_f -= signed * float(fill.price) + float(fill.commission)
            qty = self.held.get(fill.symbol, 0) + signed
            if qty:
                self.held[fill.symbol] = qty
            else:
                self.held.pop(fill.symbol, None)
        self.booked = len(fills)

    def _record_equity(self, ts: datetime) -> None:
        if not self.held:
            self.curve.append(ts, self.cash_f)  # (a flat run's curve is its cash: marked every bar all the same)
            return
        closes = self.closes
        equity = self.cash_f
        for symbol, qty in self.held.items():
            equity += qty * closes[symbol]
        self.exposed_points += 1
        self.curve.append(ts, equity)

    def finish(self, bars: int) -> BacktestResult:
        if self.current_ts is not None:
            self._record_equity(self.current_ts)
        self.not_filled += self._unfilled()
        account = self.venue.account()
        metrics = compute_metrics(self.config.cash, account.equity, self.curve, self.book.closed, self.exposed_points)
        return BacktestResult(
            config=self.config,
            symbols=self.symbols,
            bars=bars,
            signals=self.signals,
            orders=self.orders,
            fills=list(self.venue.fills),
            trades=self.book.closed,
            not_filled=sorted(self.not_filled, key=lambda o: (o.time, o.order.client_order_id)),
            equity_curve=self.curve,
            final_cash=account.cash,
            final_equity=account.equity,
            open_positions={p.symbol: p.qty for p in self.venue.positions()},
            metrics=metrics,
            refused=self.refused,
            halted=self.halted,
            gap_exits=self.gap_exits,
        )

    def _unfilled(self) -> list[OrderOutcome]:
        """Placed orders that ended without filling in full, and those the data ended under."""
        placed = {o.client_order_id: o for o in self.orders}
        age = self.config.trading.cancel_after_seconds
        out = []
        for order in self.venue.all_orders():
            request = placed.get(order.client_order_id)
            # (an exit leg or trailing stop left unfilled did not fail: its sibling or the strategy closed the trade)
            if request is None or order.filled_qty == order.qty or order.protective:
                continue
            when = order.created_at or request.decision_time
            assert when is not None  # the backtest decided (and stamped) every order it placed
            if order.status is OrderStatus.CANCELED and order.filled_qty == 0:
                # a strategy's own stop or limit works until its answer changes; the configuration's, one cancel age
                why = "its strategy's answer changed" if request.strategy_terms else f"not filled within {age:g} s"
                out.append(OrderOutcome(request, when, f"{why}: canceled", "canceled"))
            elif order.status is OrderStatus.CANCELED:
                reason = f"canceled after {order.filled_qty} of {order.qty} filled"
                out.append(OrderOutcome(request, when, reason, "canceled"))
            elif order.status is OrderStatus.EXPIRED:
                reason = f"expired ({order.time_in_force.value}) with {order.filled_qty} of {order.qty} filled"
                out.append(OrderOutcome(request, when, reason, "expired"))
            else:
                out.append(OrderOutcome(request, when, "data ended before execution", "data_end"))
        return out


__all__ = ["GAP_EXIT", "SKIP_QUIET", "BacktestConfig", "BacktestResult", "Backtester", "Handlers", "OrderOutcome"]
