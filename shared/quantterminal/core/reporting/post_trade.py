"""Post-trade analysis of a live or paper account from its ledger records: per-strategy results,
execution quality and the daily report. Pure functions over what the ledger returns.

Definitions (the same in the daily report, the HTTP API and the dashboard):
- **Slippage** of a fill, in bps, against a reference price: positive is a cost
  (a buy above / a sell below the reference). Measured against the *decision* price (the close
  of the bar the strategy decided on) and, for limit orders, against the *limit*.
- **Fill rate**: orders completely filled / orders placed. **Time to fill**: from the decision
  (the decision bar's close) to the order's last fill.
- **Round trips and realised P&L** per strategy: FIFO over that strategy's fills per symbol, in
  execution order (net of commissions).
- **Strategy Sharpe and drawdown**, where the sessions' closes are at hand (the divergence
  report): the instance's own equity at each session close -- the account's starting equity, its
  realised P&L net of commissions, its open positions marked at that session's closes -- through
  the account's definitions (``core.accounting.metrics``), so an instance alone on its account
  has the account's Sharpe to the digit; its drawdown is measured at session closes. Where they
  are not (the daily report, the HTTP API's per-strategy table, read every second): its daily
  return is its realised P&L of the day over the starting equity, and its drawdown that of the
  cumulative realised P&L.
- **Account Sharpe and drawdown**: from the recorded equity curve (``core.metrics``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from quantterminal.core.accounting.metrics import daily_equity, daily_returns, max_drawdown, sharpe_ratio
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.accounting.portfolio import Position
from quantterminal.core.accounting.records import EquitySnapshot, RiskEvent
from quantterminal.core.accounting.trades import RoundTrip, RoundTripBook, exit_reason
from quantterminal.core.market_data.calendar import is_early_close, is_trading_day
from quantterminal.core.market_data.sessions import day_bounds, session_date
from quantterminal.core.models import Fill, Side
from quantterminal.core.money import ZERO
from quantterminal.core.reporting.instance_equity import Closes, marked_equity
from quantterminal.core.reporting.ports import TradeHistory

_BPS = 10_000.0
BAR = timedelta(minutes=1)
LEDGER_START = datetime(2000, 1, 1, tzinfo=UTC)  # "to date" and "the whole run" count from here


def slippage_bps(side: Side, price: Decimal, reference: Decimal) -> float:
    """How much worse than ``reference`` a fill at ``price`` was, in bps (negative: better).

    >>> slippage_bps(Side.BUY, Decimal("100.05"), Decimal("100"))
    5.0
    >>> slippage_bps(Side.SELL, Decimal("100.05"), Decimal("100"))
    -5.0
    """
    return side.sign * float((price - reference) / reference) * _BPS


def fill_row(fill: Fill) -> dict[str, object]:
    """A fill as JSON-ready data (exact money as strings)."""
    return {
        "time": fill.timestamp.isoformat(),
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": fill.qty,
        "price": str(fill.price),
        "commission": str(fill.commission),
        "client_order_id": fill.order_id,
        "execution_id": fill.execution_id,
    }


@dataclass(frozen=True)
class ExecutionQuality:
    """How a set of orders fared at the broker."""

    orders: int
    filled: int
    partially_filled: int
    unfilled: int
    fill_rate: float | None
    median_seconds_to_fill: float | None
    slippage_bps_vs_decision: float | None  # fill-quantity weighted mean
    slippage_bps_vs_limit: float | None  # limit orders only

    def as_dict(self) -> dict[str, object]:
        return {
            "orders": self.orders,
            "filled": self.filled,
            "partially_filled": self.partially_filled,
            "unfilled": self.unfilled,
            "fill_rate": self.fill_rate,
            "median_seconds_to_fill": self.median_seconds_to_fill,
            "slippage_bps_vs_decision": self.slippage_bps_vs_decision,
            "slippage_bps_vs_limit": self.slippage_bps_vs_limit,
        }


def execution_quality(orders: Sequence[Order], fills: Iterable[Fill]) -> ExecutionQuality:
    """Fill rate, time to fill and slippage of ``orders`` given the fills of (at least) them."""
    by_order: dict[str, list[Fill]] = defaultdict(list)
    for f in fills:
        by_order[f.order_id].append(f)
    filled = partial = 0
    seconds: list[float] = []
    vs_decision: list[tuple[float, int]] = []
    vs_limit: list[tuple[float, int]] = []
    for order in orders:
        if order.decision_time is None or order.decision_price is None:
            continue  # not an order the kernel decided (the ledger records only those)
        mine = by_order.get(order.client_order_id, [])
        qty = sum(f.qty for f in mine)
        if qty >= order.qty:
            filled += 1
            seconds.append((max(f.timestamp for f in mine) - (order.decision_time + BAR)).total_seconds())
        elif qty > 0:
            partial += 1
        for f in mine:
            vs_decision.append((slippage_bps(order.side, f.price, order.decision_price), f.qty))
            if order.order_type is OrderType.LIMIT and order.limit_price is not None:
                vs_limit.append((slippage_bps(order.side, f.price, order.limit_price), f.qty))

    def weighted(pairs: list[tuple[float, int]]) -> float | None:
        total = sum(q for _, q in pairs)
        return sum(v * q for v, q in pairs) / total if total else None

    n = len(orders)
    return ExecutionQuality(
        orders=n,
        filled=filled,
        partially_filled=partial,
        unfilled=n - filled - partial,
        fill_rate=filled / n if n else None,
        median_seconds_to_fill=statistics.median(seconds) if seconds else None,
        slippage_bps_vs_decision=weighted(vs_decision),
        slippage_bps_vs_limit=weighted(vs_limit),
    )


def round_trips(
    fills: Iterable[Fill], orders: Iterable[Order] = (), strategy: str = ""
) -> tuple[list[RoundTrip], Decimal]:
    """Closed round trips of one strategy's fills (``strategy``: its instance's name, on every
    trip) and its realised P&L net of commissions; each trip's exit reason from the order that
    closed it (``orders``: those known; else "signal")."""
    reasons = {o.client_order_id: exit_reason(o) for o in orders}
    positions: dict[str, Position] = {}
    book = RoundTripBook()
    realized = ZERO
    for f in sorted(fills, key=lambda f: (f.timestamp, f.execution_id)):
        gross = positions.setdefault(f.symbol, Position(f.symbol)).apply(f.side, f.qty, f.price)
        realized += gross - f.commission
        book.on_fill(f, gross, reasons.get(f.order_id, "signal"), strategy)
    return book.closed, realized


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's record over a period."""

    strategy: str
    orders: int
    fills: int
    realized_pnl: Decimal
    round_trips: int
    win_rate: float | None
    avg_trade: Decimal | None
    sharpe: float | None
    max_drawdown: float
    execution: ExecutionQuality

    def as_dict(self) -> dict[str, object]:
        return {
            "strategy": self.strategy,
            "orders": self.orders,
            "fills": self.fills,
            "realized_pnl": str(self.realized_pnl),
            "round_trips": self.round_trips,
            "win_rate": self.win_rate,
            "avg_trade": None if self.avg_trade is None else str(self.avg_trade),
            "sharpe": self.sharpe,
            "max_drawdown": self.max_drawdown,
            "execution": self.execution.as_dict(),
        }


