"""``qterm backtest``: run strategies over historical bars and report the results."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from quantterminal.adapters.ledger.ledger_base import LedgerError
from quantterminal.adapters.market_data.csv_bars import DataError, load_bars, resolve_source, sample_sets
from quantterminal.adapters.reports import files as reports
from quantterminal.cli.arguments import (
    bps,
    cash,
    commission,
    fraction,
    iso_date,
    offset_bps,
    param,
    participation,
    sessions,
)
from quantterminal.core.market_data.data_checks import DAY, bar_interval, describe_interval
from quantterminal.core.market_data.sessions import day_bounds, is_regular_hours
from quantterminal.core.models import Bar
from quantterminal.core.simulation.backtest import BacktestConfig, Backtester, BacktestResult
from quantterminal.core.simulation.execution import BpsSlippage, PerShareCommission
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.strategies import STRATEGIES, StrategyError, strategy_class
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.orders import OrderType
from quantterminal.wiring.backtest import backtester
from quantterminal.wiring.factories import is_database_url, open_ledger, redact

DEFAULT_DATA = "sample:spy_2011"
DEFAULTS = TradingConfig()
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
PROGRESS_MIN_BARS = 200_000

EPILOG = f"""\
data:
  FILE_OR_DIR is a CSV file or a folder of them, columns timestamp,open,high,low,close,volume,
  ISO-8601 timestamps with UTC offset labelling the bar start; the symbol is the file name up to
  the first '_' (SPY_1min_2011-01.csv -> SPY). sample:NAME picks a data set shipped with
  QuantTerminal: {", ".join("sample:" + s for s in sample_sets())}.

strategies ({", ".join(STRATEGIES)}) and their parameters (--param NAME=VALUE, or
STRATEGY.NAME=VALUE when several strategies run):
  momentum             fast=10 slow=30: long while SMA(fast) > SMA(slow)
  mean_reversion       period=20 num_std=2.0: long below the lower Bollinger band, exit at the middle
  volatility_breakout  entry=20 exit=10: long above the previous 20-bar high, exit below the 10-bar low
  every strategy       allow_short=false

execution: the one trading kernel of the paper run and the Lambdas, on the same defaults. A
decision on bar t's close is sized floor(fraction x equity / order price), passes the risk manager
(position limit, daily loss halt, drawdown breaker, market hours, price band, buying power) and
is worked from the symbol's next bar by the simulated broker: limit orders at close +/- 5 bps fill
only if a bar reaches the limit and are canceled after 30 s (one minute bar); market orders fill
at the open plus slippage; at most 10% of a bar's volume fills. Refusals are counted by rule.
See quantterminal/core/simulation/backtest.py and core/simulation/fill_model.py.

examples:
  qterm backtest --strategy all --rth --out out/demo
  qterm backtest --strategy momentum --data sample:lean_2013 --param fast=5 --param slow=20
  qterm backtest --strategy mean_reversion --data bars/ --symbols SPY QQQ --slippage-bps 2 \\
      --commission 0.005,1.00 --order-type limit --limit-offset-bps 5
