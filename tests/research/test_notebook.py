"""The notebook API: ``quantterminal.backtest`` and ``quantterminal.optimize`` run what the CLI runs
and hand back DataFrames that add up to the exact result."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import quantterminal as qt
from tests.research.test_optimize import config


def test_backtest_returns_frames_that_add_up_to_the_exact_result() -> None:
    run = qt.backtest(["momentum"], params={"momentum": {"fast": 5}})
    result = run.result
    assert run.result.config.instances[0].params.fast == 5  # type: ignore[attr-defined]
    assert len(run.fills) == len(result.fills)
    assert list(run.trades.columns[:3]) == ["symbol", "side", "qty"]
    assert Decimal(str(round(run.trades.pnl.sum(), 2))) == sum((t.pnl for t in result.trades), Decimal(0))
    assert run.equity.index.tz is not None
    assert run.equity.equity.iloc[-1] == pytest.approx(float(result.equity_curve[-1][1]))
    assert run.metrics["num_trades"] == result.metrics.num_trades
    assert set(run.orders.strategy) == {"momentum"}


def test_optimize_returns_the_windows_out_of_sample_first_and_the_promoted_configuration(tmp_path: Path) -> None:
    search = qt.optimize(config(tmp_path, trials=3), storage=f"sqlite:///{tmp_path / 'nb.sqlite3'}")
    assert list(search.windows.columns[:3]) == ["oos_start", "oos_end", "oos_score"]
    assert len(search.windows) == 2
    assert set(search.best_params) == {"fast", "slow"}
    promoted = next(i for i in search.promoted.instances if i.name == "fast_momentum")
    assert promoted.params.fast == search.best_params["fast"]  # type: ignore[attr-defined]
    assert "fast =" in search.promoted.toml()
