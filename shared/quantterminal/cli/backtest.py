"""``qterm backtest``: run strategies over historical bars and report the results."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from quantterminal.cli.arguments import (
    add_strategy_overrides,
    bps,
    cash,
    commission,
    fraction,
    iso_date,
    offset_bps,
    participation,
    positive_int,
    sessions,
)
from quantterminal.cli.backtest_report import describe, instance_table, summary_table
from quantterminal.cli.config import add_config_argument
from quantterminal.cli.console import wide_console
from quantterminal.config.load import LoadedConfig, strategies_named
from quantterminal.core.accounting.orders import PLACED_TYPES
from quantterminal.core.market_data.sessions import day_bounds
from quantterminal.core.models import Bar
from quantterminal.core.settings import BrokerSettings
from quantterminal.core.simulation.backtest import BacktestConfig, Backtester, BacktestResult
from quantterminal.core.strategies import STRATEGIES, StrategyError
from quantterminal.core.strategies.instance import ONE
from quantterminal.core.trading.config import TradingConfig
from quantterminal.errors import DataError, LedgerError
from quantterminal.wiring.backtest import backtester
from quantterminal.wiring.data_files import read_bars, sample_names
from quantterminal.wiring.run_folder import RunFolder, write_backtest_outputs

DEFAULT_DATA = "sample:spy_2011"
DEFAULTS = TradingConfig()
BROKER = BrokerSettings()
PROGRESS_MIN_BARS = 200_000
_UNSET = object()

EPILOG = f"""\
data:
  FILE_OR_DIR is a CSV file or a folder of them, columns timestamp,open,high,low,close,volume,
  ISO-8601 timestamps with UTC offset labelling the bar start; the symbol is the file name up to
  the first '_' (SPY_1min_2011-01.csv -> SPY). sample:NAME picks a data set shipped with
  QuantTerminal: {", ".join("sample:" + s for s in sample_names())}.

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
  qterm backtest --strategy all --out out/demo
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
    """The options of ``qterm backtest``: each overrides the configuration file's setting."""
    parser.add_argument(
        "--strategy",
        metavar="SPEC[,SPEC...]",
        help="strategies to compare, each on its own account: built-in names, 'all', path.py:Class or module:Class"
        " -- or, with --config, the instances of the file to run (default: all of them)",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--data",
        metavar="FILE_OR_DIR",
        help="CSV file or folder of CSV files, sample:NAME, or a ledger URL postgresql://... or sqlite:///FILE"
        f" (default: the configuration's [data].backtest, else {DEFAULT_DATA})",
    )
    parser.add_argument("--start", type=iso_date, metavar="YYYY-MM-DD", help="first New York date to use")
    parser.add_argument("--end", type=iso_date, metavar="YYYY-MM-DD", help="last New York date to use (inclusive)")
    parser.add_argument("--symbols", nargs="+", metavar="SYM", help="only these symbols from --data")
    parser.add_argument("--symbol", metavar="SYM", help="the symbol of a single --data file whose name does not say")
    parser.add_argument(
        "--max-gap-sessions",
        type=sessions,
        default=1,
        metavar="N|none",
        help="close a position before a hole of more than N missing sessions in the data (default 1; none: hold)",
    )
    add_strategy_overrides(parser)
    parser.add_argument("--cash", type=cash, help=f"starting cash (default {BROKER.cash})")
    parser.add_argument(
        "--fraction",
        type=fraction,
        help=f"fraction of (the instance's share of) equity per new position (default {DEFAULTS.position_fraction})",
    )
    parser.add_argument(
        "--position-limit",
        type=fraction,
        metavar="FRACTION",
        help="risk limit: one symbol's exposure, fraction of equity (default: the configuration's, else --fraction)",
    )
    parser.add_argument(
        "--drawdown",
        type=fraction,
        metavar="FRACTION",
        help=f"risk limit: the circuit breaker halts trading this far below the peak equity, 1 = never "
        f"(default {DEFAULTS.risk.drawdown})",
    )
    parser.add_argument(
        "--daily-loss",
        type=fraction,
        metavar="FRACTION",
        help=f"risk limit: new entries stop for the day this far below its opening equity, 1 = never "
        f"(default {DEFAULTS.risk.daily_loss})",
    )
    parser.add_argument(
        "--order-type", choices=[t.value for t in PLACED_TYPES], help=f"order type (default {DEFAULTS.type.value})"
    )
    parser.add_argument(
        "--limit-offset-bps",
        type=offset_bps,
        metavar="BPS",
        help=f"limit price = decision close +/- BPS, positive = more aggressive (default {DEFAULTS.limit_offset_bps})",
    )
    parser.add_argument(
        "--stop-loss-bps",
        type=bps,
        metavar="BPS",
        help="a stop-loss leg on every entry from flat, this far from the decision close (default: none)",
    )
    parser.add_argument(
        "--take-profit-bps",
        type=bps,
        metavar="BPS",
        help="a take-profit leg on every entry from flat, this far from the decision close (default: none)",
    )
    parser.add_argument(
        "--trailing-stop-bps",
        type=bps,
        metavar="BPS",
        help="a trailing stop under every position, this far behind the best price since it was placed;"
        " not with the legs (default: none)",
    )
    parser.add_argument(
        "--max-holding-minutes",
        type=positive_int,
        metavar="N",
        help="close a position held N minutes, whatever the strategy answers (exit reason: time; default: none)",
    )
    parser.add_argument(
        "--participation",
        type=participation,
        default=argparse.SUPPRESS,
        metavar="FRACTION|none",
        help=f"at most this fraction of a bar's volume fills (default {BROKER.participation}; none: all)",
    )
    parser.add_argument(
        "--slippage-bps", type=bps, metavar="BPS", help="market-order slippage in basis points (default 0)"
    )
    parser.add_argument(
        "--commission",
        type=commission,
        metavar="PER_SHARE[,MIN]",
        help="commission per share, optional minimum per order",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="write CSVs, the equity plot and manifest.json here")
    parser.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")
    parser.set_defaults(handler=run)


