"""The composition root of the live path: ledger, state store, broker, risk gate and the trading
desk, built from the environment the CDK app sets (or handed in, for tests and the local run).

Environment (names in ``quantterminal.constants``):
- ``QT_CONFIG``: the configuration file (the CDK app bundles it beside the handlers; unset: the
  shipped defaults) -- strategy instances, orders, risk, broker (paper or live), account, symbols;
- overrides: ``QT_ACCOUNT``, ``QT_STRATEGIES`` (only these instances, comma-separated),
  ``QT_SYMBOLS`` (the traded symbols: health and backfill), ``QT_MAX_BAR_AGE_SECONDS``;
- ``QT_DB_SECRET_ID`` -- the Aurora secret (host, port, username, password, dbname) -- or
  ``DATABASE_URL``; ``REDIS_URL`` (``rediss://`` for ElastiCache, which speaks TLS only);
- the broker: Alpaca from ``ALPACA_SECRET_ID`` (or ``APCA_*`` variables); a function given
  neither (the API, the recorder, the daily report) gets ``NoBroker`` and cannot trade.

Lambdas build one ``Runtime`` per container (cold start) and reuse it across invocations. What
each function can touch beyond it is built here too, and nowhere else:

| function          | state + ledger | broker (trading secret) | also                                  |
|-------------------|----------------|-------------------------|---------------------------------------|
| bar handler       | yes            | yes                     |                                       |
| order events      | yes            | yes                     |                                       |
| reconcile         | yes            | yes                     |                                       |
| backfill          | yes            | no (``NoBroker``)       | ``market_history``: Alpaca data keys  |
| API               | yes            | no                      | ``http_api``                          |
| recorder, migrate | yes            | no                      |                                       |
| daily report      | yes            | no                      | ``report_publisher``: S3 + SNS        |

(the CDK app grants the same: only the first three, and backfill for market data, read the
Alpaca secret; see ``cdk/quantterminal_cdk/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from quantterminal import constants as c
from quantterminal.adapters.aws.secrets import feed_keys, secret_json
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.config.load import load_config
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.ports import Broker, HistoricalBars, Ledger, StateStore
from quantterminal.core.reporting.queries import AccountQueries
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.settings import DEFAULT_ACCOUNT
from quantterminal.core.strategies import STRATEGIES, StrategyInstance, builtin_instance
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.desk import TradingDesk
from quantterminal.core.trading.kernel import KernelHandlers, KernelSpec, build_kernel
from quantterminal.core.trading.strategy_hosts import ResidentStrategies
from quantterminal.environment import Environment
from quantterminal.wiring.factories import open_ledger, open_state_store

if TYPE_CHECKING:  # what one kind of function needs is imported by the function that builds it
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from quantterminal.adapters.reports.publisher import PublishedReport
    from quantterminal.core.reporting.post_trade import DailyReport


def database_url_from_secret(secret: Mapping[str, str]) -> str:
    """A PostgreSQL URL from an RDS/Aurora secret (the JSON CDK's ``DatabaseCluster`` stores)."""
    user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
    host, port, name = secret["host"], secret.get("port", "5432"), secret.get("dbname", "postgres")
    return f"postgresql://{user}:{password}@{host}:{port}/{name}"


def ledger_from_env(
    env: Mapping[str, str] | Environment, secrets_client: Any | None = None
) -> PostgresLedger | SqliteLedger:
    """The ledger named by ``QT_DB_SECRET_ID`` (the Aurora secret) or ``DATABASE_URL``."""
    env = Environment.read(env)
    if env.db_secret_id:
        secret_id = env.db_secret_id

        def current() -> str:  # read again after a refused password: Aurora rotates it every 30 days
            return database_url_from_secret(secret_json(secret_id, secrets_client))

        ledger = open_ledger(current())
        if isinstance(ledger, PostgresLedger):
            ledger.credentials = current
        return ledger
    db_url = env.secret("database_url")
    if not db_url:
        raise ValueError(f"no ledger configured: set {c.ENV_DB_SECRET_ID} or {c.ENV_DATABASE_URL}")
    return open_ledger(db_url)


def state_url_from_env(env: Mapping[str, str] | Environment, secrets_client: Any | None = None) -> str | None:
    """``REDIS_URL``, with the cache user's name and password from ``QT_REDIS_SECRET_ID`` if set
    (ElastiCache's default user is off: only this user can read or write trading state)."""
    env = Environment.read(env)
    url = env.secret("redis_url")
    if url is None or not env.redis_secret_id:
        return url
    secret = secret_json(env.redis_secret_id, secrets_client)
    parts = urlsplit(url)
    user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


class NoBrokerError(RuntimeError):
    """A function wired without a broker tried to reach one."""


class NoBroker:
    """The broker of a function that must not trade (the API, the recorder, the daily report):
    without the trading secret it is given this, and any attempt to reach a broker fails loudly
    instead of placing an order with keys it should not hold."""

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        # Not BrokerUnavailable: that reads as "maybe placed, reconcile later"; this is a wiring error.
        raise NoBrokerError(f"this function has no broker: set {c.ENV_ALPACA_SECRET_ID} where orders are placed")

    submit = cancel = exit_legs = get_order = replace = open_orders = positions = account = _refuse

    def on_update(self, handler: Callable[[OrderUpdate], None]) -> None:
        """Nothing will ever arrive."""


def trading_config_from_env(env: Mapping[str, str] | Environment, config: TradingConfig | None = None) -> TradingConfig:
    """``config`` (the configuration's; the shipped defaults if none), with ``QT_MAX_BAR_AGE_SECONDS`` if set."""
    env = Environment.read(env)
    config = config or TradingConfig()
    if env.max_bar_age_seconds is not None:
        config = replace(config, max_bar_age_seconds=env.max_bar_age_seconds)
    return config


@dataclass
class Runtime:
    """Everything a handler needs, wired once."""

    account: str
    store: StateStore
    ledger: Ledger
    broker: Broker
    gate: RiskGate
    desk: TradingDesk
    symbols: tuple[str, ...] = ()
    mode: str = "simulated"  # simulated, paper or live: shown by the API and the dashboard

    def work_until(self, seconds_left: float | None) -> None:
        """From now, broker calls that could not finish within ``seconds_left`` are not started
        (a Lambda's remaining time; ``None``: no limit). Only a real broker's calls take time."""
        if isinstance(self.broker, AlpacaBroker):
            self.broker.deadline.set(seconds_left)

    @property
    def queries(self) -> AccountQueries:
        """Read models and operator actions over this runtime's account (the HTTP API's)."""
        timeframes = {name: engine.instance.timeframe for name, engine in self.desk.engines.items()}
        return AccountQueries(
            self.account, tuple(self.desk.engines), self.store, self.ledger, self.gate, self.mode, timeframes
        )

    @classmethod
    def build(
        cls,
        store: StateStore,
        ledger: Ledger,
        broker: Broker,
        account: str = DEFAULT_ACCOUNT,
        strategies: Sequence[str | StrategyInstance] = tuple(STRATEGIES),
        config: TradingConfig | None = None,
        symbols: tuple[str, ...] = (),
        mode: str = "simulated",
        alert: Callable[[str], None] | None = None,
        resident: bool = False,
    ) -> Runtime:
        """The runtime of ``strategies`` (instances, or built-in names; those without an
        allocation share the account equally) on one account: the kernel from the one builder,
        with the ledger as journal and warm-up history and strategies kept as snapshots in
        ``store`` -- or, ``resident``, as live objects in this process (only for a store that
        lives and dies with the process); ``alert`` gets every risk alert as it is raised."""
        instances = [s if isinstance(s, StrategyInstance) else builtin_instance(s) for s in strategies]
        spec = KernelSpec(account, instances, config or TradingConfig())
        host = ResidentStrategies() if resident else None
        handlers = KernelHandlers(store, broker, journal=ledger, strategies=host, history=ledger, alert=alert)
        desk = build_kernel(spec, handlers)
        return cls(account, store, ledger, broker, desk.gate, desk, symbols, mode)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | Environment | None = None, secrets_client: Any | None = None
    ) -> Runtime:
        """Everything from the environment, read once (see the module docs). The ledger's schema is
        migrated at deploy time (the migration trigger), not here."""
        env = Environment.read(environ)
        loaded = load_config(env.config)
        if env.strategies:
            loaded = loaded.select(list(env.names("strategies")))
        trades = bool(env.alpaca_secret_id or env.apca_api_key_id)
        symbols = [s.upper() for s in env.names("symbols")]
        ledger = ledger_from_env(env, secrets_client)
        broker: Broker = NoBroker()
        if trades:
            alpaca = AlpacaBroker.from_env(env, secrets_client, paper=not loaded.config.live)
            # the account read once a minute, and moved by each fill the ledger books in between
            alpaca.account_reads.fills_since = lambda since: ledger.fills_between(
                since, datetime.now(UTC) + timedelta(days=1)
            )
            broker = alpaca
        return cls.build(
            open_state_store(state_url_from_env(env, secrets_client)),
            ledger,
            broker,
            account=env.account or loaded.config.account,
            strategies=loaded.instances,
            config=trading_config_from_env(env, loaded.config.trading()),
            symbols=tuple(symbols or loaded.config.data.symbols),
            mode=alpaca_mode(loaded.config.live),  # in AWS every function's account is Alpaca's
        )


