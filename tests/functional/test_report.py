"""``qterm report`` from a paper run in a ledger, and bad input (one line, exit status 2)."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.reports.tearsheet import run_from_folder
from quantterminal.cli.main import main
from quantterminal.core.accounting.metrics import compute_metrics, max_drawdown
from quantterminal.core.market_data.sessions import NEW_YORK, session_date
from quantterminal.core.models import Bar
from quantterminal.core.reporting.instance_equity import session_closes as session_closes_of
from quantterminal.core.reporting.post_trade import strategy_results
from quantterminal.core.reporting.risk_figures import (
    beta,
    conditional_value_at_risk,
    value_at_risk,
    volatility,
    worst_drawdowns,
)
from quantterminal.core.reporting.tearsheet import buy_and_hold, daily_series
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.wiring.backtest import run_backtest
from quantterminal.wiring.report import session_closes


def test_a_paper_run_in_a_ledger_becomes_a_tearsheet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    assert main(["paper", "--days", "1", "--port", "0", "--database", ledger]) == 0
    out = tmp_path / "paper.html"
    args = ["report", "--database", ledger, "--start", "2013-10-01", "--end", "2013-10-31", "--out", str(out)]
    assert main(args) == 0
    page = out.read_text()
    fills = re.search(r"<td>fills</td><td>(\d+)</td>", page)
    assert fills is not None
    assert int(fills.group(1)) > 0
    assert "buy and hold" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "either a backtest output folder or --database"),
        (["{tmp}"], "no equity.csv"),
        (
            [
                "--database",
                "sqlite:///{tmp}/none.sqlite3",
                "--start",
                "2013-10-01",
                "--end",
                "2013-10-02",
                "--out",
                "{tmp}/x.html",
            ],
            "",
        ),
        (["{tmp}", "--database", "sqlite:///x"], "either a backtest output folder or --database"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["report", *(a.format(tmp=tmp_path) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("qterm report: error:")
    assert message in err
    assert not (tmp_path / "x.html").exists()


EXITS = """
[[strategies]]
name = "momentum"
strategy = "momentum"

