"""Mean reversion: buy a close below the lower Bollinger band, exit at the middle band."""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies.base import Strategy, StrategyError, StrategyParams
from quantterminal.core.strategies.indicators import RollingStd


@dataclasses.dataclass(frozen=True)
class MeanReversionParams(StrategyParams):
    """Band length in bars and width in population standard deviations (ddof=0)."""

    period: int = 20
    num_std: float = 2.0

    def validate(self) -> None:
        if self.period < 2:
            raise StrategyError("mean_reversion: period must be >= 2")
        if not self.num_std > 0:
            raise StrategyError("mean_reversion: num_std must be > 0")


class MeanReversion(Strategy):
    """Bollinger-band reversion on the close.

    Flat → long when close < lower band; long → flat when close ≥ middle band. With
    ``allow_short``: flat → short when close > upper band; short → flat when close ≤ middle band.
    The strategy remembers the direction it asked for, so it keeps wanting it until its exit rule
    fires (a rejected entry is retried on the next bar while the condition holds in the engine).
    """

    name = "mean_reversion"
    params_type = MeanReversionParams
    params: MeanReversionParams

    def __init__(self, symbol: str, params: MeanReversionParams | None = None) -> None:
        super().__init__(symbol, params)
        self._bands = RollingStd(self.params.period, ddof=0)
        self._wanted = Direction.FLAT

    def on_bar(self, bar: Bar) -> Direction | None:
        close = bar.close
        bands = self._bands
        std = bands.update(close)
        if std is None:
            return None
        middle = bands.mean
        assert middle is not None
        width = self.params.num_std * std
        wanted = self._wanted
        if wanted is Direction.LONG:
            if close >= middle:
                wanted = Direction.FLAT
        elif wanted is Direction.SHORT:
            if close <= middle:
                wanted = Direction.FLAT
        elif close < middle - width:
            wanted = Direction.LONG
        elif self.params.allow_short and close > middle + width:
            wanted = Direction.SHORT
        self._wanted = wanted
        return wanted

    def _state(self) -> dict[str, Any]:
        return {"bands": self._bands.snapshot(), "wanted": self._wanted.value}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._bands.restore(state["bands"])
        self._wanted = Direction(state["wanted"])
