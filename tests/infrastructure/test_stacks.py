"""The CDK app, synthesized (no Docker, no AWS credentials): template assertions on what matters,
cdk-nag's AWS Solutions checks, and cfn-lint over the cloud assembly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
ROOT = Path(__file__).resolve().parents[2]
USER_STRATEGIES = ROOT / "tests" / "user_strategies"
sys.path.insert(0, str(ROOT / "cdk"))

cdk = pytest.importorskip("aws_cdk", reason="aws-cdk-lib is in the dev extra")
import app as quantterminal_app  # noqa: E402
from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    # Skip asset bundling (pip for the Lambda platform): the templates do not depend on it.
    application = cdk.App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": [], "alertEmail": "ops@example.com"})
    data, pipeline = quantterminal_app.build(application)
    application.synth()
    return {
        "outdir": outdir,
        "data": data,
        "pipeline": pipeline,
        "data_t": Template.from_stack(data),
        "pipe_t": Template.from_stack(pipeline),
    }


def test_cdk_nag_aws_solutions_checks_pass(synthesized: dict[str, Any]) -> None:
    for stack in (synthesized["data"], synthesized["pipeline"]):
        errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert errors == [], [f"{e.id}: {e.entry.data}" for e in errors]


def test_event_sources_cannot_let_one_poison_record_block_a_shard(synthesized: dict[str, Any]) -> None:
    mappings = synthesized["pipe_t"].find_resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 3
    for mapping in mappings.values():
        p = mapping["Properties"]
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert p["BisectBatchOnFunctionError"] is True
        assert p["MaximumRetryAttempts"] == 5
        assert p["MaximumRecordAgeInSeconds"] == 3600
        assert p["StartingPosition"] == "LATEST"
        assert "OnFailure" in p["DestinationConfig"]
        assert p["ParallelizationFactor"] == 1
    batch = sorted(m["Properties"]["BatchSize"] for m in mappings.values())
    assert batch == [10, 50, 500]  # decisions and order events: small batches, no window


def test_streams_buckets_database_and_cache_are_encrypted_and_kept(synthesized: dict[str, Any]) -> None:
    data = synthesized["data_t"]
    data.resource_count_is("AWS::Kinesis::Stream", 2)
    data.all_resources_properties(
        "AWS::Kinesis::Stream",
        {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": Match.any_value()}, "RetentionPeriodHours": 24},
    )
    # the stack's own key, like the database and the topic -- not the AWS-managed alias/aws/kinesis
    (key_id,) = data.find_resources("AWS::KMS::Key")
    for stream in data.find_resources("AWS::Kinesis::Stream").values():
        assert stream["Properties"]["StreamEncryption"]["KeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    data.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.object_like({}),
        },
    )
    for policy in data.find_resources("AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Effect"] == "Deny" for s in statements
        )
    data.has_resource_properties(
        "AWS::RDS::DBCluster",
        {"StorageEncrypted": True, "DeletionProtection": True, "Engine": "aurora-postgresql"},
    )
    data.has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Retain"})
    data.has_resource_properties("AWS::ElastiCache::ServerlessCache", {"Engine": "valkey"})
    data.has_resource_properties("AWS::SecretsManager::RotationSchedule", Match.any_value())
    assert synthesized["data"].termination_protection is True


def test_every_alarm_notifies_the_alert_topic(synthesized: dict[str, Any]) -> None:
    alarms = synthesized["pipe_t"].find_resources("AWS::CloudWatch::Alarm")
    names = {key.split("Monitoring")[-1][:14] for key in alarms}
    assert len(alarms) >= 7, names
    for alarm in alarms.values():
        actions = json.dumps(alarm["Properties"]["AlarmActions"])
        assert "Alerts" in actions, actions
    feed_silent = next(a for k, a in alarms.items() if "FeedSilent" in k)["Properties"]
    assert feed_silent["TreatMissingData"] == "breaching"
    # stale or silent, unless the feed says it is waiting for its keys (a first deploy)
    queries = {m.get("Id"): m for m in feed_silent["Metrics"]}
    assert queries["stale"]["MetricStat"]["Metric"]["MetricName"] == "FeedStale"
    assert queries["waiting"]["MetricStat"]["Metric"]["MetricName"] == "FeedWaitingForKeys"
    (expression,) = [m["Expression"] for m in feed_silent["Metrics"] if "Expression" in m]
    assert "(1 - FILL(waiting, 0))" in expression
    synthesized["data_t"].has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    synthesized["pipe_t"].resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_the_feed_runs_as_one_x86_task_reading_its_keys_with_a_health_check(synthesized: dict[str, Any]) -> None:
    pipe = synthesized["pipe_t"]
    pipe.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": 1,
            "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
            "DeploymentConfiguration": Match.object_like({"MaximumPercent": 100, "MinimumHealthyPercent": 0}),
        },
    )
    (task,) = pipe.find_resources("AWS::ECS::TaskDefinition").values()
    props = task["Properties"]
    assert props["RuntimePlatform"] == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}
    (container,) = props["ContainerDefinitions"]
    # keys are read by the task at run time (so a first deploy starts before they exist), never in its definition
    assert "Secrets" not in container
    names = {e["Name"] for e in container["Environment"]}
    assert {"ALPACA_SECRET_ID", "POLYGON_SECRET_ID"} <= names
    assert not any("SECRET" in n and "ID" not in n for n in names)
    assert container["HealthCheck"]["Command"] == ["CMD", "python", "-m", "ecs_feed.healthcheck"]
    # the image is built for linux/amd64 whatever machine deploys it
    assets = json.loads(next(synthesized["outdir"].glob("QuantTerminalPipeline.assets.json")).read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["platform"] == "linux/amd64"
    # the task role can read the Alpaca secret (and only the feed's provider's)
    policies = [p for k, p in pipe.find_resources("AWS::IAM::Policy").items() if "FeedTaskTaskRole" in k]
    actions = {
        a for p in policies for st in p["Properties"]["PolicyDocument"]["Statement"] for a in _list(st["Action"])
    }
    assert "secretsmanager:GetSecretValue" in actions


def test_provider_secrets_start_as_json_with_the_fields_read(synthesized: dict[str, Any]) -> None:
    """ECS and the feed read JSON fields: a secret created as a random string would fail the first
    deploy. They start as JSON holding the placeholder the feed waits on."""
    secrets = synthesized["data_t"].find_resources("AWS::SecretsManager::Secret")
    templates = {
        json.dumps(sorted(json.loads(s["Properties"]["GenerateSecretString"]["SecretStringTemplate"])))
        for s in secrets.values()
        if "GenerateSecretString" in s["Properties"]
        and "SecretStringTemplate" in s["Properties"]["GenerateSecretString"]
    }
    assert json.dumps(["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"]) in templates
    assert json.dumps(["POLYGON_API_KEY"]) in templates
    alarms = synthesized["pipe_t"].find_resources("AWS::CloudWatch::Alarm")
    assert any(a["Properties"].get("MetricName") == "FeedWaitingForKeys" for a in alarms.values())
    assert any(a["Properties"].get("MetricName") == "OrderStreamDown" for a in alarms.values())


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_iam_grants_no_wildcard_actions_on_data(synthesized: dict[str, Any]) -> None:
    for template in (synthesized["pipe_t"], synthesized["data_t"]):
        for policy in template.find_resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                for action in actions:
                    assert action != "*", statement
                    assert not action.endswith(":*"), statement
                if statement["Resource"] == "*":
                    assert set(actions) <= {
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "ecr:GetAuthorizationToken",
                        # CDK's BucketDeployment invalidates the dashboard's distribution
                        "cloudfront:CreateInvalidation",
                        "cloudfront:GetInvalidation",
                        # CDK's log-retention function (the database's exported logs expire)
                        "logs:PutRetentionPolicy",
                        "logs:DeleteRetentionPolicy",
                    }


def test_lambdas_run_in_the_vpc_with_tracing_and_the_latest_python(synthesized: dict[str, Any]) -> None:
    functions = synthesized["pipe_t"].find_resources("AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"] for f in functions.values() if "Handler" in f["Properties"]}
    assert {"lambdas.bar_handler.handler", "lambdas.order_events.handler", "lambdas.recorder.handler"} <= handlers
    for fn in functions.values():
        p = fn["Properties"]
        if p.get("Handler", "").startswith("lambdas."):
            assert p["Runtime"] == "python3.14"
            assert p["TracingConfig"] == {"Mode": "Active"}
            assert "SubnetIds" in p["VpcConfig"]
            assert "QT_DB_SECRET_ID" in p["Environment"]["Variables"]


def test_cfn_lint_finds_no_errors_in_the_cloud_assembly(synthesized: dict[str, Any]) -> None:
    templates = sorted(str(p) for p in Path(synthesized["outdir"]).glob("*.template.json"))
    assert len(templates) == 2
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", *templates, "--append-rules", "cfn_lint_serverless.rules"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode & 1 == 0, result.stdout + result.stderr  # 1: cfn-lint itself failed
    findings = [(line.split(":")[5], line.split(":")[6]) for line in result.stdout.splitlines()]
    # W3005 (an explicit DependsOn beside a GetAtt) is how CDK orders a role's policy before its function.
    # WS1000/WS1004 (tracing, log retention) only on CDK's own providers: the one behind the
    # migration trigger, the one that copies the dashboard's files and the one that sets the
    # database's exported logs' retention.
    # ES1007 compares the permission's function (GetAtt Arn) with the EventInvokeConfig's (Ref) as
    # strings and so never matches CDK's output; the on-failure destinations are asserted above.
    unexplained = [(rule, what) for rule, what in findings if rule not in ("W3005", "ES1007")]
    cdk_providers = ("AWSCDKTrigger", "CustomCDKBucketDeployment", "LogRetention")
    provider_rules = ("WS1000", "WS1004", "ES1005")  # tracing, log retention, memory size: CDK sets them
    assert all(rule in provider_rules and any(p in what for p in cdk_providers) for rule, what in unexplained), (
        result.stdout
    )


def test_every_api_method_needs_the_operators_sign_in_is_throttled_and_logs_access(
    synthesized: dict[str, Any],
) -> None:
    """An API key is an identifier, not authorization (AWS says so): reads and the kill switch alike
    need a Cognito ID token, which the dashboard gets by signing the operator in."""
    pipe = synthesized["pipe_t"]
    methods = pipe.find_resources("AWS::ApiGateway::Method")
    (authorizer_id, authorizer) = next(iter(pipe.find_resources("AWS::ApiGateway::Authorizer").items()))
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["IdentitySource"] == "method.request.header.Authorization"
    verbs = set()
    for method in methods.values():
        p = method["Properties"]
        if p["HttpMethod"] == "OPTIONS":
            continue
        verbs.add(p["HttpMethod"])
        assert p["AuthorizationType"] == "COGNITO_USER_POOLS", p
        assert p["AuthorizerId"] == {"Ref": authorizer_id}
        assert not p.get("ApiKeyRequired")
    assert verbs == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    pipe.resource_count_is("AWS::ApiGateway::ApiKey", 0)
    pipe.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [Match.object_like({"ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40, "LoggingLevel": "ERROR"})]
            ),
        },
    )


def test_the_operator_is_created_in_a_user_pool_without_self_sign_up(synthesized: dict[str, Any]) -> None:
    pipe = synthesized["pipe_t"]
    (pool,) = pipe.find_resources("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    (client,) = pipe.find_resources("AWS::Cognito::UserPoolClient").values()
    assert client["Properties"]["GenerateSecret"] is False
    assert set(client["Properties"]["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    pipe.has_resource_properties(
        "AWS::Cognito::UserPoolUser", {"Username": "ops@example.com", "DesiredDeliveryMediums": ["EMAIL"]}
    )


def test_scheduled_jobs_run_on_the_market_clock_and_keep_what_fails(synthesized: dict[str, Any]) -> None:
    pipe = synthesized["pipe_t"]
    rules = pipe.find_resources("AWS::Events::Rule")
    schedules = {r["Properties"]["Description"]: r["Properties"] for r in rules.values()}
    assert schedules["daily report"]["ScheduleExpression"] == "cron(30 21 ? * MON-FRI *)"
    assert schedules["backfill the last session's missing minutes"]["ScheduleExpression"] == "cron(0 12 ? * MON-FRI *)"
    assert (
        schedules["reconcile with the broker; account metrics"]["ScheduleExpression"] == "cron(0/5 13-21 ? * MON-FRI *)"
    )
    for rule in schedules.values():
        (target,) = rule["Targets"]
        assert "DeadLetterConfig" in target
    configs = pipe.find_resources("AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 3
    assert all("OnFailure" in c["Properties"]["DestinationConfig"] for c in configs.values())
    functions = pipe.find_resources("AWS::Lambda::Function")
    handlers = {f["Properties"].get("Handler") for f in functions.values()}
    assert {"lambdas.api.handler", "lambdas.daily_report.handler", "lambdas.backfill.handler"} <= handlers
    assert {"lambdas.reconcile.handler", "lambdas.migrate.handler"} <= handlers
    report = next(f for f in functions.values() if f["Properties"].get("Handler") == "lambdas.daily_report.handler")
    variables = report["Properties"]["Environment"]["Variables"]
    assert {"QT_REPORTS_BUCKET", "QT_ALERT_TOPIC_ARN"} <= set(variables)


def test_migrations_run_at_deploy_before_the_functions(synthesized: dict[str, Any]) -> None:
    pipe = synthesized["pipe_t"]
    (trigger_id,) = pipe.find_resources("Custom::Trigger")
    functions = pipe.find_resources("AWS::Lambda::Function")
    bar_handler = next(f for f in functions.values() if f["Properties"].get("Handler") == "lambdas.bar_handler.handler")
    assert trigger_id in bar_handler.get("DependsOn", [])


def test_drift_drawdown_and_failed_schedules_alarm(synthesized: dict[str, Any]) -> None:
    alarms = synthesized["pipe_t"].find_resources("AWS::CloudWatch::Alarm")
    metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
    assert {"ReconciliationDrifts", "DrawdownPct", "NumberOfMessagesSent", "Errors"} <= metrics
    errors = [a for a in alarms.values() if a["Properties"].get("MetricName") == "Errors"]
    assert len(errors) == 8  # one per function


def test_alarms_fire_on_each_new_failure_and_on_refusals(synthesized: dict[str, Any]) -> None:
    """A failure queue keeps its messages 14 days: an alarm on the backlog would stay raised and
    mail no later failure. The alarms watch what arrives; refusals and the fills' lag alarm too."""
    alarms = {k: a["Properties"] for k, a in synthesized["pipe_t"].find_resources("AWS::CloudWatch::Alarm").items()}
    by_name = {next(n for n in ("FailedBatches", "FailedSchedules", "OrderEventsIteratorAge", "OrdersRefusedByBroker",
                                "FeedRefused") if n in k): a for k, a in alarms.items()
               if any(n in k for n in ("FailedBatches", "FailedSchedules", "OrderEventsIteratorAge",
                                       "OrdersRefusedByBroker", "FeedRefused"))}  # fmt: skip
    assert by_name["FailedBatches"]["MetricName"] == by_name["FailedSchedules"]["MetricName"] == "NumberOfMessagesSent"
    assert by_name["FailedBatches"]["Statistic"] == "Sum"
    assert by_name["OrderEventsIteratorAge"]["MetricName"] == "IteratorAge"
    assert by_name["OrdersRefusedByBroker"]["MetricName"] == "OrdersRefusedByBroker"
    assert by_name["FeedRefused"]["MetricName"] == "FeedRefusals"
    assert not any(a.get("MetricName") == "ApproximateNumberOfMessagesVisible" for a in alarms.values())


