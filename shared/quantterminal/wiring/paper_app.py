"""``qterm paper``'s whole pipeline on one machine, composed: the feed's source (a replay of real
bars or a live stream), the state store, the ledger, the broker (the simulated paper account, kept
in Redis when the state is, or Alpaca), the runtime the Lambdas run, the in-process bus and the
trader consuming it, the local HTTP API, and the feed service writing into the ledger and the bus.
The command line starts it, prints, and reports; nothing here prints."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from quantterminal.adapters.api.http_api import build_api
from quantterminal.adapters.api.local_api import KEY_FILE, STAGE, LocalApiServer, api_key
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.broker.simulated_account import SimulatorConfig, StoreJournal
from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.ledger.ledger_sink import LedgerSink
from quantterminal.adapters.state.object_state import SharedObjectStateStore
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.adapters.streams.bus import LocalBus
from quantterminal.adapters.streams.record_sink import bar_records
from quantterminal.config.load import LoadedConfig
from quantterminal.constants import ENV_API_KEY
from quantterminal.core.market_data.feed_pipeline import FeedPipeline
from quantterminal.core.trading.ports import Broker
from quantterminal.core.trading.reconcile import Reconciler
from quantterminal.environment import Environment
from quantterminal.wiring.factories import open_ledger, open_state_store
from quantterminal.wiring.feed import FeedService
from quantterminal.wiring.feed_source import FeedOptions, FeedSource, feed_service, open_source
from quantterminal.wiring.outages import OUTAGE_BUDGET_SECONDS, OutageGuard
from quantterminal.wiring.paper import BARS, PaperTrader
from quantterminal.wiring.runtime import Runtime, alpaca_mode


@dataclass(frozen=True)
class PaperOptions:
    """How the paper run is asked to run (the command line's options, the configuration filled in)."""

    account: str
    broker: str  # "sim" or "alpaca"
    redis: str | None = None  # state store URL (None: $REDIS_URL, else in-process)
    database: str | None = None  # ledger URL (None: $DATABASE_URL, else the embedded default)
    api_port: int | None = 8787  # None: no HTTP API or dashboard
    api_cache_seconds: float = 0.1
    outage_budget_seconds: float = OUTAGE_BUDGET_SECONDS  # how long trading waits for its services


@dataclass
class PaperApp:
    """The composed pipeline: what the command starts, watches and reports on."""

    source: FeedSource
    runtime: Runtime
    trader: PaperTrader
    service: FeedService
    pipeline: FeedPipeline
    sinks: list[Any]
    restored: bool  # the simulated paper account was carried on from the state store
    drifts: int  # drifts reconciliation resolved with the broker before trading
    api_url: str | None  # the local API and dashboard, if started
    api_docs: str | None = None  # its OpenAPI document
    api_key_at: str = ""  # where the API key is kept (never the key: output ends up in scrollback and CI logs)


def open_paper(loaded: LoadedConfig, options: PaperOptions, feed: FeedOptions, stack: ExitStack) -> PaperApp:
    """Compose the paper run (its resources closed by ``stack``); the feed is not yet running."""
    c = loaded.config
    source = open_source(feed, stack)
    store = open_state_store(options.redis)  # first: an unreachable Redis must not leave a new ledger behind
    ledger = open_ledger(options.database)
    stack.callback(ledger.close)
    ledger.migrate()
    restored = False
    if options.broker == "alpaca":
        broker: Broker = AlpacaBroker.from_env(paper=not c.live)
    else:
        simulated = _simulated_broker(
            store, options.account, SimulatorConfig(initial_cash=c.broker.cash, fills=c.fills())
        )
        restored, broker = simulated.restored, simulated
    runtime = Runtime.build(
        store,
        ledger,
        broker,
        account=options.account,
        strategies=loaded.instances,
        config=c.trading(),
        symbols=source.symbols,
        mode=alpaca_mode(c.live) if options.broker == "alpaca" else "simulated",
        # a store in this process alone (memory://): no other process reads the strategies' state
        # and a restart begins afresh, so they stay live objects instead of a snapshot per bar
        resident=isinstance(store, SharedObjectStateStore),
    )
    bus = LocalBus()
    guard = OutageGuard(options.outage_budget_seconds)
    trader = PaperTrader(runtime, bus, replay_clock=source.replaying and options.broker == "sim", guard=guard)
    # A restarted paper account first delivers what it had not confirmed, so that reconciliation
    # compares books that already hold every fill the broker reported.
    trader.catch_up()
    drifts = Reconciler(store, broker, runtime.gate).run(datetime.now(UTC))
    api_url = api_docs = None
    if options.api_port is not None:
        app = build_api(lambda: runtime.queries, lambda: runtime.symbols, trader.now)
        server = LocalApiServer(app, api_key(), port=options.api_port, cache_seconds=options.api_cache_seconds)
        stack.enter_context(server)
        api_url, api_docs = server.url, f"{server.url}{STAGE}/openapi.json"
    key_at = f"${ENV_API_KEY}" if Environment.read().api_key else str(KEY_FILE)
    sinks: list[Any] = [LedgerSink(ledger), bar_records(bus.stream(BARS))]
    # the health line carries the trading side's outages too: what waits, and for how long so far
    with_outages = replace(feed, report=lambda health: feed.report(replace(health, outages=guard.status())))
    service, pipeline = feed_service(with_outages, source, sinks)
    return PaperApp(source, runtime, trader, service, pipeline, sinks, restored, len(drifts), api_url, api_docs, key_at)


def _simulated_broker(
    store: RedisStateStore | SharedObjectStateStore, account: str, config: SimulatorConfig
) -> SimulatedBroker:
    """The paper account, kept where the run's state lives: in Redis it outlives the process (and
    carries on after a restart); in the in-process store there is nothing to outlive, so no journal."""
    if isinstance(store, RedisStateStore):
        return SimulatedBroker(config, journal=StoreJournal(store, account))
    return SimulatedBroker(config)
