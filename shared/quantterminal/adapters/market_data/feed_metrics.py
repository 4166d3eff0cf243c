"""Feed health out to where people look: CloudWatch metrics (Powertools Metrics, EMF on stdout,
which CloudWatch Logs turns into metrics with no API call), a structured JSON log line, and a file
the container health check reads."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from quantterminal import constants as c
from quantterminal.core.market_data.feed_health import FeedHealth

_COUNTERS = {  # health field -> metric published as the increase since the last report
    "messages": c.METRIC_FEED_MESSAGES,
    "bars": c.METRIC_FEED_BARS,
    "reconnects": c.METRIC_FEED_RECONNECTS,
    "gaps": c.METRIC_FEED_GAPS,
    "backfilled": c.METRIC_FEED_BACKFILLED,
    "unfilled": c.METRIC_FEED_UNFILLED,
    "malformed": c.METRIC_FEED_MALFORMED,
    "refusals": c.METRIC_FEED_REFUSALS,
    "late": c.METRIC_FEED_LATE,
    "dropped_future": c.METRIC_FEED_DROPPED_FUTURE,
    "dropped_unsubscribed": c.METRIC_FEED_DROPPED_UNSUBSCRIBED,
    "errors": c.METRIC_FEED_ERRORS,
    "order_updates": c.METRIC_ORDER_UPDATES,
    "order_updates_recovered": c.METRIC_ORDER_UPDATES_RECOVERED,
}


class EmfHealthReporter:
    """Publishes each health report as CloudWatch metrics (namespace ``QuantTerminal``, service
    ``feed``): counters as increases per report, lag percentiles in milliseconds."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or Metrics(namespace=c.METRICS_NAMESPACE, service=c.FEED_SERVICE)
        self._previous: dict[str, int] = dict.fromkeys(_COUNTERS, 0)

    def __call__(self, health: FeedHealth) -> None:
        for field, name in _COUNTERS.items():
            value: int = getattr(health, field)
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value - self._previous[field])
            self._previous[field] = value
        self.metrics.add_metric(name=c.METRIC_FEED_STALE, unit=MetricUnit.Count, value=int(health.stale))
        self.metrics.add_metric(
            name=c.METRIC_FEED_READER_DEAD, unit=MetricUnit.Count, value=int(not health.reader_alive)
        )
        if health.order_stream is not None:
            down = int(health.order_stream != "up")
            self.metrics.add_metric(name=c.METRIC_ORDER_STREAM_DOWN, unit=MetricUnit.Count, value=down)
        if health.lag_p50_ms is not None and health.lag_p99_ms is not None:
            self.metrics.add_metric(name=c.METRIC_FEED_LAG_P50, unit=MetricUnit.Milliseconds, value=health.lag_p50_ms)
            self.metrics.add_metric(name=c.METRIC_FEED_LAG_P99, unit=MetricUnit.Milliseconds, value=health.lag_p99_ms)
        self.metrics.flush_metrics()


class LogHealthReporter:
    """Writes each health report as one structured JSON log line (Powertools Logger)."""

    def __init__(self, logger: Logger | None = None) -> None:
        self.logger = logger or Logger(service=c.FEED_SERVICE)

    def __call__(self, health: FeedHealth) -> None:
        self.logger.info("feed health", extra=health.as_dict())


class FileHealthReporter:
    """Writes each health report's status and time to a small JSON file (atomically): what the
    container's health check reads (``ecs_feed.healthcheck``), so ECS replaces a feed whose reader
    died or that stopped reporting."""

    def __init__(self, path: str | Path = c.FEED_HEALTH_FILE) -> None:
        self.path = Path(path)

    def __call__(self, health: FeedHealth) -> None:
        self.write(health.status)

    def write(self, status: str) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"status": status, "at": time.time()}), encoding="utf-8")
        os.replace(temporary, self.path)
