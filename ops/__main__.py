"""Grant credits and inspect users: `python -m ops {grant,show} ...`.

Table names come from the deployed stack's outputs (`--stage`), from `--local` (the local stack's
.local/stack.json), or explicitly from JOBS_TABLE_NAME / USERS_TABLE_NAME.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.common.repositories import JobRepository, UserRepository, is_conditional_failure

LOCAL_STACK_FILE = Path(".local/stack.json")
MAX_GRANT = 100_000


def resolve_tables(args: argparse.Namespace) -> tuple[str, str]:
    """(jobs table, users table) for the chosen target; also points boto3 at it."""
    if args.local:
        stack = json.loads(LOCAL_STACK_FILE.read_text())
        os.environ.setdefault("AWS_ENDPOINT_URL", stack["aws_endpoint_url"])
        return stack["tables"]["jobs"], stack["tables"]["users"]
    if args.stage:
        outputs = (
            boto3.client("cloudformation")
            .describe_stacks(StackName=f"SongService-{args.stage}")["Stacks"][0]
            .get("Outputs", [])
        )
        by_key = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        return by_key["JobsTableName"], by_key["UsersTableName"]
    jobs, users = os.environ.get("JOBS_TABLE_NAME"), os.environ.get("USERS_TABLE_NAME")
    if not (jobs and users):
        raise SystemExit("name a target: --stage STAGE, --local, or JOBS_TABLE_NAME and USERS_TABLE_NAME")
    return jobs, users


def grant(args: argparse.Namespace, jobs_table: str, users_table: str) -> dict[str, Any]:
    users = UserRepository(users_table)
    if args.create:
        users.get_or_create(args.user_id)
    try:
        balance = users.add_credits(args.user_id, args.amount)
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise SystemExit(
                f"user {args.user_id!r} not found (use --create), or the balance would go below what "
                "songs in progress have reserved"
            ) from None
        raise
    return {"user_id": args.user_id, "granted": args.amount, "credits": balance, "reason": args.reason}


def show(args: argparse.Namespace, jobs_table: str, users_table: str) -> dict[str, Any]:
    user = UserRepository(users_table).find(args.user_id)
    if user is None:
        raise SystemExit(f"user {args.user_id!r} not found")
    jobs, _ = JobRepository(jobs_table).list_for_user(args.user_id, limit=args.jobs)
    return {
        "user_id": user.user_id,
        "credits": user.credits,
        "reserved_credits": user.reserved_credits,
        "available_credits": user.available_credits,
        "created_at": user.created_at,
        "recent_jobs": [
            {
                "job_id": j.job_id,
                "status": j.status.value,
                "created_at": j.created_at,
                "price_credits": j.price_credits,
                "reservation": j.reservation,
                "charged": j.charged,
                "error": j.error.model_dump() if j.error else None,
            }
            for j in jobs
        ],
    }


def _amount(raw: str) -> int:
    value = int(raw)
    if value == 0 or abs(value) > MAX_GRANT:
        raise argparse.ArgumentTypeError(f"amount must be non-zero and at most {MAX_GRANT} in size")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m ops", description=__doc__.splitlines()[0])
    target = root.add_mutually_exclusive_group()
    target.add_argument("--stage", help="deployed stage: read table names from SongService-<stage> outputs")
    target.add_argument("--local", action="store_true", help="the local stack (.local/stack.json)")
    commands = root.add_subparsers(dest="command", required=True)

    grant_cmd = commands.add_parser("grant", help="add (or, negative, remove) credits")
    grant_cmd.add_argument("user_id")
    grant_cmd.add_argument("amount", type=_amount)
    grant_cmd.add_argument(
        "--reason", required=True, help="why: kept in the command's output for the audit log"
    )
    grant_cmd.add_argument("--create", action="store_true", help="create the user first if needed")
    grant_cmd.set_defaults(run=grant)

    show_cmd = commands.add_parser("show", help="a user's balance and recent jobs")
    show_cmd.add_argument("user_id")
    show_cmd.add_argument("--jobs", type=int, default=10, choices=range(1, 51), metavar="N")
    show_cmd.set_defaults(run=show)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    jobs_table, users_table = resolve_tables(args)
    try:
        result = args.run(args, jobs_table, users_table)
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
