"""``trend_with_exits``'s EMA trend with its exits held by the broker instead: a stop-loss and a
take-profit on every entry (a bracket, good till canceled) and a longest hold, declared once
with ``exit_orders`` from the same parameters.

Unlike ``trend_with_exits``, which decides its exits on each bar's close, these work between bars
and while no process of ours runs; the kernel keeps the instance out after an exit until the trend
turns. Trades say what closed them (signal, stop, take-profit, time).

    qterm backtest --strategy quantterminal.examples.bracketed_trend:BracketedTrend \\
        --param stop_loss_bps=30 --param take_profit_bps=60 --param max_minutes=120
"""

from __future__ import annotations

from quantterminal import Bar, Direction, ExitOrders, StrategyParams
from quantterminal.examples.trend_with_exits import TrendWithExits, TrendWithExitsParams


class BracketedTrend(TrendWithExits):
    """Long (or short, if allowed) with the EMA trend, protected at the broker."""

    name = "bracketed_trend"
    uses_trade = False  # the broker and the kernel do the exits: nothing to read

    @classmethod
    def exit_orders(cls, params: StrategyParams) -> ExitOrders | None:
        assert isinstance(params, TrendWithExitsParams)
        return ExitOrders(
            stop_loss_bps=params.stop_loss_bps,
            take_profit_bps=params.take_profit_bps,
            max_holding_minutes=params.max_minutes or None,
        )

    def on_bar(self, bar: Bar) -> Direction | None:
        return self.trend(bar)
