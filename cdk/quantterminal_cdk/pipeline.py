"""The pipeline stack: the feed task, the Lambdas with their Kinesis event sources, the failure
queue, and monitoring. Replaceable at will: it holds no data of its own."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Stack, triggers
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from quantterminal import constants as c
from quantterminal.config.load import LoadedConfig
from quantterminal_cdk.api import HttpApi
from quantterminal_cdk.bundling import NOT_SOURCE, ROOT, lambda_code
from quantterminal_cdk.config_bundle import IN_LAMBDA, ConfigBundle
from quantterminal_cdk.jobs import Schedules
from quantterminal_cdk.lint import lint_ignore
from quantterminal_cdk.monitoring import Monitoring
from quantterminal_cdk.operator_login import OperatorLogin
from quantterminal_cdk.queues import dead_letter_queue
from quantterminal_cdk.stateful import StatefulStack
from quantterminal_cdk.web import Dashboard


@dataclass(frozen=True)
class PipelineSettings:
    """What a deployment runs: the configuration (the user's file, or the shipped one), with the
    traded symbols overridable from cdk.json context or ``-c symbols=...``."""

    config: LoadedConfig
    symbols_override: str = ""
    # Concurrency kept for each of the bar handler and order events, so that no other function
    # (the API under load, a backfill) can take what trading needs; 0 reserves none (an account
    # whose Lambda limit is 10, as new ones have, cannot reserve any: README, Deploy).
    reserved_concurrency: int = 2
    operator_email: str = ""  # the dashboard's operator, created in the user pool (the alert email)
    # Container Insights' per-task metrics and logs (~$10-20 a month); the feed reports its own health
    container_insights: bool = False
    # The feed on Fargate Spot (~70% less; an interruption comes with two minutes' notice -- SIGTERM:
    # the task flushes and closes its streams, the replacement backfills the minutes in between)
    feed_spot: bool = True

    @property
    def symbols(self) -> str:
        return self.symbols_override or ",".join(self.config.config.data.symbols)

    @property
    def feed_provider(self) -> str:
        return self.config.config.data.feed


class PipelineStack(Stack):
    """Compute and monitoring over the stateful stack's data."""

    def __init__(
        self, scope: Construct, construct_id: str, data: StatefulStack, settings: PipelineSettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.data = data
        self.settings = settings
        self.code = lambda_code(ConfigBundle.of(settings.config))
        # The streams are encrypted with the data stack's key: CDK's grant to a stream writer is
        # kms:GenerateDataKey* and kms:ReEncrypt* on that one key (the resource is the key's ARN).
        NagSuppressions.add_stack_suppressions(
            self,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "KMS data-key actions for the Kinesis streams, on the data stack's one key only",
                    "appliesTo": ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                }
            ],
        )
        # On-failure destination: messages are pointers (shard, sequence numbers) to re-read.
        self.failures = dead_letter_queue(self, "FailedBatches", "the Kinesis event sources")
        live_env = {
            c.ENV_CONFIG: IN_LAMBDA,  # strategy instances, orders, risk, broker: the bundled configuration
            c.ENV_SYMBOLS: settings.symbols,
            c.ENV_DB_SECRET_ID: data.database_secret.secret_arn,
            c.ENV_REDIS_URL: data.redis_url,
            c.ENV_REDIS_SECRET_ID: data.cache_secret.secret_arn,  # the cache user's name and password
            c.ENV_TRADE_LOG_BUCKET: data.trade_log.bucket_name,
        }
        # Least privilege: the Alpaca keys only where orders are placed or booked (bar handler,
        # order events, reconcile) and where Alpaca's historical data is read (backfill; the same
        # keys serve data). Every other function gets no broker and cannot trade.
        alpaca_env = {**live_env, c.ENV_ALPACA_SECRET_ID: data.alpaca_secret.secret_arn}
        reserved = settings.reserved_concurrency or None
        self.bar_handler = self._function(
            "BarHandler", "lambdas.bar_handler.handler", alpaca_env, Duration.seconds(30), reserved=reserved
        )
        self.order_events = self._function(
            "OrderEvents", "lambdas.order_events.handler", alpaca_env, Duration.seconds(30), reserved=reserved
        )
        self.recorder = self._function("Recorder", "lambdas.recorder.handler", live_env, Duration.seconds(60))
        self.api_handler = self._function("ApiHandler", "lambdas.api.handler", live_env, Duration.seconds(10))
        self.daily_report = self._function(
            "DailyReport",
            "lambdas.daily_report.handler",
            {
                **live_env,
                c.ENV_REPORTS_BUCKET: data.reports.bucket_name,
                c.ENV_ALERT_TOPIC_ARN: data.alerts.topic_arn,
                "MPLCONFIGDIR": "/tmp/matplotlib",  # the code folder is read-only
            },
            Duration.minutes(2),
            memory=1024,
        )
        self.backfill = self._function("Backfill", "lambdas.backfill.handler", alpaca_env, Duration.minutes(5))
        self.reconcile = self._function("Reconcile", "lambdas.reconcile.handler", alpaca_env, Duration.seconds(60))
        self.migrate = self._function(
            "Migrate",
            "lambdas.migrate.handler",
            {c.ENV_DB_SECRET_ID: data.database_secret.secret_arn},
            Duration.minutes(5),
        )
        self.functions = (
            self.bar_handler,
            self.order_events,
            self.recorder,
            self.api_handler,
            self.daily_report,
            self.backfill,
            self.reconcile,
            self.migrate,
        )
        self.with_alpaca_keys = (self.bar_handler, self.order_events, self.reconcile, self.backfill)
        for fn in self.functions:
            data.database_secret.grant_read(fn)
            data.cache_secret.grant_read(fn)
        for fn in self.with_alpaca_keys:
            data.alpaca_secret.grant_read(fn)
        data.trade_log.grant_put(self.order_events)
        data.reports.grant_put(self.daily_report)
        data.alerts.grant_publish(self.daily_report)
        # Migrations run at deploy time, before anything else may use the ledger.
        self.migration = triggers.Trigger(
            self, "MigrateOnDeploy", handler=self.migrate, timeout=Duration.minutes(5), execute_on_handler_change=True
        )
        for fn in self.functions:
            if fn is not self.migrate:
                fn.node.add_dependency(self.migration)
        self.login = OperatorLogin(self, "Login", operator_email=settings.operator_email)
        self.api = HttpApi(self, "Http", handler=self.api_handler, login=self.login)
        self.dashboard = Dashboard(
            self, "Dashboard", api=self.api.rest_api, access_logs=data.access_logs, login=self.login
        )
        self.schedules = Schedules(
            self, "Schedules", daily_report=self.daily_report, backfill=self.backfill, reconcile=self.reconcile
        )
        # Latency first for decisions: no batching window, small batches.
        self._consume(self.bar_handler, data.bars, batch_size=10, window=Duration.seconds(0))
        self._consume(self.order_events, data.orders, batch_size=50, window=Duration.seconds(0))
        self._consume(self.recorder, data.bars, batch_size=500, window=Duration.seconds(5))
        self.feed = self._feed_service()
        self.monitoring = Monitoring(self, "Monitoring", pipeline=self, data=data)
        self._justify()
        CfnOutput(
            self, "FailedBatchesQueue", value=self.failures.queue_url, description="pointers to batches to re-read"
        )
        CfnOutput(self, "FeedService", value=self.feed.service_name)

    def _justify(self) -> None:
        """Every cdk-nag finding left standing, with the reason it is right here."""
        for fn in self.functions:
            assert fn.role is not None
            NagSuppressions.add_resource_suppressions(
                fn.role,
                [
                    {
                        "id": "AwsSolutions-IAM4",
                        "reason": "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole are AWS's minimal "
                        "policies for writing logs and managing the function's network interfaces",
                        "appliesTo": [
                            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                        ],
                    },
                    {
                        "id": "AwsSolutions-IAM5",
                        "reason": "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
                        "appliesTo": ["Resource::*"],
                    },
                ],
                apply_to_children=True,
            )
        for fn, bucket in ((self.order_events, "TradeLog"), (self.daily_report, "Reports")):
            assert fn.role is not None
            NagSuppressions.add_resource_suppressions(
                fn.role,
                [
                    {
                        "id": "AwsSolutions-IAM5",
                        "reason": f"Object-level writes (PutObject, multipart abort) on {bucket} objects only",
                        "appliesTo": ["Action::s3:Abort*", {"regex": f"/^Resource::.*{bucket}.*/\\*$/g"}],
                    }
                ],
                apply_to_children=True,
            )
        assert self.daily_report.role is not None
        NagSuppressions.add_resource_suppressions(
            self.daily_report.role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "Publishing to the KMS-encrypted alert topic needs GenerateDataKey* on that one key",
                    "appliesTo": ["Action::kms:GenerateDataKey*"],
                }
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.feed.task_definition,
            [
                {
                    "id": "AwsSolutions-ECS2",
                    "reason": "The environment holds configuration only (symbols, stream names); keys are ECS secrets",
                },
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "ecr:GetAuthorizationToken supports no resource-level permissions",
                    "appliesTo": ["Resource::*"],
                },
            ],
            apply_to_children=True,
        )

    def _function(
        self,
        name: str,
        handler: str,
        environment: dict[str, str],
        timeout: Duration,
        memory: int = 512,
        reserved: int | None = None,
    ) -> lambda_.Function:
        """Every handler is built the same way: one code bundle, in the VPC, JSON logs, tracing."""
        log_group = logs.LogGroup(self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH)
        fn = lambda_.Function(
            self,
            name,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.X86_64,
            code=self.code,
            handler=handler,
            timeout=timeout,
            memory_size=memory,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": c.PIPELINE_SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            },
            vpc=self.data.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.data.clients],
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            reserved_concurrent_executions=reserved,
        )
        # cfn-lint's serverless rule WS1004 looks for a log group named /aws/lambda/<function>; this
        # one's log group (with its retention) is attached through LoggingConfig instead.
        lint_ignore(fn, "WS1004")
        return fn

    def _consume(
        self, fn: lambda_.Function, stream: kinesis.Stream, batch_size: int, window: Duration
    ) -> sources.KinesisEventSource:
        # Retry attempts and record age are both infinite by default: one poison record would
        # block its shard until the data expires. Bisect, give up after 5 tries or an hour, and
        # leave a pointer to the batch in the failure queue.
        source = sources.KinesisEventSource(
            stream,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=batch_size,
            max_batching_window=window,
            report_batch_item_failures=True,
            bisect_batch_on_error=True,
            retry_attempts=5,
            max_record_age=Duration.hours(1),
            parallelization_factor=1,  # one invocation per shard at a time: each symbol stays in order
            on_failure=sources.SqsDlq(self.failures),
        )
        fn.add_event_source(source)
        return source

    def _feed_service(self) -> ecs.FargateService:
        insights = ecs.ContainerInsights.ENABLED if self.settings.container_insights else ecs.ContainerInsights.DISABLED
        cluster = ecs.Cluster(
            self, "Cluster", vpc=self.data.vpc, container_insights_v2=insights, enable_fargate_capacity_providers=True
        )
        if not self.settings.container_insights:
            NagSuppressions.add_resource_suppressions(
                cluster,
                [
                    {
                        "id": "AwsSolutions-ECS4",
                        "reason": "off by default for cost (-c containerInsights=true): "
                        "the one feed task reports its own health as metrics",
                    }
                ],
            )
        # Fargate runs x86_64 here: the image is built for it whatever the deploying machine is (an
        # Apple-silicon laptop would otherwise build arm64, and the task would not start).
        task = ecs.FargateTaskDefinition(
            self,
            "FeedTask",
            cpu=256,
            memory_limit_mib=512,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        image = ecs.ContainerImage.from_asset(
            str(ROOT), file="ecs_feed/Dockerfile", exclude=NOT_SOURCE, platform=ecr_assets.Platform.LINUX_AMD64
        )
        task.add_container(
            "feed",
            image=image,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="feed",
                log_group=logs.LogGroup(self, "FeedLogs", retention=logs.RetentionDays.ONE_MONTH),
            ),
            environment={
                c.ENV_SYMBOLS: self.settings.symbols,
                c.ENV_FEED_PROVIDER: self.settings.feed_provider,
                c.ENV_ALPACA_PAPER: "false" if self.settings.config.config.live else "true",  # its trade updates stream
                c.ENV_BARS_STREAM: self.data.bars.stream_name,
                c.ENV_ORDERS_STREAM: self.data.orders.stream_name,
                # The keys are read from Secrets Manager by the task itself (not injected at start):
                # a first deploy comes up before they exist, and the feed picks them up once put in.
                c.ENV_ALPACA_SECRET_ID: self.data.alpaca_secret.secret_arn,
                c.ENV_POLYGON_SECRET_ID: self.data.polygon_secret.secret_arn,
            },
            health_check=ecs.HealthCheck(  # the feed's own health: reporting, and its reader alive
                command=["CMD", "python", "-m", "ecs_feed.healthcheck"],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
            stop_timeout=Duration.seconds(30),
        )
        self.data.alpaca_secret.grant_read(task.task_role)
        if self.settings.feed_provider == "polygon":
            self.data.polygon_secret.grant_read(task.task_role)
        self.data.bars.grant_write(task.task_role)
        self.data.orders.grant_write(task.task_role)
        return ecs.FargateService(
            self,
            "Feed",
            cluster=cluster,
            task_definition=task,
            desired_count=1,
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(
                    capacity_provider="FARGATE_SPOT" if self.settings.feed_spot else "FARGATE", weight=1
                )
            ],
            # Providers allow one connection per key: never run two tasks, even during a deploy.
            min_healthy_percent=0,
            max_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.data.clients],
            assign_public_ip=False,
        )
