"""The backtest's handlers plugged into the kernel: the simulated broker with the configured fill
model and starting cash, and the in-process object state store."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.adapters.state.object_state import ObjectStateStore
from quantterminal.core.models import Bar
from quantterminal.core.simulation.backtest import BacktestConfig, Backtester, BacktestResult


def backtest_handlers(config: BacktestConfig) -> tuple[SimulatedBroker, ObjectStateStore]:
    """A fresh simulated account holding ``config.cash``, and a fresh state store."""
    broker = SimulatedBroker(SimulatorConfig(initial_cash=config.cash, fills=config.fills))
    return broker, ObjectStateStore(checked=False)  # the kernel's own records, no concurrent writer


def backtester(config: BacktestConfig) -> Backtester:
    """A backtester with the backtest's handlers."""
    return Backtester(config, backtest_handlers)


def run_backtest(
    config: BacktestConfig,
    bars_by_symbol: Mapping[str, Sequence[Bar]],
    progress: Callable[[int, int], None] | None = None,
    warmup: Mapping[str, Sequence[Bar]] | None = None,
) -> BacktestResult:
    """Backtest ``config`` over ``bars_by_symbol`` (see ``core.backtest``), its strategies warmed
    up on ``warmup``'s bars first, if given."""
    return backtester(config).run(bars_by_symbol, progress, warmup)
