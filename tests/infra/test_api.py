"""The REST API unit: routes and their authorizer, stage v1, throttling, logs, CORS, Cognito, IAM."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from stacks.config import ServiceConfig


def _methods(template: Template) -> dict[tuple[str, str], dict]:
    """(HTTP method, path) -> method properties, resolving resource paths through the tree."""
    resources = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(ref: dict) -> str:
        if "Fn::GetAtt" in ref:  # the API's root resource
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    methods = {}
    for method in template.find_resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        methods[(props["HttpMethod"], path_of(props["ResourceId"]) or "/")] = props
    return methods


def test_routes_exist_and_need_the_authorizer_except_health_and_docs(template: Template) -> None:
    methods = {key: props for key, props in _methods(template).items() if key[0] != "OPTIONS"}
    assert set(methods) == {
        ("GET", "/health"),
        ("POST", "/songs"),
        ("GET", "/songs"),
        ("GET", "/songs/{song_id}"),
        ("DELETE", "/songs/{song_id}"),
        ("POST", "/songs/{song_id}/cancel"),
        ("GET", "/me"),
        ("GET", "/docs"),
        ("POST", "/uploads"),
        ("GET", "/uploads/{upload_id}"),
        ("DELETE", "/uploads/{upload_id}"),
        ("GET", "/me/webhook-secret"),
        ("POST", "/me/webhook-secret/rotate"),
        ("POST", "/personas"),
        ("GET", "/personas"),
        ("GET", "/personas/{persona_id}"),
        ("DELETE", "/personas/{persona_id}"),
        ("POST", "/me/api-keys"),
        ("GET", "/me/api-keys"),
        ("DELETE", "/me/api-keys/{key_id}"),
    }
    (authorizer_id,) = template.find_resources("AWS::ApiGateway::Authorizer")
    for key, props in methods.items():
        if key in (("GET", "/health"), ("GET", "/docs")):
            assert props["AuthorizationType"] == "NONE"
            continue
        assert props["AuthorizationType"] == "CUSTOM", key
        assert props["AuthorizerId"] == {"Ref": authorizer_id}, key
        assert props["Integration"]["Type"] == "AWS_PROXY", key


def test_only_cors_preflight_health_and_docs_are_open(template: Template) -> None:
    public = {("GET", "/health"), ("GET", "/docs")}
    open_methods = {key for key, props in _methods(template).items() if props["AuthorizationType"] == "NONE"}
    assert {key for key in open_methods if key[0] != "OPTIONS"} == public
    for key in open_methods - public:
        integration = _methods(template)[key]["Integration"]
        assert integration["Type"] == "MOCK", key  # preflight never reaches the Lambda


def _function_by_handler(template: Template, handler: str) -> tuple[str, dict]:
    functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": handler}})
    ((function_id, function),) = functions.items()
    return function_id, function


def test_one_request_authorizer_for_tokens_and_keys_with_a_cached_answer(template: Template) -> None:
    function_id, _ = _function_by_handler(template, "lambdas.authorizer.handler.lambda_handler")
    ((authorizer_id, authorizer),) = template.find_resources("AWS::ApiGateway::Authorizer").items()
    props = authorizer["Properties"]
    assert props["Type"] == "REQUEST"
    assert props["IdentitySource"] == "method.request.header.Authorization"
    assert props["AuthorizerResultTtlInSeconds"] == ServiceConfig().authorizer_cache_ttl_s == 300
    assert function_id in json.dumps(props["AuthorizerUri"])
    # API Gateway may invoke the function for this authorizer of this API, and nothing else may.
    permissions = [
        p["Properties"]
        for p in template.find_resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    (permission,) = permissions
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "apigateway.amazonaws.com"
    source = json.dumps(permission["SourceArn"])
    api_id = next(iter(template.find_resources("AWS::ApiGateway::RestApi")))
    assert api_id in source and "/authorizers/" in source and authorizer_id in source


def test_the_authorizer_trusts_the_pool_and_client_and_reads_only_the_keys_table(template: Template) -> None:
    _, function = _function_by_handler(template, "lambdas.authorizer.handler.lambda_handler")
    env = function["Properties"]["Environment"]["Variables"]
    (pool_id,) = template.find_resources("AWS::Cognito::UserPool")
    (client_id,) = template.find_resources("AWS::Cognito::UserPoolClient")
    assert env["USER_POOL_ISSUER"] == {"Fn::GetAtt": [pool_id, "ProviderURL"]}
    assert env["USER_POOL_CLIENT_ID"] == {"Ref": client_id}
    assert "USER_POOL_JWKS_URL" not in env  # the issuer's own, on AWS
    assert function["Properties"]["Timeout"] == 10
    (keys_table,) = template.find_resources(
        "AWS::DynamoDB::Table",
        {"Properties": {"KeySchema": [{"AttributeName": "key_id", "KeyType": "HASH"}]}},
    )
    assert env["API_KEYS_TABLE_NAME"] == {"Ref": keys_table}
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    data = [
        s
        for s in _statements_of_role(template, role_id)
        if not any(str(action).startswith(("logs:", "xray:")) for action in s["Action"])
    ]
    assert data == [
        {
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [keys_table, "Arn"]},
        }
    ]


def test_stage_v1_throttled_traced_and_logged(template: Template) -> None:
    config = ServiceConfig()
    (stage,) = template.find_resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "v1"
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == config.api_throttle_rate_limit
    assert settings["ThrottlingBurstLimit"] == config.api_throttle_burst_limit
    assert settings["DataTraceEnabled"] is False
    access_log_group = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    log_group = template.find_resources("AWS::Logs::LogGroup")[access_log_group]
    assert log_group["Properties"]["RetentionInDays"] == config.log_retention_days
    fields = json.loads(props["AccessLogSetting"]["Format"])
    assert fields["user"] == "$context.authorizer.principalId"
    assert {"requestId", "status", "resourcePath"} <= set(fields)


def test_gateway_errors_use_the_service_error_shape(template: Template) -> None:
    responses = template.find_resources("AWS::ApiGateway::GatewayResponse").values()
    by_type = {r["Properties"]["ResponseType"]: r["Properties"] for r in responses}
    assert {"UNAUTHORIZED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(by_type)
    assert by_type["THROTTLED"]["StatusCode"] == "429"
    assert by_type["UNAUTHORIZED"]["StatusCode"] == "401"
    for props in by_type.values():
        assert props["ResponseTemplates"]["application/json"].startswith('{"error":{"code":')


def test_user_pool_password_policy_and_public_client(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {"MinimumLength": 12, "RequireSymbols": True, "RequireUppercase": True}
                )
            },
            "AutoVerifiedAttributes": ["email"],
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
        },
    )
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {"GenerateSecret": False, "PreventUserExistenceErrors": "ENABLED"},
    )


def _api_function(template: Template) -> tuple[str, dict]:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "lambdas.api.handler.lambda_handler"}}
    )
    assert len(functions) == 1
    return next(iter(functions.items()))


def test_api_function_environment(template: Template) -> None:
    _, function = _api_function(template)
    env = function["Properties"]["Environment"]["Variables"]
    for name in (
        "JOBS_TABLE_NAME",
        "USERS_TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "MEDIA_BUCKET_NAME",
        "STATE_MACHINE_ARN",
        "SIGNUP_CREDITS",
        "CREDITS_PER_MINUTE",
        "CORS_ALLOW_ORIGINS",
        "POWERTOOLS_METRICS_NAMESPACE",
        "STAGE_NAME",
    ):
        assert name in env, name
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


def _statements_of_role(template: Template, role_id: str) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [
        statement
        for policy in policies.values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _ref(resource: dict | str) -> str:
    """The logical id a Resource expression points at (GetAtt/Ref, possibly inside a Join)."""
    if isinstance(resource, str):
        return resource
    if "Fn::Join" in resource:
        parts = resource["Fn::Join"][1]
        return _ref(parts[0]) + "".join(p for p in parts[1:] if isinstance(p, str))
    if "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    return resource["Ref"]


def test_api_role_is_least_privilege(template: Template) -> None:
    _, function = _api_function(template)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _statements_of_role(template, role_id)
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            assert "*" not in action, action
            granted.setdefault(action, set()).update(_ref(r) for r in resources)

    tables = {
        key: next(
            iter(
                template.find_resources(
                    "AWS::DynamoDB::Table",
                    {"Properties": {"KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}},
                )
            )
        )
        for key in ("job_id", "user_id", "id", "upload_id", "persona_id", "key_id", "bucket_id")
    }
    jobs, users, idempotency = tables["job_id"], tables["user_id"], tables["id"]
    uploads, personas = tables["upload_id"], tables["persona_id"]
    api_keys, rate_limits = tables["key_id"], tables["bucket_id"]
    uploads_bucket = next(k for k in template.find_resources("AWS::S3::Bucket") if "UploadsBucket" in k)
    media = next(
        k
        for k, v in template.find_resources("AWS::S3::Bucket").items()
        if v["Properties"].get("VersioningConfiguration")
    )
    ((state_machine, machine),) = template.find_resources("AWS::StepFunctions::StateMachine").items()
    machine_name = machine["Properties"]["StateMachineName"]
    log_group = next(k for k in granted["logs:PutLogEvents"])

    assert granted == {
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
        "logs:CreateLogStream": {log_group},
        "logs:PutLogEvents": {log_group},
        # rate_limits: a refused request reads its bucket back (Retry-After).
        "dynamodb:GetItem": {jobs, users, idempotency, uploads, personas, rate_limits},
        # api_keys: created (and counted on the user row) in one transaction.
        "dynamodb:PutItem": {jobs, users, idempotency, uploads, personas, api_keys},
        # users: the webhook secret and the API key count; rate_limits: the buckets.
        "dynamodb:UpdateItem": {jobs, users, idempotency, uploads, rate_limits},
        # DELETE /uploads/{id}: the upload's row and object; the upload quota queries by_user.
        # DELETE /me/api-keys/{id}: the key's row (in a transaction with the user row's count).
        "dynamodb:DeleteItem": {jobs, idempotency, uploads, personas, api_keys},
        "dynamodb:Query": {
            f"{jobs}/index/by_user",
            f"{jobs}/index/by_status",
            f"{uploads}/index/by_user",
            f"{personas}/index/by_user",  # GET /personas and the cap
            f"{api_keys}/index/by_user",
        },
        # POST /personas reads its source (a song or an upload) and writes, signs and deletes the
        # reference clip, under personas/ only.
        "s3:GetObject": {f"{media}/songs/*", f"{media}/personas/*", f"{uploads_bucket}/uploads/*"},
        "s3:DeleteObject": {f"{media}/songs/*", f"{media}/personas/*", f"{uploads_bucket}/uploads/*"},
        "s3:ListBucket": {media},
        # Upload forms are signed by this role; deleting the last song made from an upload re-tags it.
        "s3:PutObject": {f"{uploads_bucket}/uploads/*", f"{media}/personas/*"},
        "s3:PutObjectTagging": {f"{uploads_bucket}/uploads/*"},
        "states:StartExecution": {state_machine},
        # Cancel: this state machine's executions only (tests/infra/test_webhooks.py).
        "states:StopExecution": {f"arn::states:us-east-1::execution:{machine_name}:*"},
        "events:PutEvents": {next(iter(template.find_resources("AWS::Events::EventBus")))},
    }
    (list_bucket,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert list_bucket["Condition"] == {"StringLike": {"s3:prefix": ["songs/*"]}}


def test_outputs_for_clients(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {"ApiUrl", "UserPoolId", "UserPoolClientId"} <= set(outputs)