def configuration(args: argparse.Namespace) -> tuple[LoadedConfig, bool]:
    """The configuration in force, and whether its instances share one account (a --config run)
    or are compared side by side, each on its own (strategies named with --strategy only)."""
    loaded = strategies_named(args.config, args.strategy, default_all=False)
    one_account = args.config is not None
    c = loaded.config
    limit = args.position_limit or (args.fraction if args.config is None else None)
    c_, p_ = args.commission, getattr(args, "participation", _UNSET)
    sections = {
        "orders": {
            "position_fraction": args.fraction,
            "type": args.order_type,
            "limit_offset_bps": args.limit_offset_bps,
            "stop_loss_bps": args.stop_loss_bps,
            "take_profit_bps": args.take_profit_bps,
            "trailing_stop_bps": args.trailing_stop_bps,
            "max_holding_minutes": args.max_holding_minutes,
        },
        "risk": {"position_limit": limit, "drawdown": args.drawdown, "daily_loss": args.daily_loss},
        "broker": {
            "cash": args.cash,
            "slippage_bps": args.slippage_bps,
            "commission_per_share": None if c_ is None else c_.per_share,
            "commission_minimum": None if c_ is None else c_.minimum,
            "participation": c.broker.participation if p_ is _UNSET else "none" if p_ is None else p_,
        },
    }
    return loaded.with_overrides(None, args.param, args.allow_short, sections, args.session), one_account


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm backtest``."""
    console = wide_console()
    err = Console(stderr=True)
    started = datetime.now(UTC)
    try:
        loaded, one_account = configuration(args)
        c = loaded.config
        setup = {
            "cash": c.broker.cash,
            "trading": c.trading(),
            "fills": c.fills(),
            "max_gap_sessions": args.max_gap_sessions,
        }
        if one_account:
            configs = {c.account: BacktestConfig(loaded.instances, account=c.account, **setup)}
        else:  # each on a whole account of its own
            configs = {i.name: BacktestConfig((replace(i, allocation=ONE),), **setup) for i in loaded.instances}
        backtesters = {n: backtester(config) for n, config in configs.items()}
        folder = None if args.out is None else RunFolder.prepare(args.out, "qterm backtest", args.overwrite, started)
        data = args.data or (c.data.backtest if args.config is not None else DEFAULT_DATA)
        symbols = args.symbols or (c.data.symbols if args.config is not None else None)
        bars, files = _load(args, data, symbols)
    except (DataError, LedgerError, StrategyError, ValueError, OSError) as exc:
        print(f"qterm backtest: error: {exc}", file=sys.stderr)
        return 2
    results = {n: _run_one(bt, bars, err) for n, bt in backtesters.items()}
    first = next(iter(results.values()))
    console.print(describe(bars, first), highlight=False, soft_wrap=True)
    console.print(summary_table(results))
    if one_account:
        console.print(instance_table(first))
    if folder is not None:
        written = write_backtest_outputs(folder.out, results)
        manifest = folder.finish(loaded.resolved(), files, written)
        console.print(f"wrote {len(written) + 1} files to {args.out}/ (run {manifest.run_id})")
    return 0


def _load(
    args: argparse.Namespace, data: str, symbols: list[str] | None
) -> tuple[dict[str, Sequence[Bar]], list[Path]]:
    """Bars from CSV files or from a ledger, cut to --start/--end; and the files read. Which hours
    each strategy sees is the kernel's session rule, as in the paper run and the Lambdas."""
    if args.start and args.end and args.start > args.end:
        raise ValueError(f"--start {args.start} is after --end {args.end}")
    start = day_bounds(args.start)[0] if args.start else None
    end = day_bounds(args.end)[1] if args.end else None
    return read_bars(data, symbols, args.symbol, start, end)


def _run_one(backtester: Backtester, bars: dict[str, Sequence[Bar]], err: Console) -> BacktestResult:
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
        task = progress.add_task(", ".join(backtester.config.names), total=total)
        return backtester.run(bars, progress=lambda done, _: progress.update(task, completed=done))


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: qterm backtest")
