"""The ECS feed task, wired: the provider's keys from Secrets Manager, bars and the account's trade
updates onto Kinesis, health as structured logs and CloudWatch metrics (EMF) -- what it touches is
what this module builds."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from datetime import timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from quantterminal import constants as c
from quantterminal.adapters.aws.secrets import KeysNotSetError, feed_keys
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.market_data.alpaca_data import quiet_minutes
from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars
from quantterminal.adapters.market_data.feed_connection import PROVIDERS, FeedSettings
from quantterminal.adapters.market_data.feed_metrics import EmfHealthReporter, FileHealthReporter, LogHealthReporter
from quantterminal.adapters.streams.kinesis_sink import KinesisSink
from quantterminal.adapters.streams.record_sink import bar_records, order_records
from quantterminal.core.market_data.feed_pipeline import FeedPipeline
from quantterminal.core.market_data.sale_conditions import SaleConditionRules
from quantterminal.wiring.feed import FeedService


def run_feed_task(environ: Mapping[str, str], logger: Logger, stop: threading.Event | None = None) -> int:
    """The ECS feed task: provider websocket -> minute bars -> Kinesis "bars"; the account's trade
    updates -> Kinesis "orders". Configuration from the environment the CDK app sets, keys from
    Secrets Manager. Runs until SIGTERM (or ``stop``), then flushes what it holds; 0 if clean."""
    provider = PROVIDERS[environ.get(c.ENV_FEED_PROVIDER, "alpaca")]
    symbols = tuple(s.strip().upper() for s in environ[c.ENV_SYMBOLS].split(",") if s.strip())
    if stop is None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    health_file = FileHealthReporter(environ.get("QT_FEED_HEALTH_FILE", c.FEED_HEALTH_FILE))
    every = float(environ.get("QT_FEED_KEYS_RETRY_SECONDS", "60"))
    keys = wait_for_keys(environ, provider.name, logger, stop, health_file, every)
    if keys is None:
        return 0  # stopped while waiting: nothing was started
    key, secret = keys
    bars = bar_records(KinesisSink(environ[c.ENV_BARS_STREAM]))
    orders = order_records(KinesisSink(environ[c.ENV_ORDERS_STREAM]))
    alert = lambda message: logger.error(message, extra={"alert": True})  # noqa: E731 - one line, used twice
    broker = AlpacaBroker.from_env(environ)
    broker.on_update(orders, alert=alert)  # trade updates are forwarded like market data
    history_keys = (key, secret) if provider.name == "alpaca" else feed_keys("alpaca", environ)  # waited for too
    history = AlpacaHistoricalBars(*history_keys, url_override=environ.get("APCA_DATA_URL") or None)
    url = environ.get(c.ENV_FEED_URL) or provider.url
    quiet = int(environ.get("QT_FEED_QUIET_MINUTES", quiet_minutes(url)))
    pipeline = FeedPipeline(
        history,
        [bars],
        statuses=[bars],  # halts travel with the bars, in order
        conditions=SaleConditionRules(provider.conditions),
        quiet=timedelta(minutes=quiet),
        probe_silence=True,
        lock=threading.Lock(),
    )
    settings = FeedSettings(
        url,
        key,
        secret,
        bars=symbols,
        updated_bars=symbols if provider.name == "alpaca" else (),
        statuses=symbols,
        silence_timeout=float(environ.get("QT_FEED_SILENCE_SECONDS", "5")),
    )
    service = FeedService(
        settings,
        provider,
        pipeline,
        reporters=[EmfHealthReporter(), LogHealthReporter(logger), health_file],
        alert=alert,
        order_stream=None if broker.stream is None else broker.stream.stats,
    )
    logger.info("feed starting", extra={"provider": provider.name, "symbols": symbols, "url": settings.url})
    service.run(stop)
    pipeline.finish()
    broker.close()
    clean = bars.close() and orders.close()
    logger.info("feed stopped", extra=service.report().as_dict())
    return 0 if clean else 1


def wait_for_keys(
    environ: Mapping[str, str],
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
            if provider != "alpaca" and environ.get("ALPACA_SECRET_ID"):
                feed_keys("alpaca", environ)  # the trade updates stream and backfill need Alpaca's too
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
