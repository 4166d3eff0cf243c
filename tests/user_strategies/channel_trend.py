"""A user's strategy, outside the package, written against the public API only."""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal import Bar, Direction, Strategy, StrategyError, StrategyParams
from quantterminal.indicators import EMA


@dataclasses.dataclass(frozen=True)
class ChannelTrendParams(StrategyParams):
    """Two EMA lengths in bars."""

    fast: int = 8
    slow: int = 21

    def validate(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise StrategyError(f"channel_trend: need 1 <= fast < slow, got {self.fast}, {self.slow}")


class ChannelTrend(Strategy):
    """Long while EMA(fast) > EMA(slow)."""

    name = "channel_trend"
    params_type = ChannelTrendParams
    params: ChannelTrendParams

    def __init__(self, symbol: str, params: ChannelTrendParams | None = None) -> None:
        super().__init__(symbol, params)
        self._fast = EMA(self.params.fast)
        self._slow = EMA(self.params.slow)

    def on_bar(self, bar: Bar) -> Direction | None:
        fast, slow = self._fast.update(bar.close), self._slow.update(bar.close)
        if fast is None or slow is None:
            return None
        if fast > slow:
            return Direction.LONG
        return Direction.SHORT if self.params.allow_short else Direction.FLAT

    def _state(self) -> dict[str, Any]:
        return {"fast": self._fast.snapshot(), "slow": self._slow.snapshot()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._fast.restore(state["fast"])
        self._slow.restore(state["slow"])
