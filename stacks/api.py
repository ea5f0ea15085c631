"""The REST front door: Cognito user pool + app client, API Gateway REST API (stage v1), the API
Lambda and the Lambda authorizer in front of it (Cognito id tokens and personal API keys)."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.common.contract import API_STAGE, API_TIMEOUT_S, CORS_ALLOW_HEADERS, CORS_MAX_AGE_S, DOCS_PATH

from .config import ServiceConfig
from .functions import FunctionKit, ServiceFunction, layer_dir, python_layer
from .nag import acknowledge
from .removal import kept_always

AUTHORIZER_TIMEOUT_S = 10  # a JWKS fetch (first call) and one DynamoDB read fit well within it
# Built by `make install` from layers/auth/requirements.txt: PyJWT and cryptography (RS256).
AUTH_LAYER_DIR = layer_dir("auth")
# One JSON line per request; `user` is the authorizer's principal: the user id the Lambda logs and stores.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "user": "$context.authorizer.principalId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integration.latency",
    "error": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}
# API Gateway's own errors (no token, throttled, ...) in the service's error shape.
GATEWAY_ERRORS = {
    apigw.ResponseType.UNAUTHORIZED: ("401", "Unauthorized"),
    apigw.ResponseType.ACCESS_DENIED: ("403", "Forbidden"),
    apigw.ResponseType.THROTTLED: ("429", "TooManyRequests"),
    apigw.ResponseType.REQUEST_TOO_LARGE: ("413", "PayloadTooLarge"),
    apigw.ResponseType.DEFAULT_4_XX: (None, "BadRequest"),
    apigw.ResponseType.DEFAULT_5_XX: (None, "InternalError"),
}


class SongApi(Construct):
    """Owns the user pool, the REST API and its Lambda; the stack grants the function its data access.

    Attributes: `user_pool`, `user_pool_client`, `api` (apigw.RestApi), `function` (ServiceFunction),
    `authorizer_function` (ServiceFunction), `authorizer` (apigw.RequestAuthorizer), `access_logs`
    (logs.LogGroup).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ServiceConfig,
        kit: FunctionKit,
        web_origin: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # The web app's origin first (gateway responses name it), then any configured extras.
        self.cors_origins = [web_origin, *config.cors_allow_origins]
        self.user_pool, self.user_pool_client = self._user_pool(config, web_origin)
        self.function = ServiceFunction(
            self,
            "Handler",
            kit=kit,
            name="api",
            description="Song service REST API",
            # Within API Gateway's 29 s; more CPU (memory) shortens the cold start.
            timeout_s=API_TIMEOUT_S,
            memory_size=1024,
        )
        self.authorizer_function = ServiceFunction(
            self,
            "AuthorizerFunction",
            kit=kit,
            name="authorizer",
            description="Song service API authorizer (Cognito id tokens and API keys)",
            timeout_s=AUTHORIZER_TIMEOUT_S,
            memory_size=512,
        )
        # The JWT library reaches the authorizer alone, in its own layer.
        self.auth_layer = python_layer(
            self, "AuthLayer", "auth", "PyJWT and cryptography: the authorizer verifies Cognito id tokens"
        )
        self.authorizer_function.function.add_layers(self.auth_layer)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=kit.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.api = self._rest_api(config)
        self.authorizer = self._authorizer(config)
        self._routes()

    # --- Cognito -----------------------------------------------------------------------------

    def _user_pool(
        self, config: ServiceConfig, web_origin: str
    ) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        pool = cognito.UserPool(
            self,
            "Users",
            # A consumer service: people sign up themselves and prove their e-mail before use.
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            email=self._email(config),
            deletion_protection=config.removal_policy_retain,
            # Deletion protection on: a rollback could not delete it (stacks/removal.py).
            removal_policy=kept_always(config.removal_policy_retain),
        )
        client = pool.add_client(
            "WebClient",
            # A public client (browser, CLI): no secret it could not keep.
            generate_secret=False,
            # SRP for apps; USER_PASSWORD_AUTH so scripts and the CLI can get a token (TLS to Cognito).
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            # The web app (its CloudFront domain) is the only redirect target for OAuth sign-in.
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[f"{web_origin}/"],
                logout_urls=[f"{web_origin}/"],
            ),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        acknowledge(
            pool,
            "AwsSolutions-COG2",
            "MFA is optional (TOTP) rather than required: a token only spends the user's own song "
            "credits, and required MFA at sign-up would turn most consumers away.",
        )
        for rule in ("AwsSolutions-COG3", "AwsSolutions-COG8"):
            acknowledge(
                pool,
                rule,
                "Threat protection (advanced security) needs the Cognito Plus feature plan, billed per "
                "active user; sign-up is e-mail verified and the API is throttled. Enable per stage "
                "when abuse justifies the cost.",
            )
        return pool, client

    @staticmethod
    def _email(config: ServiceConfig) -> cognito.UserPoolEmail | None:
        """Cognito's built-in sender (a small daily quota) unless an SES sender is configured: then
        Cognito mails through that verified SES identity, with the account's SES limits (Cognito
        creates its e-mail service-linked role itself; docs/operations.md)."""
        if config.ses_from_email is None:
            return None
        return cognito.UserPoolEmail.with_ses(
            from_email=config.ses_from_email,
            from_name=config.ses_from_name,
            reply_to=config.ses_reply_to,
            ses_region=config.ses_region,
            ses_verified_domain=config.ses_verified_domain,
        )

    # --- API Gateway -------------------------------------------------------------------------

    def _rest_api(self, config: ServiceConfig) -> apigw.RestApi:
        origins = self.cors_origins
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.resource_prefix}-api",
            description="Song generation service REST API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Stage logging (access and execution logs) needs the account-wide API Gateway CloudWatch
            # Logs role. With the setting on, the stack creates a role and points the account's
            # setting (AWS::ApiGateway::Account, one per account and region) at it; both are kept when
            # the stack is deleted, so other APIs of the account keep logging.
            cloud_watch_role=config.apigateway_cloudwatch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN
            if config.apigateway_cloudwatch_role
            else None,
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log request bodies (lyrics) and tokens
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=origins,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=list(CORS_ALLOW_HEADERS),
                max_age=Duration.seconds(CORS_MAX_AGE_S),
            ),
        )
        self._gateway_responses(api, origins)
        role = api.node.try_find_child("CloudWatchRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4",
                "API Gateway's account-level logging role carries AWS's policy for exactly that job "
                "(AmazonAPIGatewayPushToCloudWatchLogs: create log groups and streams, write and describe "
                "logs); API Gateway assumes it for every API of the account and region, whose log groups "
                "are not known here.",
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            )
        acknowledge(
            api,
            "AwsSolutions-APIG2",
            "Bodies are validated in the Lambda by the pydantic models that also generate the OpenAPI "
            "document (one source of truth; API Gateway's draft-4 models cannot express the `mode` "
            "union). API Gateway validates the required Authorization header.",
        )
        acknowledge(
            api,
            "AwsSolutions-APIG3",
            "No WAF web ACL by default (a fixed monthly cost per ACL): every data route needs a Cognito "
            "token and the stage is throttled. Associate a web ACL per deployment where needed.",
        )
        # API Gateway checks the token's presence and required parameters before invoking; body
        # validation lives in the Lambda (pydantic models, the same ones as the OpenAPI document).
        self.request_validator = api.add_request_validator(
            "ParametersValidator", validate_request_parameters=True, validate_request_body=False
        )
        return api

    def _gateway_responses(self, api: apigw.RestApi, origins: list[str]) -> None:
        # Gateway responses cannot pick among origins: they name the web app's, so the app can read
        # a 401/403/429 body instead of failing on CORS.
        headers = {"Access-Control-Allow-Origin": f"'{origins[0]}'", "Vary": "'Origin'"}
        for response_type, (status, code) in GATEWAY_ERRORS.items():
            template = (
                f'{{"error":{{"code":"{code}","message":$context.error.messageString,'
                '"details":{"request_id":"$context.requestId"}}}'
            )
            api.add_gateway_response(
                f"{code}Response",
                type=response_type,
                status_code=status,
                response_headers=headers,
                templates={"application/json": template},
            )

    def _authorizer(self, config: ServiceConfig) -> apigw.RequestAuthorizer:
        """One REQUEST authorizer for id tokens and API keys (API Gateway allows one per method).
        Its answer is cached per Authorization header for `authorizer_cache_ttl_s`; API Gateway
        answers a request without the header 401 without invoking it. CDK adds the permission
        for this API's authorizer (and only it) to invoke the function."""
        return apigw.RequestAuthorizer(
            self,
            "RequestAuthorizer",
            handler=self.authorizer_function.function,
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=Duration.seconds(config.authorizer_cache_ttl_s),
        )

    def _routes(self) -> None:
        integration = apigw.LambdaIntegration(self.function.function, proxy=True)
        secured = {
            "authorization_type": apigw.AuthorizationType.CUSTOM,
            "authorizer": self.authorizer,
            "request_validator": self.request_validator,
            "request_parameters": {"method.request.header.Authorization": True},
        }
        root = self.api.root
        health = root.add_resource("health").add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE
        )
        acknowledge(
            health,
            "AwsSolutions-APIG4",
            "GET /health is the unauthenticated liveness probe; it reads no data.",
        )
        acknowledge(
            health,
            "AwsSolutions-COG4",
            "GET /health is the unauthenticated liveness probe; it reads no data.",
        )
        # The API reference (Swagger UI page, `?format=json` the OpenAPI document), served by the
        # API function from the same resolver; public like the docs of any public API.
        docs = root.add_resource(DOCS_PATH.strip("/")).add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                docs,
                rule,
                "GET /docs is the public API reference (the OpenAPI document and its page); it reads "
                "no data and describes only what the document in the repository already publishes.",
            )
        songs = root.add_resource("songs")
        song = songs.add_resource("{song_id}")
        me = root.add_resource("me")
        webhook_secret = me.add_resource("webhook-secret")
        api_keys = me.add_resource("api-keys")
        uploads = root.add_resource("uploads")
        upload = uploads.add_resource("{upload_id}")
        personas = root.add_resource("personas")
        persona = personas.add_resource("{persona_id}")
        methods = [
            songs.add_method("GET", integration, **secured),
            songs.add_method("POST", integration, **secured),
            song.add_method("GET", integration, **secured),
            song.add_method("DELETE", integration, **secured),
            song.add_resource("cancel").add_method("POST", integration, **secured),
            me.add_method("GET", integration, **secured),
            webhook_secret.add_method("GET", integration, **secured),
            webhook_secret.add_resource("rotate").add_method("POST", integration, **secured),
            api_keys.add_method("GET", integration, **secured),
            api_keys.add_method("POST", integration, **secured),
            api_keys.add_resource("{key_id}").add_method("DELETE", integration, **secured),
            uploads.add_method("POST", integration, **secured),
            upload.add_method("GET", integration, **secured),
            upload.add_method("DELETE", integration, **secured),
            personas.add_method("GET", integration, **secured),
            personas.add_method("POST", integration, **secured),
            persona.add_method("GET", integration, **secured),
            persona.add_method("DELETE", integration, **secured),
        ]
        for method in methods:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "The method's authorizer is a Lambda (REQUEST) authorizer that verifies the user pool's id "
                "tokens itself (signature against the pool's JWKS, issuer, audience, token_use, expiry) and "
                "also accepts the users' personal API keys; API Gateway allows one authorizer per method, "
                "so a Cognito authorizer cannot sit beside it.",
            )
