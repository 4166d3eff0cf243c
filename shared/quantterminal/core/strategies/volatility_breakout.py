"""Volatility breakout: a Donchian channel breakout on the close."""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies.base import Strategy, StrategyError, StrategyParams
from quantterminal.core.strategies.indicators import Highest, Lowest


@dataclasses.dataclass(frozen=True)
class VolatilityBreakoutParams(StrategyParams):
    """Channel lengths in bars: ``entry`` for the breakout, ``exit`` for the stop channel."""

    entry: int = 20
    exit: int = 10

    def validate(self) -> None:
        if self.entry < 1 or self.exit < 1:
            raise StrategyError("volatility_breakout: entry and exit must be >= 1")


class VolatilityBreakout(Strategy):
    """Long when close > highest high of the previous ``entry`` bars (the current bar excluded);
    back to flat when close < lowest low of the previous ``exit`` bars. With ``allow_short`` the
    mirror image: short below the lowest low of the previous ``entry`` bars, covered above the
    highest high of the previous ``exit`` bars.

    No decision until both channels span full windows of *previous* bars, i.e. from bar
    ``max(entry, exit) + 1`` on.
    """

    name = "volatility_breakout"
    params_type = VolatilityBreakoutParams
    params: VolatilityBreakoutParams

    def __init__(self, symbol: str, params: VolatilityBreakoutParams | None = None) -> None:
        super().__init__(symbol, params)
        p = self.params
        self._entry_high = Highest(p.entry)
        self._exit_low = Lowest(p.exit)
        self._entry_low = Lowest(p.entry)
        self._exit_high = Highest(p.exit)
        self._wanted = Direction.FLAT

    def on_bar(self, bar: Bar) -> Direction | None:
        # Read the channels of the *previous* bars before this bar enters them.
        entry_high = self._entry_high.value
        exit_low = self._exit_low.value
        entry_low = self._entry_low.value
        exit_high = self._exit_high.value
        self._entry_high.update(bar.high)
        self._exit_low.update(bar.low)
        if self.params.allow_short:
            self._entry_low.update(bar.low)
            self._exit_high.update(bar.high)
        if entry_high is None or exit_low is None:
            return None
        close = bar.close
        wanted = self._wanted
        if wanted is Direction.LONG:
            if close < exit_low:
                wanted = Direction.FLAT
        elif wanted is Direction.SHORT:
            assert exit_high is not None
            if close > exit_high:
                wanted = Direction.FLAT
        elif close > entry_high:
            wanted = Direction.LONG
        elif self.params.allow_short and entry_low is not None and close < entry_low:
            wanted = Direction.SHORT
        self._wanted = wanted
        return wanted

    def _state(self) -> dict[str, Any]:
        return {
            "entry_high": self._entry_high.snapshot(),
            "exit_low": self._exit_low.snapshot(),
            "entry_low": self._entry_low.snapshot(),
            "exit_high": self._exit_high.snapshot(),
            "wanted": self._wanted.value,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._entry_high.restore(state["entry_high"])
        self._exit_low.restore(state["exit_low"])
        self._entry_low.restore(state["entry_low"])
        self._exit_high.restore(state["exit_high"])
        self._wanted = Direction(state["wanted"])
