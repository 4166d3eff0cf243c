"""One configuration file drives backtest, paper and divergence: strategy instances (several of one
class side by side, a user's file among them), allocations, orders, risk, broker, data. Bad files
are one line naming the file and the key; a run's outputs carry a manifest and never mix."""

from __future__ import annotations

import csv
import json
import textwrap
from collections import Counter
from datetime import datetime, time
from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import load_bars, resolve_source
from quantterminal.cli.main import main
from quantterminal.config.load import ConfigError, from_text, load_config
from quantterminal.core.market_data.sessions import NEW_YORK
from quantterminal.core.reporting.post_trade import strategy_results
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.wiring.backtest import run_backtest

USER = Path(__file__).resolve().parents[1] / "user_strategies"

TWO_TRENDS = """
account = "research"

[[strategies]]
name = "trend_fast"
strategy = "{channel}:ChannelTrend"
allocation = 0.25
params = {{ fast = 3, slow = 8 }}

[[strategies]]
name = "trend_slow"
strategy = "{channel}:ChannelTrend"
allocation = 0.25
params = {{ fast = 10, slow = 30 }}

[[strategies]]
name = "momentum"
strategy = "momentum"
symbols = ["SPY"]

[risk]
position_limit = 0.10

[data]
symbols = ["SPY", "IBM", "BAC"]
backtest = "sample:lean_2013"
"""


def write_config(folder: Path, text: str = TWO_TRENDS) -> Path:
    path = folder / "quantterminal.toml"
    path.write_text(textwrap.dedent(text).format(channel=USER / "channel_trend.py"))
    return path


