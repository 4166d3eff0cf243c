"""The event-driven backtester: bars in time order through the same strategies that trade live.

Fill rules (every assumption, written down):
- A strategy sees a bar once it has closed and decides on that bar's close. The order it causes
  is executed on the **next bar of the same symbol** -- the next minute, or the next session's
  first bar after an overnight gap -- never on the bar that produced the decision.
- Market orders fill in full at that bar's open, moved by the slippage model.
- Limit orders are priced at the decision close ± ``limit_offset_bps`` (buys at
  ``close × (1 + bps/10⁴)`` rounded down to a tick, sells at ``close × (1 − bps/10⁴)`` rounded up;
  a positive offset is more aggressive). They live for exactly one bar, like a live limit order
  canceled after 30 s: a buy fills at ``min(open, limit)`` if the bar's low reaches the limit, a
  sell at ``max(open, limit)`` if its high does; otherwise it is canceled unfilled. Slippage does
  not apply to limit fills. Volume is not checked: fills are complete.
- Commission is charged per fill by the commission model.
- Cash account: a buy that would leave a long position funded by negative cash is rejected for
  insufficient buying power. Short sales need no margin here (no borrow cost, no margin calls).
- Position sizing happens only when a position is opened (or flipped):
  ``floor(fraction × equity / close)`` with equity and close at the decision bar; a held
  position is not resized while the wanted direction stays the same. A decision to go flat
  closes the whole position.
- While a symbol's position differs from what its strategy wants (e.g. after a rejected or
  unfilled order), the engine orders again on the next decision.
- Orders still pending when the data ends are canceled; positions still open are marked at
  their last close and are not counted as trades.
- Holes in the data (whole NYSE sessions with no bar of a symbol, ``core.data_checks``) are found
  and reported. A position is not carried across a hole longer than ``max_gap_sessions``: it is
  closed at the close of the last bar before it (no slippage), an order pending for that symbol
  is canceled, and the strategy's position is re-entered after the hole if it still wants one.
- Equity is recorded once per distinct timestamp, after all bars of that timestamp, marking each
  open position at its symbol's latest close. The curve is a float analytics series; cash,
  positions, fills, trades and final equity are exact Decimals.

No look-ahead: the engine hands a strategy bar t and nothing after it, and executes on bar t+1.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from operator import attrgetter
from typing import Any

from quantterminal.core.data_checks import Gap, bar_interval, find_gaps
from quantterminal.core.execution import BpsSlippage, CommissionModel, PerShareCommission, SlippageModel
from quantterminal.core.metrics import Metrics, compute_metrics
from quantterminal.core.models import Bar, Direction, Fill, Side, Signal
from quantterminal.core.money import ZERO, round_to_tick, to_decimal
from quantterminal.core.orders import OrderRequest, OrderType, client_order_id
from quantterminal.core.portfolio import Portfolio
from quantterminal.core.sizing import target_quantity
from quantterminal.core.strategies import Strategy, StrategyParams, build_params, strategy_class
from quantterminal.core.trades import RoundTrip, RoundTripBook

_BPS = Decimal(10_000)
_PROGRESS_EVERY = 65_536


@dataclass(frozen=True)
class BacktestConfig:
    """What to run and how orders are executed."""

    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)
    cash: Decimal = Decimal(100_000)
    fraction: Decimal = Decimal("0.10")
    order_type: OrderType = OrderType.MARKET
    limit_offset_bps: Decimal = ZERO
    slippage: SlippageModel = field(default_factory=BpsSlippage)
    commission: CommissionModel = field(default_factory=PerShareCommission)
    max_gap_sessions: int | None = 1  # close before a longer hole in the data (None: never)

    def __post_init__(self) -> None:
        if self.max_gap_sessions is not None and self.max_gap_sessions < 0:
            raise ValueError(f"max gap sessions must be >= 0, got {self.max_gap_sessions}")
        if not self.cash.is_finite() or self.cash <= 0:
            raise ValueError(f"cash must be positive, got {self.cash}")
        if not self.fraction.is_finite() or not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if not self.limit_offset_bps.is_finite():
            raise ValueError("limit offset must be finite")


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """An order that did not fill: rejected or canceled, and why."""

    order: OrderRequest
    time: datetime
    reason: str


@dataclass
class BacktestResult:
    """Everything a backtest produced."""

    config: BacktestConfig
    symbols: list[str]
    bars: int
    signals: list[Signal]
    orders: list[OrderRequest]
    fills: list[Fill]
    trades: list[RoundTrip]
    not_filled: list[OrderOutcome]
    equity_curve: list[tuple[datetime, float]]
    final_cash: Decimal
    final_equity: Decimal
    open_positions: dict[str, int]
    metrics: Metrics
    interval: timedelta = timedelta(minutes=1)  # the bar size found in the data
    gaps: list[Gap] = field(default_factory=list)  # holes in the data, by symbol
    gap_exits: list[Fill] = field(default_factory=list)  # positions closed before a hole


def merge_bars(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> list[Bar]:
    """All bars in time order; bars with the same timestamp come in symbol order.

    Raises ``ValueError`` if a symbol's bars are out of order or carry another symbol.
    """
    for symbol, bars in bars_by_symbol.items():
        previous: datetime | None = None
        for bar in bars:
            if bar.symbol != symbol:
                raise ValueError(f"bar for {bar.symbol} found among bars of {symbol}")
            if previous is not None and bar.timestamp <= previous:
                raise ValueError(f"{symbol}: bars not strictly increasing at {bar.timestamp.isoformat()}")
            previous = bar.timestamp
    ordered = [bars_by_symbol[s] for s in sorted(bars_by_symbol)]
    if len(ordered) == 1:
        return list(ordered[0])
    return list(heapq.merge(*ordered, key=attrgetter("timestamp")))


class Backtester:
    """Runs one strategy (one instance per symbol) over a merged bar stream."""

    def __init__(self, config: BacktestConfig) -> None:
        self.config = config
        self._strategy_cls = strategy_class(config.strategy)
        self._params = build_params(config.strategy, config.params)

    def run(
        self,
        bars_by_symbol: Mapping[str, Sequence[Bar]],
        progress: Callable[[int, int], None] | None = None,
    ) -> BacktestResult:
        """Run over ``bars_by_symbol``; ``progress(done, total)`` is called every 65,536 bars."""
        stream = merge_bars(bars_by_symbol)
        gaps = find_gaps(bars_by_symbol)
        limit = self.config.max_gap_sessions
        exits = {(g.symbol, g.before) for g in gaps if limit is not None and g.sessions > limit}
        run = _Run(self.config, self._strategy_cls, self._params, sorted(bars_by_symbol), exits)
        total = len(stream)
        iterator = iter(stream)
        done = 0
        while done < total:
            chunk = min(_PROGRESS_EVERY, total - done)
            run.process(islice(iterator, chunk))
            done += chunk
            if progress is not None:
                progress(done, total)
        result = run.finish(total)
        result.gaps = gaps
        result.interval = min((bar_interval(b) for b in bars_by_symbol.values() if b), default=result.interval)
        return result


def run_backtest(
    config: BacktestConfig,
    bars_by_symbol: Mapping[str, Sequence[Bar]],
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Convenience: ``Backtester(config).run(bars_by_symbol, progress)``."""
    return Backtester(config).run(bars_by_symbol, progress)