def strategy_results(
    orders: Sequence[Order],
    fills: Sequence[Fill],
    base_equity: Decimal,
    strategies: Iterable[str] = (),
    closes: Closes | None = None,
) -> dict[str, StrategyResult]:
    """Per-strategy results (see the module docs); ``strategies`` listed even without orders.
    ``closes``: the sessions' closes, for each instance's Sharpe and drawdown on its own equity."""
    strategy_of = {o.client_order_id: o.strategy for o in orders}
    names = sorted({*strategies, *strategy_of.values()})
    results = {}
    for name in names:
        mine = [f for f in fills if strategy_of.get(f.order_id) == name]
        trips, realized = round_trips(mine, strategy=name)
        pnls = [t.pnl for t in trips]
        by_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for t in trips:
            by_day[session_date(t.exit_time)] += t.pnl
        base = float(base_equity) if base_equity > 0 else 1.0
        if closes:
            daily = marked_equity(mine, closes, base_equity)
            sharpe = sharpe_ratio(daily_returns(base, daily))
            drawdown = max_drawdown([e for _, e in daily], base)
        else:
            cumulative, curve = base, []
            for day in sorted(by_day):
                cumulative += float(by_day[day])
                curve.append(cumulative)
            sharpe = sharpe_ratio([float(by_day[d]) / base for d in sorted(by_day)])
            drawdown = max_drawdown(curve, base)
        results[name] = StrategyResult(
            strategy=name,
            orders=sum(1 for o in orders if o.strategy == name),
            fills=len(mine),
            realized_pnl=realized,
            round_trips=len(trips),
            win_rate=sum(1 for p in pnls if p > 0) / len(pnls) if pnls else None,
            avg_trade=sum(pnls, ZERO) / len(pnls) if pnls else None,
            sharpe=sharpe,
            max_drawdown=drawdown,
            execution=execution_quality([o for o in orders if o.strategy == name], mine),
        )
    return results


