"""The stateful stack: network, Aurora Serverless v2 PostgreSQL, ElastiCache (Redis, TLS only),
the Kinesis streams, the S3 buckets, the provider secrets and the alert topic. Termination
protection is on and every data resource is retained if the stack is ever deleted."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from cdk_nag import NagSuppressions
from constructs import Construct

from quantterminal import constants as c
from quantterminal_cdk.queues import dead_letter_queue

CACHE_USER = "quantterminal"
LOG_RETENTION_FUNCTION = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"  # CDK's singleton, by its fixed id


@dataclass(frozen=True)
class CostSettings:
    """The idle-cost levers (cdk context; README "Deploy: what it costs" weighs each):

    - ``nat``: ``instance`` (default: a t4g.nano NAT instance, ~$4 a month, one machine to trust)
      or ``gateway`` (the managed NAT gateway, ~$33 a month plus data, highly available);
    - ``database_min_acu``: 0 (default: Aurora pauses after ``database_pause_minutes`` without a
      connection and resumes in ~15 s on the next one) or 0.5 and up (always warm);
    - ``stream_retention_hours``: 24 (default, included in the shard price) up to 168 (how long a
      failed batch's records can still be re-read from its pointer; +$0.02 a shard-hour past 24);
    """

    nat: str = "instance"
    database_min_acu: float = 0.0
    database_pause_minutes: int = 10
    stream_retention_hours: int = 24

    def __post_init__(self) -> None:
        if self.nat not in ("instance", "gateway"):
            raise ValueError(f"nat must be instance or gateway, not {self.nat!r}")
        if not 0 <= self.database_min_acu <= 4:
            raise ValueError(f"databaseMinAcu must be between 0 and 4, not {self.database_min_acu}")
        if not 24 <= self.stream_retention_hours <= 168:
            raise ValueError(f"streamRetentionHours must be between 24 and 168, not {self.stream_retention_hours}")


class StatefulStack(Stack):
    """Everything that holds data. Exposes what the pipeline stack needs as attributes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        alert_email: str = "",
        cost: CostSettings | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=True, **kwargs)  # type: ignore[arg-type]
        self.cost = cost or CostSettings()
        self.key = kms.Key(self, "DataKey", enable_key_rotation=True, description="QuantTerminal data at rest")
        self._network()
        self._database()
        self._cache()
        self._streams()
        self._buckets()
        self._secrets_and_alerts(alert_email)

    def _network(self) -> None:
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,  # the broker and data APIs are on the internet; one NAT keeps cost down
            nat_gateway_provider=(
                ec2.NatProvider.gateway()
                if self.cost.nat == "gateway"
                else ec2.NatProvider.instance_v2(
                    instance_type=ec2.InstanceType("t4g.nano"),
                    machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=ec2.AmazonLinuxCpuType.ARM_64),
                    default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
                )
            ),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ],
        )
        if self.cost.nat == "instance":
            self._harden_nat_instance()
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH, encryption_key=None)
            ),
        )
        # Compute that may reach the database and the cache joins this group.
        self.clients = ec2.SecurityGroup(self, "DataClients", vpc=self.vpc, description="QuantTerminal compute")

    def _harden_nat_instance(self) -> None:
        """The NAT instance's disk encrypted (CDK's provider has no option for it)."""
        for subnet in self.vpc.public_subnets:
            nat = subnet.node.try_find_child("NatInstance")
            if not isinstance(nat, ec2.Instance):
                continue
            cfn = nat.node.default_child
            assert isinstance(cfn, ec2.CfnInstance)
            cfn.block_device_mappings = [
                ec2.CfnInstance.BlockDeviceMappingProperty(
                    device_name="/dev/xvda",
                    ebs=ec2.CfnInstance.EbsProperty(encrypted=True, volume_type="gp3", volume_size=8),
                )
            ]
            NagSuppressions.add_resource_suppressions(
                nat,
                [
                    {
                        "id": "AwsSolutions-EC28",
                        "reason": "a NAT instance: basic monitoring; the feed's health shows egress",
                    },
                    {
                        "id": "AwsSolutions-EC29",
                        "reason": "a NAT instance is replaced, not kept: CloudFormation must be able to",
                    },
                ],
                apply_to_children=True,
            )

    def _database(self) -> None:
        group = ec2.SecurityGroup(self, "DatabaseSg", vpc=self.vpc, description="Aurora PostgreSQL")
        group.add_ingress_rule(self.clients, ec2.Port.tcp(5432), "QuantTerminal compute")
        self.database = rds.DatabaseCluster(
            self,
            "Database",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_7),
            writer=rds.ClusterInstance.serverless_v2("writer"),
            serverless_v2_min_capacity=self.cost.database_min_acu,
            serverless_v2_auto_pause_duration=(
                Duration.minutes(self.cost.database_pause_minutes) if self.cost.database_min_acu == 0 else None
            ),
            serverless_v2_max_capacity=4,
            credentials=rds.Credentials.from_generated_secret("quantterminal"),
            default_database_name="quantterminal",
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[group],
            storage_encrypted=True,
            storage_encryption_key=self.key,
            deletion_protection=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=Duration.days(14)),
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=logs.RetentionDays.ONE_MONTH,  # exported logs expire too
            removal_policy=RemovalPolicy.RETAIN,
        )
        assert self.database.secret is not None
        self.database_secret = self.database.secret
        self.database.add_rotation_single_user(automatically_after=Duration.days(30))
        # CDK sets the exported logs' retention through its log-retention function (one per stack)
        retention_role = f"/{self.stack_name}/{LOG_RETENTION_FUNCTION}/ServiceRole"
        NagSuppressions.add_resource_suppressions_by_path(
            self,
            [f"{retention_role}/Resource", f"{retention_role}/DefaultPolicy/Resource"],
            [
                {"id": "AwsSolutions-IAM4", "reason": "CDK's log-retention function: basic Lambda execution role"},
                {"id": "AwsSolutions-IAM5", "reason": "CDK's log-retention function sets retention on any log group"},
            ],
        )

    def _cache(self) -> None:
        group = ec2.SecurityGroup(self, "CacheSg", vpc=self.vpc, description="ElastiCache Serverless")
        group.add_ingress_rule(self.clients, ec2.Port.tcp(6379), "QuantTerminal compute")
        private = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        # Authentication beyond the network: the default user is switched off, and the pipeline
        # connects as its own user with a generated password -- nothing else in the VPC can write
        # trading state.
        self.cache_secret = secretsmanager.Secret(
            self,
            "CacheUser",
            description="ElastiCache user for QuantTerminal: {username, password}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": CACHE_USER}),
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=40,
            ),
        )
        prefix = self.stack_name.lower()
        default_user = elasticache.CfnUser(
            self,
            "CacheDefaultUser",
            engine="valkey",
            user_id=f"{prefix}-default",
            user_name="default",
            access_string="off -@all",
            no_password_required=True,
        )
        app_user = elasticache.CfnUser(
            self,
            "CacheAppUser",
            engine="valkey",
            user_id=f"{prefix}-app",
            user_name=CACHE_USER,
            access_string="on ~* +@all -@dangerous",
            authentication_mode={
                "Type": "password",
                "Passwords": [self.cache_secret.secret_value_from_json("password").unsafe_unwrap()],
            },
        )
        users = elasticache.CfnUserGroup(
            self,
            "CacheUsers",
            engine="valkey",
            user_group_id=f"{prefix}-users",
            user_ids=[f"{prefix}-default", f"{prefix}-app"],
        )
        users.add_dependency(default_user)
        users.add_dependency(app_user)
        self.cache = elasticache.CfnServerlessCache(
            self,
            "Cache",
            engine="valkey",  # Redis-compatible; ElastiCache Serverless speaks TLS only
            serverless_cache_name=f"{self.stack_name.lower()}-state",
            subnet_ids=private.subnet_ids,
            security_group_ids=[group.security_group_id],
            kms_key_id=self.key.key_id,
            snapshot_retention_limit=7,
            user_group_id=users.user_group_id,
        )
        self.cache.add_dependency(users)
        self.cache.apply_removal_policy(RemovalPolicy.RETAIN)
        NagSuppressions.add_resource_suppressions(
            self.cache_secret,
            [{"id": "AwsSolutions-SMG4", "reason": "ElastiCache user passwords are not rotated by Secrets Manager"}],
        )
        self.redis_url = f"rediss://{self.cache.attr_endpoint_address}:{self.cache.attr_endpoint_port}/0"

    def _streams(self) -> None:
        self.bars = self._stream("Bars")
        self.orders = self._stream("Orders")

    def _stream(self, name: str) -> kinesis.Stream:
        # The stack's own key, like the rest. Its policy trusts the account's IAM (CDK's default key
        # policy), so the pipeline's roles are granted in their own policies: no cross-stack cycle.
        return kinesis.Stream(
            self,
            name,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            shard_count=1,  # a dozen symbols of minute bars is far below one shard's 1,000 records/s
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            retention_period=Duration.hours(self.cost.stream_retention_hours),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _bucket(self, name: str, **kwargs: object) -> s3.Bucket:
        return s3.Bucket(
            self,
            name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            **kwargs,  # type: ignore[arg-type]
        )

    def _buckets(self) -> None:
        self.access_logs = self._bucket("AccessLogs")  # S3 log delivery writes through a bucket policy
        self.trade_log = self._bucket(
            "TradeLog",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="trade-log/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(90)
                        ),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(365)),
                    ]
                )
            ],
        )
        self.reports = self._bucket(
            "Reports", server_access_logs_bucket=self.access_logs, server_access_logs_prefix="reports/"
        )

    def _secrets_and_alerts(self, alert_email: str) -> None:
        # Created holding JSON with the fields the feed and the functions read, set to a placeholder
        # (the feed waits, visibly, until real keys are put in; README: Deploy). Never in code or context.
        self.alpaca_secret = self._keys_secret(
            "AlpacaKeys",
            "Alpaca API keys: {APCA_API_KEY_ID, APCA_API_SECRET_KEY}",
            (c.ENV_APCA_API_KEY_ID, c.ENV_APCA_API_SECRET_KEY),
        )
        self.polygon_secret = self._keys_secret(
            "PolygonKey", "Polygon API key: {POLYGON_API_KEY}", (c.ENV_POLYGON_API_KEY,)
        )
        self.alerts = sns.Topic(
            self, "Alerts", display_name="QuantTerminal alerts", master_key=self.key, enforce_ssl=True
        )
        # Alarms publish to the encrypted topic: CloudWatch needs to use the key.
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        for secret, source in ((self.alpaca_secret, "Alpaca"), (self.polygon_secret, "Polygon")):
            NagSuppressions.add_resource_suppressions(
                secret,
                [
                    {
                        "id": "AwsSolutions-SMG4",
                        "reason": f"{source} issues these keys; they are rotated in {source}'s dashboard, "
                        "then stored here (README: Deploy)",
                    }
                ],
            )
        if alert_email:
            # Alerts SNS could not deliver (mailbox gone, bounced) are kept for 14 days, not lost.
            undelivered = dead_letter_queue(self, "UndeliveredAlerts", "the alert email subscription")
            self.alerts.add_subscription(subscriptions.EmailSubscription(alert_email, dead_letter_queue=undelivered))
        CfnOutput(self, "AlpacaSecretArn", value=self.alpaca_secret.secret_arn, description="put the Alpaca keys here")
        CfnOutput(self, "PolygonSecretArn", value=self.polygon_secret.secret_arn, description="the Polygon key")
        CfnOutput(self, "TradeLogBucket", value=self.trade_log.bucket_name)

    def _keys_secret(self, name: str, description: str, fields: tuple[str, ...]) -> secretsmanager.Secret:
        """A secret holding ``{field: "REPLACE_ME", ...}`` until the user puts the provider's keys in."""
        return secretsmanager.Secret(
            self,
            name,
            description=description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                # the generator must fill one key: a random one nobody reads, beside the placeholders
                secret_string_template=json.dumps(dict.fromkeys(fields, c.SECRET_PLACEHOLDER)),
                generate_string_key="unused",
                exclude_punctuation=True,
            ),
        )
