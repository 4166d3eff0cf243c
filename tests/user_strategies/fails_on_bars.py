"""A strategy that loads and validates, then fails on its first bar: ``config check`` must find it."""

from __future__ import annotations

from typing import Any

from quantterminal import Bar, Direction, Strategy, StrategyParams


class FailsOnBars(Strategy):
    """Divides by a window of zero bars."""

    name = "fails_on_bars"
    params_type = StrategyParams

    def on_bar(self, bar: Bar) -> Direction | None:
        window = 0
        return Direction.LONG if bar.close / window > 1 else Direction.FLAT

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass
