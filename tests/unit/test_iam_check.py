"""The permission checker's parts (local/iam): calls -> IAM requests, policy evaluation, name
bindings, attribution of calls to functions. Its use on the real template: tests/infra/test_permissions.py."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.iam.check import TemplatePermissions
from local.iam.policies import Condition, Decision, Resolver, Statement, condition_holds, evaluate
from local.iam.recorder import HANDLERS_DIR, AwsCall, CallRecorder, current_attribution, read_calls
from local.iam.requests import IamRequest, Scope, iam_requests, presigned_post_requests
from tests.permissions import RECORDER

SCOPE = Scope("us-east-1", "123456789012")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table"


def actions(requests: list[IamRequest]) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in requests]


# --- calls -> IAM requests ------------------------------------------------------------------------


def test_a_transaction_needs_each_items_own_action_on_its_table() -> None:
    items = [
        {"ConditionCheck": {"TableName": "jobs", "Key": {}}},
        {"Update": {"TableName": "users", "Key": {}}},
        {"Put": {"TableName": "jobs", "Item": {}}},
        {"Delete": {"TableName": "users", "Key": {}}},
    ]
    assert actions(iam_requests("dynamodb", "TransactWriteItems", {"TransactItems": items}, SCOPE)) == [
        ("dynamodb:ConditionCheckItem", f"{TABLE}/jobs"),
        ("dynamodb:UpdateItem", f"{TABLE}/users"),
        ("dynamodb:PutItem", f"{TABLE}/jobs"),
        ("dynamodb:DeleteItem", f"{TABLE}/users"),
    ]


def test_an_index_query_is_authorized_on_the_index() -> None:
    params = {"TableName": "jobs", "IndexName": "by_user"}
    assert actions(iam_requests("dynamodb", "Query", params, SCOPE)) == [
        ("dynamodb:Query", f"{TABLE}/jobs/index/by_user")
    ]


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
        (
            "GetObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v"},
            [("s3:GetObjectVersion", "arn:aws:s3:::b/k")],
        ),
        (
            "PutObject",
            {"Bucket": "b", "Key": "k", "Tagging": "a=b"},
            [("s3:PutObject", "arn:aws:s3:::b/k"), ("s3:PutObjectTagging", "arn:aws:s3:::b/k")],
        ),
        (
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}},
            [("s3:DeleteObject", "arn:aws:s3:::b/x"), ("s3:DeleteObject", "arn:aws:s3:::b/y")],
        ),
        (
            "CopyObject",
            {"Bucket": "dst", "Key": "k2", "CopySource": {"Bucket": "src", "Key": "k1"}},
            [("s3:GetObject", "arn:aws:s3:::src/k1"), ("s3:PutObject", "arn:aws:s3:::dst/k2")],
        ),
        (
            "CopyObject",
            {"Bucket": "dst", "Key": "k2", "CopySource": "src/a%20b?versionId=3"},
            [("s3:GetObjectVersion", "arn:aws:s3:::src/a b"), ("s3:PutObject", "arn:aws:s3:::dst/k2")],
        ),
    ],
)
def test_s3_calls_are_the_actions_s3_authorizes(operation: str, params: dict, expected: list) -> None:
    assert actions(iam_requests("s3", operation, params, SCOPE)) == expected


def test_a_listing_is_list_bucket_with_its_prefix_as_condition_key() -> None:
    (listing,) = iam_requests("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "songs/u/"}, SCOPE)
    assert (listing.action, listing.resource, listing.context) == (
        "s3:ListBucket",
        "arn:aws:s3:::b",
        (("s3:prefix", ("songs/u/",)),),
    )
    (whole,) = iam_requests("s3", "ListObjectsV2", {"Bucket": "b"}, SCOPE)
    assert whole.context == (("s3:prefix", ()),)


def test_a_presigned_post_form_with_tags_needs_tagging_too() -> None:
    fields = {"tagging": "<Tagging>...</Tagging>", "Content-Type": "audio/wav"}
    assert actions(presigned_post_requests("b", "uploads/u/1", fields, [], SCOPE)) == [
        ("s3:PutObject", "arn:aws:s3:::b/uploads/u/1"),
        ("s3:PutObjectTagging", "arn:aws:s3:::b/uploads/u/1"),
    ]
    assert (
        actions(presigned_post_requests("b", "k", {}, [{"acl": "private"}], SCOPE))[1][0] == "s3:PutObjectAcl"
    )


def test_other_services_name_their_resources() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    assert actions(iam_requests("sqs", "ChangeMessageVisibilityBatch", {"QueueUrl": url}, SCOPE)) == [
        ("sqs:ChangeMessageVisibility", "arn:aws:sqs:us-east-1:123456789012:q")
    ]
    assert actions(iam_requests("sagemaker", "InvokeEndpointAsync", {"EndpointName": "Music"}, SCOPE)) == [
        ("sagemaker:InvokeEndpointAsync", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/music")
    ]
    entries = {"Entries": [{"EventBusName": "bus"}, {"EventBusName": "bus"}, {}]}
    assert actions(iam_requests("events", "PutEvents", entries, SCOPE)) == [
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/bus"),
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"),
    ]
    assert iam_requests("sts", "GetCallerIdentity", {}, SCOPE) == []


# --- evaluation -----------------------------------------------------------------------------------


def allow(actions: list[str], resources: list[str], **condition: Any) -> Statement:
    conditions = tuple(Condition(op, key, tuple(v)) for op, (key, v) in condition.items())
    return Statement("Allow", tuple(actions), tuple(resources), conditions, source="test")


def test_wildcards_match_actions_case_insensitively_and_resources_exactly() -> None:
    request = IamRequest("s3:GetObject", "arn:aws:s3:::b/songs/u/1.wav")
    assert evaluate(request, [allow(["s3:get*"], ["arn:aws:s3:::b/songs/*"])]).decision is Decision.ALLOWED
    assert evaluate(request, [allow(["s3:GetObject"], ["arn:aws:s3:::b/Songs/*"])]).decision is (
        Decision.IMPLICIT_DENY
    )
    assert evaluate(request, [allow(["s3:GetObject"], ["arn:aws:s3:::b/songs/?/1.wav"])]).decision is (
        Decision.ALLOWED
    )


def test_a_prefix_condition_allows_only_listings_under_it() -> None:
    statement = allow(["s3:ListBucket"], ["arn:aws:s3:::b"], StringLike=("s3:prefix", ["songs/*"]))
    inside, everything = (
        iam_requests("s3", "ListObjectsV2", {"Bucket": "b", **prefix}, SCOPE)[0]
        for prefix in ({"Prefix": "songs/u/"}, {})
    )
    assert evaluate(inside, [statement]).decision is Decision.ALLOWED
    assert evaluate(everything, [statement]).decision is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_and_tls_only_denies_do_not_hit_sdk_calls() -> None:
    request = IamRequest("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:123456789012:q")
    granted = allow(["sqs:ReceiveMessage"], [request.resource])
    tls_only = Statement(
        "Deny",
        ("sqs:*",),
        (request.resource,),
        (Condition("Bool", "aws:SecureTransport", ("false",)),),
        principals=("*",),
        source="QueuePolicy",
    )
    deny_all = Statement("Deny", ("sqs:*",), ("*",), principals=("*",), source="DenyAll")
    role = "arn:aws:iam::123456789012:role/r"
    assert evaluate(request, [granted, tls_only], principal=role).decision is Decision.ALLOWED
    verdict = evaluate(request, [granted, deny_all], principal=role)
    assert (verdict.decision, verdict.detail) == (Decision.DENIED, "denied by DenyAll")


def test_a_condition_on_an_unmodelled_key_is_reported_not_guessed() -> None:
    request = IamRequest("dynamodb:GetItem", f"{TABLE}/users")
    statement = allow(
        ["dynamodb:GetItem"],
        [request.resource],
        **{"ForAllValues:StringEquals": ("dynamodb:LeadingKeys", ["u"])},
    )
    verdict = evaluate(request, [statement])
    assert verdict.decision is Decision.UNDETERMINED
    assert "dynamodb:LeadingKeys" in verdict.detail


def test_absent_keys_follow_iam_rules() -> None:
    context = {"s3:prefix": ()}
    assert condition_holds(Condition("StringLike", "s3:prefix", ("a*",)), context) is False
    assert condition_holds(Condition("StringNotLike", "s3:prefix", ("a*",)), context) is True
    assert condition_holds(Condition("StringLikeIfExists", "s3:prefix", ("a*",)), context) is True
    assert condition_holds(Condition("Null", "s3:prefix", ("true",)), context) is True


# --- the template side ----------------------------------------------------------------------------

# The state machine's name spelled out, as stacks/ grants StopExecution.
EXECUTIONS = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:svc-dev-flow:*"
MINI_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Jobs": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Media": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
                            }
                        }
                    ]
                }
            },
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"StateMachineName": "svc-dev-flow"},
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:GetItem",
                            "Resource": {"Fn::GetAtt": ["Jobs", "Arn"]},
                        },
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Media", "Arn"]}, "/songs/*"]]},
                        },
                        {
                            "Effect": "Allow",
                            "Action": "states:StopExecution",
                            "Resource": {"Fn::Sub": EXECUTIONS},
                        },
                    ]
                },
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "lambdas.api.handler.lambda_handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Environment": {
                    "Variables": {
                        "JOBS_TABLE_NAME": {"Ref": "Jobs"},
                        "MEDIA_BUCKET_NAME": {"Ref": "Media"},
                        "STATE_MACHINE_ARN": {"Ref": "Machine"},
                    }
                },
            },
        },
    }
}
ENV = {
    "JOBS_TABLE_NAME": "svc-test-jobs",
    "MEDIA_BUCKET_NAME": "svc-test-media",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:svc-test-flow",
}


def call(*requests: IamRequest, env: dict[str, str] = ENV) -> AwsCall:
    return AwsCall("lambdas.api.handler.lambda_handler", "test:Call", requests, env, ())


def test_the_environment_binds_the_names_a_test_uses_to_the_templates_resources() -> None:
    permissions = TemplatePermissions(MINI_TEMPLATE, SCOPE)
    execution = "arn:aws:states:us-east-1:123456789012:execution:svc-test-flow:job-1"
    allowed = call(
        IamRequest("dynamodb:GetItem", f"{TABLE}/svc-test-jobs"),
        IamRequest("states:StopExecution", execution),  # the template spells the name out
    )
    assert permissions.check([allowed]) == []
    (violation,) = permissions.check([call(IamRequest("dynamodb:GetItem", f"{TABLE}/other-table"))])
    assert violation.verdict.decision is Decision.IMPLICIT_DENY
    assert violation.granted == (f"{TABLE}/svc-test-jobs",)


def test_a_customer_managed_key_needs_kms_permissions_too() -> None:
    permissions = TemplatePermissions(MINI_TEMPLATE, SCOPE)
    (violation,) = permissions.check(
        [call(IamRequest("s3:GetObject", "arn:aws:s3:::svc-test-media/songs/a"))]
    )
    assert violation.request == IamRequest("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/Key")


def test_intrinsic_functions_resolve() -> None:
    resolver = Resolver(MINI_TEMPLATE, SCOPE)
    value = {
        "Fn::Select": [
            1,
            {"Fn::Split": [":", {"Fn::Sub": ["a:${X}:${Jobs.Arn}", {"X": {"Ref": "AWS::Region"}}]}]},
        ]
    }
    assert resolver.value(value) == "us-east-1"
    assert (
        resolver.value({"Ref": "Machine"})
        == "arn:aws:states:us-east-1:123456789012:stateMachine:svc-dev-flow"
    )


# --- recording -----------------------------------------------------------------------------------

FAKE_HANDLER = """
from concurrent.futures import ThreadPoolExecutor