def alpaca_mode(live: bool) -> str:
    """What the API and the dashboard call an Alpaca account: ``live`` or ``paper`` (a
    configuration's ``simulated`` broker exists only in local runs; in AWS, or with ``--broker
    alpaca``, it is Alpaca's paper account that trades)."""
    return "live" if live else "paper"


def operator_runtime(
    account: str, state_url: str | None, database_url: str | None, alert: Callable[[str], None] | None = None
) -> Runtime:
    """The runtime an operator's command works on (``qterm reconcile``): the state store and the
    ledger named, Alpaca from the ``APCA_*`` variables, the shipped configuration's risk limits."""
    loaded = load_config(None)
    store = open_state_store(state_url)
    ledger = open_ledger(database_url)
    ledger.migrate()
    broker = AlpacaBroker.from_env(paper=False if loaded.config.live else None)  # else ALPACA_PAPER decides
    return Runtime.build(store, ledger, broker, account, loaded.instances, loaded.config.trading(), alert=alert)


def market_history_from_env(env: Mapping[str, str] | Environment) -> HistoricalBars:
    """Alpaca's historical bars (the backfill's only outside call), with the keys of
    ``ALPACA_SECRET_ID``; ``APCA_DATA_URL`` points at another data endpoint."""
    from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars  # noqa: PLC0415

    env = Environment.read(env)
    return AlpacaHistoricalBars(*feed_keys("alpaca", env), url_override=env.apca_data_url)


