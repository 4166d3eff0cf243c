"""Parameters live in the configuration, state in snapshots: a retuned parameter reaches a symbol
that already traded. On real Redis and PostgreSQL: trade with one configuration file, change the
parameters in it, start a new runtime on the same stores -- the next decisions equal a fresh
backtest's decisions with the new parameters."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lambdas import wiring
from quantterminal.config.load import load_config
from quantterminal.core.models import Bar, Direction
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.wiring.backtest import run_backtest
from quantterminal.wiring.runtime import Runtime
from tests.lambdas.harness import Live, run_bars

CONFIG = """
account = "paper"
[[strategies]]
name = "momentum"
strategy = "momentum"
params = {{ fast = {fast}, slow = {slow} }}
[data]
symbols = ["SPY"]
"""


def backtest_wants(config_file: Path, bars: list[Bar]) -> Direction | None:
    """What a fresh backtest of ``config_file`` over ``bars`` wants after the last one: its latest signal."""
    loaded = load_config(config_file)
    result = run_backtest(BacktestConfig(loaded.instances, account="paper"), {"SPY": bars})
    signals = [s for s in result.signals if s.bar_time <= bars[-1].timestamp]
    return signals[-1].direction if signals else None


def test_a_retuned_parameter_reaches_a_symbol_that_already_traded(
    traded: Live, spy_2011_rth: list[Bar], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: 150 minutes traded, decided, booked and recorded under the shipped 10/30
    store = traded.runtime.store
    before = store.load_snapshot("momentum", "SPY")
    assert before is not None
    assert (before["params"]["fast"], before["params"]["slow"]) == (10, 30)
    # When: the file says 4/12 and a new runtime (a redeployed Lambda) starts on the same stores
    file = tmp_path / "quantterminal.toml"
    file.write_text(CONFIG.format(fast=4, slow=12), encoding="utf-8")
    loaded = load_config(file)
    wiring.use(Runtime.build(store, traded.runtime.ledger, traded.broker, strategies=loaded.instances))
    caplog.set_level(logging.WARNING, logger="quantterminal.core.trading.desk")
    following = spy_2011_rth[150:200]
    wanted = []
    for bar in following:
        assert run_bars(traded, [bar]) == [{"batchItemFailures": []}]
        snapshot = store.load_snapshot("momentum", "SPY")
        assert snapshot is not None
        wanted.append(snapshot["last_bar"]["wanted"])
    # Then: the strategy was rebuilt once, with the file's parameters, warmed up on the ledger's bars
    rebuilt = [r.getMessage() for r in caplog.records if "parameters changed" in r.getMessage()]
    assert len(rebuilt) == 1
    assert "fast=4, slow=12" in rebuilt[0]
    assert "warmed up on 150 stored bars" in rebuilt[0]
    assert (snapshot["params"]["fast"], snapshot["params"]["slow"]) == (4, 12)
    # ... and every decision since equals a fresh backtest's with the new parameters
    expected = [backtest_wants(file, spy_2011_rth[: 151 + i]) for i in range(len(following))]
    assert wanted == [None if d is None else d.value for d in expected]
    # the old parameters would have decided otherwise somewhere: the test can tell them apart
    file.write_text(CONFIG.format(fast=10, slow=30), encoding="utf-8")
    old = [backtest_wants(file, spy_2011_rth[: 151 + i]) for i in range(len(following))]
    assert old != expected
