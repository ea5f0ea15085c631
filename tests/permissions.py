"""pytest plugin: every AWS call a Lambda handler makes in the suites must be allowed by that
function's role in the synthesized template (moto checks no IAM; local/iam does).

In-process handlers (unit, workflow tests): the recorder is installed before any boto3 client
exists; after each test, the calls its handlers made are checked and a call the role does not
allow fails the test, naming the call, the missing permission and what the role allows.
Local stacks (e2e, browser tests) record into a file (`--record-aws-calls`); `StackCalls` checks
what each test added, and the rest when the stack stops.

The template is the CLI's `cdk.out` (what `make test` synthesizes first, the one `cdk deploy`
deploys) when it is newer than the CDK app's sources, otherwise one synthesized here once.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from local.account import ACCOUNT, REGION
from local.iam.check import TemplatePermissions, Violation
from local.iam.recorder import AwsCall, CallRecorder, install, read_calls
from local.iam.requests import Scope
from local.paths import REPO_ROOT

SCOPE = Scope(REGION, ACCOUNT)
RECORDER = install(CallRecorder(SCOPE))
# What the CDK app is built from: a cdk.out older than any of these is not the current template.
# lambdas/common holds the contract (names, timeouts, each function's environment) the stack reads.
APP_SOURCES = (
    "app.py",
    "cdk.json",
    "cdk.context.json",
    "stacks",
    "statemachines",
    "lambdas/common",
    "lambda_images/transcribe/Dockerfile.dockerignore",
)


@dataclass
class _Stats:
    calls: int = 0
    handlers: set[str] = field(default_factory=set)
    seconds: float = 0.0
    template: str = ""


STATS = _Stats()
_STACKS: list[StackCalls] = []


def _newest_source() -> float:
    newest = 0.0
    for name in APP_SOURCES:
        path = REPO_ROOT / name
        files = [*path.rglob("*.py"), *path.rglob("*.json")] if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


@cache
def deployed_permissions() -> TemplatePermissions:
    from stacks.config import cli_context, load_config

    stage = load_config(cli_context()["service"]).stage_name
    name = f"SongService-{stage}.template.json"
    assembly = REPO_ROOT / "cdk.out"
    cli_template = assembly / name
    if not cli_template.is_file() or cli_template.stat().st_mtime < _newest_source():
        from app import build_app, new_app

        assembly = Path(tempfile.mkdtemp(prefix="iam-check-cdk.out-"))
        atexit.register(shutil.rmtree, assembly, ignore_errors=True)
        # As `make synth` does: this template is never deployed (cdk.json stages no weights).
        build_app(new_app(str(assembly), allow_no_model_data=True)).synth()
    STATS.template = str(assembly / name)
    template = json.loads((assembly / name).read_text())
    return TemplatePermissions(template, SCOPE, assembly)


def check_calls(calls: Iterable[AwsCall]) -> list[Violation]:
    calls = list(calls)
    if not calls:
        return []
    started = time.perf_counter()
    violations = deployed_permissions().check(calls)
    STATS.seconds += time.perf_counter() - started
    STATS.calls += len(calls)
    STATS.handlers.update(call.handler for call in calls)
    return violations


def report(violations: list[Violation]) -> str:
    lines = "\n".join(str(v) for v in violations)
    return (
        "AWS calls the deployed roles do not allow (moto does not check IAM; AWS would refuse them):\n"
        f"{lines}\nGrant them in stacks/ (least privilege) or change the call."
    )


def fail_on(violations: list[Violation]) -> None:
    if violations:
        pytest.fail(report(violations), pytrace=False)


@pytest.fixture(scope="session")
def stack_calls(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], StackCalls]:
    """A new call file per local stack the tests start (pass `.args()` to `python -m local up`);
    after each test, what every such stack recorded meanwhile is checked."""

    def new() -> StackCalls:
        calls = StackCalls(tmp_path_factory.mktemp("aws-calls") / "calls.jsonl")
        _STACKS.append(calls)
        return calls

    return new


@pytest.fixture(autouse=True)
def _aws_calls_are_allowed() -> Iterator[None]:
    mark = RECORDER.mark()
    yield
    fail_on(check_calls(RECORDER.since(mark)))
    for stack in _STACKS:
        fail_on(stack.check_new())


class StackCalls:
    """The calls a local stack records into `path` (`python -m local up --record-aws-calls`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._envs: dict[int, Mapping[str, str]] = {}

    def args(self) -> list[str]:
        return ["--record-aws-calls", str(self.path)]

    def check_new(self) -> list[Violation]:
        """The calls recorded since the last check, checked."""
        if not self.path.exists():
            return []
        calls, self._offset = read_calls(self.path, self._envs, self._offset)
        return check_calls(calls)


def _function_label(handler: str) -> str:
    """`lambdas.api.handler.lambda_handler` -> `api`; an image's `transcriber.analyzer.lambda_handler`
    -> `transcriber.analyzer` (one image, two functions)."""
    if handler.startswith("lambdas."):
        return handler.split(".")[1]
    return handler.removesuffix(".lambda_handler").removesuffix(".handler")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not STATS.calls:
        return
    handlers = ", ".join(sorted(_function_label(h) for h in STATS.handlers))
    terminalreporter.write_line(
        f"AWS permission check: {STATS.calls} calls by {len(STATS.handlers)} functions ({handlers}) "
        f"checked against {os.path.relpath(STATS.template, REPO_ROOT)} in {STATS.seconds:.1f} s"
    )