@dataclass(frozen=True)
class AccountCurve:
    """The account's equity curve summarised."""

    start_equity: Decimal | None
    end_equity: Decimal | None
    sharpe: float | None
    max_drawdown: float
    points: int


def account_curve(curve: Sequence[EquitySnapshot]) -> AccountCurve:
    """Sharpe and drawdown of a recorded equity curve (``core.metrics`` conventions)."""
    if not curve:
        return AccountCurve(None, None, None, 0.0, 0)
    start = curve[0].equity
    series = [(s.timestamp, float(s.equity)) for s in curve]
    returns = daily_returns(float(start), daily_equity(series))
    return AccountCurve(
        start, curve[-1].equity, sharpe_ratio(returns), max_drawdown([e for _, e in series], float(start)), len(curve)
    )


@dataclass(frozen=True)
class DailyReport:
    """What one trading day did, and the account's record to date."""

    account: str
    day: date
    trading_day: bool
    early_close: bool
    fills: tuple[Fill, ...]
    orders: int
    equity_open: Decimal | None
    equity_close: Decimal | None
    pnl: Decimal | None
    strategies: Mapping[str, StrategyResult]
    execution: ExecutionQuality
    rejects: Mapping[str, int]  # risk rule -> count
    alerts: tuple[str, ...]
    to_date: AccountCurve
    win_rate_to_date: float | None
    round_trips_to_date: int
    curve: tuple[tuple[datetime, float], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (money as exact strings)."""

        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "account": self.account,
            "day": self.day.isoformat(),
            "trading_day": self.trading_day,
            "early_close": self.early_close,
            "orders": self.orders,
            "equity_open": money(self.equity_open),
            "equity_close": money(self.equity_close),
            "pnl": money(self.pnl),
            "execution": self.execution.as_dict(),
            "rejects": dict(self.rejects),
            "alerts": list(self.alerts),
            "strategies": {k: v.as_dict() for k, v in self.strategies.items()},
            "to_date": {
                "start_equity": money(self.to_date.start_equity),
                "sharpe": self.to_date.sharpe,
                "max_drawdown": self.to_date.max_drawdown,
                "win_rate": self.win_rate_to_date,
                "round_trips": self.round_trips_to_date,
            },
            "trades": [fill_row(f) for f in self.fills],
        }

    def summary(self) -> str:
        """A readable plain-text summary (the alert email's body)."""

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.1%}"

        def num(value: float | None, fmt: str = ".2f") -> str:
            return "-" if value is None else format(value, fmt)

        head = f"QuantTerminal daily report -- {self.account}, {self.day.isoformat()}"
        if not self.trading_day:
            return f"{head}\nThe market was closed: no session, nothing traded.\n"
        lines = [head + (" (early close, 13:00 New York)" if self.early_close else ""), ""]
        lines.append(
            f"P&L {'-' if self.pnl is None else f'{self.pnl:+,.2f}'}   equity "
            f"{'-' if self.equity_close is None else f'{self.equity_close:,.2f}'}   orders {self.orders}   "
            f"fills {len(self.fills)}   rejects {sum(self.rejects.values())}"
        )
        e = self.execution
        lines.append(
            f"fill rate {pct(e.fill_rate)}   median time to fill {num(e.median_seconds_to_fill, '.1f')} s   "
            f"slippage {num(e.slippage_bps_vs_decision)} bps vs decision, {num(e.slippage_bps_vs_limit)} bps vs limit"
        )
        lines.append(
            f"to date: Sharpe {num(self.to_date.sharpe)}   max drawdown {pct(self.to_date.max_drawdown)}   "
            f"win rate {pct(self.win_rate_to_date)} over {self.round_trips_to_date} round trips"
        )
        if self.strategies:
            lines += ["", f"{'strategy':<22}{'orders':>7}{'fills':>7}{'realised':>13}{'win rate':>10}"]
            for name, r in self.strategies.items():
                lines.append(f"{name:<22}{r.orders:>7}{r.fills:>7}{r.realized_pnl:>13,.2f}{pct(r.win_rate):>10}")
        if self.rejects:
            lines += ["", "rejects: " + ", ".join(f"{rule} {n}" for rule, n in sorted(self.rejects.items()))]
        if self.alerts:
            lines += ["", "alerts:", *(f"  - {a}" for a in self.alerts)]
        return "\n".join(lines) + "\n"


def daily_report(
    account: str,
    day: date,
    *,
    trading_day: bool,
    early_close: bool,
    orders_today: Sequence[Order],
    fills_today: Sequence[Fill],
    risk_events_today: Sequence[RiskEvent],
    orders_to_date: Sequence[Order],
    fills_to_date: Sequence[Fill],
    curve_to_date: Sequence[EquitySnapshot],
) -> DailyReport:
    """The report of ``day`` (see the module docs for every definition)."""
    today = [s for s in curve_to_date if session_date(s.timestamp) == day]
    before = [s for s in curve_to_date if session_date(s.timestamp) < day]
    equity_open = before[-1].equity if before else (today[0].equity if today else None)
    equity_close = today[-1].equity if today else None
    base = curve_to_date[0].equity if curve_to_date else ZERO
    strategy_of = {o.client_order_id: o.strategy for o in orders_to_date}
    by_strategy: dict[str, list[Fill]] = defaultdict(list)
    for f in fills_to_date:
        by_strategy[strategy_of.get(f.order_id, "?")].append(f)
    trips = [t for name, fills in by_strategy.items() for t in round_trips(fills, strategy=name)[0]]
    return DailyReport(
        account=account,
        day=day,
        trading_day=trading_day,
        early_close=early_close,
        fills=tuple(fills_today),
        orders=len(orders_today),
        equity_open=equity_open,
        equity_close=equity_close,
        pnl=None if equity_open is None or equity_close is None else equity_close - equity_open,
        strategies=strategy_results(orders_today, fills_today, base),
        execution=execution_quality(orders_today, fills_today),
        rejects=dict(Counter(e.details.get("rule", "?") for e in risk_events_today if e.kind == "rejection")),
        alerts=tuple(e.reason for e in risk_events_today if e.kind in ("alert", "halt")),
        to_date=account_curve(curve_to_date),
        win_rate_to_date=sum(1 for t in trips if t.pnl > 0) / len(trips) if trips else None,
        round_trips_to_date=len(trips),
        curve=tuple((s.timestamp, float(s.equity)) for s in curve_to_date),
    )


def report_for(ledger: TradeHistory, account: str, day: date, since: datetime) -> DailyReport:
    """The daily report of ``day`` from the ledger; "to date" figures count from ``since``."""
    end = day_bounds(day)[1]
    return daily_report(
        account,
        day,
        trading_day=is_trading_day(day),
        early_close=is_early_close(day),
        orders_today=ledger.orders_on(day),
        fills_today=ledger.fills_on(day),
        risk_events_today=[e for e in ledger.risk_events_on(day) if e.account == account],
        orders_to_date=ledger.orders_between(since, end),
        fills_to_date=ledger.fills_between(since, end),
        curve_to_date=ledger.equity_curve(account, since, end),
    )
