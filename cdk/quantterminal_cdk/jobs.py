"""Scheduled work: EventBridge rules for the daily report (after the close), the backfill (before
the open) and reconciliation (every 5 minutes in market hours). All times are UTC and wide enough
for both EST and EDT; each handler consults the NYSE calendar and does nothing on a closed day."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from constructs import Construct

from quantterminal_cdk.queues import dead_letter_queue

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
        self.failed = dead_letter_queue(self, "Failed", "the scheduled jobs")
        # (rule, schedule, description, function, Lambda's retries of a failed run)
        jobs = (
            ("AfterClose", AFTER_CLOSE, "daily report", daily_report, 2),
            ("BeforeOpen", BEFORE_OPEN, "backfill the last session's missing minutes", backfill, 2),
            ("MarketHours", MARKET_HOURS, "reconcile with the broker; account metrics", reconcile, 0),  # again in 5 min
        )
        for *_, fn, retries in jobs:
            fn.configure_async_invoke(
                retry_attempts=retries,
                max_event_age=Duration.hours(1),
                on_failure=destinations.SqsDestination(self.failed),
            )
        self.rules = [
            events.Rule(
                self,
                rule_id,
                schedule=schedule,
                description=description,
                targets=[targets.LambdaFunction(fn, retry_attempts=2, dead_letter_queue=self.failed)],
            )
            for rule_id, schedule, description, fn, _ in jobs
        ]
