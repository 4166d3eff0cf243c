"""QuantTerminal: one strategy codebase from backtest to live trading on AWS.

The public strategy API -- what a user's strategy imports, and all the built-in strategies use::

    from quantterminal import Bar, Direction, ExitOrders, Strategy, StrategyError, StrategyParams, TradeView, Wanted
    from quantterminal.indicators import SMA, EMA, RollingStd, Highest, Lowest, ATR, RateOfChange
    from quantterminal.testing import check_strategy  # snapshot/restore and no look-ahead, on real bars

Research from a notebook: ``quantterminal.backtest(...)``, ``quantterminal.optimize(...)`` and
``quantterminal.download(...)`` return DataFrames (``docs/research.md``). See
``docs/strategies.md``. Everything else in the package may change between versions.
Layers point one way: entrypoints (``cli``, lambdas, ecs_feed, cdk) → ``wiring`` → ``adapters`` →
``core``; ``core`` is pure Python with no I/O.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantterminal.core.models import Bar, Direction
    from quantterminal.core.strategies.base import Strategy, StrategyError, StrategyParams
    from quantterminal.core.strategies.exit_orders import ExitOrders
    from quantterminal.core.strategies.trade_view import TradeView, WorkingOrder
    from quantterminal.core.strategies.wanted import Wanted
    from quantterminal.wiring.notebook import backtest, download, optimize

__version__ = "0.1.0"
__all__ = [
    "Bar",
    "Direction",
    "ExitOrders",
    "Strategy",
    "StrategyError",
    "StrategyParams",
    "TradeView",
    "Wanted",
    "WorkingOrder",
    "__version__",
    "backtest",
    "download",
    "optimize",
]
_HOMES = {  # imported on first use: ``qterm --help`` and the CLI's start stay quick
    "Bar": "quantterminal.core.models",
    "Direction": "quantterminal.core.models",
    "ExitOrders": "quantterminal.core.strategies.exit_orders",  # exits a strategy has the broker hold
    "Strategy": "quantterminal.core.strategies.base",
    "StrategyError": "quantterminal.core.strategies.base",
    "StrategyParams": "quantterminal.core.strategies.base",
    "TradeView": "quantterminal.core.strategies.trade_view",  # a strategy's own position, read-only
    "WorkingOrder": "quantterminal.core.strategies.trade_view",
    "Wanted": "quantterminal.core.strategies.wanted",  # a direction with the stop or limit order to reach it
    "backtest": "quantterminal.wiring.notebook",  # research from a notebook: results as DataFrames
    "optimize": "quantterminal.wiring.notebook",
    "download": "quantterminal.wiring.notebook",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'quantterminal' has no attribute {name!r}")
