"""The divergence report: a paper or live run against the backtest of the same strategies on one
account over the same bars, through the same kernel -- the decisions (there should be no
difference: the same strategy code on the same bars), the orders and fills (matched by client
order id), the P&L difference explained by cause (``core.pnl_attribution``: the parts add up),
then the execution drag (what trading for real cost against the backtest's fills).

Decisions. The backtest's signals are the bars where a strategy's wanted direction changed; the
live path records a decision (``Signal``) whenever it acts on a wanted direction. A live decision
*disagrees* when the backtest wanted another direction at that bar. A backtest change with no live
decision at that bar is *missed* (the live path had an order still working there, the bar came
late or not at all, or the run was halted); misses are listed with the live record's reason when
one is known, since they explain drag but are not a difference in the strategy.

Execution drag, per strategy, backtest beside live: fill rate, median time to fill, slippage in
bps against the decision price and against the limit, risk rejects, realised P&L, win rate and
Sharpe (``core.reporting``'s definitions for both sides).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.records import RiskEvent
from quantterminal.core.models import Direction, Fill, Signal
from quantterminal.core.reporting.instance_equity import Closes
from quantterminal.core.reporting.pnl_attribution import PnlExplanation, explain
from quantterminal.core.reporting.post_trade import StrategyResult, strategy_results
from quantterminal.core.simulation.backtest import BacktestResult


@dataclass(frozen=True)
class DecisionDifference:
    """One decision where live and backtest part ways."""

    strategy: str
    symbol: str
    bar_time: datetime
    backtest: Direction | None  # the direction in force in the backtest at that bar
    live: Direction | None  # the live decision at that bar (None: none recorded)

    @property
    def kind(self) -> str:
        return "missed" if self.live is None else "disagrees"


@dataclass(frozen=True)
class StrategyDivergence:
    """Backtest and live side by side for one strategy."""

    strategy: str
    live_decisions: int
    backtest_decisions: int
    disagreements: tuple[DecisionDifference, ...]
    missed: tuple[DecisionDifference, ...]
    backtest: StrategyResult
    live: StrategyResult
    backtest_sharpe: float | None  # of the strategy's backtest fills, as the run's
    rejects: int
    orders: OrderMatch
    explanation: PnlExplanation


@dataclass(frozen=True)
class OrderMatch:
    """One strategy's orders on both sides, matched by client order id, and the shares filled."""

    both: int
    backtest_only: int
    run_only: int
    backtest_refused: int
    backtest_filled_qty: int
    run_filled_qty: int


def _in_force(signals: Sequence[Signal]) -> dict[str, list[tuple[datetime, Direction]]]:
    by_symbol: dict[str, list[tuple[datetime, Direction]]] = defaultdict(list)
    for s in sorted(signals, key=lambda s: (s.symbol, s.bar_time)):
        by_symbol[s.symbol].append((s.bar_time, s.direction))
    return by_symbol


def _direction_at(changes: Sequence[tuple[datetime, Direction]], at: datetime) -> Direction | None:
    current = None
    for when, direction in changes:
        if when > at:
            break
        current = direction
    return current


def compare_decisions(
    strategy: str, backtest: Sequence[Signal], live: Sequence[Signal], start: datetime | None = None
) -> tuple[list[DecisionDifference], list[DecisionDifference]]:
    """(disagreements, missed) between one strategy's backtest and live decisions; backtest changes
    before ``start`` (the live run's first bar) are not expected live."""
    changes = _in_force(backtest)
    live_at = {(s.symbol, s.bar_time): s.direction for s in live}
    disagreements = [
        DecisionDifference(
            strategy, s.symbol, s.bar_time, _direction_at(changes.get(s.symbol, []), s.bar_time), s.direction
        )
        for s in live
        if _direction_at(changes.get(s.symbol, []), s.bar_time) is not s.direction
    ]
    missed = [
        DecisionDifference(strategy, s.symbol, s.bar_time, s.direction, None)
        for s in backtest
        if (s.symbol, s.bar_time) not in live_at and (start is None or s.bar_time >= start)
    ]
    return disagreements, missed


def _match(
    backtest_orders: Sequence[Order],
    run_orders: Sequence[Order],
    refused: int,
    backtest_fills: Sequence[Fill],
    run_fills: Sequence[Fill],
) -> OrderMatch:
    back = {o.client_order_id for o in backtest_orders}
    run = {o.client_order_id for o in run_orders}
    return OrderMatch(
        both=len(back & run),
        backtest_only=len(back - run),
        run_only=len(run - back),
        backtest_refused=refused,
        backtest_filled_qty=sum(f.qty for f in backtest_fills),
        run_filled_qty=sum(f.qty for f in run_fills),
    )


def divergence(
    backtest: BacktestResult,
    live_signals: Sequence[Signal],
    live_orders: Sequence[Order],
    live_fills: Sequence[Fill],
    risk_events: Sequence[RiskEvent],
    live_base_equity: Decimal,
    marks: Mapping[str, float | Decimal],
    closes: Closes | None = None,
) -> dict[str, StrategyDivergence]:
    """Per strategy of ``backtest``: decision differences, orders and fills matched, the P&L
    difference by cause (marked at ``marks``, each symbol's last close) and the execution drag."""
    start = min((s.bar_time for s in live_signals), default=None)
    names = list(backtest.config.names)
    # ``closes``: the sessions' closes of the bars both ran on -- each side's Sharpe on its own equity
    live = strategy_results(live_orders, live_fills, live_base_equity, names, closes)
    simulated = strategy_results(backtest.orders, backtest.fills, backtest.config.cash, names, closes)
    coid_strategy = {o.client_order_id: o.strategy for o in (*backtest.orders, *live_orders)}
    coid_strategy.update({o.order.client_order_id: o.order.strategy for o in backtest.refused})
    live_refused = [e for e in risk_events if e.kind == "rejection"]
    out = {}
    for name in names:
        mine = [s for s in live_signals if s.strategy == name]
        disagreements, missed = compare_decisions(
            name, [s for s in backtest.signals if s.strategy == name], mine, start
        )
        # The run records a decision when it tries to place an order: a change that made the
        # backtest try nothing (it was already positioned so) is not a miss.
        tried = {(o.symbol, o.decision_time) for o in backtest.orders if o.strategy == name}
        tried |= {(o.order.symbol, o.order.decision_time) for o in backtest.refused if o.order.strategy == name}
        missed = [m for m in missed if (m.symbol, m.bar_time) in tried]
        b_orders = [o for o in backtest.orders if o.strategy == name]
        r_orders = [o for o in live_orders if o.strategy == name]
        b_fills = [f for f in backtest.fills if coid_strategy.get(f.order_id) == name]
        r_fills = [f for f in live_fills if coid_strategy.get(f.order_id) == name]
        b_refused = [o.order.client_order_id for o in backtest.refused if o.order.strategy == name]
        r_refused = [str(e.details.get("client_order_id", "")) for e in live_refused if e.strategy == name]
        out[name] = StrategyDivergence(
            strategy=name,
            live_decisions=len(mine),
            backtest_decisions=sum(1 for s in backtest.signals if s.strategy == name),
            disagreements=tuple(disagreements),
            missed=tuple(missed),
            backtest=simulated[name],
            live=live[name],
            backtest_sharpe=simulated[name].sharpe,
            rejects=len(r_refused),
            orders=_match(b_orders, r_orders, len(b_refused), b_fills, r_fills),
            explanation=explain(name, b_orders, b_fills, r_orders, r_fills, b_refused, r_refused, marks),
        )
    return out