def test_every_log_group_expires(synthesized: dict[str, Any]) -> None:
    for template in (synthesized["data_t"], synthesized["pipe_t"]):
        for key, group in template.find_resources("AWS::Logs::LogGroup").items():
            assert group["Properties"].get("RetentionInDays"), key
    # API Gateway's own execution-log group, made ahead of it so it has a retention
    names = [
        json.dumps(g["Properties"].get("LogGroupName"))
        for g in synthesized["pipe_t"].find_resources("AWS::Logs::LogGroup").values()
    ]
    assert any("API-Gateway-Execution-Logs_" in n for n in names), names
    # the database's exported logs (CDK sets their retention through a custom resource)
    synthesized["data_t"].has_resource_properties("Custom::LogRetention", {"RetentionInDays": 30})


def test_trading_functions_have_reserved_concurrency(synthesized: dict[str, Any]) -> None:
    functions = synthesized["pipe_t"].find_resources("AWS::Lambda::Function")
    reserved = {k: f["Properties"].get("ReservedConcurrentExecutions") for k, f in functions.items()}
    assert [v for k, v in reserved.items() if k.startswith(("BarHandler", "OrderEvents"))] == [2, 2]
    assert all(v is None for k, v in reserved.items() if not k.startswith(("BarHandler", "OrderEvents")))


