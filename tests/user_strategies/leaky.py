"""Strategies that break the guarantees, for the checks to catch."""

from __future__ import annotations

from typing import Any, ClassVar

from quantterminal import Bar, Direction, Strategy, StrategyParams


class ForgetsState(Strategy):
    """Counts bars but does not keep the count in its snapshot: a restored copy starts over."""

    name = "forgets_state"
    params_type = StrategyParams

    def __init__(self, symbol: str, params: StrategyParams | None = None) -> None:
        super().__init__(symbol, params)
        self._seen = 0

    def on_bar(self, bar: Bar) -> Direction | None:
        self._seen += 1
        return Direction.LONG if self._seen % 50 < 25 else Direction.FLAT

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass


class SharedMemory(Strategy):
    """Keeps closes on the class: every instance (and every later run) sees the others' bars."""

    name = "shared_memory"
    params_type = StrategyParams
    closes: ClassVar[list[float]] = []

    def on_bar(self, bar: Bar) -> Direction | None:
        self.closes.append(bar.close)
        return Direction.LONG if bar.close >= max(self.closes) * 0.999 else Direction.FLAT

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass


class NotAStrategy:
    name = "nope"


class ForgetsBarsInTrade(Strategy):
    """Reads its trade and leaves after 20 bars in it, but keeps the count outside its snapshot:
    restored mid-trade, it holds longer than the original."""

    name = "forgets_bars_in_trade"
    params_type = StrategyParams
    uses_trade = True

    def __init__(self, symbol: str, params: StrategyParams | None = None) -> None:
        super().__init__(symbol, params)
        self._in_trade = 0

    def on_bar(self, bar: Bar) -> Direction | None:
        self._in_trade = self._in_trade + 1 if self.trade.qty else 0
        return Direction.FLAT if self._in_trade >= 20 else Direction.LONG

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass
