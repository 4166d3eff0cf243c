"""What a backtest produced: signals, orders, fills, round trips, the equity curve and metrics,
refusals by rule, orders that did not fill and why, holes in the data -- the record every report
(the summary, the CSVs, the tearsheet, divergence, optimize) reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from quantterminal.core.accounting.metrics import Metrics
from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.trades import RoundTrip
from quantterminal.core.market_data.data_checks import Gap
from quantterminal.core.models import Fill, Signal

if TYPE_CHECKING:
    from quantterminal.core.simulation.backtest import BacktestConfig

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """An order that did not fill, or was refused before it was placed: when, why, by which rule."""

    order: Order
    time: datetime
    reason: str
    rule: str = ""


@dataclass
class BacktestResult:
    """Everything a backtest produced."""

    config: BacktestConfig  # what ran
    symbols: list[str]
    bars: int
    signals: list[Signal]
    orders: list[Order]
    fills: list[Fill]
    trades: list[RoundTrip]
    not_filled: list[OrderOutcome]
    equity_curve: Sequence[tuple[datetime, float]]  # an ``EquityCurve``: columns, not a tuple per point
    final_cash: Decimal
    final_equity: Decimal
    open_positions: dict[str, int]
    metrics: Metrics
    refused: list[OrderOutcome] = field(default_factory=list)  # by the risk manager, with the rule
    halted: str = ""  # when and why trading was halted, if it was (nothing is traded after that)
    interval: timedelta = _MINUTE  # the bar size found in the data
    gaps: list[Gap] = field(default_factory=list)  # holes in the data, by symbol
    gap_exits: list[Fill] = field(default_factory=list)  # positions closed before a hole
    outside_session: int = 0  # bars no strategy sees (pre/post-market for regular-session strategies)

    def refusals_by_rule(self) -> dict[str, int]:
        """How many orders each risk rule refused."""
        return dict(sorted(Counter(o.rule for o in self.refused).items()))
