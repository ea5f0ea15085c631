"""What IAM authorizes for one AWS API call: its actions, resource ARNs and request condition keys.

Most calls are one action named like the operation (`dynamodb:GetItem`) on one resource. The
exceptions below follow AWS's service authorization reference:
- DynamoDB transactions need the per-item actions (ConditionCheck -> dynamodb:ConditionCheckItem,
  Put/Update/Delete/Get -> PutItem/UpdateItem/DeleteItem/GetItem) on each item's table; a query or
  scan of an index is authorized on `table/T/index/I`.
- S3: HeadObject is s3:GetObject; list calls are s3:ListBucket on the bucket with the `s3:prefix`
  condition key; DeleteObjects is s3:DeleteObject per key; CopyObject reads the source
  (s3:GetObject) and writes the destination (s3:PutObject); a request that sets tags or an ACL
  also needs s3:PutObjectTagging / s3:PutObjectAcl; a version id makes it the *Version action.
  CopyObject's default tagging directive (COPY) also copies tags, which needs
  s3:GetObjectTagging/s3:PutObjectTagging only when the source has tags: the source is not
  known here, so the service's copies must not be of tagged objects (its scratch media are not).
- Presigned URLs and POST forms are signed by the caller: the request the holder later makes is
  authorized as the signer, so signing counts as making that request.
- Step Functions task tokens: SendTask* are authorized on the state machine that issued the token
  (TOKEN_STATE_MACHINE, resolved by the checker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

# The resource of SendTaskSuccess/Failure/Heartbeat: the state machine whose task issued the token.
TOKEN_STATE_MACHINE = "<state machine of the task token>"  # noqa: S105 - a placeholder, no secret
# A call this module has no resource rule for: the checker reports it instead of guessing.
UNMAPPED = "<no resource rule for this call>"
# Actions AWS authorizes on "*" only (no resource-level permissions).
RESOURCE_STAR = {
    "cloudwatch:PutMetricData",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
# Calls that need no permission at all.
UNAUTHORIZED_CALLS = {"sts:GetCallerIdentity"}


@dataclass(frozen=True)
class Scope:
    """The account, region and partition the caller runs in (ARNs are built from them)."""

    region: str
    account: str
    partition: str = "aws"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


@dataclass(frozen=True)
class IamRequest:
    """One authorization IAM makes: `action` on `resource`, with the condition keys the request sets
    (a key with no values is one this request defines but leaves absent, e.g. no list prefix)."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> list[Any]:
        return [self.action, self.resource, [[k, list(v)] for k, v in self.context]]

    @classmethod
    def from_json(cls, raw: list[Any]) -> IamRequest:
        action, resource, context = raw
        return cls(action, resource, tuple((k, tuple(v)) for k, v in context))

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={'|'.join(v) or '(absent)'}" for k, v in self.context)
        return f"{self.action} on {self.resource}" + (f" [{keys}]" if keys else "")


Mapper = Callable[[str, Mapping[str, Any], Scope], list[IamRequest]]


def iam_requests(service: str, operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    """The authorizations one call needs. `service` is the IAM prefix (botocore's signing name:
    `states` for Step Functions, `sagemaker` for the runtime, `events` for EventBridge)."""
    action = f"{service}:{operation}"
    if action in UNAUTHORIZED_CALLS:
        return []
    if action in RESOURCE_STAR:
        return [IamRequest(action, "*")]
    mapper = _MAPPERS.get(service)
    return mapper(operation, params, scope) if mapper else [IamRequest(action, UNMAPPED)]


def presigned_post_requests(
    bucket: str, key: str, fields: Mapping[str, Any] | None, conditions: Iterable[Any] | None, scope: Scope
) -> list[IamRequest]:
    """A presigned POST form lets its holder PutObject as the signer (with tags or an ACL if the form
    sets them). `${filename}` in the key is the browser's file name."""
    target = _object(scope, bucket, key.replace("${filename}", "filename"))
    named = {str(name).lower() for name in (fields or {})}
    for condition in conditions or ():
        if isinstance(condition, dict):
            named |= {str(name).lower() for name in condition}
        elif isinstance(condition, list | tuple) and len(condition) == 3:
            named.add(str(condition[1]).lstrip("$").lower())
    requests = [IamRequest("s3:PutObject", target)]
    if "tagging" in named:
        requests.append(IamRequest("s3:PutObjectTagging", target))
    if "acl" in named:
        requests.append(IamRequest("s3:PutObjectAcl", target))
    return requests


# --- DynamoDB ------------------------------------------------------------------------------------

_TRANSACT_ITEM_ACTIONS = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "Get": "dynamodb:GetItem",
}


def _table(scope: Scope, name: str) -> str:
    return name if name.startswith("arn:") else scope.arn("dynamodb", f"table/{name}")


