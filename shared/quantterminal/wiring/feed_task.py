"""The ECS feed task, wired: the provider's keys from Secrets Manager, bars and the account's trade
updates onto Kinesis, health as structured logs and CloudWatch metrics (EMF) -- what it touches is
what this module builds."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from quantterminal import constants as c
from quantterminal.adapters.aws.secrets import KeysNotSetError, feed_keys
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.market_data.alpaca_data import quiet_minutes
from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars
from quantterminal.adapters.market_data.feed_connection import PROVIDERS, FeedSettings
from quantterminal.adapters.market_data.feed_metrics import EmfHealthReporter, FileHealthReporter, LogHealthReporter
from quantterminal.adapters.market_data.paged_history import polygon_history
from quantterminal.adapters.streams.kinesis_sink import KinesisSink
from quantterminal.adapters.streams.record_sink import bar_records, order_records
from quantterminal.core.market_data.feed_pipeline import FeedPipeline
from quantterminal.core.market_data.ports import HistoricalBars
from quantterminal.core.market_data.sale_conditions import SaleConditionRules
from quantterminal.environment import Environment
from quantterminal.wiring.feed import FeedService

HANDOVER = timedelta(minutes=5)  # how far back a new task looks for minutes its predecessor missed


def run_feed_task(environ: Mapping[str, str] | Environment, logger: Logger, stop: threading.Event | None = None) -> int:
    """The ECS feed task: provider websocket -> minute bars -> Kinesis "bars"; the account's trade
    updates -> Kinesis "orders". Configuration from the environment the CDK app sets (read once),
    keys from Secrets Manager. Runs until SIGTERM (or ``stop``), then flushes what it holds; 0 if clean."""
    env = Environment.read(environ)
    provider = PROVIDERS[env.feed_provider]
    symbols = tuple(s.upper() for s in env.names("symbols"))
    if not symbols or not env.bars_stream or not env.orders_stream:
        raise ValueError(f"the feed task needs {c.ENV_SYMBOLS}, {c.ENV_BARS_STREAM} and {c.ENV_ORDERS_STREAM}")
    if stop is None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    health_file = FileHealthReporter(env.feed_health_file)
    keys = wait_for_keys(env, provider.name, logger, stop, health_file, env.feed_keys_retry_seconds)
    if keys is None:
        return 0  # stopped while waiting: nothing was started
    key, secret = keys
    bars = bar_records(KinesisSink(env.bars_stream))
    orders = order_records(KinesisSink(env.orders_stream))
    alert = lambda message: logger.error(message, extra={"alert": True})  # noqa: E731 - one line, used twice
    broker = AlpacaBroker.from_env(env)
    broker.on_update(orders, alert=alert)  # trade updates are forwarded like market data
    # gaps from the streaming provider's own history: two sources' bars are not to be mixed
    history: HistoricalBars = (
        polygon_history(key) if provider.name == "polygon" else AlpacaHistoricalBars(key, secret, env.apca_data_url)
    )
    url = env.feed_url or provider.url
    quiet = quiet_minutes(url) if env.feed_quiet_minutes is None else env.feed_quiet_minutes
    pipeline = FeedPipeline(
        history,
        [bars],
        statuses=[bars],  # halts travel with the bars, in order
        conditions=SaleConditionRules(provider.conditions),
        quiet=timedelta(minutes=quiet),
        probe_silence=True,
        lock=threading.Lock(),
        symbols=symbols,
    )
    settings = FeedSettings(
        url,
        key,
        secret,
        bars=symbols,
        updated_bars=symbols if provider.name == "alpaca" else (),
        statuses=symbols,
        silence_timeout=env.feed_silence_seconds,
    )
    service = FeedService(
        settings,
        provider,
        pipeline,
        reporters=[EmfHealthReporter(), LogHealthReporter(logger), health_file],
        alert=alert,
        order_stream=None if broker.stream is None else broker.stream.stats,
        reload_keys=lambda: feed_keys(provider.name, env, fresh=True),  # after a refused login (a key change)
    )
    logger.info("feed starting", extra={"provider": provider.name, "symbols": symbols, "url": settings.url})
    # A task replacing another (a deploy, a Spot interruption: SIGTERM, the old one flushes and
    # stops) fetches the minutes in between with each symbol's first bar
    pipeline.resume(datetime.now(UTC) - HANDOVER)
    service.run(stop)
    if service.failure is None:
        pipeline.finish()
    broker.close()
    clean = bars.close() and orders.close()
    logger.info("feed stopped", extra=service.report().as_dict())
    if service.failure is not None:
        logger.error("feed failed", extra={"failure": service.failure, "alert": True})  # ECS starts a new task
        return 1
    return 0 if clean else 1


def wait_for_keys(
    environ: Mapping[str, str] | Environment,
    provider: str,
    logger: Logger,
    stop: threading.Event,
    health: FileHealthReporter,
    every: float = 60.0,
) -> tuple[str, str] | None:
    """The provider's keys -- waiting, visibly, while the secret still holds the placeholder the
    deployment created it with: a warning log line and the ``FeedWaitingForKeys`` metric (an alarm
    watches it) every ``every`` seconds, the container healthy meanwhile. The secret is read again
    each time, so keys put in later are picked up without a redeploy. ``None`` if stopped first."""
    metrics = Metrics(namespace=c.METRICS_NAMESPACE, service=c.FEED_SERVICE)
    while True:
        try:
            keys = feed_keys(provider, environ)
            if provider != "alpaca" and Environment.read(environ).alpaca_secret_id:
                feed_keys("alpaca", environ)  # the trade updates stream needs Alpaca's too
        except KeysNotSetError as exc:
            logger.warning("feed waiting for keys", extra={"reason": str(exc), "retry_in_s": every})
            metrics.add_metric(name=c.METRIC_FEED_WAITING_FOR_KEYS, unit=MetricUnit.Count, value=1)
            metrics.flush_metrics()
            health.write("WAITING_FOR_KEYS")
            if stop.wait(every):
                return None
            continue
        metrics.add_metric(name=c.METRIC_FEED_WAITING_FOR_KEYS, unit=MetricUnit.Count, value=0)
        metrics.flush_metrics()
        return keys
