"""Monitoring: one CloudWatch dashboard and the alarms that email the alert topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from quantterminal import constants as c

if TYPE_CHECKING:
    from quantterminal_cdk.pipeline import PipelineStack
    from quantterminal_cdk.stateful import StatefulStack

MINUTE = Duration.minutes(1)


def metric(service: str, name: str, statistic: str = "Sum") -> cw.Metric:
    """One of QuantTerminal's own metrics (EMF, dimension ``service``), per minute."""
    return cw.Metric(
        namespace=c.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=MINUTE,
    )


def feed_metric(name: str, statistic: str = "Sum") -> cw.Metric:
    return metric(c.FEED_SERVICE, name, statistic)


def pipeline_metric(name: str, statistic: str = "Sum") -> cw.Metric:
    return metric(c.PIPELINE_SERVICE, name, statistic)


class Monitoring(Construct):
    """The dashboard and the alarms (every alarm notifies the alert topic)."""

    def __init__(self, scope: Construct, construct_id: str, pipeline: PipelineStack, data: StatefulStack) -> None:
        super().__init__(scope, construct_id)
        notify = actions.SnsAction(data.alerts)
        functions = pipeline.functions
        iterator_age = pipeline.bar_handler.metric("IteratorAge", statistic="Maximum", period=MINUTE)
        alarms = [
            cw.Alarm(
                self,
                "FeedSilent",
                alarm_description="No bar from the feed for 2 minutes while the market is open (or the feed is "
                "down); not while it is knowingly waiting for its keys (FeedWaitingForKeys says so)",
                # stale, or no report at all (the feed is dead) -- unless it reports waiting for keys
                metric=cw.MathExpression(
                    expression="FILL(stale, 1) * (1 - FILL(waiting, 0))",
                    using_metrics={
                        "stale": feed_metric(c.METRIC_FEED_STALE, "Maximum"),
                        "waiting": feed_metric(c.METRIC_FEED_WAITING_FOR_KEYS, "Maximum"),
                    },
                    label="feed stale or silent, and not waiting for keys",
                    period=MINUTE,
                ),
                threshold=1,
                evaluation_periods=2,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.BREACHING,  # no metrics at all: the feed is dead
            ),
            cw.Alarm(
                self,
                "IteratorAge",
                alarm_description="The bar handler is more than a minute behind the bars stream",
                metric=iterator_age,
                threshold=60_000,
                evaluation_periods=3,
            ),
            self._feed_flag(
                "FeedWaitingForKeys",
                "The feed is up but the provider secret holds no keys yet (README: Deploy)",
                c.METRIC_FEED_WAITING_FOR_KEYS,
                periods=5,
            ),
            self._feed_flag(
                "OrderStreamDown",
                "The account's trade_updates stream (fills) has been disconnected for 5 minutes; "
                "missed updates are caught up from the REST API once it is back",
                c.METRIC_ORDER_STREAM_DOWN,
                periods=5,
            ),
            # On what arrives in the failure queues, not on what they hold: their messages are kept
            # 14 days, and an alarm on the backlog would stay raised and mail no later failure.
            self._at_least(
                "FailedBatches",
                "A batch gave up after its retries: re-read it from the pointer in the queue (qterm failed-batches)",
                pipeline.failures.metric_number_of_messages_sent(period=MINUTE, statistic="Sum"),
            ),
            self._at_least(
                "FailedSchedules",
                "A scheduled job (daily report, backfill, reconcile) failed after its retries: "
                "the event is in the schedules' queue",
                pipeline.schedules.failed.metric_number_of_messages_sent(period=MINUTE, statistic="Sum"),
            ),
            cw.Alarm(
                self,
                "OrderEventsIteratorAge",
                alarm_description="Order events (fills) are more than a minute behind the orders stream",
                metric=pipeline.order_events.metric("IteratorAge", statistic="Maximum", period=MINUTE),
                threshold=60_000,
                evaluation_periods=3,
            ),
            self._at_least(
                "OrdersRefusedByBroker",
                "The broker refused an order the risk manager had passed (buying power, an invalid order, or "
                "every order with HTTP 401 after the keys changed)",
                pipeline_metric(c.METRIC_ORDERS_REFUSED_BY_BROKER),
            ),
            self._at_least(
                "FeedRefused",
                "The market data provider refused the feed's login or connection (keys, plan, connection limit)",
                feed_metric(c.METRIC_FEED_REFUSALS),
            ),
            self._at_least(
                "RiskAlert",
                "The risk manager tripped: drawdown breaker or daily loss limit",
                pipeline_metric(c.METRIC_RISK_ALERTS),
            ),
            self._at_least(
                "ReconciliationDrift",
                "Local orders or positions disagreed with the broker's (the broker's were adopted; "
                "see the reconcile function's logs)",
                pipeline_metric(c.METRIC_RECONCILIATION_DRIFTS, "Maximum"),
            ),
            self._at_least(
                "Drawdown",
                "Equity is 10% or more below its peak (the circuit breaker trips at 15%)",
                pipeline_metric(c.METRIC_DRAWDOWN_PCT, "Maximum"),
                threshold=10,
            ),
            *(
                self._at_least(f"{fn.node.id}Errors", f"{fn.node.id} raised errors", fn.metric_errors(period=MINUTE))
                for fn in functions
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(notify)
        self.alarms = alarms

        self._dashboard(pipeline, functions, iterator_age, alarms)

    def _feed_flag(
        self,
        name: str,
        description: str,
        metric_name: str,
        periods: int,
        missing: cw.TreatMissingData = cw.TreatMissingData.MISSING,
    ) -> cw.Alarm:
        """An alarm on a 0/1 flag the feed reports: raised for ``periods`` minutes in a row."""
        return cw.Alarm(
            self,
            name,
            alarm_description=description,
            metric=feed_metric(metric_name, "Maximum"),
            threshold=1,
            evaluation_periods=periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=missing,
        )

    def _at_least(self, name: str, description: str, metric: cw.IMetric, threshold: float = 1) -> cw.Alarm:
        """An alarm when ``metric`` reaches ``threshold`` in one period (no data: all is well)."""
        return cw.Alarm(
            self,
            name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _dashboard(
        self,
        pipeline: PipelineStack,
        functions: Sequence[lambda_.Function],
        iterator_age: cw.Metric,
        alarms: list[cw.Alarm],
    ) -> None:
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{pipeline.stack_name}-trading")
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Feed lag (ms)",
                left=[feed_metric(c.METRIC_FEED_LAG_P50, "Average"), feed_metric(c.METRIC_FEED_LAG_P99, "Maximum")],
            ),
            cw.GraphWidget(
                title="Bars / min", left=[feed_metric(c.METRIC_FEED_BARS), pipeline_metric(c.METRIC_BARS_PROCESSED)]
            ),
            cw.GraphWidget(
                title="Feed health",
                left=[
                    feed_metric(n)
                    for n in (
                        c.METRIC_FEED_RECONNECTS,
                        c.METRIC_FEED_GAPS,
                        c.METRIC_FEED_BACKFILLED,
                        c.METRIC_FEED_MALFORMED,
                    )
                ],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Iterator age (ms)", left=[iterator_age]),
            cw.GraphWidget(
                title="Decision latency (ms)",
                left=[
                    pipeline_metric(c.METRIC_DECISION_LATENCY, "p50"),
                    pipeline_metric(c.METRIC_DECISION_LATENCY, "p99"),
                ],
            ),
            cw.GraphWidget(
                title="Orders, fills, rejects",
                left=[pipeline_metric(n) for n in (c.METRIC_ORDERS_PLACED, c.METRIC_FILLS, c.METRIC_ORDERS_REJECTED)],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Equity and day P&L ($)",
                left=[pipeline_metric(c.METRIC_EQUITY, "Average")],
                right=[pipeline_metric(c.METRIC_DAY_PNL, "Average")],
            ),
            cw.GraphWidget(title="Drawdown from peak (%)", left=[pipeline_metric(c.METRIC_DRAWDOWN_PCT, "Maximum")]),
            cw.GraphWidget(
                title="Reconciliation drifts, backfill",
                left=[
                    pipeline_metric(c.METRIC_RECONCILIATION_DRIFTS),
                    pipeline_metric(c.METRIC_BACKFILLED_MINUTES),
                    pipeline_metric(c.METRIC_MINUTES_STILL_MISSING),
                ],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Errors", left=[fn.metric_errors(period=MINUTE) for fn in functions]),
            cw.GraphWidget(title="Risk alerts", left=[pipeline_metric(c.METRIC_RISK_ALERTS)]),
            cw.AlarmStatusWidget(title="Alarms", alarms=alarms),
        )
