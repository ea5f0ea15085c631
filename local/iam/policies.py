"""A synthesized template's policies resolved to strings, and evaluated the way IAM does.

Resolving: `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split` and the pseudo
parameters become strings for one account and region. A resource's name is the name bound to it
(the name the code under test used, see check.py), else its explicit name property, else its
logical id; its ARN follows AWS's ARN format for its type (TYPES). Unknown types resolve to
`<LogicalId.Attr>` placeholders, which match nothing.

Evaluating (AWS's policy evaluation logic, same-account requests): an explicit Deny of an identity
or resource policy wins; otherwise an Allow of either grants; otherwise the request is implicitly
denied. Actions match case-insensitively, resources case-sensitively, with `*` and `?`
wildcards. Conditions are evaluated when every key they name is in the request context (the
request's own keys plus TRANSPORT_CONTEXT and the principal's keys); a condition on any other key
makes the statement undetermined, which the checker reports rather than guesses. Not modelled:
permission boundaries, session policies, SCPs and KMS key policies (the stack's roles use none;
key policies are asserted by the infra tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from local.iam.requests import IamRequest, Scope

NameFormula = Callable[[Scope, str], str]


def _arn(service: str, resource: str) -> NameFormula:
    return lambda scope, name: scope.arn(service, resource.format(name=name))


def _name(scope: Scope, name: str) -> str:
    return name


def _queue_url(scope: Scope, name: str) -> str:
    return f"https://sqs.{scope.region}.amazonaws.com/{scope.account}/{name}"


def _bucket_arn(scope: Scope, name: str) -> str:
    return f"arn:{scope.partition}:s3:::{name}"


def _role_arn(scope: Scope, name: str) -> str:
    return f"arn:{scope.partition}:iam::{scope.account}:role/{name}"


def _endpoint_arn(scope: Scope, name: str) -> str:
    return scope.arn("sagemaker", f"endpoint/{name.lower()}")


@dataclass(frozen=True)
class ResourceType:
    name_property: str | None
    ref: NameFormula
    attributes: Mapping[str, NameFormula]


# What Ref and Fn::GetAtt return for the resource types policies name (CloudFormation's reference).
TYPES: dict[str, ResourceType] = {
    "AWS::DynamoDB::Table": ResourceType("TableName", _name, {"Arn": _arn("dynamodb", "table/{name}")}),
    "AWS::S3::Bucket": ResourceType("BucketName", _name, {"Arn": _bucket_arn}),
    "AWS::SQS::Queue": ResourceType(
        "QueueName", _queue_url, {"Arn": _arn("sqs", "{name}"), "QueueName": _name, "QueueUrl": _queue_url}
    ),
    "AWS::SNS::Topic": ResourceType(
        "TopicName", _arn("sns", "{name}"), {"TopicArn": _arn("sns", "{name}"), "TopicName": _name}
    ),
    "AWS::StepFunctions::StateMachine": ResourceType(
        "StateMachineName",
        _arn("states", "stateMachine:{name}"),
        {"Arn": _arn("states", "stateMachine:{name}"), "Name": _name},
    ),
    "AWS::Events::EventBus": ResourceType(
        "Name", _name, {"Arn": _arn("events", "event-bus/{name}"), "Name": _name}
    ),
    "AWS::Events::Rule": ResourceType("Name", _name, {"Arn": _arn("events", "rule/{name}")}),
    "AWS::Lambda::Function": ResourceType("FunctionName", _name, {"Arn": _arn("lambda", "function:{name}")}),
    "AWS::SageMaker::Endpoint": ResourceType("EndpointName", _endpoint_arn, {"EndpointName": _name}),
    "AWS::IAM::Role": ResourceType("RoleName", _name, {"Arn": _role_arn}),
    "AWS::Logs::LogGroup": ResourceType("LogGroupName", _name, {"Arn": _arn("logs", "log-group:{name}:*")}),
    "AWS::KMS::Key": ResourceType(None, _name, {"Arn": _arn("kms", "key/{name}"), "KeyId": _name}),
}
_PLACEHOLDER = "\x00name\x00"


def name_from_reference(resource_type: str, attribute: str | None, value: str, scope: Scope) -> str | None:
    """The resource name inside what `Ref` (attribute None) or `Fn::GetAtt` returned, e.g. the table
    name in a table ARN; None if `value` does not have that shape for this account and region."""
    kind = TYPES.get(resource_type)
    formula = kind and (kind.ref if attribute is None else kind.attributes.get(attribute))
    if formula is None:
        return None
    pattern = re.escape(formula(scope, _PLACEHOLDER)).replace(re.escape(_PLACEHOLDER), "(.+)")
    match = re.fullmatch(pattern, value)
    return match.group(1) if match else None


class Resolver:
    """Intrinsic functions of one template, resolved for `scope` with `names` bound to resources
    (logical id -> physical name) and `literals` (a template's literal resource name -> the bound
    name, for ARNs a template spells out from names instead of references)."""

    def __init__(
        self,
        template: Mapping[str, Any],
        scope: Scope,
        names: Mapping[str, str] | None = None,
        literals: Mapping[str, str] | None = None,
    ) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.parameters: Mapping[str, Any] = template.get("Parameters", {})
        self.scope = scope
        self.names = dict(names or {})
        self._literals = sorted((literals or {}).items(), key=lambda item: -len(item[0]))
        self._pseudo = {
            "AWS::Region": scope.region,
            "AWS::AccountId": scope.account,
            "AWS::Partition": scope.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
        }

    def value(self, node: Any) -> Any:
        if isinstance(node, str):
            return self._literal(node)
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                lid, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(lid, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.value(p)) for p in self.value_list(parts))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.value_list(items)[int(self.value(index))]
            if key == "Fn::Split":
                separator, source = arg
                return str(self.value(source)).split(separator)
            if key.startswith("Fn::"):
                return f"<{key}>"
        return {key: self.value(value) for key, value in node.items()}

    def value_list(self, node: Any) -> list[Any]:
        resolved = self.value(node)
        return resolved if isinstance(resolved, list) else [resolved]

    def strings(self, node: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in self.value_list(node))

    def name(self, lid: str) -> str:
        if lid in self.names:
            return self.names[lid]
        resource = self.resources.get(lid, {})
        kind = TYPES.get(resource.get("Type", ""))
        explicit = kind and kind.name_property and resource.get("Properties", {}).get(kind.name_property)
        return str(self.value(explicit)) if explicit else lid

    def ref(self, lid: str) -> str:
        if lid in self._pseudo:
            return self._pseudo[lid]
        if lid in self.parameters:
            return str(self.parameters[lid].get("Default", f"<{lid}>"))
        kind = TYPES.get(self.resources.get(lid, {}).get("Type", ""))
        return kind.ref(self.scope, self.name(lid)) if kind else f"<{lid}>"

    def get_att(self, lid: str, attribute: str) -> str:
        kind = TYPES.get(self.resources.get(lid, {}).get("Type", ""))
        formula = kind.attributes.get(attribute) if kind else None
        return formula(self.scope, self.name(lid)) if formula else f"<{lid}.{attribute}>"

    def _literal(self, text: str) -> str:
        for literal, bound in self._literals:
            text = text.replace(literal, bound)
        return text

    def _sub(self, arg: Any) -> str:
        template, variables = (arg, {}) if isinstance(arg, str) else arg
        values = {key: str(self.value(v)) for key, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return values[name]
            if "." in name:
                lid, attribute = name.split(".", 1)
                return self.get_att(lid, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}]+)\}", replace, self._literal(template))


# --- statements and their evaluation -------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    not_actions: bool = False
    not_resources: bool = False
    principals: tuple[str, ...] | None = None  # resource policies: "*", ARNs, "service:<name>"
    source: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any], resolver: Resolver, source: str) -> Statement:
        actions = raw.get("Action", raw.get("NotAction", []))
        resources = raw.get("Resource", raw.get("NotResource", "*"))
        conditions = tuple(
            Condition(operator, key, resolver.strings(values))
            for operator, keys in raw.get("Condition", {}).items()
            for key, values in keys.items()
        )
        return cls(
            effect=raw.get("Effect", "Allow"),
            actions=resolver.strings(actions),
            resources=resolver.strings(resources),
            conditions=conditions,
            not_actions="NotAction" in raw,
            not_resources="NotResource" in raw,
            principals=_principals(raw["Principal"], resolver) if "Principal" in raw else None,
            source=source,
        )


def _principals(raw: Any, resolver: Resolver) -> tuple[str, ...]:
    if raw == "*":
        return ("*",)
    found: list[str] = []
    for kind, values in raw.items():
        for value in resolver.strings(values):
            found.append(value if kind == "AWS" else f"{kind.lower()}:{value}")
    return tuple(found)


class Decision(Enum):
    ALLOWED = "allowed"
    DENIED = "explicitly denied"
    IMPLICIT_DENY = "not allowed by any statement"
    UNDETERMINED = "undetermined"


# What every SDK request to AWS carries: HTTPS (botocore negotiates TLS 1.2 or newer).
TRANSPORT_CONTEXT = {"aws:SecureTransport": ("true",), "s3:TlsVersion": ("1.2",)}


@cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def _value_matches(operator: str, wanted: str, actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals", "Bool"):
        return wanted.lower() == actual.lower() if operator == "Bool" else wanted == actual
    if operator == "StringEqualsIgnoreCase":
        return wanted.lower() == actual.lower()
    if operator in ("StringLike", "ArnLike"):
        return wildcard_match(wanted, actual)
    if operator.startswith("Numeric"):
        left, right = float(actual), float(wanted)
        return {
            "NumericEquals": left == right,
            "NumericLessThan": left < right,
            "NumericLessThanEquals": left <= right,
            "NumericGreaterThan": left > right,
            "NumericGreaterThanEquals": left >= right,
        }[operator]
    raise KeyError(operator)


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def condition_holds(condition: Condition, context: Mapping[str, tuple[str, ...]]) -> bool | None:
    """True/False as IAM decides it; None when the key is not one this request context models."""
    keys = {k.lower(): v for k, v in context.items()}
    if condition.key.lower() not in keys:
        return None
    actual = keys[condition.key.lower()]
    operator = condition.operator
    for_all = operator.startswith("ForAllValues:")
    operator = operator.split(":", 1)[-1]
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator == "Null":
        return (not actual) == (condition.values[0].lower() == "true")
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if not actual:
        # Absent key: IfExists and negated operators hold, the others do not (ForAllValues holds).
        return if_exists or negated or for_all
    try:
        matches = [any(_value_matches(base, w, a) for w in condition.values) for a in actual]
    except KeyError:
        return None  # an operator this evaluator does not know
    hit = all(matches) if for_all else any(matches)
    return not hit if negated else hit


def _applies(
    statement: Statement, request: IamRequest, context: Mapping[str, tuple[str, ...]], principal: str | None
) -> bool | None:
    action_hit = any(wildcard_match(a, request.action, ignore_case=True) for a in statement.actions)
    if action_hit == statement.not_actions:
        return False
    resource_hit = any(wildcard_match(r, request.resource) for r in statement.resources)
    if resource_hit == statement.not_resources:
        return False
    if statement.principals is not None and not _principal_matches(statement, principal):
        return False
    results = [condition_holds(c, context) for c in statement.conditions]
    if False in results:
        return False
    return None if None in results else True


def _principal_matches(statement: Statement, principal: str | None) -> bool:
    principals = statement.principals or ()
    if "*" in principals:
        return True
    if principal is None:
        return False
    if principal in principals:
        return True
    # A Deny naming the account denies everyone in it; an Allow naming the account only delegates
    # to the account's own identity policies (it grants nobody by itself).
    account = principal.split(":")[4]
    root = {account, f"arn:aws:iam::{account}:root"}
    return statement.effect == "Deny" and bool(root & set(principals))


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    detail: str = ""


def evaluate(
    request: IamRequest,
    statements: Iterable[Statement],
    *,
    principal: str | None = None,
    context: Mapping[str, tuple[str, ...]] | None = None,
) -> Verdict:
    """Identity and resource policy statements together, for a principal of the same account."""
    full_context = {**TRANSPORT_CONTEXT, **(context or {}), **dict(request.context)}
    if principal:
        full_context.setdefault("aws:PrincipalArn", (principal,))
        full_context.setdefault("aws:PrincipalAccount", (principal.split(":")[4],))
    allowed: list[Statement] = []
    undetermined: list[Statement] = []
    for statement in statements:
        applies = _applies(statement, request, full_context, principal)
        if applies is None:
            undetermined.append(statement)
        elif applies and statement.effect == "Deny":
            return Verdict(Decision.DENIED, f"denied by {statement.source}")
        elif applies:
            allowed.append(statement)
    undetermined_denies = [s for s in undetermined if s.effect == "Deny"]
    if undetermined_denies or (undetermined and not allowed):
        keys = sorted(
            {c.key for s in undetermined for c in s.conditions if condition_holds(c, full_context) is None}
        )
        sources = ", ".join(sorted({s.source for s in undetermined}))
        return Verdict(
            Decision.UNDETERMINED, f"conditions on {', '.join(keys)} in {sources} are not modelled"
        )
    if allowed:
        return Verdict(Decision.ALLOWED, f"allowed by {allowed[0].source}")
    return Verdict(Decision.IMPLICIT_DENY)
