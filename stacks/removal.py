"""What happens to stateful resources when the stack is deleted, a resource is replaced, or the
deploy that created them rolls back (docs/operations.md, "A failed first deploy").

Two kinds, by whether a rollback's delete can succeed:
- `kept`: CloudFormation's RetainExceptOnCreate (+ UpdateReplacePolicy Retain). Kept on stack
  delete and replacement, deleted when the deploy that created it rolls back, so a failed first
  deploy leaves nothing behind that blocks the next one (the uploads bucket's fixed name above
  all). For resources that are still empty when a first deploy can fail.
- `kept_always`: plain Retain, where a rollback's delete would fail and leave the stack in
  ROLLBACK_FAILED: tables and the user pool with deletion protection (DynamoDB refuses DeleteTable
  while it is on) and the access-log bucket (S3 may deliver log records into it during the deploy;
  a bucket with objects cannot be deleted). Their names are generated, so what a failed first deploy
  leaves of them never blocks the next one.
`retain` false (removal_policy_retain) destroys both kinds with the stack (a throwaway stage).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy


def kept(retain: bool) -> RemovalPolicy:
    return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if retain else RemovalPolicy.DESTROY


def kept_always(retain: bool) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
