"""A channel breakout that trades with stop orders, as a turtle trader does: a buy stop a cent above
the highest high of the last ``entry_bars`` bars, and once long, a sell stop a cent under the
lowest low of the last ``exit_bars`` -- both held at the broker, so the breakout is caught inside
the bar it happens in (not at the next bar's close), and the exit works between bars.

It answers ``Wanted`` (a direction with the order to reach it) instead of a bare direction. The
stops move with the channel: each move cancels the working stop and places the new one. It reads
its own position (``self.trade``) to know which stop it wants; long only.

    qterm backtest --strategy quantterminal.examples.stop_breakout:StopBreakout \\
        --param entry_bars=30 --param exit_bars=15
"""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal import Bar, Direction, Strategy, StrategyError, StrategyParams, Wanted
from quantterminal.indicators import Highest, Lowest

TICK = 0.01


@dataclasses.dataclass(frozen=True)
class StopBreakoutParams(StrategyParams):
    """Channel lengths in bars: the entry's (highest high) and the exit's (lowest low)."""

    entry_bars: int = 20
    exit_bars: int = 10

    def validate(self) -> None:
        if self.entry_bars < 2 or self.exit_bars < 2:
            raise StrategyError(f"entry_bars and exit_bars must be >= 2, got {self.entry_bars}, {self.exit_bars}")
        if self.allow_short:
            raise StrategyError("stop_breakout trades long only: allow_short must be false")


class StopBreakout(Strategy):
    """Long through a buy stop above the channel's high; out through a sell stop under its low."""

    name = "stop_breakout"
    params_type = StopBreakoutParams
    params: StopBreakoutParams
    uses_trade = True  # which stop it wants depends on whether it holds shares

    def __init__(self, symbol: str, params: StopBreakoutParams | None = None) -> None:
        super().__init__(symbol, params)
        self._high = Highest(self.params.entry_bars)
        self._low = Lowest(self.params.exit_bars)

    def on_bar(self, bar: Bar) -> Wanted | None:
        upper, lower = self._high.update(bar.high), self._low.update(bar.low)
        if upper is None or lower is None:
            return None
        if self.trade.qty > 0:  # good till canceled: the exit must outlive the session
            return Wanted(Direction.FLAT, stop=round(lower - TICK, 2), time_in_force="gtc")
        return Wanted(Direction.LONG, stop=round(upper + TICK, 2))

    def _state(self) -> dict[str, Any]:
        return {"high": self._high.snapshot(), "low": self._low.snapshot()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._high.restore(state["high"])
        self._low.restore(state["low"])
