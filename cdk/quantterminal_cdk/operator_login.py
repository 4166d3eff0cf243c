"""The operator's sign-in for the dashboard and the API: a Cognito user pool the stack creates.

No self sign-up: the operator (the alert email) is created with a temporary password Cognito
mails, and the first sign-in sets a new one (the dashboard asks). The dashboard's app client has
no secret (a browser cannot keep one) and signs in with ``USER_PASSWORD_AUTH`` over TLS; ID tokens
last an hour, refresh tokens 30 days. API Gateway's Cognito authorizer then checks the ID token on
every method -- reads and the kill switch alike (docs.aws.amazon.com/apigateway, "Control access
to a REST API using Amazon Cognito user pools as an authorizer")."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from cdk_nag import NagSuppressions
from constructs import Construct


class OperatorLogin(Construct):
    """The user pool, its dashboard client, and the operator."""

    def __init__(self, scope: Construct, construct_id: str, operator_email: str) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Operators",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),
            ),
            removal_policy=RemovalPolicy.DESTROY,  # only the operator's login: recreated by a deploy
        )
        self.client = self.pool.add_client(
            "Dashboard",
            auth_flows=cognito.AuthFlow(user_password=True),
            generate_secret=False,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            prevent_user_existence_errors=True,
        )
        if operator_email:
            cognito.CfnUserPoolUser(
                self,
                "Operator",
                user_pool_id=self.pool.user_pool_id,
                username=operator_email,
                desired_delivery_mediums=["EMAIL"],
                user_attributes=[
                    cognito.CfnUserPoolUser.AttributeTypeProperty(name="email", value=operator_email),
                    cognito.CfnUserPoolUser.AttributeTypeProperty(name="email_verified", value="true"),
                ],
            )
        self.endpoint = f"https://cognito-idp.{Stack.of(self).region}.{Stack.of(self).url_suffix}/"
        CfnOutput(scope, "OperatorUserPoolId", value=self.pool.user_pool_id)
        CfnOutput(scope, "DashboardClientId", value=self.client.user_pool_client_id)
        NagSuppressions.add_resource_suppressions(
            self.pool,
            [
                {
                    "id": "AwsSolutions-COG2",
                    "reason": "One operator; MFA would need the dashboard to enrol a TOTP app -- the next step. "
                    "Until then: a 12-character mixed password and tokens lasting an hour",
                },
                {
                    "id": "AwsSolutions-COG8",
                    "reason": "The Plus tier (threat protection) is billed per user per month; one operator, "
                    "created by the stack with self sign-up off",
                },
                {
                    "id": "AwsSolutions-COG3",
                    "reason": "Threat protection (advanced security) is billed per user and adds little for one "
                    "operator created by the stack, with self sign-up off",
                },
            ],
        )
