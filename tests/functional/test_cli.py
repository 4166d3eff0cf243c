"""``qterm backtest`` end to end: outputs on disk, help, and one-line errors with exit status 2."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quantterminal.cli.commands import COMMANDS
from quantterminal.cli.main import main


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_single_strategy_writes_trades_equity_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "backtest",
            "--strategy",
            "momentum",
            "--data",
            "sample:lean_2013",
            "--param",
            "fast=5",
            "--param",
            "slow=20",
            "--slippage-bps",
            "1",
            "--commission",
            "0.005,1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Backtest: BAC, IBM, SPY" in printed
    assert "Sharpe" in printed
    trades = rows(out / "trades.csv")
    assert trades
    assert {"symbol", "entry_time", "exit_time", "side", "qty", "entry_price", "exit_price", "pnl"} <= set(trades[0])
    equity = rows(out / "equity.csv")
    assert list(equity[0]) == ["timestamp", "equity"]
    assert float(equity[0]["equity"]) == pytest.approx(100_000, rel=0.01)
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fills = rows(out / "fills.csv")
    assert all(f["commission"] != "0" for f in fills)
    summary = rows(out / "summary.csv")
    assert summary[0]["strategy"] == "momentum"
    # every order the kernel made, placed or refused, with the rule; the summary counts refusals
    orders = rows(out / "orders.csv")
    assert orders
    assert {o["outcome"] for o in orders} <= {"placed", "not filled", "refused"}
    assert {o["client_order_id"] for o in orders if o["outcome"] != "refused"} == {f["order_id"] for f in fills} | {
        o["client_order_id"] for o in orders if o["outcome"] == "not filled"
    }
    assert "refused by risk" in printed
    assert "orders placed" in printed


def test_all_strategies_write_one_folder_each(tmp_path: Path) -> None:
    assert (
        main(
            [
                "backtest",
                "--strategy",
                "all",
                "--data",
                "sample:lean_2013",
                "--symbols",
                "SPY",
                "--allow-short",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    for name in ("momentum", "mean_reversion", "volatility_breakout"):
        assert (tmp_path / name / "trades.csv").exists()
        assert (tmp_path / name / "equity.png").exists()
    assert len(rows(tmp_path / "summary.csv")) == 3
    assert (tmp_path / "equity.png").exists()
    assert any(r["side"] == "short" for r in rows(tmp_path / "momentum" / "trades.csv"))


def test_the_breakers_are_set_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A drawdown limit of 0.1% halts the breakout strategy early in the sample; 1 (never) lets it
    trade to the end."""
    assert main(["backtest", "--strategy", "volatility_breakout", "--drawdown", "0.001"]) == 0
    tripped = capsys.readouterr().out
    assert "drawdown circuit breaker" in tripped
    assert main(["backtest", "--strategy", "volatility_breakout", "--drawdown", "1", "--daily-loss", "1"]) == 0
    untripped = capsys.readouterr().out
    assert "circuit breaker" not in untripped
    assert "daily loss" not in untripped


