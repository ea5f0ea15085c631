"""Operator commands: `python -m ops {grant,show,preflight,smoke} ...`.

grant/show: credits and users. Table names come from the deployed stack's outputs (`--stage`),
from `--local` (the local stack's .local/stack.json), or from JOBS_TABLE_NAME / USERS_TABLE_NAME.
preflight: what the account needs before `cdk deploy` (ops/preflight.py).
smoke: one short song through a deployed stage (`--stage`) or the local stack (ops/smoke.py).
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

from lambdas.common.store.dynamo import is_conditional_failure
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.users import UserStore
from local import account
from local.paths import DEFAULT_STATE_DIR
from local.stack_file import StackNotRunning, path_in, read_stack_file
from ops.preflight import DEFAULT_QUALIFIER, QUALIFIER_CONTEXT, Aws, Preflight, report
from ops.smoke import DESCRIPTION as SMOKE_DESCRIPTION
from ops.smoke import SmokeTest, aws_target, local_target
from stacks.config import ServiceConfig, cli_context, load_config

MAX_GRANT = 100_000


def stack_outputs(session: Any, stage: str, region: str | None = None) -> dict[str, str]:
    """The outputs of the deployed stack SongService-<stage>."""
    described = session.client("cloudformation", region_name=region).describe_stacks(
        StackName=f"SongService-{stage}"
    )
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


def deploy_config(overrides: dict[str, Any]) -> ServiceConfig:
    """The settings `cdk deploy -c key=value ...` would use."""
    return load_config(cli_context()["service"], overrides)


def local_stack(args: argparse.Namespace) -> dict[str, Any]:
    """The running local stack's stack.json; one line saying what to do when it is not running."""
    try:
        return read_stack_file(args.stack_file)
    except StackNotRunning as exc:
        raise SystemExit(str(exc)) from None


def resolve_tables(args: argparse.Namespace) -> tuple[str, str]:
    """(jobs table, users table) for the chosen target; also points boto3 at it."""
    if args.local:
        stack = local_stack(args)
        # moto with the local stack's own identity, whatever AWS settings this shell has.
        account.use_local_identity(os.environ, AWS_ENDPOINT_URL=stack["aws_endpoint_url"])
        return stack["tables"]["jobs"], stack["tables"]["users"]
    if args.stage:
        outputs = stack_outputs(boto3.Session(), args.stage)
        return outputs["JobsTableName"], outputs["UsersTableName"]
    jobs, users = os.environ.get("JOBS_TABLE_NAME"), os.environ.get("USERS_TABLE_NAME")
    if not (jobs and users):
        raise SystemExit("name a target: --stage STAGE, --local, or JOBS_TABLE_NAME and USERS_TABLE_NAME")
    return jobs, users


def grant(args: argparse.Namespace, jobs_table: str, users_table: str) -> dict[str, Any]:
    users = UserStore(users_table)
    if args.create:
        # A new user starts as the API would create it: with the stage's configured sign-up credits.
        stage = {"stage_name": args.stage} if args.stage else {}
        users.get_or_create(args.user_id, deploy_config(stage).signup_credits)
    try:
        balance = CreditLedger(JobStore(jobs_table), users).add_credits(args.user_id, args.amount)
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise SystemExit(
                f"user {args.user_id!r} not found (use --create), or the balance would go below what "
                "songs in progress have reserved"
            ) from None
        raise
    return {"user_id": args.user_id, "granted": args.amount, "credits": balance, "reason": args.reason}


def show(args: argparse.Namespace, jobs_table: str, users_table: str) -> dict[str, Any]:
    user = UserStore(users_table).find(args.user_id)
    if user is None:
        raise SystemExit(f"user {args.user_id!r} not found")
    jobs, _ = JobStore(jobs_table).list_for_user(args.user_id, limit=args.jobs)
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


def run_preflight(args: argparse.Namespace) -> int:
    if args.local:
        raise SystemExit("preflight checks an AWS account: name the stage with --stage or -c stage_name=...")
    overrides = dict(_setting(raw) for raw in args.context)
    if args.stage:
        overrides["stage_name"] = args.stage
    config = deploy_config(overrides)
    qualifier = str(cli_context().get(QUALIFIER_CONTEXT, DEFAULT_QUALIFIER))
    results = Preflight(config, Aws(boto3.Session(), config.region), qualifier=qualifier).run()
    print(report(results, f"SongService-{config.stage_name}", config.region))
    return 0 if all(r.ok for r in results) else 1


