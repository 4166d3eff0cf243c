"""``qterm feed``: the market data feed on a laptop -- websocket in, clean minute bars into the ledger.

With no ``--url`` it replays real data (the repo's sample set by default) through an in-process
replay server, with the replay's own historical endpoint for gap backfill, so the whole feed --
reconnects, chaos, backfill, ledger -- runs with no account. With ``--url`` it connects to a live
provider (keys from the environment or Secrets Manager) and backfills from Alpaca's historical API.
"""

from __future__ import annotations

import argparse
import sys
import threading
from contextlib import ExitStack
from datetime import timedelta
from typing import TYPE_CHECKING

from quantterminal.cli.config import add_config_argument
from quantterminal.cli.db import DATABASE_HELP
from quantterminal.cli.replay import add_chaos_arguments, chaos_from
from quantterminal.core.settings import DataSettings
from quantterminal.errors import DataError, SecretError, redact

if TYPE_CHECKING:  # the adapters are imported by the functions that use them: `--help` stays quick
    from quantterminal.config.load import LoadedConfig
    from quantterminal.core.market_data.feed_health import FeedHealth
    from quantterminal.wiring.feed_source import FeedOptions

PROVIDER_NAMES = ("alpaca", "polygon")  # the keys of feed_connection.PROVIDERS (a test keeps them equal)

MINUTE = timedelta(minutes=1)
DEFAULT_REPLAY = DataSettings.replay


DESCRIPTION = (
    "Connect to a market data stream, turn it into clean minute bars (gaps backfilled, "
    "repeats dropped, revisions flagged) and write them to the ledger, printing a health line. "
    "Without --url it replays real data through a local replay server (chaos options apply)."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm feed``."""
    add_feed_arguments(parser)
    parser.add_argument("--database", help=DATABASE_HELP)
    parser.add_argument("--kinesis-stream", metavar="NAME", help="also put the bars on this Kinesis stream")
    parser.add_argument("--rth", action="store_true", help="replay regular trading hours only")
    parser.set_defaults(handler=run)


def add_feed_arguments(parser: argparse.ArgumentParser) -> None:
    """The feed's options (``qterm feed`` and ``qterm paper``): each overrides the configuration."""
    add_config_argument(parser)
    parser.add_argument("--provider", choices=PROVIDER_NAMES, help="stream protocol (default: [data].feed, alpaca)")
    parser.add_argument("--url", help="a live stream URL (default: replay --replay DATA locally)")
    parser.add_argument("--symbols", help="comma-separated symbols (default: [data].symbols, or all of the replay)")
    parser.add_argument("--trades", action="store_true", help="also subscribe to trades and build bars from them")
    parser.add_argument(
        "--replay", metavar="DATA", help=f"CSV bars or sample:NAME (default: [data].replay, {DEFAULT_REPLAY})"
    )
    parser.add_argument("--speed", type=float, default=0.0, help="replay minutes per second (0: flat out)")
    add_chaos_arguments(parser)
    parser.add_argument("--history-url", help="Alpaca-compatible historical endpoint for backfill")
    parser.add_argument(
        "--silence",
        type=float,
        default=5.0,
        metavar="S",
        help="ping after S s without a frame; reconnect if the pong does not come within S s (default 5)",
    )
    parser.add_argument("--health-every", type=float, default=5.0, metavar="S", help="print health every S s")
    parser.add_argument(
        "--idle-exit",
        type=float,
        metavar="S",
        help="stop after S s with no message (default: 3 when replaying, never when live)",
    )


def feed_defaults(args: argparse.Namespace, loaded: LoadedConfig | None) -> None:
    """Fill the feed options left out from the configuration (``loaded``; ``None``: none given)."""
    data = None if loaded is None else loaded.config.data
    args.provider = args.provider or (data.feed if data else "alpaca")
    args.replay = args.replay or (data.replay if data else DEFAULT_REPLAY)
    if data is not None and not args.symbols:
        args.symbols = ",".join(data.symbols)


def _print_health(health: FeedHealth) -> None:
    print(health.line(), flush=True)


def feed_options(args: argparse.Namespace) -> FeedOptions:
    """The parsed feed options (after ``feed_defaults``) for the wiring, printing as a command does."""
    from quantterminal.wiring.feed_source import FeedOptions  # noqa: PLC0415 - `--help` stays quick

    return FeedOptions(
        provider=args.provider,
        replay=args.replay,
        url=args.url,
        symbols=args.symbols,
        trades=args.trades,
        rth=args.rth,
        speed=args.speed,
        chaos=chaos_from(args),
        history_url=args.history_url,
        silence=args.silence,
        health_every=args.health_every,
        idle_exit=args.idle_exit,
        days=getattr(args, "days", None),
        say=lambda line: print(line, flush=True),
        report=_print_health,
        alert=lambda message: print(f"ALERT: {message}", file=sys.stderr, flush=True),
    )


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm feed``."""

    try:
        return _run(args)
    except (DataError, SecretError, ValueError, OSError) as exc:
        print(f"qterm feed: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from quantterminal.config.load import load_config  # noqa: PLC0415
    from quantterminal.wiring.feed_source import feed_service, open_sinks, open_source  # noqa: PLC0415

    feed_defaults(args, None if args.config is None else load_config(args.config))
    options = feed_options(args)
    with ExitStack() as stack:
        source = open_source(options, stack)
        ledger_sink, sinks = open_sinks(args.database, args.kinesis_stream, stack)
        service, pipeline = feed_service(options, source, sinks)
        stop = threading.Event()
        print(f"feed: {args.provider} {source.url} -> {redact(args.database or 'default ledger')}", flush=True)
        try:
            service.run(stop, idle_exit=source.idle_exit)
        except KeyboardInterrupt:
            print("feed: stopping", file=sys.stderr, flush=True)
        if service.failure is None:
            pipeline.finish(source.end)
        unwritten = [s for s in sinks if not s.close()]
        final = service.report()
        if service.failure is not None:
            print(f"qterm feed: error: {service.failure} after {final.bars:,} bars", file=sys.stderr)
            return 3
        w = ledger_sink.written
        print(
            f"feed stopped: {final.bars:,} bars emitted ({final.backfilled:,} backfilled, "
            f"{final.revisions:,} revisions); ledger: {w.inserted:,} new, {w.revised:,} revised, "
            f"{w.unchanged:,} unchanged",
            flush=True,
        )
        return 1 if unwritten else 0