def test_exit_legs_from_the_command_line_close_trades_and_are_counted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["backtest", "--strategy", "momentum", "--stop-loss-bps", "15", "--take-profit-bps", "30"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    exits = re.search(r"exits by reason\s*.\s*(.*?)\s*.$", capsys.readouterr().out, re.MULTILINE)
    assert exits is not None
    counts = dict(part.rsplit(" ", 1) for part in exits.group(1).split(", "))
    assert min(int(counts[r]) for r in ("stop", "take-profit", "signal")) > 0, counts
    reasons = {r["exit_reason"] for r in rows(tmp_path / "trades.csv")}
    assert reasons == {"signal", "stop", "take-profit"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--strategy", "momentum", "--cash", "-1"], "cash must be positive"),
        (["--strategy", "momentum", "--fraction", "2"], "fraction must be in (0, 1]"),
        (["--strategy", "momentum", "--drawdown", "0"], "fraction must be in (0, 1]"),
        (["--strategy", "momentum", "--daily-loss", "1.5"], "fraction must be in (0, 1]"),
        (["--strategy", "momentum", "--slippage-bps", "x"], "basis points must be a number"),
        (["--strategy", "momentum", "--commission", "1,2,3"], "PER_SHARE or PER_SHARE,MINIMUM"),
        (["--strategy", "momentum", "--param", "fast"], "parameter must be NAME=VALUE"),
        (["--strategy", "momentum", "--param", "period=3"], "no strategy run here has a parameter 'period'"),
        (["--strategy", "momentum", "--param", "fast=40"], "must be shorter than slow"),
        (["--strategy", "momentum", "--data", "/no/such/dir"], "no such file or folder"),
        (["--strategy", "momentum", "--symbols", "TSLA"], "no data for symbol(s) TSLA"),
        (["--strategy", "momentum", "--order-type", "stop"], "invalid choice: 'stop'"),
        (["--strategy", "momentum", "--take-profit-bps", "3"], "take_profit_bps must exceed limit_offset_bps"),
        (["--strategy", "momentum", "--stop-loss-bps", "20000"], "stop_loss_bps"),
        (["--strategy", "momentum", "--max-holding-minutes", "0"], "must be at least 1"),
        (
            ["--strategy", "momentum", "--trailing-stop-bps", "40", "--stop-loss-bps", "20"],
            "trailing_stop_bps cannot be combined with stop_loss_bps / take_profit_bps",
        ),
        (
            ["--strategy", "quantterminal.examples.bracketed_trend:BracketedTrend", "--param", "take_profit_bps=20000"],
            "(bracketed_trend).params: bracketed_trend: exit_orders: take_profit_bps must be between 0 and 10,000",
        ),
        (["--data", "sample:spy_2011"], "name the strategies (--strategy NAME"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code: int | str | None
    try:
        code = main(["backtest", *args, "--out", str(tmp_path / "out")])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--strategy",
        "--data",
        "--symbols",
        "--param",
        "--cash",
        "--fraction",
        "--slippage-bps",
        "--commission",
        "--out",
        "--session",
        "--order-type",
        "--limit-offset-bps",
        "--allow-short",
        "sample:spy_2011",
        "momentum",
        "mean_reversion",
        "volatility_breakout",
    ):
        assert option in text


def test_console_script_runs_the_default_demo_data(tmp_path: Path) -> None:
    """The installed ``qterm`` entry point, as a user runs it."""
    qterm = shutil.which("qterm", path=str(Path(sys.executable).parent))
    assert qterm, "the qterm console script is not installed next to this Python"
    done = subprocess.run(
        [qterm, "backtest", "--strategy", "mean_reversion", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Backtest: SPY - 16,770 1-minute bars, 2011-01-03 to 2011-03-31" in done.stdout
    assert (tmp_path / "trades.csv").exists()


def modules_after_help(args: list[str], check: str, heavy: tuple[str, ...]) -> str:
    """The modules starting with one of ``heavy`` that ``qterm <args>`` (a help) imported, in a
    fresh interpreter; ``check`` must be in what it printed."""
    probe = (
        "import sys, contextlib, io\n"
        "from quantterminal.cli.main import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    main({args!r})\n"
        f"assert {check!r} in out.getvalue()\n"
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))\n"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def test_qterm_help_imports_no_command_and_none_of_the_heavy_libraries() -> None:
    """``qterm --help`` lists every command without importing them (measured in bench/cli.py)."""
    heavy = ("alpaca", "pandas", "aiohttp", "boto3", "psycopg2", "redis", "matplotlib", "rich")
    commands = ("quantterminal.cli.paper", "quantterminal.cli.backtest", "quantterminal.adapters")
    assert modules_after_help(["--help"], "failed-batches", heavy + commands) == "[]"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_commands_help_imports_none_of_the_heavy_libraries(command: str) -> None:
    """``qterm <command> --help`` answers before the libraries a command needs only to run (alpaca-py,
    pandas, boto3, ...): a user waits for none of them (timed in bench/cli.py)."""
    heavy = ("alpaca", "pandas", "numpy", "pyarrow", "boto3", "botocore", "aws_lambda_powertools", "matplotlib")
    assert modules_after_help([command, "--help"], "usage:", (*heavy, "optuna", "sqlalchemy")) == "[]"


def test_the_feed_protocol_choices_are_the_providers() -> None:
    from quantterminal.adapters.market_data.feed_connection import PROVIDERS
    from quantterminal.cli.feed import PROVIDER_NAMES

    assert set(PROVIDER_NAMES) == set(PROVIDERS)
