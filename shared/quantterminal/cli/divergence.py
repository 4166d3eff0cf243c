"""``qterm divergence``: a paper or live run against the backtest of the same strategies on one
account over the same bars (the ledger's), through the same kernel on the same ``TradingConfig``:
decisions, orders and fills, the P&L difference by cause (the parts add up), then the execution
drag -- as tables and a plot."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from quantterminal.cli.config import add_config_argument
from quantterminal.cli.console import wide_console
from quantterminal.cli.db import DATABASE_HELP
from quantterminal.config.load import LoadedConfig, load_config
from quantterminal.core.market_data.sessions import day_bounds
from quantterminal.core.ports import Ledger
from quantterminal.core.reporting.divergence import StrategyDivergence, divergence
from quantterminal.core.reporting.instance_equity import session_closes
from quantterminal.core.reporting.pnl_attribution import CAUSES
from quantterminal.core.reporting.post_trade import LEDGER_START
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.wiring.backtest import run_backtest
from quantterminal.wiring.factories import open_ledger
from quantterminal.wiring.run_folder import plot_divergence

DESCRIPTION = (
    "Backtest the strategies over the bars the ledger holds for the run's period and compare: "
    "decisions (there should be no difference), then fill rate, time to fill, slippage against the "
    "decision and the limit, rejects, P&L and Sharpe. Exit status 1 if any decision differs."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm divergence``."""
    parser.add_argument("--database", help=DATABASE_HELP)
    add_config_argument(parser)
    parser.add_argument("--account", help="the run's account (default: the configuration's)")
    parser.add_argument(
        "--strategy", metavar="NAME[,NAME...]", help="only these instances of the configuration (default: all)"
    )
    parser.add_argument("--start", type=date.fromisoformat, help="first New York date (default: the run's first)")
    parser.add_argument("--end", type=date.fromisoformat, help="last New York date (default: the run's last)")
    parser.add_argument("--out", type=Path, help="write divergence.png (equity: backtest vs the account)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm divergence``."""
    try:
        ledger = open_ledger(args.database, create=False)
    except ValueError as exc:
        print(f"qterm divergence: error: {exc}", file=sys.stderr)
        return 2
    try:
        ledger.migrate()
        chosen = [s.strip() for s in args.strategy.split(",") if s.strip()] if args.strategy else None
        loaded = load_config(args.config).with_overrides(chosen)
        start = day_bounds(args.start)[0] if args.start else None
        end = day_bounds(args.end)[1] if args.end else None
        account = args.account or loaded.config.account
        report = compare_run(ledger, account, loaded, start, end, args.out, selected=chosen is not None)
    except ValueError as exc:
        print(f"qterm divergence: error: {exc}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    return 1 if any(d.disagreements for d in report.values()) else 0


def compare_run(
    ledger: Ledger,
    account: str,
    loaded: LoadedConfig,
    start: datetime | None = None,
    end: datetime | None = None,
    out: Path | None = None,
    console: Console | None = None,
    selected: bool = False,
) -> dict[str, StrategyDivergence]:
    """Backtest the configuration's instances over the run's bars, on one account, with its
    orders, risk and fill settings; compare; print the report; return the comparison.

    The run's own instances are those its decisions and orders name in the ledger: a configuration
    whose instances are not the run's (the shipped one against a run of a user's file) is refused
    with a clear line, never reported as "no decision differs". ``selected``: the caller chose a
    subset of the configuration's instances on purpose (the run's others are left out)."""
    strategies = [i.name for i in loaded.instances]
    console = console or wide_console()
    everything = (LEDGER_START, datetime.now(UTC) + timedelta(days=1))
    signals = ledger.signals_between(start or everything[0], end or everything[1])
    ran = {s.strategy for s in signals} | {
        o.strategy for o in ledger.orders_between(start or everything[0], end or everything[1])
    }
    _check_instances(ran, strategies, loaded.source, selected)
    signals = [s for s in signals if s.strategy in strategies]
    curve = ledger.equity_curve(account, start or everything[0], end or everything[1])
    if not signals and not curve:
        raise ValueError("the ledger holds no paper or live run to compare (no decisions, no equity)")
    first = min([s.bar_time for s in signals] + [c.timestamp - timedelta(minutes=1) for c in curve])
    last = max([s.bar_time for s in signals] + [c.timestamp for c in curve])
    start = start or day_bounds(first.date())[0]  # the whole first day: indicators warm up as they did live
    end = end or last + timedelta(minutes=1)
    bars = {k: v for k, v in ledger.bars_between(start, end).items() if v}
    if not bars:
        raise ValueError(f"no bars in the ledger between {start.isoformat()} and {end.isoformat()}")
    c = loaded.config
    base = curve[0].equity if curve else c.broker.cash
    # One account, every instance, the configuration's settings: what the run traded on.
    config = BacktestConfig(loaded.instances, cash=base, account=account, trading=c.trading(), fills=c.fills())
    backtest = run_backtest(config, bars)
    marks = {symbol: series[-1].close for symbol, series in bars.items()}
    events = []
    day = start.date()
    while day <= end.date():
        events += [e for e in ledger.risk_events_on(day) if e.account == account]
        day += timedelta(days=1)
    report = divergence(
        backtest,
        signals,
        ledger.orders_between(start, end),
        ledger.fills_between(start, end),
        events,
        base,
        marks,
        session_closes(bars),
    )
    print_report(console, report, sum(len(v) for v in bars.values()), start, end)
    if out is not None:
        path = plot_divergence(out / "divergence.png", backtest, [(c.timestamp, float(c.equity)) for c in curve])
        console.print(f"plot: {path}")
    return report


def _check_instances(ran: set[str], configured: Sequence[str], source: str, selected: bool) -> None:
    """Refuse to compare a run with a configuration whose strategy instances are not the run's."""
    if not ran:
        return  # nothing decided yet: the equity curve alone is compared
    unknown = sorted(ran - set(configured))
    absent = sorted(set(configured) - ran)
    if absent or (unknown and not selected):
        said = []
        if unknown and not selected:
            said.append(f"the run traded instances {', '.join(unknown)} that {source} does not declare")
        if absent:
            said.append(f"{source} declares instances {', '.join(absent)} that made no decision in the run")
        raise ValueError(
            f"{'; '.join(said)} (the run's: {', '.join(sorted(ran))}): compare with the run's own --config"
        )


def _orders_table(report: Mapping[str, StrategyDivergence]) -> Table:
    """Orders matched by client order id, and the shares each side filled."""
    table = Table(title="orders and fills: matched by client order id")
    for column in ("strategy", "in both", "backtest only", "run only", "refused in backtest", "shares filled bt/run"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, d in report.items():
        o = d.orders
        table.add_row(
            name,
            str(o.both),
            str(o.backtest_only),
            str(o.run_only),
            str(o.backtest_refused),
            f"{o.backtest_filled_qty:,}/{o.run_filled_qty:,}",
        )
    return table


def _explanation_table(report: Mapping[str, StrategyDivergence]) -> Table:
    """P&L (marked at each symbol's last close) in the backtest and the run, and the difference
    by cause; the parts add up to the difference."""
    table = Table(title="P&L: run minus backtest, by cause (marked at the last close; parts add up)")
    for column in ("strategy", "backtest", "run", "difference", *CAUSES, "unexplained"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, d in report.items():
        e = d.explanation
        table.add_row(
            name,
            f"{e.backtest_pnl:,.2f}",
            f"{e.run_pnl:,.2f}",
            f"{e.difference:,.2f}",
            *(f"{e.parts[c]:,.2f}" for c in CAUSES),
            f"{e.check:,.2f}",
        )
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def print_report(
    console: Console, report: Mapping[str, StrategyDivergence], bars: int, start: datetime, end: datetime
) -> None:
    """The decisions table, any differences, then the execution drag table."""
    console.print(f"[bold]Divergence[/] -- {bars:,} bars, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    decisions = Table(title="decisions: live vs backtest (same code, same bars)")
    for column in ("strategy", "live decisions", "backtest changes", "disagree", "missed live"):
        decisions.add_column(column, justify="left" if column == "strategy" else "right")
    for name, d in report.items():
        style = "red" if d.disagreements else ""
        decisions.add_row(
            name,
            str(d.live_decisions),
            str(d.backtest_decisions),
            f"[{style}]{len(d.disagreements)}[/]" if style else "0",
            str(len(d.missed)),
        )
    console.print(decisions)
    for d in report.values():
        for diff in d.disagreements[:10]:
            was = diff.live.value if diff.live else "-"
            expected = diff.backtest.value if diff.backtest else "-"
            console.print(
                f"[red]DIFFERENT[/] {diff.strategy} {diff.symbol} {diff.bar_time:%Y-%m-%d %H:%M}: "
                f"live {was}, backtest {expected}"
            )
    console.print(_orders_table(report))
    console.print(_explanation_table(report))
    drag = Table(title="execution drag: the backtest's fills against the run's")
    for column in (
        "strategy",
        "run",
        "fill rate",
        "time to fill (s)",
        "slip vs decision (bps)",
        "slip vs limit (bps)",
        "rejects",
        "realised P&L",
        "win rate",
        "Sharpe",
    ):
        drag.add_column(column, justify="left" if column in ("strategy", "run") else "right")
    for name, d in report.items():
        for run, result, sharpe, rejects in (
            ("backtest", d.backtest, d.backtest_sharpe, "-"),
            ("live", d.live, d.live.sharpe, str(d.rejects)),
        ):
            e = result.execution
            drag.add_row(
                name if run == "backtest" else "",
                run,
                _pct(e.fill_rate),
                _num(e.median_seconds_to_fill, ".1f"),
                _num(e.slippage_bps_vs_decision),
                _num(e.slippage_bps_vs_limit),
                rejects,
                f"{result.realized_pnl:,.2f}",
                _pct(result.win_rate),
                _num(sharpe),
                end_section=run == "live",
            )
    console.print(drag)
    if not any(d.disagreements for d in report.values()):
        console.print("[green]no decision differs from the backtest[/]")