def _dynamodb(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            IamRequest(_TRANSACT_ITEM_ACTIONS[kind], _table(scope, body["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [IamRequest(f"dynamodb:{operation}", _table(scope, t)) for t in params.get("RequestItems", {})]
    table = params.get("TableName")
    if not table:
        return [IamRequest(f"dynamodb:{operation}", UNMAPPED)]
    resource = _table(scope, table)
    if operation in ("Query", "Scan") and params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    return [IamRequest(f"dynamodb:{operation}", resource)]


# --- S3 ------------------------------------------------------------------------------------------

_S3_PUT_OBJECT = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
_S3_LIST = {"ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket", "HeadBucket": "s3:ListBucket"}
_S3_RENAMED = {
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
}


def _object(scope: Scope, bucket: str, key: str) -> str:
    return f"arn:{scope.partition}:s3:::{bucket}/{key}"


def _versioned(action: str, params: Mapping[str, Any]) -> str:
    return f"{action}Version" if params.get("VersionId") else action


def _copy_source(source: Any) -> tuple[str, str, str | None]:
    if isinstance(source, Mapping):
        return source["Bucket"], source["Key"], source.get("VersionId")
    path, _, query = str(source).lstrip("/").partition("?")
    bucket, _, key = path.partition("/")
    version = query.removeprefix("versionId=") if query.startswith("versionId=") else None
    return bucket, unquote(key), version


def _s3(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    bucket = params.get("Bucket", "")
    bucket_arn = f"arn:{scope.partition}:s3:::{bucket}"
    if operation in _S3_LIST:
        prefix = params.get("Prefix")
        context = (("s3:prefix", (prefix,) if prefix else ()),) if operation != "HeadBucket" else ()
        return [IamRequest(_S3_LIST[operation], bucket_arn, context)]
    if operation == "DeleteObjects":
        return [
            IamRequest(_versioned("s3:DeleteObject", obj), _object(scope, bucket, obj["Key"]))
            for obj in params.get("Delete", {}).get("Objects", [])
        ]
    if "Key" not in params:
        return [IamRequest(_S3_RENAMED.get(operation, f"s3:{operation}"), bucket_arn)]
    target = _object(scope, bucket, params["Key"])
    requests: list[IamRequest] = []
    if operation in ("GetObject", "HeadObject"):
        requests.append(IamRequest(_versioned("s3:GetObject", params), target))
    elif operation == "DeleteObject":
        requests.append(IamRequest(_versioned("s3:DeleteObject", params), target))
    elif operation in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key, version = _copy_source(params["CopySource"])
        read = "s3:GetObjectVersion" if version else "s3:GetObject"
        requests.append(IamRequest(read, _object(scope, source_bucket, source_key)))
        requests.append(IamRequest("s3:PutObject", target))
        if params.get("TaggingDirective") == "REPLACE" and params.get("Tagging"):
            requests.append(IamRequest("s3:PutObjectTagging", target))
    elif operation in _S3_PUT_OBJECT:
        requests.append(IamRequest("s3:PutObject", target))
    else:
        requests.append(IamRequest(_S3_RENAMED.get(operation, f"s3:{operation}"), target))
    if operation in ("PutObject", "CreateMultipartUpload") and params.get("Tagging"):
        requests.append(IamRequest("s3:PutObjectTagging", target))
    if operation in ("PutObject", "CreateMultipartUpload", "CopyObject") and params.get("ACL"):
        requests.append(IamRequest("s3:PutObjectAcl", target))
    return requests


# --- queues, topics, buses, functions ------------------------------------------------------------


def _queue_from_url(scope: Scope, url: str) -> str:
    account, _, name = urlparse(url).path.strip("/").partition("/")
    return f"arn:{scope.partition}:sqs:{scope.region}:{account}:{name}" if account and name else UNMAPPED


def _sqs(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    action = f"sqs:{operation.removesuffix('Batch')}"
    if operation == "GetQueueUrl":
        account = params.get("QueueOwnerAWSAccountId") or scope.account
        return [
            IamRequest(action, f"arn:{scope.partition}:sqs:{scope.region}:{account}:{params['QueueName']}")
        ]
    url = params.get("QueueUrl")
    return [IamRequest(action, _queue_from_url(scope, url) if url else UNMAPPED)]


def _sns(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    return [IamRequest(f"sns:{operation.removesuffix('Batch')}", topic or UNMAPPED)]


def _states(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    if operation in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        return [IamRequest(f"states:{operation}", TOKEN_STATE_MACHINE)]
    resource = params.get("executionArn") or params.get("stateMachineArn") or UNMAPPED
    return [IamRequest(f"states:{operation}", resource)]


def _sagemaker(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    name = params.get("EndpointName")
    # SageMaker ARNs carry resource names in lower case.
    resource = scope.arn("sagemaker", f"endpoint/{name.lower()}") if name else UNMAPPED
    return [IamRequest(f"sagemaker:{operation}", resource)]


def _events(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    if operation != "PutEvents":
        name = params.get("EventBusName") or params.get("Name")
        return [
            IamRequest(f"events:{operation}", scope.arn("events", f"event-bus/{name}") if name else UNMAPPED)
        ]
    buses = dict.fromkeys(entry.get("EventBusName") or "default" for entry in params.get("Entries", []))
    return [
        IamRequest(
            "events:PutEvents", bus if bus.startswith("arn:") else scope.arn("events", f"event-bus/{bus}")
        )
        for bus in buses
    ]


def _lambda(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    function = params.get("FunctionName")
    if not function:
        return [IamRequest(f"lambda:{operation}", UNMAPPED)]
    action = "lambda:InvokeFunction" if operation.startswith("Invoke") else f"lambda:{operation}"
    arn = function if function.startswith("arn:") else scope.arn("lambda", f"function:{function}")
    if params.get("Qualifier"):
        arn += f":{params['Qualifier']}"
    return [IamRequest(action, arn)]


def _cognito(operation: str, params: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    pool = params.get("UserPoolId")
    resource = scope.arn("cognito-idp", f"userpool/{pool}") if pool else UNMAPPED
    return [IamRequest(f"cognito-idp:{operation}", resource)]


_MAPPERS: dict[str, Mapper] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "sqs": _sqs,
    "sns": _sns,
    "states": _states,
    "sagemaker": _sagemaker,
    "events": _events,
    "lambda": _lambda,
    "cognito-idp": _cognito,
}
