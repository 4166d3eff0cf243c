"""An EMA trend follower that manages its trade: it reads its own position from the kernel
(``self.trade``) and leaves on a stop-loss or a take-profit measured from the price it actually
entered at, or after a time limit -- then sits out until the trend turns.

The exits are decided on each bar's close: between bars nothing protects the position.

    qterm backtest --strategy quantterminal.examples.trend_with_exits:TrendWithExits \\
        --param stop_loss_bps=30 --param take_profit_bps=60
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from quantterminal import Bar, Direction, Strategy, StrategyError, StrategyParams
from quantterminal.indicators import EMA


@dataclasses.dataclass(frozen=True)
class TrendWithExitsParams(StrategyParams):
    """EMA lengths in bars; exits in basis points of the entry price, and minutes held."""

    fast: int = 10
    slow: int = 30
    stop_loss_bps: float = 30.0
    take_profit_bps: float = 60.0
    max_minutes: int = 120  # 0: no time limit

    def validate(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise StrategyError(f"need 1 <= fast < slow, got {self.fast}, {self.slow}")
        if self.stop_loss_bps <= 0 or self.take_profit_bps <= 0:
            raise StrategyError("stop_loss_bps and take_profit_bps must be > 0")
        if self.max_minutes < 0:
            raise StrategyError(f"max_minutes must be >= 0, got {self.max_minutes}")


class TrendWithExits(Strategy):
    """Long (or short, if allowed) with the EMA trend; out at the stop, the target or the time limit."""

    name = "trend_with_exits"
    params_type = TrendWithExitsParams
    params: TrendWithExitsParams
    uses_trade = True  # reads self.trade: its position, entry price and entry time

    def __init__(self, symbol: str, params: TrendWithExitsParams | None = None) -> None:
        super().__init__(symbol, params)
        self._fast = EMA(self.params.fast)
        self._slow = EMA(self.params.slow)
        self._sitting_out: Direction | None = None  # the trend an exit left: not re-entered until it turns

    def trend(self, bar: Bar) -> Direction | None:
        """The EMA trend after ``bar`` (``None`` while the averages warm up)."""
        fast, slow = self._fast.update(bar.close), self._slow.update(bar.close)
        if fast is None or slow is None:
            return None
        return Direction.LONG if fast > slow else Direction.SHORT if self.params.allow_short else Direction.FLAT

    def on_bar(self, bar: Bar) -> Direction | None:
        trend = self.trend(bar)
        if trend is None:
            return None
        trade = self.trade
        if trade.qty and self._exit_now(bar, trade.return_since_entry, trade.entry_time):
            self._sitting_out = trade.direction
            return Direction.FLAT
        if self._sitting_out is not None:
            if trend is self._sitting_out:
                return Direction.FLAT
            self._sitting_out = None
        return trend

    def _exit_now(self, bar: Bar, change: float | None, entered: datetime | None) -> bool:
        p = self.params
        if change is not None and (change <= -p.stop_loss_bps / 10_000 or change >= p.take_profit_bps / 10_000):
            return True
        limit = timedelta(minutes=p.max_minutes)
        return bool(p.max_minutes and entered is not None and bar.timestamp - entered >= limit)

    def _state(self) -> dict[str, Any]:
        out = None if self._sitting_out is None else self._sitting_out.value
        return {"fast": self._fast.snapshot(), "slow": self._slow.snapshot(), "sitting_out": out}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._fast.restore(state["fast"])
        self._slow.restore(state["slow"])
        out = state["sitting_out"]
        self._sitting_out = None if out is None else Direction(out)
