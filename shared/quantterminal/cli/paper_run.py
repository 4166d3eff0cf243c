"""``qterm paper``'s run: the pipeline wired on one machine (see ``cli/paper.py``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from quantterminal.cli.console import wide_console
from quantterminal.cli.divergence import compare_run
from quantterminal.cli.feed import feed_defaults, feed_options
from quantterminal.config.load import LoadedConfig, strategies_named
from quantterminal.core.market_data.calendar import EXTENDED
from quantterminal.core.reporting.post_trade import LEDGER_START
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable
from quantterminal.errors import DataError, SecretError, redact
from quantterminal.wiring.paper import PaperTrader
from quantterminal.wiring.paper_app import PaperOptions, open_paper
from quantterminal.wiring.run_folder import RunFolder
from quantterminal.wiring.runtime import Runtime


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm paper``."""
    try:
        return _run(args)
    except (DataError, SecretError, ValueError, OSError, BrokerRejected, BrokerUnavailable) as exc:
        print(f"qterm paper: error: {exc}", file=sys.stderr)
        return 2


def configuration(args: argparse.Namespace) -> LoadedConfig:
    """The configuration in force (the shipped one without --config), with the command line's
    overrides, and the feed options it fills in; ``args.account`` and ``args.broker`` filled too."""
    named = strategies_named(args.config, args.strategy, default_all=True)
    loaded = named.with_overrides(None, args.param, args.allow_short, session=args.session)
    c = loaded.config
    # the replay holds the bars some strategy sees (the kernel skips the others anyway: the one session rule)
    args.rth = not any(i.session == EXTENDED for i in loaded.instances)
    args.account = args.account or c.account
    args.broker = args.broker or ("sim" if c.broker.kind == "simulated" else "alpaca")
    feed_defaults(args, loaded)
    return loaded


def _run(args: argparse.Namespace) -> int:
    console = wide_console()
    began = datetime.now(UTC)
    loaded = configuration(args)
    c = loaded.config
    names = tuple(i.name for i in loaded.instances)
    folder = None if args.out is None else RunFolder.prepare(args.out, "qterm paper", args.overwrite, began)
    with ExitStack() as stack:
        wanted = PaperOptions(
            args.account,
            args.broker,
            args.redis,
            args.database,
            None if args.no_api else args.port,
            args.api_cache_ms / 1000,
            args.outage_budget,
        )
        paper = open_paper(loaded, wanted, feed_options(args), stack)
        source, runtime, trader = paper.source, paper.runtime, paper.trader
        service, pipeline, sinks, ledger = paper.service, paper.pipeline, paper.sinks, runtime.ledger
        if paper.restored:
            print(f"paper account {args.account!r} restored from the state store", flush=True)
        if paper.drifts:
            print(f"reconciled {paper.drifts} drift(s) with the broker before resuming", flush=True)
        if source.replaying and args.broker == "alpaca":
            print("note: replayed bars are hours old for a real broker: they feed the strategies, no order goes out")
        if paper.api_url is not None:
            print(
                f"dashboard: {paper.api_url}/ (sign in as operator with the API key)   API: {paper.api_docs}   "
                f"API key: {paper.api_key_at}",
                flush=True,
            )
        live = " -- LIVE: real money" if args.broker == "alpaca" and c.live else ""
        print(
            f"paper: {', '.join(names)} on {', '.join(source.symbols)} ({loaded.source}); broker {args.broker}{live}; "
            f"ledger {redact(args.database or 'default')}; state {redact(args.redis or 'memory')}",
            flush=True,
        )
        stop = threading.Event()
        trading = threading.Thread(target=trader.run, args=(stop,), name="paper-trader", daemon=True)
        trading.start()
        interrupted = False
        try:
            service.run(trader.failed, idle_exit=source.idle_exit)  # a failed trader stops the feed too
        except KeyboardInterrupt:
            interrupted = True
            print("paper: stopping", file=sys.stderr, flush=True)
        if service.failure is None:
            pipeline.finish(source.end)  # (a failed feed's tail is not filled in as if it had come)
        for sink in sinks:
            sink.close()
        stop.set()
        trading.join()
        failure = trader.failure or service.failure
        if failure is not None:
            # A partial run is never summarised as a run: one line, and a status of its own.
            print(f"qterm paper: error: trading stopped after {trader.stats.bars:,} bars: {failure}", file=sys.stderr)
            return 3
        trader.finish()
        _summary(console, runtime, trader)
        try:
            report = compare_run(ledger, args.account, loaded, out=args.out, console=console)
        except ValueError as exc:
            console.print(f"divergence: {exc}")
            report = {}
        if folder is not None:
            written = [p for p in folder.out.rglob("*") if p.is_file()]
            manifest = folder.finish(loaded.resolved(), [], written, {"replay": source.replay_files})
            console.print(f"run {manifest.run_id}: {manifest.path}")
        if args.hold and not args.no_api and not interrupted:
            console.print("holding the API and dashboard open; Ctrl-C to stop")
            _hold()
            console.print("paper: stopped")
        return 1 if any(d.disagreements for d in report.values()) else 0


def _hold() -> None:
    """Wait for Ctrl-C (or SIGTERM). The wait wakes every half second so the main thread sees the
    signal promptly however busy the API threads keep the interpreter."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summary(console: Console, runtime: Runtime, trader: PaperTrader) -> None:
    stats = trader.stats
    account = runtime.broker.account()
    busy = stats.busy_seconds  # first bar taken to last decided: no wait for the feed, no idle end
    rate = f" ({stats.bars / busy:,.0f} bars/s)" if busy > 0 else ""
    console.print(
        f"[bold]Paper run[/] -- {stats.bars:,} bars in {busy:,.1f} s{rate}, {stats.signals:,} signals, "
        f"{stats.orders} orders placed, {stats.rejected} refused by risk{_by_rule(stats.rejected_by_rule)}, "
        f"{stats.fills} fills, "
        f"{stats.malformed} malformed; outages: {trader.guard.record.describe()}"
    )
    end = (stats.last_bar or datetime.now(UTC)) + timedelta(minutes=1)
    metrics = runtime.queries.strategy_metrics(LEDGER_START, end)
    table = Table(title=f"account {runtime.account}: equity {account.equity:,.2f}, cash {account.cash:,.2f}")
    for column in ("strategy", "orders", "fills", "realised P&L", "round trips", "win rate", "fill rate"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in metrics["strategies"]:
        win = row["win_rate"]
        fill = row["execution"]["fill_rate"]
        table.add_row(
            row["strategy"],
            str(row["orders"]),
            str(row["fills"]),
            f"{float(row['realized_pnl']):,.2f}",
            str(row["round_trips"]),
            "-" if win is None else f"{win:.0%}",
            "-" if fill is None else f"{fill:.0%}",
        )
    console.print(table)
    positions = runtime.queries.positions()
    for p in positions["positions"]:
        console.print(
            f"  open: {p['strategy']} {p['symbol']} {p['qty']} @ {p['avg_price']} "
            f"(last {p['last_price']}, unrealised {p['unrealized_pnl']})"
        )


def _by_rule(counts: dict[str, int]) -> str:
    """`` (position_limit 10, daily_loss 2)``, or nothing when nothing was refused."""
    return " (" + ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())) + ")" if counts else ""
