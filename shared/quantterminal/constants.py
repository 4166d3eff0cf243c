"""Names shared by the CDK app and the code it deploys: one place, so they cannot drift apart.

Resource names themselves are chosen by CloudFormation; the code finds them through the
environment variables named here, which the CDK app sets.
"""

from __future__ import annotations

METRICS_NAMESPACE = "QuantTerminal"
SAMPLE_PREFIX = "sample:"  # a data source that names a set shipped with the package (``sample:spy_2011``)

# Environment variables (set by the CDK app on the feed task and the Lambdas; a user's shell for the
# CLI). Read in one place: ``quantterminal.environment.Environment``.
ENV_BARS_STREAM = "QT_BARS_STREAM"
ENV_ORDERS_STREAM = "QT_ORDERS_STREAM"
ENV_FEED_PROVIDER = "QT_FEED_PROVIDER"
ENV_FEED_URL = "QT_FEED_URL"
ENV_SYMBOLS = "QT_SYMBOLS"
ENV_ALPACA_SECRET_ID = "ALPACA_SECRET_ID"
ENV_POLYGON_SECRET_ID = "POLYGON_SECRET_ID"

# Feed metrics (CloudWatch, dimension service=feed).
FEED_SERVICE = "feed"
METRIC_FEED_MESSAGES = "FeedMessages"
METRIC_FEED_BARS = "FeedBars"
METRIC_FEED_LAG_P50 = "FeedLagP50"
METRIC_FEED_LAG_P99 = "FeedLagP99"
METRIC_FEED_RECONNECTS = "FeedReconnects"
METRIC_FEED_GAPS = "FeedGaps"
METRIC_FEED_BACKFILLED = "FeedBackfilledBars"
METRIC_FEED_UNFILLED = "FeedUnfilledGaps"
METRIC_FEED_MALFORMED = "FeedMalformedMessages"
METRIC_FEED_REFUSALS = "FeedRefusals"
METRIC_FEED_LATE = "FeedLateBars"  # minutes that came after later ones: stored, not traded
METRIC_FEED_DROPPED_FUTURE = "FeedDroppedFutureData"  # bars and trades dated beyond the clock
METRIC_FEED_DROPPED_UNSUBSCRIBED = "FeedDroppedUnsubscribed"  # events for symbols not subscribed
METRIC_FEED_ERRORS = "FeedErrors"
METRIC_FEED_READER_DEAD = "FeedReaderDead"  # 1 when the thread reading the socket has died
METRIC_FEED_WAITING_FOR_KEYS = "FeedWaitingForKeys"  # 1 while the provider secret holds no real keys yet
METRIC_ORDER_STREAM_DOWN = "OrderStreamDown"  # 1 while the trade_updates stream is not connected
METRIC_ORDER_UPDATES = "OrderUpdates"  # order updates the trade_updates stream delivered
METRIC_ORDER_UPDATES_RECOVERED = "OrderUpdatesRecovered"  # ... that only the REST catch-up found
SECRET_PLACEHOLDER = "REPLACE_ME"  # what the CDK app's secrets hold until the user puts the keys in
FEED_HEALTH_FILE = "/tmp/feed-health.json"  # the feed task's health, read by the container health check
METRIC_FEED_STALE = "FeedStale"  # 1 while the market is open and no bar came for 2 minutes

# The live path (bar handler, order events, recorder).
ENV_ACCOUNT = "QT_ACCOUNT"
ENV_STRATEGIES = "QT_STRATEGIES"  # only these instances of the configuration
ENV_REDIS_SECRET_ID = "QT_REDIS_SECRET_ID"  # the cache user's {username, password} (ElastiCache)
ENV_CONFIG = "QT_CONFIG"  # the configuration file (the CDK app bundles it); unset: the shipped one
ENV_MAX_BAR_AGE = "QT_MAX_BAR_AGE_SECONDS"
ENV_DB_SECRET_ID = "QT_DB_SECRET_ID"
ENV_TRADE_LOG_BUCKET = "QT_TRADE_LOG_BUCKET"
PIPELINE_SERVICE = "pipeline"

# The live path's metrics (CloudWatch, dimension service=pipeline).
METRIC_BARS_PROCESSED = "BarsProcessed"
METRIC_DECISION_LATENCY = "DecisionLatency"
METRIC_ORDERS_PLACED = "OrdersPlaced"
METRIC_ORDERS_REFUSED_BY_BROKER = "OrdersRefusedByBroker"  # passed risk, refused at submit
METRIC_ORDERS_REJECTED = "OrdersRejected"
METRIC_RISK_ALERTS = "RiskAlerts"
METRIC_ORDER_UPDATES = "OrderUpdates"
METRIC_FILLS = "Fills"
ENV_REPORTS_BUCKET = "QT_REPORTS_BUCKET"
ENV_ALERT_TOPIC_ARN = "QT_ALERT_TOPIC_ARN"
ENV_BACKFILL_SESSIONS = "QT_BACKFILL_SESSIONS"

# Scheduled jobs' metrics (dimension service=pipeline).
METRIC_EQUITY = "Equity"
METRIC_DAY_PNL = "DayPnL"
METRIC_DRAWDOWN_PCT = "DrawdownPct"
METRIC_SLIPPAGE_BPS = "SlippageBps"
METRIC_FILL_RATE = "FillRatePct"
METRIC_RECONCILIATION_DRIFTS = "ReconciliationDrifts"
METRIC_BACKFILLED_MINUTES = "BackfilledMinutes"
METRIC_MINUTES_STILL_MISSING = "MinutesStillMissing"

# Environment variables a user or a test sets (and the fields of the provider secrets, which use
# the same names): read only through ``quantterminal.environment.Environment``.
ENV_DATABASE_URL = "DATABASE_URL"
ENV_REDIS_URL = "REDIS_URL"
ENV_APCA_API_KEY_ID = "APCA_API_KEY_ID"
ENV_APCA_API_SECRET_KEY = "APCA_API_SECRET_KEY"
ENV_APCA_API_BASE_URL = "APCA_API_BASE_URL"
ENV_APCA_DATA_URL = "APCA_DATA_URL"
ENV_APCA_STREAM_URL = "APCA_STREAM_URL"
ENV_ALPACA_PAPER = "ALPACA_PAPER"
ENV_POLYGON_API_KEY = "POLYGON_API_KEY"
ENV_POLYGON_URL = "POLYGON_URL"
ENV_API_KEY = "QT_API_KEY"
ENV_FEED_HEALTH_FILE = "QT_FEED_HEALTH_FILE"
ENV_FEED_KEYS_RETRY_SECONDS = "QT_FEED_KEYS_RETRY_SECONDS"
ENV_FEED_QUIET_MINUTES = "QT_FEED_QUIET_MINUTES"
ENV_FEED_SILENCE_SECONDS = "QT_FEED_SILENCE_SECONDS"
