"""The HTTP API: API Gateway REST in front of the API Lambda, every method behind an API key with a
usage plan (throttling and a daily quota), JSON access logs, execution logs and tracing. Reads
need the key; every method that changes something (halt, resume, disable, enable) also needs IAM
(SigV4) from a principal holding the ``OperatorPolicy`` -- a leaked key alone cannot halt or resume
trading."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

RATE_LIMIT = 20  # requests/s per key: an operator's dashboard and scripts, not a public API
BURST_LIMIT = 40
READS = ("GET",)
STAGE = "v1"
CHANGES = ("POST", "PUT", "PATCH", "DELETE")  # need IAM (SigV4) as well as the key
DAILY_QUOTA = 100_000


class HttpApi(Construct):
    """``/{proxy+}`` to the API Lambda (the resolver does the routing and the validation)."""

    def __init__(self, scope: Construct, construct_id: str, handler: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        self.rest_api = apigw.LambdaRestApi(
            self,
            "Api",
            handler=handler,
            proxy=False,
            description="QuantTerminal: positions, orders, fills, P&L, strategies, risk, health; halt/resume",
            default_method_options=apigw.MethodOptions(api_key_required=True),
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=RATE_LIMIT,
                throttling_burst_limit=BURST_LIMIT,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        # API Gateway writes its execution logs to a group of its own naming, created on first use
        # with no expiry; created here first, it expires like every other log.
        execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE}",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_api.deployment_stage.node.add_dependency(execution_logs)
        integration = apigw.LambdaIntegration(handler)
        routes = self.rest_api.root.add_resource("{proxy+}")
        for method in READS:
            routes.add_method(method, integration)
        self.changes = [
            routes.add_method(method, integration, authorization_type=apigw.AuthorizationType.IAM) for method in CHANGES
        ]
        self.operator_policy = iam.ManagedPolicy(
            self,
            "OperatorPolicy",
            description="QuantTerminal: call the API's changing routes (halt, resume, disable, enable)",
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    resources=[self.rest_api.arn_for_execute_api(method, "/*", "v1") for method in CHANGES],
                )
            ],
        )
        CfnOutput(
            scope,
            "OperatorPolicyArn",
            value=self.operator_policy.managed_policy_arn,
            description="attach to the operator's IAM user or role to halt/resume (SigV4)",
        )
        NagSuppressions.add_resource_suppressions(
            self.operator_policy,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "Only this API's changing methods, on its one stage; the path is a wildcard because "
                    "the routes carry names (/strategies/{name}/disable)",
                    "appliesTo": [{"regex": "/^Resource::arn:<AWS::Partition>:execute-api:.*$/g"}],
                }
            ],
        )
        self.key = self.rest_api.add_api_key("OperatorKey", description="QuantTerminal operator")
        plan = self.rest_api.add_usage_plan(
            "OperatorPlan",
            throttle=apigw.ThrottleSettings(rate_limit=RATE_LIMIT, burst_limit=BURST_LIMIT),
            quota=apigw.QuotaSettings(limit=DAILY_QUOTA, period=apigw.Period.DAY),
        )
        plan.add_api_key(self.key)
        plan.add_api_stage(stage=self.rest_api.deployment_stage)
        CfnOutput(scope, "ApiUrl", value=self.rest_api.url, description="the HTTP API (send x-api-key)")
        CfnOutput(scope, "ApiKeyId", value=self.key.key_id, description="aws apigateway get-api-key --include-value")
        NagSuppressions.add_resource_suppressions(
            self.rest_api,
            [
                {
                    "id": "AwsSolutions-APIG2",
                    "reason": "Requests are validated in the Lambda by the Powertools resolver (pydantic models, "
                    "422 with the problem); a second copy of the schema in API Gateway would drift",
                },
                {
                    "id": "AwsSolutions-APIG3",
                    "reason": "No WAF: the API is keyed, throttled per key and quota-limited; a WebACL costs more "
                    "than the whole pipeline for an operator-only API",
                },
                {
                    "id": "AwsSolutions-APIG4",
                    "reason": "Reads require the operator's API key (usage plan with throttling and quota; the "
                    "dashboard's browser client cannot sign SigV4); every changing method also requires IAM",
                },
                {
                    "id": "AwsSolutions-COG4",
                    "reason": "No user pool: a single operator key, not end users",
                },
                {
                    "id": "AwsSolutions-IAM4",
                    "reason": "API Gateway's account-level CloudWatch role uses AWS's managed push-to-logs policy",
                    "appliesTo": [
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                },
            ],
            apply_to_children=True,
        )
