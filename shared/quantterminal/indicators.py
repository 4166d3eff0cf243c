"""Incremental indicators for strategies (public API): O(1) work per bar, state as plain data
(``snapshot()`` / ``restore()``), so a strategy that keeps them restores exactly."""

from quantterminal.core.strategies.indicators import ATR, EMA, SMA, Highest, Indicator, Lowest, RateOfChange, RollingStd

__all__ = ["ATR", "EMA", "SMA", "Highest", "Indicator", "Lowest", "RateOfChange", "RollingStd"]
