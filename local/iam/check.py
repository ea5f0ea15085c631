"""Check AWS calls, and the template's own service integrations, against the synthesized roles.

Recorded calls (recorder.py): each call of a Lambda handler is evaluated against the role of the
function whose `Handler` is that handler, together with the template's resource policies (bucket,
queue and topic policies: their explicit Denies, e.g. TLS-only, apply to everyone).

Names: tests and the local stack name their tables, buckets, buses and state machines after their
own stage, not the template's generated names. The binding is the one AWS uses: a function finds
its resources through its environment variables, so the value a variable had when the call was
made is the name of the resource the template puts in that variable (a `Ref`/`Fn::GetAtt`, or a
literal that is a resource's name); the SQS queue an SQS-triggered function consumes is the queue
of its event source mapping. Everything else resolves to the template's own names. A call on a
resource no binding reaches matches no statement and is reported.

Derived requirements: a bucket, queue or topic encrypted with a customer managed KMS key needs
kms:Decrypt (reads) or kms:GenerateDataKey (writes) on the key; a task token's SendTask* is
authorized on the state machine (the template's only one).

Static checks (no calls needed): every Task state of each state machine (Lambda invokes, optimized
and AWS SDK integrations, resolved with the definition's substitutions) against the state
machine's role; every SQS event source mapping's polling (sqs:ReceiveMessage, sqs:DeleteMessage,
sqs:GetQueueAttributes) against its function's role.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from local.iam.policies import (
    TYPES,
    Decision,
    Resolver,
    Statement,
    Verdict,
    evaluate,
    name_from_reference,
    wildcard_match,
)
from local.iam.recorder import AwsCall
from local.iam.requests import TOKEN_STATE_MACHINE, UNMAPPED, IamRequest, Scope, iam_requests

# Step Functions service integration names that differ from the IAM prefix.
_INTEGRATION_PREFIX = {"sfn": "states", "sagemakerruntime": "sagemaker", "eventbridge": "events"}
_TASK_RESOURCE = re.compile(
    r"arn:[\w-]+:states:::(?P<sdk>aws-sdk:)?(?P<service>[\w-]+):(?P<action>\w+)(?P<pattern>\.\w+(:\d+)?)?"
)
_SQS_POLLING = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_KMS_READS = {"s3:GetObject", "s3:GetObjectVersion", "sqs:ReceiveMessage"}
_KMS_WRITES = {"s3:PutObject", "sqs:SendMessage", "sns:Publish"}


@dataclass(frozen=True)
class Violation:
    subject: str  # the handler, or the template resource that makes the request
    role: str
    request: IamRequest
    verdict: Verdict
    origin: str = ""  # the call (service:Operation) or the state
    granted: tuple[str, ...] = ()  # resources the role allows this action on

    def __str__(self) -> str:
        why = self.verdict.detail or self.verdict.decision.value
        if self.request.resource == UNMAPPED:
            why = "local/iam/requests.py has no rule for this call's resource: add one"
        lines = [f"{self.subject} ({self.origin}) needs {self.request}: {why} [role {self.role}]"]
        if self.granted:
            lines.append(f"    the role allows {self.request.action} on: {', '.join(self.granted)}")
        return "\n".join(lines)


@dataclass
class _Function:
    logical_id: str
    role: str | None
    environment: Mapping[str, Any]


@dataclass
class _Resolved:
    """The template's statements for one set of name bindings."""

    resolver: Resolver
    roles: dict[str, list[Statement]]
    resource_policies: list[Statement]
    kms_keys: list[tuple[str, str]]  # (resource ARN, key ARN) of CMK-encrypted resources
    state_machines: list[str] = field(default_factory=list)


