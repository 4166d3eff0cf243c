"""A user's trend follower that enters through buy stops (``Wanted``) and leaves on its own answer:
with exit legs configured, each position it opens gets them as one-cancels-other once filled."""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal import Bar, Direction, Strategy, StrategyError, StrategyParams, Wanted
from quantterminal.indicators import EMA


@dataclasses.dataclass(frozen=True)
class StopTrendParams(StrategyParams):
    """Two EMA lengths in bars."""

    fast: int = 5
    slow: int = 15

    def validate(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise StrategyError(f"stop_trend: need 1 <= fast < slow, got {self.fast}, {self.slow}")


class StopTrend(Strategy):
    """In the trend: a buy stop a cent over the bar's high; out of it: flat."""

    name = "stop_trend"
    params_type = StopTrendParams
    params: StopTrendParams

    def __init__(self, symbol: str, params: StopTrendParams | None = None) -> None:
        super().__init__(symbol, params)
        self._fast = EMA(self.params.fast)
        self._slow = EMA(self.params.slow)

    def on_bar(self, bar: Bar) -> Direction | Wanted | None:
        fast, slow = self._fast.update(bar.close), self._slow.update(bar.close)
        if fast is None or slow is None:
            return None
        return Wanted(Direction.LONG, stop=round(bar.high + 0.01, 2)) if fast > slow else Direction.FLAT

    def _state(self) -> dict[str, Any]:
        return {"fast": self._fast.snapshot(), "slow": self._slow.snapshot()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._fast.restore(state["fast"])
        self._slow.restore(state["slow"])
