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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from quantterminal.cli.config import add_config_argument
from quantterminal.cli.db import DATABASE_HELP
from quantterminal.cli.replay import add_chaos_arguments, chaos_from
from quantterminal.core.settings import DataSettings

if TYPE_CHECKING:  # the adapters are imported by the functions that use them: `--help` stays quick
    from quantterminal.config.load import LoadedConfig
    from quantterminal.core.market_data.feed_health import FeedHealth
    from quantterminal.core.market_data.feed_pipeline import FeedPipeline
    from quantterminal.core.models import Bar
    from quantterminal.wiring.feed import FeedService

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


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm feed``."""
    from quantterminal.adapters.aws.secrets import SecretError  # noqa: PLC0415
    from quantterminal.adapters.market_data.csv_bars import DataError  # noqa: PLC0415 - see the imports

    try:
        return _run(args)
    except (DataError, SecretError, ValueError, OSError) as exc:
        print(f"qterm feed: error: {exc}", file=sys.stderr)
        return 2


@dataclass
class FeedSource:
    """Where the feed connects: a live provider, or a local replay of real bars."""

    url: str
    keys: tuple[str, str]
    symbols: tuple[str, ...]
    history_url: str | None
    history_keys: tuple[str, str]
    end: datetime | None  # the replay's last minute (to close the last bars), None when live
    idle_exit: float | None
    bars: list[Bar] = field(default_factory=list)  # the replayed bars
    replay_files: list[str] = field(default_factory=list)  # the replayed data files

    @property
    def replaying(self) -> bool:
        return self.end is not None


def open_source(args: argparse.Namespace, stack: ExitStack) -> FeedSource:
    """Start the replay (and its historical endpoint) unless ``--url`` names a live provider."""
    from quantterminal.adapters.aws.secrets import feed_keys  # noqa: PLC0415
    from quantterminal.adapters.market_data.csv_bars import data_files, load_bars, resolve_source  # noqa: PLC0415
    from quantterminal.adapters.replay.history_server import HistoryServer  # noqa: PLC0415
    from quantterminal.adapters.replay.replay_server import ReplayServer  # noqa: PLC0415
    from quantterminal.core.market_data.sessions import session_date  # noqa: PLC0415

    if args.url:
        key, secret = feed_keys(args.provider, None)
        if not args.symbols:
            raise ValueError("--symbols is required with --url")
        history_keys = (key, secret) if args.provider == "alpaca" else feed_keys("alpaca", None)
        symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
        return FeedSource(args.url, (key, secret), symbols, args.history_url, history_keys, None, args.idle_exit)
    series = load_bars(resolve_source(args.replay), regular_hours_only=args.rth)
    wanted = {s.strip().upper() for s in (args.symbols or ",".join(series)).split(",") if s.strip()}
    bars = [b for symbol, rows in series.items() if symbol in wanted for b in rows]
    if getattr(args, "days", None):
        sessions = sorted({session_date(b.timestamp) for b in bars})[: args.days]
        bars = [b for b in bars if session_date(b.timestamp) in sessions]
    if not bars:
        raise ValueError(f"no bars of {', '.join(sorted(wanted))} in {args.replay}")
    server = stack.enter_context(ReplayServer(bars, speed=args.speed, chaos=chaos_from(args), protocol=args.provider))
    history = stack.enter_context(HistoryServer(bars))
    print(f"replaying {len(bars):,} bars of {', '.join(sorted(wanted))} from {args.replay} on {server.url}", flush=True)
    return FeedSource(
        server.url,
        ("replay", "replay"),
        tuple(sorted(wanted)),
        args.history_url or history.url,
        ("replay", "replay"),
        max(b.timestamp for b in bars) + MINUTE,
        3.0 if args.idle_exit is None else args.idle_exit,
        bars,
        [str(p) for p in data_files(resolve_source(args.replay))],
    )


def feed_service(args: argparse.Namespace, source: FeedSource, sinks: list[Any]) -> tuple[FeedService, FeedPipeline]:
    """The feed from ``source`` into ``sinks``, printing its health line."""
    from quantterminal.adapters.market_data.alpaca_data import quiet_minutes  # noqa: PLC0415
    from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars  # noqa: PLC0415 - see the imports
    from quantterminal.adapters.market_data.feed_connection import PROVIDERS, FeedSettings  # noqa: PLC0415
    from quantterminal.adapters.streams.record_sink import RecordSink  # noqa: PLC0415
    from quantterminal.core.market_data.feed_pipeline import FeedPipeline  # noqa: PLC0415
    from quantterminal.core.market_data.sale_conditions import SaleConditionRules  # noqa: PLC0415
    from quantterminal.wiring.feed import FeedService  # noqa: PLC0415

    provider = PROVIDERS[args.provider]
    pipeline = FeedPipeline(
        AlpacaHistoricalBars(*source.history_keys, url_override=source.history_url),
        sinks,
        measure_lag=not source.replaying,
        statuses=[s for s in sinks if isinstance(s, RecordSink)],  # halts travel with the bar records
        conditions=SaleConditionRules(provider.conditions),
        quiet=timedelta(minutes=quiet_minutes(source.url)),
        probe_silence=not source.replaying,  # a replay's clock is not the bars' clock
        lock=threading.Lock(),
    )
    settings = FeedSettings(
        source.url,
        *source.keys,
        bars=source.symbols,
        trades=source.symbols if args.trades else (),
        updated_bars=source.symbols if args.provider == "alpaca" else (),
        statuses=source.symbols,
        silence_timeout=args.silence,
        pong_timeout=args.silence,
    )
    service = FeedService(
        settings,
        provider,
        pipeline,
        reporters=[_print_health],
        alert=lambda message: print(f"ALERT: {message}", file=sys.stderr, flush=True),
        report_every=args.health_every,
    )
    return service, pipeline


def _run(args: argparse.Namespace) -> int:
    from quantterminal.adapters.ledger.ledger_sink import LedgerSink  # noqa: PLC0415
    from quantterminal.adapters.streams.kinesis_sink import KinesisSink  # noqa: PLC0415
    from quantterminal.adapters.streams.record_sink import bar_records  # noqa: PLC0415
    from quantterminal.config.load import load_config  # noqa: PLC0415
    from quantterminal.wiring.factories import open_ledger, redact  # noqa: PLC0415 - see the imports

    feed_defaults(args, None if args.config is None else load_config(args.config))
    with ExitStack() as stack:
        source = open_source(args, stack)
        ledger = open_ledger(args.database)
        stack.callback(ledger.close)
        ledger.migrate()
        ledger_sink = LedgerSink(ledger)
        sinks: list[Any] = [ledger_sink]
        if args.kinesis_stream:
            sinks.append(bar_records(KinesisSink(args.kinesis_stream)))
        service, pipeline = feed_service(args, source, sinks)
        stop = threading.Event()
        print(f"feed: {args.provider} {source.url} -> {redact(args.database or 'default ledger')}", flush=True)
        try:
            service.run(stop, idle_exit=source.idle_exit)
        except KeyboardInterrupt:
            print("feed: stopping", file=sys.stderr, flush=True)
        pipeline.finish(source.end)
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