def report_publisher_from_env(env: Mapping[str, str] | Environment) -> Callable[[DailyReport], PublishedReport]:
    """Publish a daily report to the reports bucket and the alert topic the CDK app names."""
    from quantterminal.adapters.reports.publisher import publish_report  # noqa: PLC0415

    env = Environment.read(env)
    if not env.reports_bucket:
        raise ValueError(f"no reports bucket: set {c.ENV_REPORTS_BUCKET}")
    bucket, topic = env.reports_bucket, env.alert_topic_arn
    return lambda report: publish_report(report, bucket, topic)


def http_api(runtime: Callable[[], Runtime]) -> APIGatewayRestResolver:
    """The HTTP API over a (lazily built) runtime's account."""
    from quantterminal.adapters.api.http_api import build_api  # noqa: PLC0415

    return build_api(lambda: runtime().queries, lambda: runtime().symbols)


def as_json_request(event: dict[str, Any]) -> dict[str, Any]:
    """The API Gateway ``event`` with a JSON body marked as JSON (see ``http_api.as_json_request``)."""
    from quantterminal.adapters.api import http_api  # noqa: PLC0415

    return http_api.as_json_request(event)


__all__ = [
    "NoBroker",
    "NoBrokerError",
    "Runtime",
    "as_json_request",
    "http_api",
    "ledger_from_env",
    "market_history_from_env",
    "operator_runtime",
    "report_publisher_from_env",
    "trading_config_from_env",
]