def lambda_handler(event, context):
    with ThreadPoolExecutor(max_workers=2) as pool:
        in_pool = pool.submit(probe).result()
    return probe(), in_pool
"""


def _load_as_handler(source: str, function: str, probe: Any) -> Any:
    """Code compiled as if it were lambdas/<function>/handler.py (attribution reads code filenames)."""
    namespace: dict[str, Any] = {"probe": probe}
    exec(compile(source, str(HANDLERS_DIR / function / "handler.py"), "exec"), namespace)
    return namespace["lambda_handler"]


def test_a_call_belongs_to_the_handler_running_it_also_in_its_thread_pools() -> None:
    handler = _load_as_handler(FAKE_HANDLER, "webhook_sender", current_attribution)
    event = {"Records": [{"eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks"}]}
    direct, pooled = handler(event, None)
    assert direct.handler == pooled.handler == "lambdas.webhook_sender.handler.lambda_handler"
    assert direct.event_sources == pooled.event_sources == ("arn:aws:sqs:us-east-1:123456789012:webhooks",)
    assert current_attribution() is None  # the test itself is no function
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(current_attribution).result() is None


def test_calls_made_inside_moto_belong_to_no_function() -> None:
    moto_code = compile(
        "def run(probe):\n    return probe()\n", "/site-packages/moto/stepfunctions/x.py", "exec"
    )
    namespace: dict[str, Any] = {}
    exec(moto_code, namespace)
    handler = _load_as_handler(
        "def lambda_handler(event, context):\n    return run(probe)\n", "api", current_attribution
    )
    handler.__globals__["run"] = namespace["run"]
    assert handler({}, None) is None


def test_handlers_calls_and_presigned_posts_are_recorded(aws_env) -> None:
    def presign_and_get() -> None:
        s3 = boto3.client("s3")
        s3.generate_presigned_post(aws_env.uploads_bucket, "uploads/u/1", Fields={"tagging": "<Tagging/>"})
        s3.generate_presigned_url("get_object", Params={"Bucket": aws_env.media_bucket, "Key": "songs/u/1"})

    handler = _load_as_handler("def lambda_handler(event, context):\n    probe()\n", "api", presign_and_get)
    mark = RECORDER.mark()
    boto3.client("s3").list_buckets()  # the test's own call: not a function's
    handler({}, None)
    recorded = [(c.handler, c.operation, [r.action for r in c.requests]) for c in RECORDER.since(mark)]
    api = "lambdas.api.handler.lambda_handler"
    assert recorded == [
        (api, "s3:PresignedPost", ["s3:PutObject", "s3:PutObjectTagging"]),
        (api, "s3:GetObject", ["s3:GetObject"]),
    ]


def test_a_call_file_is_read_back_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_TABLE_NAME", "t1")
    path = tmp_path / "calls.jsonl"
    recorder = CallRecorder(SCOPE, sink=path)
    attribution = current_attribution(_fake_frame())
    assert attribution is not None
    request = IamRequest("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", ("p/",)),))
    recorder.record(attribution, "s3:ListObjectsV2", [request])
    with path.open("a") as partial:
        partial.write('{"handler": "half a line')
    recorder.close()
    envs: dict[int, Any] = {}
    calls, offset = read_calls(path, envs)
    assert calls == recorder.calls
    assert calls[0].env["JOBS_TABLE_NAME"] == "t1"
    assert read_calls(path, envs, offset) == ([], offset)  # the unfinished line waits


def _fake_frame() -> Any:
    handler = _load_as_handler(
        "import sys\ndef lambda_handler(event, context):\n    return sys._getframe()\n", "api", None
    )
    return handler({"Records": []}, None)


def test_the_recorded_call_shape_is_json() -> None:
    request = IamRequest("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", ()),))
    assert IamRequest.from_json(json.loads(json.dumps(request.to_json()))) == request
