"""Where the feed connects, wired: a live provider's stream (keys from the environment or Secrets
Manager), or a replay of real bars through a local replay server with its historical endpoint for
backfill -- and the feed service over it. ``qterm feed`` and ``qterm paper`` build their feed here
from plain options (``FeedOptions``); the command line only parses and prints."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from quantterminal.adapters.ledger.ledger_sink import LedgerSink
from quantterminal.adapters.replay.replay_server import Chaos
from quantterminal.adapters.streams.kinesis_sink import KinesisSink
from quantterminal.adapters.streams.record_sink import bar_records
from quantterminal.wiring.factories import open_ledger

if TYPE_CHECKING:  # the adapters are imported by the functions that use them: `qterm --help` stays quick
    from quantterminal.core.market_data.feed_health import FeedHealth
    from quantterminal.core.market_data.feed_pipeline import FeedPipeline
    from quantterminal.core.market_data.ports import HistoricalBars
    from quantterminal.core.models import Bar
    from quantterminal.wiring.feed import FeedService

MINUTE = timedelta(minutes=1)


@dataclass
class FeedOptions:
    """What a feed is asked for (the command line's options, the configuration filled in)."""

    provider: str
    replay: str
    url: str | None = None
    symbols: str | None = None  # comma-separated
    trades: bool = False
    rth: bool = False  # replay the regular session only
    speed: float = 0.0
    chaos: Chaos = field(default_factory=Chaos)
    history_url: str | None = None
    silence: float = 5.0
    health_every: float = 5.0
    idle_exit: float | None = None
    days: int | None = None  # replay only the first N trading days
    say: Callable[[str], None] = lambda line: None  # a line for the user
    report: Callable[[FeedHealth], None] = lambda health: None  # the health line, every health_every s
    alert: Callable[[str], None] = lambda message: None


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


def open_source(args: FeedOptions, stack: ExitStack) -> FeedSource:
    """Start the replay (and its historical endpoint) unless ``url`` names a live provider."""
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
    if args.days:
        sessions = sorted({session_date(b.timestamp) for b in bars})[: args.days]
        bars = [b for b in bars if session_date(b.timestamp) in sessions]
    if not bars:
        raise ValueError(f"no bars of {', '.join(sorted(wanted))} in {args.replay}")
    server = stack.enter_context(ReplayServer(bars, speed=args.speed, chaos=args.chaos, protocol=args.provider))
    history = stack.enter_context(HistoryServer(bars))
    args.say(f"replaying {len(bars):,} bars of {', '.join(sorted(wanted))} from {args.replay} on {server.url}")
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


def feed_service(args: FeedOptions, source: FeedSource, sinks: list[Any]) -> tuple[FeedService, FeedPipeline]:
    """The feed from ``source`` into ``sinks``, reporting its health every ``health_every`` seconds."""
    from quantterminal.adapters.market_data.alpaca_data import quiet_minutes  # noqa: PLC0415
    from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars  # noqa: PLC0415 - see the imports
    from quantterminal.adapters.market_data.feed_connection import PROVIDERS, FeedSettings  # noqa: PLC0415
    from quantterminal.adapters.market_data.paged_history import polygon_history  # noqa: PLC0415
    from quantterminal.adapters.streams.record_sink import RecordSink  # noqa: PLC0415
    from quantterminal.core.market_data.feed_pipeline import FeedPipeline  # noqa: PLC0415
    from quantterminal.core.market_data.sale_conditions import SaleConditionRules  # noqa: PLC0415
    from quantterminal.wiring.feed import FeedService  # noqa: PLC0415

    provider = PROVIDERS[args.provider]
    history: HistoricalBars = (
        polygon_history(source.keys[0], source.history_url)  # Polygon's gaps from Polygon's own bars
        if args.provider == "polygon"
        else AlpacaHistoricalBars(*source.history_keys, url_override=source.history_url)
    )
    pipeline = FeedPipeline(
        history,
        sinks,
        measure_lag=not source.replaying,
        statuses=[s for s in sinks if isinstance(s, RecordSink)],  # halts travel with the bar records
        conditions=SaleConditionRules(provider.conditions),
        quiet=timedelta(minutes=quiet_minutes(source.url)),
        probe_silence=not source.replaying,  # a replay's clock is not the bars' clock
        lock=threading.Lock(),
        symbols=source.symbols,
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
        reporters=[args.report],
        alert=args.alert,
        report_every=args.health_every,
    )
    return service, pipeline


def open_sinks(database: str | None, kinesis_stream: str | None, stack: ExitStack) -> tuple[LedgerSink, list[Any]]:
    """Where the feed writes its bars: the ledger at ``database`` (migrated first; closed with
    ``stack``), and the Kinesis stream when one is named. The ledger's sink is returned apart for
    its counts."""
    ledger = open_ledger(database)
    stack.callback(ledger.close)
    ledger.migrate()
    ledger_sink = LedgerSink(ledger)
    sinks: list[Any] = [ledger_sink]
    if kinesis_stream:
        sinks.append(bar_records(KinesisSink(kinesis_stream)))
    return ledger_sink, sinks
