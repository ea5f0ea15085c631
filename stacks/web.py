"""The web app: a private S3 bucket served by CloudFront (origin access control, HTTPS only,
security headers with a CSP naming exactly the API, Cognito, the media and the uploads bucket, SPA
routing), the Vite build deployed into it, and a config.json with this stage's settings written
at deploy time (never compiled into the bundle).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from .nag import acknowledge, logical_id, nag_env
from .storage import private_bucket
from .web_headers import HSTS_MAX_AGE_S, content_security_policy

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# The app's shell: fetched on every visit (no-cache), so a deploy shows at once. Everything under
# assets/ is named by content hash and cached for a year.
SHELL_FILES = ("index.html", "config.json")
# CDK's singleton handler behind the BucketDeployments of a stack (its id ends with the memory size).
DEPLOYMENT_HANDLER_PREFIX = "Custom::CDKBucketDeployment"


class WebApp(Construct):
    """Attributes: `bucket`, `distribution`, `headers_policy`, `origin` (https://<domain>), `config`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.RestApi,
        user_pool: cognito.IUserPool,
        user_pool_client: cognito.IUserPoolClient,
        media_bucket: s3.IBucket,
        upload_origins: list[str],
        logs_bucket: s3.IBucket,
        dist_dir: Path = WEB_DIST,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (dist_dir / "index.html").is_file():
            raise FileNotFoundError(f"{dist_dir}/index.html is missing: build the web app first (`make web`)")
        stack = Stack.of(self)
        self.bucket = s3.Bucket(
            self,
            "Site",
            # Rebuilt from the repository on every deploy: nothing here to keep.
            **private_bucket(RemovalPolicy.DESTROY),
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="web/",
        )
        csp = content_security_policy(
            # Only the RestApi's id: the stage URL would depend on the CORS methods, which name this
            # distribution (a cycle).
            api_origins=[f"https://{api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"],
            auth_origins=[f"https://cognito-idp.{stack.region}.{stack.url_suffix}"],
            # Presigned audio and cover URLs: global (us-east-1) and regional virtual-host names.
            media_origins=[
                f"https://{media_bucket.bucket_domain_name}",
                f"https://{media_bucket.bucket_regional_domain_name}",
            ],
            upload_origins=upload_origins,
        )
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Song service web app: CSP and security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(HSTS_MAX_AGE_S),
                    include_subdomains=True,
                    override=True,
                ),
            ),
        )
        self.distribution = self._distribution(logs_bucket)
        self.origin = f"https://{self.distribution.distribution_domain_name}"
        self.config = {
            "apiUrl": api.url,
            "region": stack.region,
            "userPoolId": user_pool.user_pool_id,
            "userPoolClientId": user_pool_client.user_pool_client_id,
            # SRP: the password never leaves the browser (the app client allows ALLOW_USER_SRP_AUTH).
            "authFlow": "USER_SRP_AUTH",
        }
        self._deploy(dist_dir)

    def _distribution(self, logs_bucket: s3.IBucket) -> cloudfront.Distribution:
        # Client-side routes (/songs/<id>) are not objects: S3 answers 403 (no ListBucket for
        # CloudFront), so both 403 and 404 serve the app shell, uncached.
        spa_routing = [
            cloudfront.ErrorResponse(
                http_status=status,
                response_http_status=200,
                response_page_path="/index.html",
                ttl=Duration.seconds(0),
            )
            for status in (403, 404)
        ]
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Song service web app",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                # OAC: the bucket policy lets only this distribution read (aws:SourceArn).
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                compress=True,
            ),
            error_responses=spa_routing,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="cloudfront/",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "No geo restriction: the service is offered wherever its users are; the API it calls "
            "needs a Cognito token.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR2",
            "No WAF web ACL on a static site (a fixed monthly cost per ACL): it serves public files "
            "only; the data API is authenticated and throttled. Associate a web ACL where needed.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate: CloudFront then allows TLSv1 at the viewer; a "
            "custom domain with an ACM certificate and TLSv1.2_2021 is a per-deployment choice.",
        )
        return distribution

    def _deploy(self, dist_dir: Path) -> None:
        assets = s3deploy.BucketDeployment(
            self,
            "Assets",
            sources=[s3deploy.Source.asset(str(dist_dir), exclude=list(SHELL_FILES))],
            destination_bucket=self.bucket,
            cache_control=[s3deploy.CacheControl.from_string("public, max-age=31536000, immutable")],
            # Keep earlier builds' hashed files: a tab opened before the deploy still loads them.
            prune=False,
            retain_on_delete=False,
            memory_limit=256,
        )
        shell = s3deploy.BucketDeployment(
            self,
            "Shell",
            sources=[
                s3deploy.Source.asset(str(dist_dir), exclude=["*", "!index.html"]),
                # Tokens (API URL, pool and client ids) are resolved by CloudFormation at deploy time.
                s3deploy.Source.json_data("config.json", self.config),
            ],
            destination_bucket=self.bucket,
            cache_control=[s3deploy.CacheControl.no_cache()],
            prune=False,
            retain_on_delete=False,
            memory_limit=256,
            distribution=self.distribution,
            distribution_paths=["/", "/index.html", "/config.json"],
        )
        shell.node.add_dependency(assets)  # never a new index.html before the files it names
        self._acknowledge_deployment_handler()

    def _acknowledge_deployment_handler(self) -> None:
        stack = Stack.of(self)
        # With @aws-cdk/core:enablePartitionLiterals (cdk.json) the partition is a literal.
        partition = nag_env(self)[0]
        handlers = [c for c in stack.node.children if c.node.id.startswith(DEPLOYMENT_HANDLER_PREFIX)]
        for handler in handlers:
            acknowledge(
                handler,
                "AwsSolutions-IAM4",
                "CDK's BucketDeployment handler writes its logs with AWSLambdaBasicExecutionRole.",
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            )
            acknowledge(
                handler,
                "AwsSolutions-IAM5",
                "CDK's BucketDeployment handler, as the construct generates it: reads the build from the "
                "CDK asset bucket, writes objects into the site bucket, and calls "
                "cloudfront:CreateInvalidation, which the construct grants on `*` (the action does "
                "take a distribution ARN; the construct does not scope it). Invalidation only makes "
                "edge caches refetch; it reads and writes no data.",
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::s3:DeleteObject*",
                "Action::s3:Abort*",
                f"Resource::arn:{partition}:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-{stack.region}/*",
                f"Resource::<{logical_id(self.bucket.node.default_child)}.Arn>/*",
                "Resource::*",
            )
            acknowledge(
                handler,
                "AwsSolutions-L1",
                "CDK's BucketDeployment handler: its Python runtime is chosen by the CDK release "
                "(aws-cdk-lib is pinned and upgraded with the project).",
            )
