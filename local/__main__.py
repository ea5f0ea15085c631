"""`python -m local [up]` runs the local stack; `python -m local token USER` prints an id token."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError

from local.cognito import CognitoSettings, sign_in
from local.paths import DEFAULT_STATE_DIR
from local.stack_file import StackAlreadyRunning, StackNotRunning, clear_stale, read_stack, start_command


def _port(name: str) -> int:
    # Flags win; LOCAL_<NAME>_PORT env vars next; 0 = a free port chosen at start.
    return int(os.environ.get(f"LOCAL_{name.upper()}_PORT", "0"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    up = sub.add_parser("up", help="start the stack in the foreground (the default)")
    up.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="stack.json and logs")
    up.add_argument("--host", default="127.0.0.1")
    for name in ("api", "moto", "endpoint", "container", "web"):
        up.add_argument(f"--{name}-port", type=int, default=_port(name), help="0 = any free port")
    # Options whose default is a LOCAL_* variable (the option's name in upper case).
    env_options = {
        "--model-dir": (Path, None, "real weights (the container's full profile, MODEL_DIR layout); "
                        "default: tiny models"),
        "--inject-failure": (str, "TEXT", "fault injection: requests containing TEXT reach the container "
                             "corrupted (it rejects them)"),
        "--record-aws-calls": (Path, "FILE", "append each AWS call the functions make (JSON lines) for the "
                               "permission check (local/iam)"),
    }  # fmt: skip
    for flag, (kind, metavar, meaning) in env_options.items():
        default = os.environ.get(f"LOCAL_{flag.removeprefix('--').replace('-', '_').upper()}") or None
        up.add_argument(flag, type=kind, metavar=metavar, default=default, help=meaning)
    up.add_argument(
        "-c",
        "--context",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override a setting of cdk.json's `service` block, as `cdk synth -c KEY=VALUE` does",
    )
    up.add_argument(
        "--verbose",
        action="store_true",
        help="show INFO logs (the stack's, boto's, the handlers') and metrics",
    )
    token = sub.add_parser("token", help="print an id token for USER (created on first use)")
    token.add_argument("user")
    token.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["up", *(argv if argv is not None else sys.argv[1:])])
    return args


def run_up(args: argparse.Namespace) -> int:
    if args.record_aws_calls:
        # Before anything creates a boto3 session: the hooks go into every new one.
        from local.account import ACCOUNT, REGION
        from local.iam.recorder import CallRecorder, install
        from local.iam.requests import Scope

        install(CallRecorder(Scope(REGION, ACCOUNT), sink=args.record_aws_calls))
    # Imported here: `token` should not pay for moto's server and the handlers.
    from local.stack import LocalStack, StackOptions, config_from_cdk_json

    options = StackOptions(
        state_dir=args.state_dir,
        host=args.host,
        api_port=args.api_port,
        moto_port=args.moto_port,
        endpoint_port=args.endpoint_port,
        container_port=args.container_port,
        web_port=args.web_port,
        model_dir=args.model_dir,
        corrupt_marker=args.inject_failure,
        verbose=args.verbose,
        config=config_from_cdk_json(overrides=dict(item.split("=", 1) for item in args.context)),
    )
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set() and started.is_set():
            stopping.set()  # running: the main thread wakes up and stops the stack in order
        else:
            raise KeyboardInterrupt  # still starting: LocalStack.start unwinds what it started

    try:
        cleared = clear_stale(options.state_dir)
    except StackAlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return 1
    if cleared:
        print(cleared, flush=True)
    started = threading.Event()
    # A closed terminal (SIGHUP) stops the stack as Ctrl-C does: in order, stack.json removed.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    stack = LocalStack(options)
    try:
        info = stack.start()
    except KeyboardInterrupt:
        print("interrupted while starting; stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"local stack failed to start: {exc}", file=sys.stderr)
        return 1
    started.set()
    print(f"API:        {info['api_url']}  (GET /health needs no token)")
    print(f"Web app:    {info['web_url']}  (sign up there, or sign in as a `token` user)")
    print(f"stack.json: {options.stack_file}")
    print(f"token:      python -m local token alice --state-dir {options.state_dir}")
    print("Ctrl-C stops the stack.", flush=True)
    # Wake up now and then: the kernel may deliver SIGINT to another thread, and CPython runs the
    # Python handler only when the main thread gets to run bytecode again.
    while not stopping.wait(timeout=0.5):
        pass
    print("stopping the local stack...", flush=True)
    stack.stop()
    return 0


def run_token(args: argparse.Namespace) -> int:
    try:
        cognito = read_stack(args.state_dir)["cognito"]
        print(sign_in(CognitoSettings(**cognito), args.user))
    except StackNotRunning as exc:
        print(exc, file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:
        # e.g. a stack.json whose process id was reused by another program: nothing answers there.
        restart = start_command(args.state_dir)
        print(
            f"the local stack in {args.state_dir} did not answer ({exc}); restart it: {restart}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Quiet by default: warnings and errors only (no botocore credential notices, no request lines).
    level = logging.INFO if getattr(args, "verbose", False) else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    return run_token(args) if args.command == "token" else run_up(args)


if __name__ == "__main__":
    sys.exit(main())
