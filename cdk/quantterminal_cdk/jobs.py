"""Scheduled work: EventBridge rules for the daily report (after the close), the backfill (before
the open) and reconciliation (every 5 minutes in market hours). All times are UTC and wide enough
for both EST and EDT; each handler consults the NYSE calendar and does nothing on a closed day."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from quantterminal_cdk.lint import lint_ignore

# 21:30 UTC = 16:30 EST / 17:30 EDT: after every close, early closes (13:00) included.
AFTER_CLOSE = events.Schedule.cron(minute="30", hour="21", week_day="MON-FRI")
# 12:00 UTC = 07:00 EST / 08:00 EDT: before every open.
BEFORE_OPEN = events.Schedule.cron(minute="0", hour="12", week_day="MON-FRI")
# 13:00-21:55 UTC covers 09:30-16:00 New York in either season.
MARKET_HOURS = events.Schedule.cron(minute="0/5", hour="13-21", week_day="MON-FRI")


class Schedules(Construct):
    """One rule per scheduled Lambda. EventBridge retries delivery and Lambda retries a failed run;
    what still fails lands in the ``failed`` queue (alarmed) with the event, to re-run by hand."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        daily_report: lambda_.IFunction,
        backfill: lambda_.IFunction,
        reconcile: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.failed = sqs.Queue(
            self,
            "Failed",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
        )
        lint_ignore(self.failed, "ES6000")  # a redrive policy on a dead-letter queue: nowhere to go
        NagSuppressions.add_resource_suppressions(
            self.failed,
            [{"id": "AwsSolutions-SQS3", "reason": "This queue is itself the schedules' dead-letter queue"}],
        )
        for fn, retries in ((daily_report, 2), (backfill, 2), (reconcile, 0)):  # reconcile runs again in 5 min
            fn.configure_async_invoke(
                retry_attempts=retries,
                max_event_age=Duration.hours(1),
                on_failure=destinations.SqsDestination(self.failed),
            )
        self.rules = {
            "DailyReport": events.Rule(
                self,
                "AfterClose",
                schedule=AFTER_CLOSE,
                description="daily report",
                targets=[targets.LambdaFunction(daily_report, retry_attempts=2, dead_letter_queue=self.failed)],
            ),
            "Backfill": events.Rule(
                self,
                "BeforeOpen",
                schedule=BEFORE_OPEN,
                description="backfill the last session's missing minutes",
                targets=[targets.LambdaFunction(backfill, retry_attempts=2, dead_letter_queue=self.failed)],
            ),
            "Reconcile": events.Rule(
                self,
                "MarketHours",
                schedule=MARKET_HOURS,
                description="reconcile with the broker; account metrics",
                targets=[targets.LambdaFunction(reconcile, retry_attempts=2, dead_letter_queue=self.failed)],
            ),
        }
