"""Momentum: a fast/slow simple-moving-average crossover on the close."""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies.base import Strategy, StrategyError, StrategyParams
from quantterminal.core.strategies.indicators import SMA

_LONG = Direction.LONG
_FLAT = Direction.FLAT
_SHORT = Direction.SHORT


@dataclasses.dataclass(frozen=True)
class MomentumParams(StrategyParams):
    """SMA lengths in bars."""

    fast: int = 10
    slow: int = 30

    def validate(self) -> None:
        if self.fast < 1 or self.slow < 1:
            raise StrategyError("momentum: fast and slow must be >= 1")
        if self.fast >= self.slow:
            raise StrategyError(f"momentum: fast ({self.fast}) must be shorter than slow ({self.slow})")


class Momentum(Strategy):
    """Long while SMA(fast) > SMA(slow), flat otherwise; with ``allow_short``, short while
    SMA(fast) < SMA(slow) (flat when equal)."""

    name = "momentum"
    params_type = MomentumParams
    params: MomentumParams

    def __init__(self, symbol: str, params: MomentumParams | None = None) -> None:
        super().__init__(symbol, params)
        self._fast = SMA(self.params.fast)
        self._slow = SMA(self.params.slow)
        self._below = _SHORT if self.params.allow_short else _FLAT

    def on_bar(self, bar: Bar) -> Direction | None:
        close = bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        if slow is None or fast is None:
            return None
        if fast > slow:
            return _LONG
        if fast < slow:
            return self._below
        return _FLAT

    def _state(self) -> dict[str, Any]:
        return {"fast": self._fast.snapshot(), "slow": self._slow.snapshot()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._fast.restore(state["fast"])
        self._slow.restore(state["slow"])
