"""Daily report: after the close (EventBridge, weekdays), the day's trades, P&L, Sharpe, win rate
and drawdown to date, fill rate, slippage and rejects -- JSON and an equity-curve PNG to S3, and a
readable summary emailed through SNS.

The scheduled event reports the New York date it fires on; ``{"day": "YYYY-MM-DD"}`` reports any
day on demand. On a day the market was closed (weekend, holiday) the schedule sends nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.observability import SCHEDULED_EVENT, logger, metrics, tracer
from lambdas.wiring import runtime
from quantterminal import constants as c
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.reporting.post_trade import LEDGER_START, report_for
from quantterminal.environment import Environment
from quantterminal.wiring.runtime import report_publisher_from_env


def report_day(event: dict[str, Any]) -> tuple[date, bool]:
    """The day to report, and whether it was asked for explicitly."""
    if event.get("day"):
        return date.fromisoformat(str(event["day"])), True
    fired = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")) if event.get("time") else None
    return session_date(fired or datetime.now(UTC)), False


@logger.inject_lambda_context(correlation_id_path=SCHEDULED_EVENT)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    day, on_demand = report_day(event)
    rt = runtime()
    report = report_for(rt.ledger, rt.account, day, LEDGER_START)
    if not report.trading_day and not on_demand:
        logger.info("market closed: no report", extra={"day": day.isoformat()})
        return {"day": day.isoformat(), "published": False}
    published = report_publisher_from_env(Environment.read())(report)
    e = report.execution
    if report.pnl is not None:
        metrics.add_metric(name=c.METRIC_DAY_PNL, unit=MetricUnit.Count, value=float(report.pnl))
    if e.slippage_bps_vs_decision is not None:
        metrics.add_metric(name=c.METRIC_SLIPPAGE_BPS, unit=MetricUnit.Count, value=e.slippage_bps_vs_decision)
    if e.fill_rate is not None:
        metrics.add_metric(name=c.METRIC_FILL_RATE, unit=MetricUnit.Percent, value=e.fill_rate * 100)
    logger.info("daily report published", extra={"day": day.isoformat(), "key": published.json_key})
    return {"day": day.isoformat(), "published": True, "report": published.json_key, "png": published.png_key}
