"""A user's own strategy, named by spec everywhere a strategy is: built-in names, files, modules,
entry points -- with one clear line for each way a spec can be wrong -- and the public API and
checks a user writes and tests one against."""

from __future__ import annotations

import ast
import csv
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

import quantterminal
import quantterminal.indicators
from quantterminal.cli.main import main
from quantterminal.config.strategies import SpecError, load_strategy
from quantterminal.core.strategies import STRATEGIES, Momentum
from quantterminal.testing import StrategyCheckError, check_strategy, sample_bars

USER = Path(__file__).resolve().parents[1] / "user_strategies"
CHANNEL = f"{USER / 'channel_trend.py'}:ChannelTrend"


def test_a_strategy_is_named_by_builtin_name_file_module_or_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_strategy("momentum") is Momentum
    by_file = load_strategy(CHANNEL)
    assert by_file.__name__ == "ChannelTrend"
    assert load_strategy(str(USER / "channel_trend.py")) is by_file  # one strategy in the file: no class needed
    assert load_strategy("channel_trend.py:ChannelTrend", base=USER) is by_file  # relative to a base folder
    # a module on the Python path
    package = tmp_path / "acme_strats"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "trend.py").write_text((USER / "channel_trend.py").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_strategy("acme_strats.trend:ChannelTrend").__name__ == "ChannelTrend"
    # an installed entry point (a dist-info as pip writes it)
    dist = tmp_path / "acme_strats-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-strats\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[quantterminal.strategies]\nacme_trend = acme_strats.trend:ChannelTrend\n")
    assert load_strategy("acme_trend").__name__ == "ChannelTrend"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown strategy 'nope': not built in, not an installed entry point"),
        ("missing.py:X", "no file"),
        (f"{USER / 'channel_trend.py'}:Nope", "no Nope in"),
        (f"{USER / 'leaky.py'}:NotAStrategy", "is not a Strategy subclass"),
        (
            f"{USER / 'leaky.py'}",
            "name the class as leaky.py:CLASS (strategies in the file: ForgetsState, SharedMemory, ForgetsBarsInTrade)",
        ),
        ("no_such_package.mod:Thing", "no module 'no_such_package' on the Python path"),
        ("quantterminal.core.strategies.base:Strategy", "does not implement"),
    ],
)
def test_a_bad_spec_is_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_strategy(spec)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_file_that_does_not_import_says_where(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("from quantterminal import Strategy\n\nclass Broken(Strategy:\n    pass\n")
    with pytest.raises(SpecError, match=r"does not import: SyntaxError: .* \(line 3\)"):
        load_strategy(f"{tmp_path / 'broken.py'}:Broken")
    (tmp_path / "raises.py").write_text("raise RuntimeError('needs a database')\n")
    with pytest.raises(SpecError, match="does not import: RuntimeError: needs a database"):
        load_strategy(f"{tmp_path / 'raises.py'}:X")


EXAMPLE = "quantterminal.examples.trend_with_exits:TrendWithExits"
BRACKETED = "quantterminal.examples.bracketed_trend:BracketedTrend"


def test_the_public_api_is_what_a_strategy_needs_and_the_builtins_use_nothing_else() -> None:
    public = {f"quantterminal.{n}" for n in quantterminal.__all__} | {
        f"quantterminal.indicators.{n}" for n in quantterminal.indicators.__all__
    }
    # what each public name is, inside the package
    homes = {f"{getattr(quantterminal, n).__module__}.{n}" for n in quantterminal.__all__ if n != "__version__"}
    homes |= {f"{getattr(quantterminal.indicators, n).__module__}.{n}" for n in quantterminal.indicators.__all__}
    for cls in (*STRATEGIES.values(), load_strategy(EXAMPLE), load_strategy(BRACKETED)):
        source = Path(sys.modules[cls.__module__].__file__ or "").read_text()
        for node in ast.walk(ast.parse(source)):
            # (an example may build on another shipped example: both are written against the public API)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("quantterminal"):
                if node.module.startswith("quantterminal.examples."):
                    continue
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    assert name in homes or name in public, f"{cls.__name__} uses {name}, not in the public API"


def test_the_checks_pass_the_builtins_and_a_user_strategy_and_catch_broken_ones() -> None:
    bars = sample_bars("SPY", limit=1500)
    for cls in (*STRATEGIES.values(), load_strategy(CHANNEL)):
        report = check_strategy(cls, {"allow_short": True}, bars)
        assert report.answers > 1000
        assert report.changes > 10
    with pytest.raises(StrategyCheckError, match="restored at bar"):
        check_strategy(load_strategy(f"{USER / 'leaky.py'}:ForgetsState"), bars=bars)
    with pytest.raises(StrategyCheckError, match="different answers on a second run"):
        check_strategy(load_strategy(f"{USER / 'leaky.py'}:SharedMemory"), bars=bars)


def test_the_checks_cover_a_strategy_that_reads_its_trade() -> None:
    """The shipped example (named as a module spec) passes; one that counts its bars in a trade
    but forgets the count in its snapshot is caught, at the bar where its restored twin differs."""
    bars = sample_bars("SPY", limit=1500)
    example = load_strategy(EXAMPLE)
    assert example.uses_trade
    report = check_strategy(example, {"stop_loss_bps": 10, "take_profit_bps": 15, "max_minutes": 30}, bars)
    assert report.changes > 20
    with pytest.raises(StrategyCheckError, match="restored at bar"):
        check_strategy(load_strategy(f"{USER / 'leaky.py'}:ForgetsBarsInTrade"), bars=bars)


def test_new_strategy_writes_a_template_whose_tests_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new-strategy", "my_trend", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "my_trend.py").exists()
    assert (tmp_path / "test_my_trend.py").exists()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_trend.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "3 passed" in result.stdout
    # and it backtests as a file spec, parameters included
    capsys.readouterr()
    assert main(["backtest", "--strategy", f"{tmp_path / 'my_trend.py'}:MyTrend", "--param", "lookback=30"]) == 0
    assert "my_trend" in capsys.readouterr().out
    # never over a user's files
    assert main(["new-strategy", "my_trend", "--dir", str(tmp_path)]) == 2
    assert "already exists; nothing written" in capsys.readouterr().err
    assert main(["new-strategy", "My-Trend", "--dir", str(tmp_path)]) == 2


def test_a_user_strategy_file_backtests_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", "--strategy", f"{CHANNEL},momentum", "--param", "channel_trend.fast=5"])
    assert code == 0
    out = capsys.readouterr().out
    assert "channel_trend" in out
    assert "momentum" in out


def test_paper_takes_the_same_strategy_language_as_backtest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file spec and a built-in name on one account, as ``qterm backtest --strategy`` takes them."""
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    argv = ["paper", "--strategy", f"{CHANNEL},momentum", "--days", "1", "--no-api", "--database", url]
    assert main([*argv, "--param", "channel_trend.fast=5", "--health-every", "60"]) == 0
    out = capsys.readouterr().out
    assert "paper: channel_trend, momentum on" in out
    assert "no decision differs from the backtest" in out
    assert main(["paper", "--strategy", "nowhere.py:Thing", "--no-api"]) == 2
    err = capsys.readouterr().err
    assert "--strategy: strategy 'nowhere.py:Thing': no file" in err
    assert len(err.strip().splitlines()) == 1


def test_check_strategy_is_usable_in_a_users_own_test_file(tmp_path: Path) -> None:
    test = tmp_path / "test_mine.py"
    test.write_text(
        textwrap.dedent(f"""
        from quantterminal.config.strategies import load_strategy
        from quantterminal.testing import check_strategy

        def test_mine():
            assert check_strategy(load_strategy({CHANNEL!r}), {{"fast": 5, "slow": 13}}).answers > 0
        """)
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]


def test_the_shipped_example_with_broker_held_exits_is_closed_by_each_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bracketed_trend`` declares a stop-loss, a take-profit and a longest hold (``exit_orders``):
    on the shipped minutes its trades are closed by each, and the report says which."""
    bars = sample_bars("SPY", limit=1500)
    example = load_strategy(BRACKETED)
    assert check_strategy(example, bars=bars).changes > 10
    out = tmp_path / "run"
    assert main(["backtest", "--strategy", BRACKETED, "--param", "max_minutes=60", "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    with (out / "trades.csv").open() as handle:
        reasons = Counter(row["exit_reason"] for row in csv.DictReader(handle))
    assert min(reasons["stop"], reasons["take-profit"], reasons["time"], reasons["signal"]) >= 3, reasons
    assert f"time {reasons['time']}" in summary