def test_the_shipped_configuration_loads_and_show_prints_a_file_that_loads_the_same(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shipped = load_config()
    assert [i.name for i in shipped.instances] == ["momentum", "mean_reversion", "volatility_breakout"]
    assert shipped.config.broker.kind == "simulated"
    assert not shipped.config.live
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    (tmp_path / "shown.toml").write_text(shown)
    assert load_config(tmp_path / "shown.toml").resolved() == shipped.resolved()


def test_instances_share_out_capital_and_keep_their_own_names_params_and_symbols(tmp_path: Path) -> None:
    loaded = load_config(write_config(tmp_path))
    fast, slow, momentum = loaded.instances
    assert fast.strategy is slow.strategy  # one class, two instances
    assert (fast.params.fast, slow.params.fast) == (3, 10)  # type: ignore[attr-defined]
    assert [float(i.capital_share) for i in loaded.instances] == [0.25, 0.25, 0.5]  # the rest to momentum
    assert momentum.symbols == frozenset({"SPY"})
    assert fast.symbols is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strategies = [", "not valid TOML"),
        ("strategies = []", "strategies: List should have at least 1 item"),
        (
            "account = 3\n[risk]\ndrawdown = 2",
            "account: Input should be a valid string; risk.drawdown: Input should be",
        ),
        (
            '[[strategies]]\nname = "m"\nstrategy = "momentum"\n[orders]\ntyp = "limit"',
            "orders.typ: unknown key (a typo?)",
        ),
        (
            '[[strategies]]\nname = "m"\nstrategy = "momentum"\nallocation = 1.5',
            "strategies[0].allocation: Input should be",
        ),
        ('[[strategies]]\nname = "Bad Name"\nstrategy = "momentum"', "strategies[0].name: String should match"),
        (
            '[[strategies]]\nname = "a"\nstrategy = "momentum"\nallocation = 0.6\n'
            '[[strategies]]\nname = "b"\nstrategy = "momentum"\nallocation = 0.6',
            "allocations add up to 1.2, more than the whole account (1)",
        ),
        (
            '[[strategies]]\nname = "a"\nstrategy = "momentum"\n[[strategies]]\nname = "a"\nstrategy = "momentum"',
            "names must be unique: a named twice",
        ),
        (
            '[[strategies]]\nname = "m"\nstrategy = "momentum"\nparams = { fast = 40 }',
            "strategies[0] (m).params: momentum: fast (40) must be shorter than slow (30)",
        ),
        (
            '[[strategies]]\nname = "m"\nstrategy = "momentum"\nparams = { fastest = 4 }',
            "strategies[0] (m).params: unknown parameter 'fastest'",
        ),
        (
            '[[strategies]]\nname = "m"\nstrategy = "nowhere.py:X"',
            "strategies[0] (m).strategy: strategy 'nowhere.py:X': no file",
        ),
        (
            '[[strategies]]\nname = "m"\nstrategy = "momentum"\nsymbols = ["TSLA"]',
            "names symbols not in [data].symbols: TSLA",
        ),
        ('[[strategies]]\nname = "m"\nstrategy = "momentum"\n[broker]\nkind = "ib"', "broker.kind: Input should be"),
        (
            '[[strategies]]\nname = "m"\nstrategy = "momentum"\n[risk]\ndaily_loss = 0',
            "risk.daily_loss: Input should be greater",
        ),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_text(text, "my.toml", USER)
    said = str(caught.value)
    assert said.startswith("my.toml: "), said
    assert message in said, said
    assert "\n" not in said


def test_config_check_says_ok_or_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_config(tmp_path)
    assert main(["config", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out
    assert "trend_fast" in out
    assert "allocation 25.00%" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[strategies]]\nname = "m"\nstrategy = "momentum"\n[risk]\nposition_limt = 0.2\n')
    for argv in (["config", "check", str(bad)], ["backtest", "--config", str(bad)], ["paper", "--config", str(bad)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{bad}: risk.position_limt: unknown key (a typo?)" in err
        assert len(err.strip().splitlines()) == 1, err
    assert main(["config", "check", str(tmp_path / "absent.toml")]) == 2
    assert "no such configuration file" in capsys.readouterr().err


def test_a_config_backtest_runs_every_instance_on_one_account_with_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    out = tmp_path / "out"
    assert main(["backtest", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "strategy instances on account research" in printed
    orders = (out / "orders.csv").read_text()
    assert "trend_fast" in orders
    assert "trend_slow" in orders
    # two instances of one class, different parameters: different decisions, separate books
    assert orders.count(",trend_fast,") != orders.count(",trend_slow,")
    momentum_symbols = {line.split(",")[3] for line in orders.splitlines() if ",momentum," in line}
    assert momentum_symbols <= {"SPY", "symbol"}
    # every trade names its instance: each instance's own round trips, as its own position closed
    with (out / "trades.csv").open() as handle:
        trades = list(csv.DictReader(handle))
    by_instance = Counter(t["strategy"] for t in trades)
    assert set(by_instance) == {"trend_fast", "trend_slow", "momentum"}
    loaded = load_config(config)
    c = loaded.config
    result = run_backtest(
        BacktestConfig(loaded.instances, cash=c.broker.cash, trading=c.trading(), fills=c.fills(), account="research"),
        load_bars(resolve_source(c.data.backtest or ""), symbols=list(c.data.symbols)),
    )
    per_instance = strategy_results(result.orders, result.fills, result.config.cash, result.config.names)
    assert by_instance == {name: r.round_trips for name, r in per_instance.items() if r.round_trips}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["configuration"]["account"] == "research"
    assert [s["name"] for s in manifest["configuration"]["strategies"]] == ["trend_fast", "trend_slow", "momentum"]
    assert {Path(d["path"]).name for d in manifest["data"]} >= {"SPY_1min_2013-10-04_2013-10-11_ext.csv"}
    assert all(len(d["sha256"]) == 64 for d in manifest["data"])
    assert "orders.csv" in manifest["outputs"]
    # another run into the same folder is refused, nothing written; --overwrite replaces it
    before = sorted(p.name for p in out.iterdir())
    assert main(["backtest", "--strategy", "momentum", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} holds the outputs of run {manifest['run_id']}" in err
    assert sorted(p.name for p in out.iterdir()) == before
    assert main(["backtest", "--strategy", "momentum", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["run_id"] != manifest["run_id"]


def test_the_shipped_allocation_trades_without_refusals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Each instance sizes from its share of the account, so three strategies long one symbol stay
    inside the account-wide position limit (before: 10% each against a 10% limit, most refused)."""
    shipped = tmp_path / "shipped.toml"
    assert main(["config", "show"]) == 0
    shipped.write_text(capsys.readouterr().out)
    assert main(["backtest", "--config", str(shipped), "--out", str(tmp_path / "out")]) == 0
    rows = (tmp_path / "out" / "orders.csv").read_text().splitlines()
    refused = [r for r in rows if ",refused," in r]
    assert len(rows) > 300
    assert len(refused) <= len(rows) // 100, refused[:5]


def test_paper_runs_a_users_strategy_from_the_configuration_with_no_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    database = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    argv = ["paper", "--config", str(config), "--days", "1", "--no-api", "--database", database]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "trend_fast, trend_slow, momentum" in out
    assert "no decision differs from the backtest" in out
    assert (tmp_path / "run" / "manifest.json").exists()
    # and the stand-alone report agrees, from the same file
    assert main(["divergence", "--config", str(config), "--database", database, "--account", "research"]) == 0
    report = capsys.readouterr().out
    assert "trend_fast" in report
    assert "trend_slow" in report
    # the shipped configuration is not this run's: refused in one line, never "no decision differs"
    assert main(["divergence", "--database", database, "--account", "research"]) == 2
    err = capsys.readouterr().err
    assert "the run traded instances trend_fast, trend_slow that shipped defaults does not declare" in err
    assert "compare with the run's own --config" in err
    assert len(err.strip().splitlines()) == 1
    # a chosen subset of the run's instances is compared on purpose
    assert main(["divergence", "--config", str(config), "--database", database, "--strategy", "momentum"]) == 0


def test_the_paper_summary_counts_refusals_by_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A limit tighter than the sizing: every entry is refused, and the summary says by which rule."""
    config = write_config(
        tmp_path,
        """
        [[strategies]]
        name = "momentum"
        strategy = "momentum"

        [risk]
        position_limit = 0.05
        """,
    )
    argv = ["paper", "--config", str(config), "--days", "1", "--no-api", "--database", f"sqlite:///{tmp_path}/l.db"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    summary = next(line for line in out.splitlines() if line.startswith("Paper run"))
    assert "0 orders placed" in summary
    assert "refused by risk (position_limit " in summary


def test_instances_on_one_symbol_wait_instead_of_meeting_a_wash_trade_rejection(tmp_path: Path) -> None:
    """Three strategies on one account often want opposite sides of one symbol in the same minute;
    the kernel waits a bar instead of sending an order the broker would reject as a wash trade."""
    from quantterminal.core.simulation.backtest import BacktestConfig
    from quantterminal.wiring.backtest import run_backtest
    from tests.conftest import SAMPLE_ROOT, load_bars

    shipped = load_config()
    bars = load_bars(SAMPLE_ROOT / "lean_2013", regular_hours_only=True)
    c = shipped.config
    result = run_backtest(BacktestConfig(shipped.instances, trading=c.trading(), fills=c.fills()), bars)
    assert len(result.orders) > 300
    assert not [o for o in result.not_filled if "wash trade" in o.reason]


FIVE_MINUTES = """
account = "research"

[[strategies]]
name = "trend_5m"
strategy = "{channel}:ChannelTrend"
timeframe = "5min"
params = {{ fast = 3, slow = 8 }}

[[strategies]]
name = "momentum_hourly"
strategy = "momentum"
timeframe = "1h"
params = {{ fast = 2, slow = 4 }}

[data]
symbols = ["SPY", "IBM", "BAC"]
backtest = "sample:lean_2013"
"""


def test_a_five_minute_strategy_runs_in_backtest_and_paper_with_no_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, FIVE_MINUTES)
    loaded = load_config(config)
    assert [i.timeframe for i in loaded.instances] == ["5min", "60min"]
    assert [s["timeframe"] for s in loaded.resolved()["strategies"]] == ["5min", "60min"]
    out = tmp_path / "backtest"
    assert main(["backtest", "--config", str(config), "--out", str(out)]) == 0
    orders = [line.split(",") for line in (out / "orders.csv").read_text().splitlines()[1:]]
    assert len([r for r in orders if r[2] == "trend_5m"]) > 10
    signals = [line.split(",") for line in (out / "signals.csv").read_text().splitlines()[1:]]
    five = [datetime.fromisoformat(r[0]) for r in signals if r[2] == "trend_5m"]
    hourly = [datetime.fromisoformat(r[0]) for r in signals if r[2] == "momentum_hourly"]
    assert five
    assert hourly
    assert all(t.minute % 5 == 0 for t in five)  # decided on 5-minute bars
    assert all(t.minute == 30 for t in hourly)  # hours from the 09:30 open
    capsys.readouterr()
    database = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    argv = ["paper", "--config", str(config), "--days", "2", "--no-api", "--database", database]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "no decision differs from the backtest" in printed


def test_an_unknown_bar_size_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, '[[strategies]]\nname = "m"\nstrategy = "momentum"\ntimeframe = "7min"\n')
    assert main(["backtest", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "strategies[0].timeframe: bar size '7min': use one of 1min, 5min, 15min, 30min, 60min, 1day" in err
    assert len(err.splitlines()) == 1


def test_a_daily_strategy_decides_at_the_close_and_its_order_works_from_the_next_open(tmp_path: Path) -> None:
    """Its bar completes with the session's last minute: the order is placed then, at the close
    (a day order after the close waits for the next open, as Alpaca queues it), and the simulated
    broker works it first on the next session's opening bar -- never on a bar after hours."""
    config = write_config(
        tmp_path,
        """
        [[strategies]]
        name = "daily"
        strategy = "momentum"
        timeframe = "daily"
        params = {{ fast = 1, slow = 2 }}

        [data]
        backtest = "sample:lean_2013"
        """,
    )
    out = tmp_path / "out"
    assert main(["backtest", "--config", str(config), "--out", str(out)]) == 0
    signals = [line.split(",") for line in (out / "signals.csv").read_text().splitlines()[1:]]
    assert signals
    assert {datetime.fromisoformat(r[0]).astimezone(NEW_YORK).time() for r in signals} == {time(0)}
    orders = [line.split(",") for line in (out / "orders.csv").read_text().splitlines()[1:]]
    at_close = [r for r in orders if datetime.fromisoformat(r[0]).astimezone(NEW_YORK).time() == time(15, 59)]
    assert len(at_close) >= 3, "decisions are placed on the session's last minute"
    assert all(time(9, 30) <= datetime.fromisoformat(r[0]).astimezone(NEW_YORK).time() < time(16) for r in orders)
    fills = [line.split(",") for line in (out / "fills.csv").read_text().splitlines()[1:]]
    placed_at_close = {r[1] for r in at_close}
    for fill in fills:
        if fill[6] in placed_at_close:  # filled at the next open, not after hours
            assert datetime.fromisoformat(fill[0]).astimezone(NEW_YORK).time() < time(9, 32)
    # a limit at the decision close that the next open gapped past is canceled after its first bar
    # there, and the standing decision placed again at the new price (see orders.csv)
    assert all(r[9] in ("placed", "not filled") for r in at_close)