class TemplatePermissions:
    """One synthesized template (and its cloud assembly folder, for state machine definitions)."""

    def __init__(self, template: Mapping[str, Any], scope: Scope, assembly_dir: Path | None = None) -> None:
        self.template = template
        self.scope = scope
        self.assembly_dir = assembly_dir
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self._cache: dict[tuple[tuple[str, str], ...], _Resolved] = {}

    # --- what the template holds --------------------------------------------------------------

    def _of_type(self, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for lid, resource in self.resources.items():
            if resource.get("Type") == kind:
                yield lid, resource.get("Properties", {})

    @cached_property
    def functions(self) -> dict[str, list[_Function]]:
        """Handler -> the functions that run it."""
        found: dict[str, list[_Function]] = {}
        for lid, props in self._of_type("AWS::Lambda::Function"):
            role = _reference(props.get("Role"))
            function = _Function(
                lid, role[0] if role else None, props.get("Environment", {}).get("Variables", {})
            )
            found.setdefault(_handler(props), []).append(function)
        return found

    @cached_property
    def _queues_consumed(self) -> dict[str, list[str]]:
        consumed: dict[str, list[str]] = {}
        for _, props in self._of_type("AWS::Lambda::EventSourceMapping"):
            function, source = _reference(props.get("FunctionName")), _reference(props.get("EventSourceArn"))
            if function and source and self._type(source[0]) == "AWS::SQS::Queue":
                consumed.setdefault(function[0], []).append(source[0])
        return consumed

    @cached_property
    def _literal_names(self) -> dict[str, str]:
        """Literal name property -> the resource that has it."""
        names: dict[str, str] = {}
        for lid, resource in self.resources.items():
            kind = TYPES.get(resource.get("Type", ""))
            value = kind and kind.name_property and resource.get("Properties", {}).get(kind.name_property)
            if isinstance(value, str):
                names[value] = lid
        return names

    def _type(self, lid: str) -> str:
        return str(self.resources.get(lid, {}).get("Type", ""))

    # --- name bindings ------------------------------------------------------------------------

    def bindings(self, call: AwsCall) -> tuple[tuple[str, str], ...]:
        names: dict[str, str] = {}
        for functions in self.functions.values():
            for function in functions:
                for key, raw in function.environment.items():
                    value = call.env.get(key)
                    if value is None:
                        continue
                    reference = _reference(raw)
                    if reference:
                        name = name_from_reference(self._type(reference[0]), reference[1], value, self.scope)
                        if name is not None:
                            names[reference[0]] = name
                    elif isinstance(raw, str) and raw in self._literal_names:
                        names[self._literal_names[raw]] = value
        for function in self.functions.get(call.handler, []):
            queues = self._queues_consumed.get(function.logical_id, [])
            if len(queues) == 1 and len(call.event_sources) == 1:
                name = name_from_reference("AWS::SQS::Queue", "Arn", call.event_sources[0], self.scope)
                if name is not None:
                    names[queues[0]] = name
        return tuple(sorted(names.items()))

    def resolved(self, bindings: tuple[tuple[str, str], ...] = ()) -> _Resolved:
        if bindings not in self._cache:
            self._cache[bindings] = self._resolve(dict(bindings))
        return self._cache[bindings]

    def _resolve(self, names: Mapping[str, str]) -> _Resolved:
        literals = {literal: names[lid] for literal, lid in self._literal_names.items() if lid in names}
        resolver = Resolver(self.template, self.scope, names, literals)
        roles: dict[str, list[Statement]] = {}
        for lid, props in [*self._of_type("AWS::IAM::Policy"), *self._of_type("AWS::IAM::ManagedPolicy")]:
            for role in props.get("Roles", []):
                reference = _reference(role)
                for raw in props["PolicyDocument"].get("Statement", []):
                    roles.setdefault(reference[0] if reference else str(role), []).append(
                        Statement.parse(raw, resolver, lid)
                    )
        for lid, props in self._of_type("AWS::IAM::Role"):
            for policy in props.get("Policies", []):
                for raw in policy["PolicyDocument"].get("Statement", []):
                    roles.setdefault(lid, []).append(
                        Statement.parse(raw, resolver, f"{lid}/{policy['PolicyName']}")
                    )
        resource_policies = [
            Statement.parse(raw, resolver, lid)
            for kind in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy")
            for lid, props in self._of_type(kind)
            for raw in props["PolicyDocument"].get("Statement", [])
        ]
        machines = [resolver.ref(lid) for lid, _ in self._of_type("AWS::StepFunctions::StateMachine")]
        return _Resolved(resolver, roles, resource_policies, self._kms_keys(resolver), machines)

    def _kms_keys(self, resolver: Resolver) -> list[tuple[str, str]]:
        keys: list[tuple[str, str]] = []
        for lid, props in self._of_type("AWS::S3::Bucket"):
            for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("KMSMasterKeyID"):
                    keys.append(
                        (resolver.get_att(lid, "Arn"), str(resolver.value(default["KMSMasterKeyID"])))
                    )
        for kind, attribute in (("AWS::SQS::Queue", "Arn"), ("AWS::SNS::Topic", "TopicArn")):
            for lid, props in self._of_type(kind):
                key = props.get("KmsMasterKeyId")
                if key and not str(key).startswith("alias/aws/"):  # AWS managed keys need no grant
                    keys.append((resolver.get_att(lid, attribute), str(resolver.value(key))))
        return keys

    # --- checks -------------------------------------------------------------------------------

    def check(self, calls: Iterable[AwsCall]) -> list[Violation]:
        """Every recorded call against its function's role; violations, each reported once."""
        found: dict[tuple[str, IamRequest], Violation] = {}
        seen: set[tuple[str, tuple[IamRequest, ...], tuple[tuple[str, str], ...]]] = set()
        for call in calls:
            bindings = self.bindings(call)
            if (call.handler, call.requests, bindings) in seen:
                continue
            seen.add((call.handler, call.requests, bindings))
            for violation in self._check_call(call, bindings):
                found.setdefault((violation.subject, violation.request), violation)
        return list(found.values())

    def _check_call(self, call: AwsCall, bindings: tuple[tuple[str, str], ...]) -> list[Violation]:
        functions = self.functions.get(call.handler, [])
        if len(functions) != 1 or functions[0].role is None:
            why = "no function of the template runs it" if not functions else "several functions run it"
            request = call.requests[0] if call.requests else IamRequest(call.operation, "")
            return [
                Violation(call.handler, "-", request, Verdict(Decision.UNDETERMINED, why), call.operation)
            ]
        role = functions[0].role
        resolved = self.resolved(bindings)
        violations = []
        for request in self._expand(call.requests, resolved):
            violation = self._evaluate(call.handler, role, request, resolved, call.operation)
            if violation:
                violations.append(violation)
        return violations

    def _expand(self, requests: Iterable[IamRequest], resolved: _Resolved) -> Iterator[IamRequest]:
        for request in requests:
            if request.resource == TOKEN_STATE_MACHINE and len(resolved.state_machines) == 1:
                request = IamRequest(request.action, resolved.state_machines[0], request.context)
            yield request
            for resource, key in resolved.kms_keys:
                if request.resource == resource or request.resource.startswith(f"{resource}/"):
                    if request.action in _KMS_READS or request.action in _KMS_WRITES:
                        yield IamRequest("kms:Decrypt", key)
                    if request.action in _KMS_WRITES:
                        yield IamRequest("kms:GenerateDataKey", key)

    def _evaluate(
        self, subject: str, role: str, request: IamRequest, resolved: _Resolved, origin: str
    ) -> Violation | None:
        principal = resolved.resolver.get_att(role, "Arn")
        statements = [*resolved.roles.get(role, []), *resolved.resource_policies]
        verdict = (
            Verdict(Decision.UNDETERMINED)
            if request.resource in (UNMAPPED, TOKEN_STATE_MACHINE)
            else evaluate(request, statements, principal=principal)
        )
        if verdict.decision is Decision.ALLOWED:
            return None
        granted = tuple(
            resource
            for statement in resolved.roles.get(role, [])
            if statement.effect == "Allow" and _names_action(statement, request.action)
            for resource in statement.resources
        )
        managed = self.resources.get(role, {}).get("Properties", {}).get("ManagedPolicyArns")
        if managed:  # AWS managed policies are not in the template: say so rather than guess
            note = f"; the role's managed policies {managed} are not evaluated"
            verdict = Verdict(verdict.decision, (verdict.detail or verdict.decision.value) + note)
        return Violation(subject, role, request, verdict, origin, granted)

    def check_static(self) -> list[Violation]:
        """The template's own integrations: state machine tasks and SQS event source polling."""
        resolved = self.resolved()
        violations: list[Violation] = []
        for lid, props in self._of_type("AWS::StepFunctions::StateMachine"):
            role = _reference(props.get("RoleArn"))
            for state, request in self.state_machine_requests(lid, resolved.resolver):
                violation = self._evaluate(lid, role[0] if role else "-", request, resolved, state)
                if violation:
                    violations.append(violation)
        for _, props in self._of_type("AWS::Lambda::EventSourceMapping"):
            function, source = _reference(props.get("FunctionName")), _reference(props.get("EventSourceArn"))
            if not (function and source) or self._type(source[0]) != "AWS::SQS::Queue":
                continue
            role = _reference(self.resources[function[0]]["Properties"].get("Role"))
            queue = resolved.resolver.get_att(source[0], "Arn")
            requests = self._expand([IamRequest(a, queue) for a in _SQS_POLLING], resolved)
            for request in requests:
                violation = self._evaluate(
                    function[0], role[0] if role else "-", request, resolved, "event source mapping"
                )
                if violation:
                    violations.append(violation)
        return violations

    def state_machine_requests(self, lid: str, resolver: Resolver) -> list[tuple[str, IamRequest]]:
        """(state name, request) for every Task state of the state machine's deployed definition."""
        props = self.resources[lid]["Properties"]
        definition = self._definition(props, resolver)
        requests: list[tuple[str, IamRequest]] = []
        for name, state in _task_states(definition.get("States", {})):
            for request in _task_requests(state, self.scope):
                requests.append((name, request))
        return requests

    def _definition(self, props: Mapping[str, Any], resolver: Resolver) -> dict[str, Any]:
        if "Definition" in props:
            text = json.dumps(resolver.value(props["Definition"]))
        elif "DefinitionString" in props:
            text = str(resolver.value(props["DefinitionString"]))
        else:
            key = str(resolver.value(props["DefinitionS3Location"]["Key"]))
            if self.assembly_dir is None:
                raise ValueError("the definition is an asset: give the cloud assembly folder")
            text = (self.assembly_dir / f"asset.{key}").read_text()
        substitutions = {
            k: str(resolver.value(v)) for k, v in props.get("DefinitionSubstitutions", {}).items()
        }
        text = re.sub(r"\$\{(\w+)\}", lambda m: substitutions.get(m.group(1), m.group(0)), text)
        return json.loads(text)


def _reference(raw: Any) -> tuple[str, str | None] | None:
    """(logical id, attribute or None) of a `Ref` / `Fn::GetAtt` node."""
    if not isinstance(raw, dict) or len(raw) != 1:
        return None
    if "Ref" in raw:
        return str(raw["Ref"]), None
    if "Fn::GetAtt" in raw:
        arg = raw["Fn::GetAtt"]
        lid, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        return str(lid), str(attribute)
    return None


def _names_action(statement: Statement, action: str) -> bool:
    return not statement.not_actions and any(
        wildcard_match(a, action, ignore_case=True) for a in statement.actions
    )


def _task_states(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _task_states(branch.get("States", {}))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _task_states(state[key].get("States", {}))


def _task_requests(state: Mapping[str, Any], scope: Scope) -> list[IamRequest]:
    resource = str(state.get("Resource", ""))
    # Static parameters only: a "Key.$" value is chosen at run time and names no fixed resource.
    params = {
        k: v
        for k, v in (state.get("Parameters") or state.get("Arguments") or {}).items()
        if not k.endswith(".$")
    }
    if resource.startswith(f"arn:{scope.partition}:lambda:"):
        return [IamRequest("lambda:InvokeFunction", resource)]
    match = _TASK_RESOURCE.fullmatch(resource)
    if not match:
        return [IamRequest(f"states:{resource}", UNMAPPED)]
    service, action = match["service"], match["action"]
    if match["pattern"] and match["pattern"].startswith(".sync"):
        return [IamRequest(f"{service}:{action}{match['pattern']}", UNMAPPED)]  # extra rules not modelled
    prefix = _INTEGRATION_PREFIX.get(service, service)
    return iam_requests(prefix, action[0].upper() + action[1:], params, scope)


def _handler(props: Mapping[str, Any]) -> str:
    """A zip function's Handler, or a container image function's command (ImageConfig.Command)."""
    command = props.get("ImageConfig", {}).get("Command") or []
    return str(props.get("Handler") or (command[0] if command else None))
