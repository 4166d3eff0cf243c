"""Reconcile: every few minutes in market hours (EventBridge), compare the state store's open
orders and positions with the broker's, adopt the broker's and alert on every drift; and publish
the account's equity, the day's P&L and the drawdown from peak as metrics (the dashboard's P&L
and drawdown, and the drift alarm)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.observability import SCHEDULED_EVENT, logger, metrics, tracer
from lambdas.wiring import runtime
from quantterminal import constants as c
from quantterminal.core.trading.reconcile import Reconciler


@logger.inject_lambda_context(correlation_id_path=SCHEDULED_EVENT)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    now = datetime.now(UTC)
    drifts = Reconciler(
        rt.store, rt.broker, rt.gate, alert=lambda m: logger.error("reconciliation", extra={"alert": m})
    ).run(now)
    metrics.add_metric(name=c.METRIC_RECONCILIATION_DRIFTS, unit=MetricUnit.Count, value=len(drifts))
    for drift in drifts:
        logger.error("drift resolved", extra={"drift": drift.describe()})
    account = rt.broker.account()
    risk = rt.store.get_risk_state(rt.account)
    metrics.add_metric(name=c.METRIC_EQUITY, unit=MetricUnit.Count, value=float(account.equity))
    if risk.opening_equity:
        metrics.add_metric(
            name=c.METRIC_DAY_PNL, unit=MetricUnit.Count, value=float(account.equity - risk.opening_equity)
        )
    if risk.peak_equity:
        drawdown = max(0.0, float(1 - account.equity / risk.peak_equity)) * 100
        metrics.add_metric(name=c.METRIC_DRAWDOWN_PCT, unit=MetricUnit.Percent, value=drawdown)
    return {"drifts": [d.describe() for d in drifts], "equity": str(account.equity), "halted": risk.halted}
