"""Entry point of the ECS Fargate feed task: provider websocket -> minute bars -> Kinesis "bars";
the account's trade updates -> Kinesis "orders". Wiring only; configuration from the environment
the CDK app sets (``quantterminal.constants``), keys from Secrets Manager. Stops cleanly on SIGTERM
(ECS sends it before a stop or a deployment), flushing what it holds.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from quantterminal import constants as c
from quantterminal.adapters.aws.secrets import feed_keys
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars
from quantterminal.adapters.market_data.feed_connection import PROVIDERS, FeedSettings
from quantterminal.adapters.market_data.feed_metrics import EmfHealthReporter, LogHealthReporter
from quantterminal.adapters.streams.kinesis_sink import KinesisSink
from quantterminal.adapters.streams.record_sink import bar_records, order_records
from quantterminal.wiring.feed import FeedPipeline, FeedService

logger = Logger(service=c.FEED_SERVICE)


def main(environ: Mapping[str, str] = os.environ, stop: threading.Event | None = None) -> int:
    """Run the feed until SIGTERM (or until ``stop`` is set, in tests)."""
    copy_config_to_registered_loggers(source_logger=logger)  # the adapters' logs as JSON too
    provider = PROVIDERS[environ.get(c.ENV_FEED_PROVIDER, "alpaca")]
    symbols = tuple(s.strip().upper() for s in environ[c.ENV_SYMBOLS].split(",") if s.strip())
    key, secret = feed_keys(provider.name, environ)
    bars = bar_records(KinesisSink(environ[c.ENV_BARS_STREAM]))
    orders = order_records(KinesisSink(environ[c.ENV_ORDERS_STREAM]))
    broker = AlpacaBroker.from_env(environ)
    broker.on_update(orders)  # trade updates are forwarded like market data
    history_keys = (key, secret) if provider.name == "alpaca" else feed_keys("alpaca", environ)
    history = AlpacaHistoricalBars(*history_keys, url_override=environ.get("APCA_DATA_URL") or None)
    pipeline = FeedPipeline(history, [bars])
    settings = FeedSettings(
        environ.get(c.ENV_FEED_URL) or provider.url,
        key,
        secret,
        bars=symbols,
        updated_bars=symbols if provider.name == "alpaca" else (),
        silence_timeout=float(environ.get("QT_FEED_SILENCE_SECONDS", "5")),
    )
    service = FeedService(
        settings,
        provider,
        pipeline,
        reporters=[EmfHealthReporter(), LogHealthReporter(logger)],
        alert=lambda message: logger.error(message, extra={"alert": True}),
    )
    if stop is None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logger.info("feed starting", extra={"provider": provider.name, "symbols": symbols, "url": settings.url})
    service.run(stop)
    pipeline.finish()
    broker.close()
    clean = bars.close() and orders.close()
    logger.info("feed stopped", extra=service.report().as_dict())
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
