"""Backfill: before the open (EventBridge, weekdays) and on demand, find regular-session minutes
missing from the ledger and fetch them from Alpaca's historical bars API.

Default window: the last ``QT_BACKFILL_SESSIONS`` sessions (1). On demand:
``{"sessions": 5}`` or ``{"start": ISO, "end": ISO}``, optionally ``{"symbols": ["SPY"]}``.
Keys as for the feed (``ALPACA_SECRET_ID``); ``APCA_DATA_URL`` points at another data endpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.observability import SCHEDULED_EVENT, logger, metrics, tracer
from lambdas.wiring import runtime
from quantterminal import constants as c
from quantterminal.core.market_data.backfill import backfill, last_sessions
from quantterminal.environment import Environment
from quantterminal.wiring.runtime import market_history_from_env


def window(event: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """The ``[start, end)`` to repair."""
    if event.get("start") and event.get("end"):
        return datetime.fromisoformat(event["start"]), datetime.fromisoformat(event["end"])
    sessions = int(event.get("sessions") or Environment.read().backfill_sessions)
    return last_sessions(now, sessions)


@logger.inject_lambda_context(correlation_id_path=SCHEDULED_EVENT)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    start, end = window(event, datetime.now(UTC))
    symbols = event.get("symbols") or list(rt.symbols)
    results = backfill(rt.ledger, market_history_from_env(Environment.read()), symbols, start, end)
    filled = sum(r.filled for r in results)
    still = sum(r.still_missing for r in results)
    metrics.add_metric(name=c.METRIC_BACKFILLED_MINUTES, unit=MetricUnit.Count, value=filled)
    metrics.add_metric(name=c.METRIC_MINUTES_STILL_MISSING, unit=MetricUnit.Count, value=still)
    for r in results:
        if r.error:
            logger.warning("historical bars unavailable", extra=r.as_dict())
    logger.info("backfill done", extra={"start": start.isoformat(), "end": end.isoformat(), "filled": filled})
    return {"start": start.isoformat(), "end": end.isoformat(), "symbols": [r.as_dict() for r in results]}
