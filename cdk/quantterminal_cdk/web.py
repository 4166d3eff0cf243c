"""The dashboard in AWS: the same static files the package ships, in a private S3 bucket behind
CloudFront (origin access control), with ``/v1/*`` routed to the API on the same origin -- so the
page calls the API exactly as it does locally (the operator signs in with the Cognito user pool
that ``config.json`` names, and each call carries the ID token in ``Authorization``, which
CloudFront forwards; no event stream behind API Gateway, so the page polls). Every answer carries
the same security headers as the local server's: a Content-Security-Policy allowing only this
origin (and Cognito's endpoint, to sign in) and no framing, HSTS, nosniff, no referrer."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as deployment
from cdk_nag import NagSuppressions
from constructs import Construct

from quantterminal_cdk.bundling import ROOT
from quantterminal_cdk.operator_login import OperatorLogin

STATIC = ROOT / "shared" / "quantterminal" / "dashboard" / "static"


class Dashboard(Construct):
    """Bucket, deployment of the built files, and the distribution."""

    def __init__(
        self, scope: Construct, construct_id: str, api: apigw.RestApi, access_logs: s3.IBucket, login: OperatorLogin
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="dashboard/",
            removal_policy=RemovalPolicy.DESTROY,  # built files only: a deploy puts them back
            auto_delete_objects=False,
        )
        region = Stack.of(self).region
        api_origin = origins.HttpOrigin(
            f"{api.rest_api_id}.execute-api.{region}.{Stack.of(self).url_suffix}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="QuantTerminal dashboard: same-origin only, no framing",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=(
                        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                        f"connect-src 'self' {login.endpoint}; frame-ancestors 'none'; base-uri 'none'; "
                        "form-action 'none'; object-src 'none'"
                    ),
                    override=True,
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
            remove_headers=["Server"],
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="QuantTerminal dashboard",
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
            ),
            additional_behaviors={
                "/v1/*": cloudfront.BehaviorOptions(
                    origin=api_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    # CloudFront forwards Authorization only through a cache policy that keys on it;
                    # with no TTL the API's answers are still never cached
                    cache_policy=cloudfront.CachePolicy(
                        self,
                        "ApiWithAuthorization",
                        comment="QuantTerminal API: forward the operator's ID token, cache nothing",
                        default_ttl=Duration.seconds(0),
                        min_ttl=Duration.seconds(0),
                        max_ttl=Duration.seconds(1),
                        header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization"),
                        query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
                    ),
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                )
            },
        )
        deployment.BucketDeployment(
            self,
            "Deploy",
            sources=[
                deployment.Source.asset(str(STATIC)),
                # where the page signs in (the local server answers the same file with its stand-in)
                deployment.Source.json_data(
                    "config.json", {"login": {"endpoint": login.endpoint, "clientId": login.client.user_pool_client_id}}
                ),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
            prune=True,
        )
        CfnOutput(scope, "DashboardUrl", value=f"https://{self.distribution.distribution_domain_name}/")
        self._justify()

    def _justify(self) -> None:
        NagSuppressions.add_resource_suppressions(
            self.distribution,
            [
                {"id": "AwsSolutions-CFR1", "reason": "Operators travel: no geo restriction; the API needs a sign-in"},
                {
                    "id": "AwsSolutions-CFR2",
                    "reason": "No WAF: static files and a signed-in, throttled API; a WebACL would cost more than "
                    "the pipeline",
                },
                {
                    "id": "AwsSolutions-CFR3",
                    "reason": "CloudFront standard logs need an ACL-enabled bucket; API calls are in API Gateway's "
                    "access logs and the files hold no data",
                },
                {
                    "id": "AwsSolutions-CFR4",
                    "reason": "The default cloudfront.net certificate cannot pin TLS 1.2; a custom domain with its "
                    "own certificate can (minimum_protocol_version is set for that case)",
                },
            ],
        )
        # CDK's own provider that copies the files (one per stack, beside this construct).
        for provider in Stack.of(self).node.children:
            if provider.node.id.startswith("Custom::CDKBucketDeployment"):
                NagSuppressions.add_resource_suppressions(
                    provider,
                    [
                        {
                            "id": "AwsSolutions-IAM4",
                            "reason": "CDK's BucketDeployment provider logs with AWSLambdaBasicExecutionRole",
                        },
                        {
                            "id": "AwsSolutions-IAM5",
                            "reason": "CDK's BucketDeployment provider reads the staged asset and replaces the "
                            "dashboard bucket's objects (object-level actions on those two buckets, and "
                            "CloudFront invalidation, which has no resource-level permissions)",
                        },
                        {"id": "AwsSolutions-L1", "reason": "CDK's BucketDeployment provider pins its own runtime"},
                    ],
                    apply_to_children=True,
                )
