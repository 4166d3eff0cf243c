"""``qterm feed``: the market data feed on a laptop -- websocket in, clean minute bars into the ledger.

With no ``--url`` it replays real data (the repo's sample set by default) through an in-process
replay server, with the replay's own historical endpoint for gap backfill, so the whole feed --
reconnects, chaos, backfill, ledger -- runs with no account. With ``--url`` it connects to a live
provider (keys from the environment or Secrets Manager) and backfills from Alpaca's historical API.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from quantterminal.adapters.alpaca_history import AlpacaHistoricalBars
from quantterminal.adapters.csv_bars import DataError, load_bars, resolve_source
from quantterminal.adapters.factories import open_ledger, redact
from quantterminal.adapters.feed_connection import PROVIDERS, FeedSettings
from quantterminal.adapters.feed_service import FeedHealth, FeedPipeline, FeedService
from quantterminal.adapters.history_server import HistoryServer
from quantterminal.adapters.kinesis_sink import KinesisSink
from quantterminal.adapters.ledger_sink import LedgerSink
from quantterminal.adapters.record_sink import bar_records
from quantterminal.adapters.replay_server import ReplayServer
from quantterminal.adapters.secrets import SecretError, feed_keys
from quantterminal.cli.db import DATABASE_HELP
from quantterminal.cli.replay import add_chaos_arguments, chaos_from

MINUTE = timedelta(minutes=1)


def register(commands: Any) -> None:
    """Add the ``feed`` subcommand."""
    parser = commands.add_parser(
        "feed",
        help="run the market data feed: websocket -> minute bars -> ledger (replays real data by default)",
        description="Connect to a market data stream, turn it into clean minute bars (gaps backfilled, "
        "repeats dropped, revisions flagged) and write them to the ledger, printing a health line. "
        "Without --url it replays real data through a local replay server (chaos options apply).",
    )
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="alpaca", help="stream protocol")
    parser.add_argument("--url", help="a live stream URL (default: replay --replay DATA locally)")
    parser.add_argument("--symbols", help="comma-separated symbols (default: every symbol of the replay)")
    parser.add_argument("--trades", action="store_true", help="also subscribe to trades and build bars from them")
    parser.add_argument("--replay", default="sample:lean_2013", metavar="DATA", help="CSV bars or sample:NAME")
    parser.add_argument("--rth", action="store_true", help="replay regular trading hours only")
    parser.add_argument("--speed", type=float, default=0.0, help="replay minutes per second (0: flat out)")
    add_chaos_arguments(parser)
    parser.add_argument("--database", help=DATABASE_HELP)
    parser.add_argument("--kinesis-stream", metavar="NAME", help="also put the bars on this Kinesis stream")
    parser.add_argument("--history-url", help="Alpaca-compatible historical endpoint for backfill")
    parser.add_argument("--silence", type=float, default=5.0, metavar="S", help="reconnect after S s of silence")
    parser.add_argument("--health-every", type=float, default=5.0, metavar="S", help="print health every S s")
    parser.add_argument(
        "--idle-exit",
        type=float,
        metavar="S",
        help="stop after S s with no message (default: 3 when replaying, never when live)",
    )
    parser.set_defaults(handler=run)


def _print_health(health: FeedHealth) -> None:
    print(health.line(), flush=True)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm feed``."""
    try:
        return _run(args)
    except (DataError, SecretError, ValueError, OSError) as exc:
        print(f"qterm feed: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    provider = PROVIDERS[args.provider]
    with ExitStack() as stack:
        if args.url:
            url, (key, secret) = args.url, feed_keys(args.provider, os.environ)
            if not args.symbols:
                raise ValueError("--symbols is required with --url")
            symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
            history_url, end, idle_exit = args.history_url, None, args.idle_exit
            history_keys = (key, secret) if args.provider == "alpaca" else feed_keys("alpaca", os.environ)
        else:
            series = load_bars(resolve_source(args.replay), regular_hours_only=args.rth)
            wanted = {s.strip().upper() for s in (args.symbols or ",".join(series)).split(",") if s.strip()}
            bars = [b for symbol, rows in series.items() if symbol in wanted for b in rows]
            if not bars:
                raise ValueError(f"no bars of {', '.join(sorted(wanted))} in {args.replay}")
            symbols = tuple(sorted(wanted))
            server = stack.enter_context(
                ReplayServer(bars, speed=args.speed, chaos=chaos_from(args), protocol=args.provider)
            )
            history = stack.enter_context(HistoryServer(bars))
            url, key, secret = server.url, "replay", "replay"
            history_url, history_keys = args.history_url or history.url, ("replay", "replay")
            end = max(b.timestamp for b in bars) + MINUTE
            idle_exit = 3.0 if args.idle_exit is None else args.idle_exit
            print(f"replaying {len(bars):,} bars of {', '.join(symbols)} from {args.replay} on {url}", flush=True)

        ledger = open_ledger(args.database)
        stack.callback(ledger.close)
        ledger.migrate()
        ledger_sink = LedgerSink(ledger)
        sinks: list[Any] = [ledger_sink]
        if args.kinesis_stream:
            sinks.append(bar_records(KinesisSink(args.kinesis_stream)))
        pipeline = FeedPipeline(
            AlpacaHistoricalBars(*history_keys, url_override=history_url),
            sinks,
            measure_lag=bool(args.url),
        )
        settings = FeedSettings(
            url,
            key,
            secret,
            bars=symbols,
            trades=symbols if args.trades else (),
            updated_bars=symbols if args.provider == "alpaca" else (),
            silence_timeout=args.silence,
        )
        service = FeedService(
            settings,
            provider,
            pipeline,
            reporters=[_print_health],
            alert=lambda message: print(f"ALERT: {message}", file=sys.stderr, flush=True),
            report_every=args.health_every,
        )
        stop = threading.Event()
        print(f"feed: {provider.name} {url} -> {redact(args.database or 'default ledger')}", flush=True)
        try:
            service.run(stop, idle_exit=idle_exit)
        except KeyboardInterrupt:
            print("feed: stopping", file=sys.stderr, flush=True)
        pipeline.finish(end)
        unwritten = [s for s in sinks if not s.close()]
        final = service.report()
        w = ledger_sink.written
        print(
            f"feed stopped: {final.bars:,} bars emitted ({final.backfilled:,} backfilled, "
            f"{final.revisions:,} revisions); ledger: {w.inserted:,} new, {w.revised:,} revised, "
            f"{w.unchanged:,} unchanged",
            flush=True,
        )
        return 1 if unwritten else 0