def run_smoke(args: argparse.Namespace) -> int:
    if args.local:
        target = local_target(local_stack(args))
    elif args.stage:
        if not args.user:
            raise SystemExit("name the test user: --user EMAIL (or SMOKE_USER)")
        session = boto3.Session(region_name=args.region or deploy_config({"stage_name": args.stage}).region)
        outputs = stack_outputs(session, args.stage)
        password = os.environ.get("SMOKE_PASSWORD")
        target = aws_target(session, args.stage, outputs, args.user, password, args.create_user)
    else:
        raise SystemExit("name a target: --stage STAGE or --local")
    smoke = SmokeTest(
        target,
        description=args.description,
        inference_steps=args.inference_steps,
        timeout_s=args.timeout,
        poll_s=args.poll if args.poll else (1.0 if args.local else 5.0),
    )
    return 0 if smoke.run() else 1


def _setting(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep:
        raise SystemExit(f"-c takes key=value, not {raw!r}")
    return key, value


def run_table_command(args: argparse.Namespace) -> int:
    jobs_table, users_table = resolve_tables(args)
    try:
        result = args.table_command(args, jobs_table, users_table)
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m ops", description=__doc__.splitlines()[0])
    target = root.add_mutually_exclusive_group()
    target.add_argument("--stage", help="a deployed stage: the stack SongService-<stage> (its outputs)")
    target.add_argument("--local", action="store_true", help="the local stack (.local/stack.json)")
    root.add_argument(
        "--stack-file",
        type=Path,
        default=path_in(DEFAULT_STATE_DIR),
        help="with --local: the local stack's stack.json",
    )
    commands = root.add_subparsers(dest="command", required=True)

    grant_cmd = commands.add_parser("grant", help="add (or, negative, remove) credits")
    grant_cmd.add_argument("user_id")
    grant_cmd.add_argument("amount", type=_amount)
    grant_cmd.add_argument(
        "--reason", required=True, help="why: kept in the command's output for the audit log"
    )
    grant_cmd.add_argument("--create", action="store_true", help="create the user first if needed")
    grant_cmd.set_defaults(run=run_table_command, table_command=grant)

    show_cmd = commands.add_parser("show", help="a user's balance and recent jobs")
    show_cmd.add_argument("user_id")
    show_cmd.add_argument("--jobs", type=int, default=10, choices=range(1, 51), metavar="N")
    show_cmd.set_defaults(run=run_table_command, table_command=show)

    preflight_cmd = commands.add_parser(
        "preflight", help="check the AWS account before `cdk deploy` (exit 1 if anything is missing)"
    )
    preflight_cmd.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting as `cdk deploy -c` takes it (repeatable), e.g. -c model_data_s3_uri=s3://b/p/",
    )
    preflight_cmd.set_defaults(run=run_preflight)

    smoke_cmd = commands.add_parser(
        "smoke", help="make one short song through the stack and time each stage (exit 1 on failure)"
    )
    smoke_cmd.add_argument(
        "--user",
        default=os.environ.get("SMOKE_USER"),
        help="AWS: the test user's e-mail (default $SMOKE_USER)",
    )
    smoke_cmd.add_argument(
        "--create-user",
        action="store_true",
        help="AWS: create the test user if missing and give it a new password for this run (admin API)",
    )
    smoke_cmd.add_argument("--region", help="AWS: the stack's region (default: cdk.json's)")
    smoke_cmd.add_argument("--description", default=SMOKE_DESCRIPTION, help="what the song is about")
    smoke_cmd.add_argument("--inference-steps", type=int, help="default: the checkpoint's recommended steps")
    smoke_cmd.add_argument(
        "--timeout",
        type=float,
        default=3000.0,
        help="seconds the song may take (scale-out from zero included)",
    )
    smoke_cmd.add_argument("--poll", type=float, help="seconds between status checks (1 locally, 5 on AWS)")
    smoke_cmd.set_defaults(run=run_smoke)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
