"""The dashboard in AWS: the same static files the package ships, in a private S3 bucket behind
CloudFront (origin access control), with ``/v1/*`` routed to the API on the same origin -- so the
page calls the API exactly as it does locally (API key in ``x-api-key``; no event stream behind
API Gateway, so the page polls). Every answer carries the same security headers as the local
server's: a Content-Security-Policy allowing only this origin and no framing, HSTS, nosniff, no
referrer."""

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

STATIC = ROOT / "shared" / "quantterminal" / "dashboard" / "static"


class Dashboard(Construct):
    """Bucket, deployment of the built files, and the distribution."""

    def __init__(self, scope: Construct, construct_id: str, api: apigw.RestApi, access_logs: s3.IBucket) -> None:
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
                        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
                        "object-src 'none'"
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
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                )
            },
        )
        deployment.BucketDeployment(
            self,
            "Deploy",
            sources=[deployment.Source.asset(str(STATIC))],
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
                {"id": "AwsSolutions-CFR1", "reason": "Operators travel: no geo restriction; the API needs its key"},
                {
                    "id": "AwsSolutions-CFR2",
                    "reason": "No WAF: static files and a keyed, throttled API; a WebACL would cost more than the "
                    "pipeline",
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
