"""The strategy registry: look strategies up by name, build them with overridable parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quantterminal.core.strategies.base import (
    Strategy,
    StrategyError,
    StrategyParams,
    parse_params,
)
from quantterminal.core.strategies.instance import StrategyInstance, share_capital
from quantterminal.core.strategies.mean_reversion import MeanReversion, MeanReversionParams
from quantterminal.core.strategies.momentum import Momentum, MomentumParams
from quantterminal.core.strategies.volatility_breakout import (
    VolatilityBreakout,
    VolatilityBreakoutParams,
)

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (Momentum, MeanReversion, VolatilityBreakout)}


def strategy_class(name: str) -> type[Strategy]:
    """The strategy class registered as ``name``."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise StrategyError(f"unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})") from None


def build_params(name: str, overrides: Mapping[str, Any] | None = None) -> StrategyParams:
    """Validated parameters for strategy ``name``: defaults plus ``overrides``."""
    return parse_params(strategy_class(name).params_type, overrides or {})


def builtin_instance(name: str, overrides: Mapping[str, Any] | None = None) -> StrategyInstance:
    """The built-in strategy ``name`` as an instance of that name (the whole account's capital)."""
    return StrategyInstance.of(strategy_class(name), params=overrides)


def restore_strategy(snapshot: Mapping[str, Any]) -> Strategy:
    """Rebuild whichever strategy ``snapshot`` was taken from."""
    return strategy_class(str(snapshot.get("strategy"))).restore(snapshot)


__all__ = [
    "STRATEGIES",
    "MeanReversion",
    "MeanReversionParams",
    "Momentum",
    "MomentumParams",
    "Strategy",
    "StrategyError",
    "StrategyInstance",
    "StrategyParams",
    "VolatilityBreakout",
    "VolatilityBreakoutParams",
    "build_params",
    "builtin_instance",
    "parse_params",
    "restore_strategy",
    "share_capital",
    "strategy_class",
]
