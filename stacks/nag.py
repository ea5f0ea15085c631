"""cdk-nag (v3) wiring: the AwsSolutions pack as a synthesis validation plugin, and acknowledgements.

cdk-nag v3 reports through CDK's policy-validation API: any unacknowledged finding stops `cdk
synth`. Each acknowledgement names one finding (`RuleId[finding]`) and must carry its reason.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct


def add_checks(app: Construct) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule_id: str, reason: str, *findings: str) -> None:
    """Acknowledge `rule_id` on `scope` (and its children); with findings, only those findings."""
    if not reason.strip():
        raise ValueError("an acknowledged cdk-nag finding needs a reason")
    ids = [f"{rule_id}[{finding}]" for finding in findings] or [rule_id]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=i, reason=reason) for i in ids))


def logical_id(element: CfnElement) -> str:
    """The resolved logical id, as cdk-nag prints it inside IAM findings (`<LogicalId.Arn>`)."""
    stack = Stack.of(element)
    return stack.resolve(stack.get_logical_id(element))


def nag_env(scope: IConstruct) -> tuple[str, str, str]:
    """Partition, region and account as cdk-nag prints them inside a finding: the literal value,
    or the pseudo parameter (`<AWS::Region>`) when the app leaves it to deploy time."""
    stack = Stack.of(scope)

    def shown(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value

    return (
        shown(stack.partition, "Partition"),
        shown(stack.region, "Region"),
        shown(stack.account, "AccountId"),
    )