[orders]
stop_loss_bps = 8
take_profit_bps = 12
"""


def exits_of(page: str) -> dict[str, int]:
    section = page.split("Closed trades by exit reason", 1)[1].split("</section>", 1)[0]
    return {reason: int(n) for reason, n in re.findall(r"<tr><td>([a-z-]+)</td><td>(\d+)</td></tr>", section)}


def test_the_tearsheet_counts_closed_trades_by_what_closed_them(tmp_path: Path) -> None:
    """Exit legs on every entry: a paper run's ledger and a backtest folder both say which trades
    their stop-loss or take-profit closed, beside those the strategy closed."""
    config = tmp_path / "exits.toml"
    config.write_text(EXITS, encoding="utf-8")
    ledger = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    assert main(["paper", "--config", str(config), "--days", "1", "--port", "0", "--database", ledger]) == 0
    out = tmp_path / "paper.html"
    args = ["report", "--database", ledger, "--start", "2013-10-01", "--end", "2013-10-31", "--out", str(out)]
    assert main(args) == 0
    paper = exits_of(out.read_text())
    assert paper.get("stop", 0) + paper.get("take-profit", 0) > 0, paper
    assert paper.get("signal", 0) > 0, paper
    folder = tmp_path / "bt"
    assert main(["backtest", "--config", str(config), "--out", str(folder)]) == 0
    assert main(["report", str(folder), "--out", str(tmp_path / "bt.html")]) == 0
    backtest = exits_of((tmp_path / "bt.html").read_text())
    assert backtest.get("stop", 0) + backtest.get("take-profit", 0) > 0, backtest


ROOT = Path(__file__).parents[2]


def daily_csv(path: Path) -> Path:
    """The shipped SPY minutes of 2011 as daily bars stamped at New York midnight (as Alpaca's and
    Polygon's daily bars are)."""
    sessions: dict[str, list[Bar]] = {}
    for bar in load_bars(SAMPLE_ROOT / "spy_2011", regular_hours_only=True)["SPY"]:
        sessions.setdefault(session_date(bar.timestamp).isoformat(), []).append(bar)
    rows = ["timestamp,open,high,low,close,volume"]
    for day, bars in sorted(sessions.items()):
        high, low = max(b.high for b in bars), min(b.low for b in bars)
        stamp = datetime.combine(date.fromisoformat(day), time(), NEW_YORK).isoformat()
        rows.append(f"{stamp},{bars[0].open},{high},{low},{bars[-1].close},{sum(b.volume for b in bars)}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_daily_bar_run_gets_its_benchmark(tmp_path: Path) -> None:
    """Daily bars are stamped at midnight, outside the regular session: the report dropped every
    one of them and drew no buy-and-hold, even with --benchmark. A daily bar is its session's close."""
    data = daily_csv(tmp_path / "SPY_1day.csv")
    closes = session_closes(str(data), [], ["SPY"])["SPY"]
    assert len(closes) == 43
    assert closes[0][0].isoformat() == "2011-01-03"
    folder = tmp_path / "bt"
    args = ["backtest", "--strategy", "momentum", "--param", "fast=2", "--param", "slow=5"]
    assert main([*args, "--data", str(data), "--out", str(folder)]) == 0
    for extra in ([], ["--benchmark", "SPY", "--data", str(data)]):
        out = tmp_path / "report.html"
        assert main(["report", str(folder), *extra, "--out", str(out)]) == 0
        page = out.read_text()
        held = re.search(r"buy and hold</t[dh]>\s*<t[dh][^>]*>([^<]*)<", page)
        assert held is not None
        assert held.group(1).strip() not in ("", "-"), "the benchmark's return is shown"


def test_the_tearsheet_and_the_summary_give_one_figure_for_each_metric(tmp_path: Path) -> None:
    """The tearsheet measured the drawdown on daily closes (0.36% where the summary, on every bar,
    said 0.39%): its headline figures now come from the summary's own function."""
    folder = tmp_path / "bt"
    assert main(["backtest", "--strategy", "momentum", "--data", "sample:spy_2011", "--out", str(folder)]) == 0
    with (folder / "summary.csv").open() as handle:
        summary = next(csv.DictReader(handle))
    out = tmp_path / "report.html"
    assert main(["report", str(folder), "--out", str(out)]) == 0
    page = out.read_text()

    def shown(label: str) -> str:
        found = re.search(rf"<td>{label}</td><td>([^<]*)</td>", page)
        assert found is not None, label
        return found.group(1)

    assert shown("max drawdown") == f"{float(summary['max_drawdown']):.2%}"
    assert shown("Sharpe") == f"{float(summary['sharpe']):.2f}"
    assert shown("Sortino") == f"{float(summary['sortino']):.2f}"
    assert shown("total return") == f"{float(summary['total_return']):+.2%}"
    daily_closes_drawdown = max_drawdown(daily_series(run_from_folder(folder).curve, 100_000.0).equity, 100_000.0)
    assert daily_closes_drawdown != float(summary["max_drawdown"]), "the two definitions differ on this run"


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["--strategy", "momentum", "--data", "sample:spy_2011"], "one instance, 43 sessions"),
        (["--config", "shared/quantterminal/config/default.toml", "--data", "sample:lean_2013"], "three, 6 sessions"),
    ],
)
def test_the_tearsheets_risk_figures_equal_quantstats(tmp_path: Path, args: list[str], what: str) -> None:
    """QuantStats (a test-only dependency) computes the same figures from the same session returns:
    Sharpe, Sortino, volatility, VaR and CVaR, the daily drawdown's depth, and beta to buy and hold."""
    qs = pytest.importorskip("quantstats")
    import pandas as pd

    folder = tmp_path / "bt"
    assert (
        main(["backtest", *[a if not a.endswith(".toml") else str(ROOT / a) for a in args], "--out", str(folder)]) == 0
    )
    run = run_from_folder(folder)
    series = daily_series(run.curve, run.initial)
    returns = pd.Series(series.returns, index=pd.to_datetime(series.days))
    closes = session_closes(None, run.data_files, run.symbols)
    bench = buy_and_hold(closes, series.days, run.initial)
    bench_returns = pd.Series(
        [b / a - 1 for a, b in zip([run.initial, *bench[:-1]], bench, strict=True)], index=returns.index
    )
    m = compute_metrics(Decimal(repr(run.initial)), Decimal(repr(series.equity[-1])), run.curve, [], 0)
    assert m.sharpe == pytest.approx(qs.stats.sharpe(returns, periods=252), rel=1e-12), what
    assert m.sortino == pytest.approx(qs.stats.sortino(returns, periods=252), rel=1e-12), what
    assert volatility(series.returns) == pytest.approx(qs.stats.volatility(returns, periods=252), rel=1e-12)
    assert value_at_risk(series.returns) == pytest.approx(qs.stats.value_at_risk(returns), rel=1e-9)
    assert conditional_value_at_risk(series.returns) == pytest.approx(qs.stats.cvar(returns), rel=1e-9)
    worst = worst_drawdowns(series.days, series.equity, run.initial)
    assert worst[0].depth == pytest.approx(-qs.stats.max_drawdown(returns), rel=1e-9)
    assert beta(series.returns, list(bench_returns)) == pytest.approx(
        qs.stats.greeks(returns, bench_returns)["beta"], rel=1e-9
    )


def test_an_instance_alone_on_its_account_has_the_accounts_sharpe_in_the_divergence_report(
    spy_2011_rth: list[Bar],
) -> None:
    """The divergence report's per-instance Sharpe was that of realised P&L by exit day (-3.17 in a
    row labelled "backtest" where qterm backtest said -2.83): measured on the instance's own equity
    at each session close, an instance alone on a whole account has the account's Sharpe."""
    bars = {"SPY": spy_2011_rth}
    result = run_backtest(BacktestConfig(("momentum",)), bars)
    closes = session_closes_of(bars)
    (mine,) = strategy_results(result.orders, result.fills, result.config.cash, ["momentum"], closes).values()
    assert result.metrics.sharpe is not None
    assert mine.sharpe == pytest.approx(result.metrics.sharpe, rel=1e-9)
    realised_only = strategy_results(result.orders, result.fills, result.config.cash, ["momentum"])["momentum"]
    assert realised_only.sharpe != pytest.approx(result.metrics.sharpe, rel=1e-3), "the old figure was another one"