"""


DESCRIPTION = (
    "Run one or more strategies over historical bars: a summary table on the "
    "terminal and, with --out, trades.csv, fills.csv, signals.csv, orders.csv (placed, not filled "
    "and refused, with the reason), equity.csv and equity.png."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm backtest``."""
    parser.add_argument(
        "--strategy",
        required=True,
        metavar="NAME[,NAME...]",
        help=f"strategy to run, several comma-separated, or 'all' ({', '.join(STRATEGIES)})",
    )
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        metavar="FILE_OR_DIR",
        help=f"CSV file or folder of CSV files, sample:NAME, or a ledger URL postgresql://... or sqlite:///FILE"
        f" (default: {DEFAULT_DATA})",
    )
    parser.add_argument("--start", type=iso_date, metavar="YYYY-MM-DD", help="first New York date to use")
    parser.add_argument("--end", type=iso_date, metavar="YYYY-MM-DD", help="last New York date to use (inclusive)")
    parser.add_argument("--symbols", nargs="+", metavar="SYM", help="only these symbols from --data")
    parser.add_argument("--symbol", metavar="SYM", help="the symbol of a single --data file whose name does not say")
    parser.add_argument(
        "--rth", action="store_true", help="regular trading hours only (09:30-16:00 New York; intraday bars)"
    )
    parser.add_argument(
        "--max-gap-sessions",
        type=sessions,
        default=1,
        metavar="N|none",
        help="close a position before a hole of more than N missing sessions in the data (default 1; none: hold)",
    )
    parser.add_argument(
        "--param",
        action="append",
        type=param,
        default=[],
        metavar="NAME=VALUE",
        help="override a strategy parameter (repeatable)",
    )
    parser.add_argument("--allow-short", action="store_true", help="let the strategies go short")
    parser.add_argument("--cash", type=cash, default=Decimal(100_000), help="starting cash (default 100000)")
    parser.add_argument(
        "--fraction",
        type=fraction,
        default=DEFAULTS.position_fraction,
        help=f"fraction of equity put into each new position (default {DEFAULTS.position_fraction})",
    )
    parser.add_argument(
        "--position-limit",
        type=fraction,
        metavar="FRACTION",
        help="risk limit: one symbol's exposure as a fraction of equity (default: the --fraction)",
    )
    parser.add_argument(
        "--order-type",
        choices=[t.value for t in OrderType],
        default=DEFAULTS.order_type.value,
        help=f"order type (default {DEFAULTS.order_type.value})",
    )
    parser.add_argument(
        "--limit-offset-bps",
        type=offset_bps,
        default=DEFAULTS.limit_offset_bps,
        metavar="BPS",
        help=f"limit price = decision close +/- BPS, positive = more aggressive (default {DEFAULTS.limit_offset_bps})",
    )
    parser.add_argument(
        "--participation",
        type=participation,
        default=FillModel().participation,
        metavar="FRACTION|none",
        help=f"at most this fraction of a bar's volume fills (default {FillModel().participation}; none: all)",
    )
    parser.add_argument(
        "--slippage-bps",
        type=bps,
        default=Decimal(0),
        metavar="BPS",
        help="market-order slippage in basis points (default 0)",
    )
    parser.add_argument(
        "--commission",
        type=commission,
        default=PerShareCommission(),
        metavar="PER_SHARE[,MIN]",
        help="commission per share, optional minimum per order (default 0)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="write CSVs and the equity plot here")
    parser.set_defaults(handler=run)


def _strategy_names(text: str) -> list[str]:
    if text.strip() == "all":
        return list(STRATEGIES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        strategy_class(name)
    if len(set(names)) != len(names):
        raise StrategyError(f"strategy listed twice in {text!r}")
    if not names:
        raise StrategyError("no strategy named")
    return names


def _params_for(names: list[str], pairs: list[tuple[str, str]], allow_short: bool) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {n: {} for n in names}
    if allow_short:
        for n in names:
            params[n]["allow_short"] = "true"
    for key, value in pairs:
        target, dot, field = key.rpartition(".")
        if dot:
            if target not in params:
                raise StrategyError(f"--param {key}: {target!r} is not among the strategies run")
            params[target][field] = value
            continue
        takers = [n for n in names if field in set(strategy_class(n).params_type.__dataclass_fields__)]
        if not takers:
            raise StrategyError(f"--param {key}: no strategy run here has a parameter {field!r}")
        for n in takers:
            params[n][field] = value
    return params


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm backtest``."""
    console = Console()
    err = Console(stderr=True)
    try:
        names = _strategy_names(args.strategy)
        params = _params_for(names, args.param, args.allow_short)
        trading = replace(
            DEFAULTS,
            position_fraction=args.fraction,
            order_type=OrderType(args.order_type),
            limit_offset_bps=args.limit_offset_bps,
            risk=replace(DEFAULTS.risk, position_fraction=args.position_limit or args.fraction),
        )
        fills = FillModel(BpsSlippage(args.slippage_bps), args.commission, args.participation)
        configs = {
            n: BacktestConfig(
                (n,),
                params={n: params[n]},
                cash=args.cash,
                trading=trading,
                fills=fills,
                max_gap_sessions=args.max_gap_sessions,
            )
            for n in names
        }
        backtesters = {n: backtester(c) for n, c in configs.items()}
        bars = _load(args)
    except (DataError, LedgerError, StrategyError, ValueError, OSError) as exc:
        print(f"qterm backtest: error: {exc}", file=sys.stderr)
        return 2
    results = {n: _run_one(bt, bars, err) for n, bt in backtesters.items()}
    console.print(_describe(bars, next(iter(results.values()))), highlight=False, soft_wrap=True)
    console.print(_summary_table(results))
    if args.out is not None:
        written = _write_outputs(args.out, results)
        console.print(f"wrote {len(written)} files to {args.out}/")
    return 0


def _load(args: argparse.Namespace) -> dict[str, list[Bar]]:
    """Bars from CSV files or from a ledger, cut to --start/--end and --rth."""
    start = day_bounds(args.start)[0] if args.start else None
    end = day_bounds(args.end)[1] if args.end else None
    if args.start and args.end and args.start > args.end:
        raise ValueError(f"--start {args.start} is after --end {args.end}")
    if is_database_url(args.data):
        ledger = open_ledger(args.data, create=False)
        try:
            bars = ledger.bars_between(start or _EARLIEST, end or _LATEST, args.symbols)
        finally:
            ledger.close()
        if args.symbols:
            absent = sorted({s.upper() for s in args.symbols} - bars.keys())
            if absent:
                raise DataError(f"no bars for {', '.join(absent)} in {redact(args.data)}")
    else:
        bars = load_bars(resolve_source(args.data), symbols=args.symbols, symbol=args.symbol)
        if start or end:
            lo, hi = start or _EARLIEST, end or _LATEST
            bars = {s: [b for b in series if lo <= b.timestamp < hi] for s, series in bars.items()}
    if args.rth:  # daily bars are stamped at midnight: the hours filter is for intraday bars
        bars = {
            s: series if bar_interval(series) >= DAY else [b for b in series if is_regular_hours(b.timestamp)]
            for s, series in bars.items()
        }
    bars = {s: series for s, series in bars.items() if series}
    if not bars:
        raise DataError(f"no bars in {redact(args.data)} for the dates and hours asked for")
    return bars


def _run_one(backtester: Backtester, bars: dict[str, list[Bar]], err: Console) -> BacktestResult:
    total = sum(len(v) for v in bars.values())
    if total < PROGRESS_MIN_BARS or not err.is_terminal:
        return backtester.run(bars)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} bars"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(", ".join(backtester.config.strategies), total=total)
        return backtester.run(bars, progress=lambda done, _: progress.update(task, completed=done))


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _fmt_money(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _describe(bars: dict[str, list[Bar]], result: BacktestResult) -> str:
    first = min(b[0].timestamp for b in bars.values())
    last = max(b[-1].timestamp for b in bars.values())
    total = sum(len(b) for b in bars.values())
    lines = [
        f"Backtest: {', '.join(sorted(bars))} - {total:,} {describe_interval(result.interval)} bars, "
        f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    ]
    if result.gaps:
        longest = max(result.gaps, key=lambda g: g.sessions)
        limit = result.config.max_gap_sessions
        rule = "positions held across them" if limit is None else f"positions closed before holes over {limit}"
        lines.append(f"data gaps: {len(result.gaps)} ({rule}); longest: {longest.describe()}")
    return "\n".join(lines)


def _summary_table(results: dict[str, BacktestResult]) -> Table:
    table = Table()
    table.add_column("metric")
    for name in results:
        table.add_column(name, justify="right")
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, values: list[str]) -> None:
        rows.append((label, values))

    ms = [r.metrics for r in results.values()]
    row("final equity", [_fmt_money(m.final_equity) for m in ms])
    row("total return", [_fmt_pct(m.total_return) for m in ms])
    row("CAGR", [_fmt_pct(m.cagr) for m in ms])
    row("Sharpe", [_fmt_ratio(m.sharpe) for m in ms])
    row("Sortino", [_fmt_ratio(m.sortino) for m in ms])
    row("max drawdown", [_fmt_pct(m.max_drawdown) for m in ms])
    row("trades", [str(m.num_trades) for m in ms])
    row("win rate", [_fmt_pct(m.win_rate) for m in ms])
    row("avg trade", [_fmt_money(m.avg_trade) for m in ms])
    row("exposure", [_fmt_pct(m.exposure) for m in ms])
    row("trading days", [str(m.trading_days) for m in ms])
    row("orders placed", [str(len(r.orders)) for r in results.values()])
    row("orders not filled", [str(len(r.not_filled)) for r in results.values()])
    row("refused by risk", [_refusals(r) for r in results.values()])
    row("trading halted", [r.halted or "-" for r in results.values()])
    row("closed before a gap", [str(len(r.gap_exits)) for r in results.values()])
    row(
        "open at end",
        [", ".join(f"{s} {q:+d}" for s, q in r.open_positions.items()) or "-" for r in results.values()],
    )
    for label, values in rows:
        table.add_row(label, *values)
    return table


def _refusals(result: BacktestResult) -> str:
    """``0``, or the count and the rules: ``12 (position_limit 10, daily_loss 2)``."""
    by_rule = result.refusals_by_rule()
    if not by_rule:
        return "0"
    return f"{sum(by_rule.values())} (" + ", ".join(f"{rule} {n}" for rule, n in by_rule.items()) + ")"


def _write_outputs(out: Path, results: dict[str, BacktestResult]) -> list[Path]:
    written: list[Path] = []
    single = len(results) == 1
    for name, result in results.items():
        folder = out if single else out / name
        written.append(reports.write_trades_csv(folder / "trades.csv", result))
        written.append(reports.write_fills_csv(folder / "fills.csv", result))
        written.append(reports.write_signals_csv(folder / "signals.csv", result))
        written.append(reports.write_orders_csv(folder / "orders.csv", result))
        written.append(reports.write_equity_csv(folder / "equity.csv", result.equity_curve))
        written.append(reports.plot_equity(folder / "equity.png", {name: result.equity_curve}, f"{name} equity"))
    written.append(reports.write_summary_csv(out / "summary.csv", results))
    if not single:
        written.append(
            reports.plot_equity(
                out / "equity.png", {n: r.equity_curve for n, r in results.items()}, "equity by strategy"
            )
        )
    return written


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: qterm backtest")