USER_CONFIG = """
account = "paper"

[[strategies]]
name = "trend_fast"
strategy = "strategies/channel_trend.py:ChannelTrend"
params = { fast = 3, slow = 8 }

[[strategies]]
name = "trend_slow"
strategy = "strategies/channel_trend.py:ChannelTrend"
params = { fast = 10, slow = 30 }

[data]
symbols = ["SPY"]
"""


@pytest.mark.slow
def test_cdk_synth_bundles_the_lambdas_and_the_users_strategies_with_pip_and_no_docker(tmp_path: Path) -> None:
    """What ``cdk synth`` runs (the app, asset bundling included) with no Docker and no AWS
    credentials: the Lambda bundle is built for the Lambda platform by the local pip, fits Lambda's
    250 MB, and holds the configuration and the user's strategy file it names -- which the
    handlers' runtime loads from the bundle."""
    project = tmp_path / "my_project"
    (project / "strategies").mkdir(parents=True)
    (project / "strategies" / "channel_trend.py").write_text((USER_STRATEGIES / "channel_trend.py").read_text())
    (project / "quantterminal.toml").write_text(USER_CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["QT_CONFIG"] = str(project / "quantterminal.toml")
    env["CDK_OUTDIR"] = str(tmp_path / "cdk.out")
    tmp_path = tmp_path / "cdk.out"
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # the pip the bundler calls
    result = subprocess.run(
        [sys.executable, str(ROOT / "cdk" / "app.py")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # (the other asset holding lambdas/ is the feed image's Docker build context: sources only)
    bundles = [p for p in tmp_path.glob("asset.*") if (p / "lambdas").is_dir() and (p / "redis").is_dir()]
    assert len(bundles) == 1
    bundle = bundles[0]
    size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
    assert size < 250 * 1024 * 1024, f"{size / 2**20:.0f} MB"
    present = {p.name for p in bundle.iterdir()}
    assert {"quantterminal", "aws_lambda_powertools", "psycopg2", "redis", "alpaca", "matplotlib"} <= present
    assert not present & {"boto3", "botocore", "rich"}
    assert list(bundle.glob("psycopg2/_psycopg.cpython-314-x86_64-linux-gnu.so")), "Lambda-platform wheels"
    assert (tmp_path / "QuantTerminalPipeline.template.json").exists()
    # the configuration and the user's strategy file, inside the bundle, where QT_CONFIG points
    bundled = bundle / "quantterminal_config"
    (copy,) = bundled.glob("strategies/*_channel_trend.py")
    assert copy.read_text() == (USER_STRATEGIES / "channel_trend.py").read_text()
    template = json.loads((tmp_path / "QuantTerminalPipeline.template.json").read_text())
    variables = [
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "Environment" in r["Properties"]
    ]
    assert {v.get("QT_CONFIG") for v in variables if "QT_CONFIG" in v} == {"/var/task/quantterminal_config/config.json"}
    # the runtime every handler builds (QT_CONFIG -> instances) loads the user's class from the bundle
    runtime_env = {"QT_CONFIG": str(bundled / "config.json"), "DATABASE_URL": f"sqlite:///{tmp_path}/l.sqlite3"}
    from quantterminal.wiring.runtime import Runtime

    runtime = Runtime.from_env(runtime_env)
    engines = runtime.desk.engines
    assert list(engines) == ["trend_fast", "trend_slow"]
    assert Path(sys.modules[engines["trend_fast"].instance.strategy.__module__].__file__ or "") == copy
    assert runtime.symbols == ("SPY",)
    runtime.ledger.close()


def test_the_dashboard_is_served_from_a_private_bucket_with_the_api_on_the_same_origin(
    synthesized: dict[str, Any],
) -> None:
    pipe = synthesized["pipe_t"]
    (distribution,) = pipe.find_resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/v1/*"
    assert "POST" in api["AllowedMethods"]
    # the operator's ID token reaches the API (CloudFront forwards Authorization only through a cache
    # policy keyed on it), and nothing is cached
    (cache_id, cache) = next(iter(pipe.find_resources("AWS::CloudFront::CachePolicy").items()))
    assert api["CachePolicyId"] == {"Ref": cache_id}
    cache_config = cache["Properties"]["CachePolicyConfig"]
    assert cache_config["DefaultTTL"] == 0
    headers = cache_config["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
    assert headers == {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]}
    pipe.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    pipe.has_resource_properties("Custom::CDKBucketDeployment", {"DistributionPaths": ["/*"]})
    (deploy,) = pipe.find_resources("Custom::CDKBucketDeployment").values()
    assert len(deploy["Properties"]["SourceObjectKeys"]) == 2, "the built files, and config.json (where to sign in)"
    # the same security headers as the local server, on the page and on the API
    (policy_id,) = pipe.find_resources("AWS::CloudFront::ResponseHeadersPolicy")
    for behaviour in (config["DefaultCacheBehavior"], api):
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": policy_id}
    (policy,) = pipe.find_resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "frame-ancestors 'none'" in csp
    assert "https://cognito-idp." in csp, "the page may reach Cognito to sign in, and nothing else but itself"
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert security["ContentTypeOptions"]["Override"] is True
    buckets = pipe.find_resources("AWS::S3::Bucket")
    assert all(
        b["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True for b in buckets.values()
    )


def test_only_functions_that_trade_or_read_alpaca_data_get_the_alpaca_keys(synthesized: dict[str, Any]) -> None:
    """Least privilege: the bar handler, order events and reconcile place or book orders; backfill
    reads Alpaca's historical bars with the same keys. The API, the recorder, the daily report and
    the migration get neither the secret's name nor the right to read it (and so no broker)."""
    template = synthesized["pipe_t"]
    functions = template.find_resources("AWS::Lambda::Function")
    by_handler = {f["Properties"]["Handler"]: (lid, f) for lid, f in functions.items() if "Handler" in f["Properties"]}
    trading = {
        "lambdas.bar_handler.handler",
        "lambdas.order_events.handler",
        "lambdas.reconcile.handler",
        "lambdas.backfill.handler",
    }

    def env(f: dict[str, Any]) -> dict[str, Any]:
        return f["Properties"].get("Environment", {}).get("Variables", {})  # type: ignore[no-any-return]

    with_env = {h for h, (_, f) in by_handler.items() if "ALPACA_SECRET_ID" in env(f)}
    assert with_env == trading
    secret = env(by_handler["lambdas.bar_handler.handler"][1])["ALPACA_SECRET_ID"]
    role_of = {
        h: f["Properties"]["Role"]["Fn::GetAtt"][0] for h, (_, f) in by_handler.items() if h.startswith("lambdas.")
    }
    readers = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(s["Resource"] == secret for s in statements):
            readers |= {r["Ref"] for r in policy["Properties"]["Roles"]}
    assert {h for h, role in role_of.items() if role in readers} == trading


def test_a_bad_configuration_stops_the_cdk_app_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "quantterminal.toml"
    bad.write_text('[[strategies]]\nname = "m"\nstrategy = "strategies/gone.py:Gone"\n')
    env = {**os.environ, "QT_CONFIG": str(bad), "CDK_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "cdk" / "app.py")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (  # after the CDK's own Node notices, if any
        f"cdk: configuration: {bad}: strategies[0] (m).strategy: strategy 'strategies/gone.py:Gone':"
        f" no file {tmp_path}/strategies/gone.py"
    )


@pytest.mark.parametrize(("version", "warns"), [("v20.20.2\n", True), ("v22.11.0\n", False), ("v24.1.0\n", False)])
def test_the_app_warns_under_a_node_the_cdk_no_longer_supports(
    version: str, warns: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        quantterminal_app.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=version)
    )
    warning = quantterminal_app.warn_on_old_node()
    assert (warning is not None) is warns
    if warning:
        assert "older than the CDK supports (Node 22 or newer)" in warning


def test_the_idle_cost_levers_default_to_the_cheap_side(synthesized: dict[str, Any]) -> None:
    data, pipe = synthesized["data_t"], synthesized["pipe_t"]
    data.resource_count_is("AWS::EC2::NatGateway", 0)
    (nat,) = data.find_resources("AWS::EC2::Instance").values()
    assert nat["Properties"]["InstanceType"] == "t4g.nano"
    assert nat["Properties"]["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    data.has_resource_properties(
        "AWS::RDS::DBCluster",
        {"ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 600}},
    )
    (cluster,) = pipe.find_resources("AWS::ECS::Cluster").values()
    settings = {s["Name"]: s["Value"] for s in cluster["Properties"]["ClusterSettings"]}
    assert settings["containerInsights"] == "disabled"


def test_the_cache_refuses_everyone_but_the_pipelines_own_user(synthesized: dict[str, Any]) -> None:
    data, pipe = synthesized["data_t"], synthesized["pipe_t"]
    users = {
        u["Properties"]["UserName"]: u["Properties"] for u in data.find_resources("AWS::ElastiCache::User").values()
    }
    assert users["default"]["AccessString"].startswith("off")
    assert users["quantterminal"]["AuthenticationMode"]["Type"] == "password"
    ((group_id, group),) = data.find_resources("AWS::ElastiCache::UserGroup").items()
    assert len(group["Properties"]["UserIds"]) == 2
    (cache,) = data.find_resources("AWS::ElastiCache::ServerlessCache").values()
    assert cache["Properties"]["UserGroupId"] == group["Properties"]["UserGroupId"]
    assert group_id in cache["DependsOn"]
    functions = pipe.find_resources("AWS::Lambda::Function").values()
    variables = [f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions]
    with_redis = [v for v in variables if "REDIS_URL" in v]
    assert with_redis
    assert all("QT_REDIS_SECRET_ID" in v for v in with_redis)
