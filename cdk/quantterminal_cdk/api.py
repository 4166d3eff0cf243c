"""The HTTP API: API Gateway REST in front of the API Lambda, every method -- reads and the kill
switch alike -- behind the operator's sign-in (the Cognito user pool's authorizer checks the ID
token in ``Authorization``; an API key is an identifier, not authorization), throttled per stage,
with JSON access logs, execution logs and tracing. The dashboard signs in from the browser, so its
HALT/RESUME/DISABLE buttons work in AWS as they do locally."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from quantterminal_cdk.operator_login import OperatorLogin

RATE_LIMIT = 20  # requests/s for the stage: an operator's dashboard and scripts, not a public API
BURST_LIMIT = 40
READS = ("GET",)
STAGE = "v1"
CHANGES = ("POST", "PUT", "PATCH", "DELETE")


class HttpApi(Construct):
    """``/{proxy+}`` to the API Lambda (the resolver does the routing and the validation)."""

    def __init__(self, scope: Construct, construct_id: str, handler: lambda_.IFunction, login: OperatorLogin) -> None:
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
            default_method_options=apigw.MethodOptions(
                authorizer=apigw.CognitoUserPoolsAuthorizer(self, "Operators", cognito_user_pools=[login.pool]),
                authorization_type=apigw.AuthorizationType.COGNITO,
            ),
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
        for method in (*READS, *CHANGES):
            routes.add_method(method, integration)
        CfnOutput(scope, "ApiUrl", value=self.rest_api.url, description="the HTTP API (Authorization: an ID token)")
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
                    "reason": "No WAF: every method needs the operator's sign-in and the stage is throttled; a "
                    "WebACL costs more than the whole pipeline for an operator-only API",
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