class _Run:
    """The mutable state of one backtest run. ``process`` is the hot loop."""

    def __init__(
        self,
        config: BacktestConfig,
        strategy_cls: type[Strategy],
        params: StrategyParams,
        symbols: list[str],
        exits: set[tuple[str, datetime]] | None = None,
    ) -> None:
        self.config = config
        self.symbols = symbols
        self.exits = exits or set()  # (symbol, last bar before a hole too long to hold across)
        self.gap_exits: list[Fill] = []
        self.strategies = {s: strategy_cls(s, params) for s in symbols}
        self.on_bar = {s: strategy.on_bar for s, strategy in self.strategies.items()}
        self.portfolio = Portfolio(config.cash)
        self.book = RoundTripBook()
        self.cash_f = float(config.cash)
        self.held: dict[str, int] = {}
        self.closes: dict[str, float] = {}
        self.pending: dict[str, OrderRequest] = {}
        self.last_output: dict[str, Direction | None] = dict.fromkeys(symbols)
        self.held_direction: dict[str, Direction] = dict.fromkeys(symbols, Direction.FLAT)
        self.signals: list[Signal] = []
        self.orders: list[OrderRequest] = []
        self.fills: list[Fill] = []
        self.not_filled: list[OrderOutcome] = []
        self.curve: list[tuple[datetime, float]] = []
        self.exposed_points = 0
        self.current_ts: datetime | None = None

    def process(self, bars: Iterable[Bar]) -> None:
        # The hot loop: locals for everything touched per bar, rare work in methods.
        on_bar = self.on_bar
        pending = self.pending
        closes = self.closes
        held = self.held
        last_output = self.last_output
        held_direction = self.held_direction
        curve_append = self.curve.append
        current_ts = self.current_ts
        exits = self.exits
        for bar in bars:
            ts = bar.timestamp
            if ts != current_ts:
                if current_ts is not None:
                    if held:
                        self._record_marked_equity(current_ts)
                    else:
                        curve_append((current_ts, self.cash_f))
                current_ts = ts
            symbol = bar.symbol
            if pending and symbol in pending:
                self._execute(pending.pop(symbol), bar)
            closes[symbol] = bar.close
            wanted = on_bar[symbol](bar)
            if exits and (symbol, ts) in exits:
                self._exit_before_gap(symbol, wanted, bar)
                continue
            if wanted is last_output[symbol]:
                if wanted is held_direction[symbol] or wanted is None:
                    continue
            elif wanted is None:
                continue
            else:
                last_output[symbol] = wanted
                self.signals.append(Signal(self.config.strategy, symbol, ts, wanted, bar.close))
            if wanted is not held_direction[symbol] and symbol not in pending:
                self._decide(symbol, wanted, bar)
        self.current_ts = current_ts

    def _exit_before_gap(self, symbol: str, wanted: Direction | None, bar: Bar) -> None:
        """The last bar before a hole: note the strategy's answer, flatten at the close."""
        if wanted is not None and wanted is not self.last_output[symbol]:
            self.last_output[symbol] = wanted
            self.signals.append(Signal(self.config.strategy, symbol, bar.timestamp, wanted, bar.close))
        qty = self.held.get(symbol, 0)
        if not qty:
            return
        side = Side.SELL if qty > 0 else Side.BUY
        price = to_decimal(bar.close)
        order = OrderRequest(
            client_order_id(self.config.strategy, symbol, bar.timestamp, "gap-exit"),
            self.config.strategy,
            symbol,
            side,
            abs(qty),
            OrderType.MARKET,
            bar.timestamp,
            price,
        )
        self.orders.append(order)
        if self._book(order, price, bar.timestamp):
            self.gap_exits.append(self.fills[-1])

    def _record_marked_equity(self, ts: datetime) -> None:
        closes = self.closes
        equity = self.cash_f
        for symbol, qty in self.held.items():
            equity += qty * closes[symbol]
        self.exposed_points += 1
        self.curve.append((ts, equity))

    def _exact_equity(self) -> Decimal:
        marks = {s: to_decimal(self.closes[s]) for s in self.held}
        return self.portfolio.equity(marks)

    def _decide(self, symbol: str, wanted: Direction, bar: Bar) -> None:
        config = self.config
        price = to_decimal(bar.close)
        current = self.held.get(symbol, 0)
        equity = self._exact_equity() if wanted.sign else ZERO
        target = target_quantity(wanted, current, config.fraction, equity, price)
        delta = target - current
        if delta == 0:
            return
        side = Side.BUY if delta > 0 else Side.SELL
        limit: Decimal | None = None
        if config.order_type is OrderType.LIMIT:
            offset = config.limit_offset_bps / _BPS
            if side is Side.BUY:
                limit = round_to_tick(price * (1 + offset), "down")
            else:
                limit = round_to_tick(price * (1 - offset), "up")
        order = OrderRequest(
            client_order_id=client_order_id(config.strategy, symbol, bar.timestamp, wanted.value),
            strategy=config.strategy,
            symbol=symbol,
            side=side,
            qty=abs(delta),
            order_type=config.order_type,
            decision_time=bar.timestamp,
            decision_price=price,
            limit_price=limit,
        )
        self.orders.append(order)
        self.pending[symbol] = order

    def _execute(self, order: OrderRequest, bar: Bar) -> None:
        config = self.config
        side = order.side
        if order.limit_price is None:
            price = config.slippage.fill_price(side, to_decimal(bar.open))
        else:
            limit = order.limit_price
            if side is Side.BUY:
                if to_decimal(bar.low) > limit:
                    self.not_filled.append(OrderOutcome(order, bar.timestamp, "limit not reached"))
                    return
                price = min(to_decimal(bar.open), limit)
            else:
                if to_decimal(bar.high) < limit:
                    self.not_filled.append(OrderOutcome(order, bar.timestamp, "limit not reached"))
                    return
                price = max(to_decimal(bar.open), limit)
        self._book(order, price, bar.timestamp)

    def _book(self, order: OrderRequest, price: Decimal, ts: datetime) -> bool:
        """Fill ``order`` in full at ``price`` (a cash account: False if it cannot be funded)."""
        config = self.config
        side = order.side
        commission = config.commission.commission(order.qty, price)
        portfolio = self.portfolio
        new_qty = portfolio.qty(order.symbol) + side.sign * order.qty
        if side is Side.BUY and new_qty > 0:
            cash_after = portfolio.cash - order.qty * price - commission
            if cash_after < 0:
                self.not_filled.append(OrderOutcome(order, ts, "insufficient buying power"))
                return False
        fill = Fill(
            order.symbol,
            ts,
            side,
            order.qty,
            price,
            commission,
            order.client_order_id,
            f"{order.client_order_id}-fill",
        )
        realized = portfolio.apply_fill(fill)
        self.book.on_fill(fill, realized)
        self.fills.append(fill)
        self.cash_f = float(portfolio.cash)
        symbol = order.symbol
        if new_qty:
            self.held[symbol] = new_qty
            self.held_direction[symbol] = Direction.LONG if new_qty > 0 else Direction.SHORT
        else:
            self.held.pop(symbol, None)
            self.held_direction[symbol] = Direction.FLAT
        return True

    def finish(self, bars: int) -> BacktestResult:
        if self.current_ts is not None:
            if self.held:
                self._record_marked_equity(self.current_ts)
            else:
                self.curve.append((self.current_ts, self.cash_f))
        for order in self.pending.values():
            self.not_filled.append(OrderOutcome(order, order.decision_time, "data ended before execution"))
        self.pending.clear()
        final_equity = self._exact_equity()
        metrics = compute_metrics(self.config.cash, final_equity, self.curve, self.book.closed, self.exposed_points)
        return BacktestResult(
            config=self.config,
            symbols=self.symbols,
            bars=bars,
            signals=self.signals,
            orders=self.orders,
            fills=self.fills,
            trades=self.book.closed,
            not_filled=self.not_filled,
            equity_curve=self.curve,
            final_cash=self.portfolio.cash,
            final_equity=final_equity,
            open_positions=dict(self.held),
            metrics=metrics,
            gap_exits=self.gap_exits,
        )
