"""Record each AWS call a Lambda handler makes, through botocore's event hooks.

`install(CallRecorder(...))` registers two botocore handlers for every session created afterwards
(botocore.handlers.BUILTIN_HANDLERS, where moto registers its own) and on boto3's default session:
- `before-parameter-build`: every API call and every presigned URL, with its operation model and
  parameters, before they are sent;
- `creating-client-class.s3`: wraps `generate_presigned_post`, whose form carries the key and tags
  (botocore builds it without an operation of its own).

Which function made a call: the innermost frame of the calling thread that runs code of a handler
module (`lambdas/<function>/handler.py`, as stacks/ names the handlers) decides; its
`lambda_handler` frame gives the event (the SQS queue ARNs of its records bind the queue the
function consumes). Calls made in moto's own code first (its Step Functions engine running the
workflow's direct integrations) belong to no function. Work a handler hands to a thread pool
(the webhook sender's deliveries, s3transfer's downloads) keeps the submitter's function:
ThreadPoolExecutor.submit carries it into the worker.

The recorder keeps the calls in memory (tests) and can append them to a JSON-lines file (the local
stack, `python -m local up --record-aws-calls FILE`), read back with `read_calls`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from lambdas.common import contract
from local.iam.requests import IamRequest, Scope, iam_requests, presigned_post_requests
from local.paths import REPO_ROOT, TRANSCRIBE_IMAGE_DIR

HANDLERS_DIR = REPO_ROOT / "lambdas"
# The transcriber's image (lambda_images/transcribe): its handler modules (the transcriber's, the
# upload analyzer's) by the names the CMDs (and the CDK app's ImageConfig) give them.
IMAGE_HANDLERS = {
    TRANSCRIBE_IMAGE_DIR / f"{handler.rpartition('.')[0].replace('.', '/')}.py": handler
    for handler in contract.IMAGE_HANDLERS.values()
}
# Environment variables that name resources (JOBS_TABLE_NAME, STATE_MACHINE_ARN, ...): their values
# tie the names a call uses to the template's resources (check.py).
RESOURCE_ENV = re.compile(r"^[A-Z][A-Z0-9_]*_(NAME|ARN)$")
_MOTO_PATH = f"{os.sep}moto{os.sep}"


@dataclass(frozen=True)
class Attribution:
    handler: str  # as stacks/ names it: lambdas.<function>.handler.lambda_handler
    event_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class AwsCall:
    handler: str
    operation: str  # service:Operation as the SDK names it
    requests: tuple[IamRequest, ...]
    env: Mapping[str, str]
    event_sources: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.handler} called {self.operation}"


_inherited: ContextVar[Attribution | None] = ContextVar("aws_call_attribution", default=None)


@functools.cache
def _handler_of(filename: str) -> str | None:
    path = Path(os.path.realpath(filename))
    if path.name == "handler.py" and path.parent.parent == HANDLERS_DIR:
        return f"lambdas.{path.parent.name}.handler.lambda_handler"
    return IMAGE_HANDLERS.get(path)


def function_environment(handler: str) -> Mapping[str, str]:
    """The environment the function reads its settings from: its own where the local stack gives it
    one (local/functions.py), this process's otherwise (in-process tests)."""
    module = sys.modules.get(handler.rpartition(".")[0])
    cold_start = getattr(module, "cold_start", None)
    return getattr(cold_start, "environ", None) or os.environ


def _event_sources(event: Any) -> tuple[str, ...]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return ()
    sources = (r.get("eventSourceARN") for r in records if isinstance(r, dict))
    return tuple(dict.fromkeys(s for s in sources if isinstance(s, str)))


def current_attribution(frame: FrameType | None = None) -> Attribution | None:
    """The function whose code is running in this thread (see the module docstring), or None."""
    frame = frame or sys._getframe(1)
    handler: str | None = None
    handler_file = ""
    while frame is not None:
        filename = frame.f_code.co_filename
        if handler is None:
            if _MOTO_PATH in filename:
                return None
            handler = _handler_of(filename)
            handler_file = filename if handler else ""
        if handler and filename == handler_file and frame.f_code.co_name == "lambda_handler":
            return Attribution(handler, _event_sources(frame.f_locals.get("event")))
        frame = frame.f_back
    inherited = _inherited.get()
    if handler is None:
        return inherited
    same = inherited is not None and inherited.handler == handler
    return Attribution(handler, inherited.event_sources if same and inherited else ())


class CallRecorder:
    """Calls in memory, in order; optionally appended to a JSON-lines file as they happen."""

    def __init__(self, scope: Scope, sink: Path | None = None) -> None:
        self.scope = scope
        self.calls: list[AwsCall] = []
        self._lock = threading.Lock()
        self._envs: dict[tuple[tuple[str, str], ...], tuple[int, Mapping[str, str]]] = {}
        self._sink = sink.open("a", encoding="utf-8") if sink else None

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[AwsCall]:
        return self.calls[mark:]

    def record(self, attribution: Attribution, operation: str, requests: Iterable[IamRequest]) -> None:
        environment = function_environment(attribution.handler)
        items = tuple(sorted((k, v) for k, v in environment.items() if RESOURCE_ENV.match(k)))
        with self._lock:
            known = self._envs.get(items)
            new_env = known is None
            if known is None:
                known = self._envs[items] = (len(self._envs), dict(items))
            call = AwsCall(
                attribution.handler, operation, tuple(requests), known[1], attribution.event_sources
            )
            self.calls.append(call)
            if self._sink:
                if new_env:
                    self._write({"env_id": known[0], "values": known[1]})
                self._write(
                    {
                        "handler": call.handler,
                        "operation": call.operation,
                        "requests": [r.to_json() for r in call.requests],
                        "env": known[0],
                        "event_sources": list(call.event_sources),
                    }
                )

    def _write(self, line: dict[str, Any]) -> None:
        assert self._sink is not None
        self._sink.write(json.dumps(line) + "\n")
        self._sink.flush()

    def close(self) -> None:
        if self._sink:
            self._sink.close()
            self._sink = None


def read_calls(
    path: Path, envs: dict[int, Mapping[str, str]] | None = None, offset: int = 0
) -> tuple[list[AwsCall], int]:
    """Calls a recorder appended to `path`, from byte `offset` on; returns them and the new offset.
    Pass the same `envs` dict to successive reads (environments are written once)."""
    envs = {} if envs is None else envs
    calls: list[AwsCall] = []
    with path.open("rb") as lines:
        lines.seek(offset)
        for raw in lines:
            if not raw.endswith(b"\n"):
                break  # a line still being written: read it next time
            offset += len(raw)
            line = json.loads(raw)
            if "env_id" in line:
                envs[line["env_id"]] = line["values"]
                continue
            calls.append(
                AwsCall(
                    line["handler"],
                    line["operation"],
                    tuple(IamRequest.from_json(r) for r in line["requests"]),
                    envs[line["env"]],
                    tuple(line["event_sources"]),
                )
            )
    return calls, offset


# --- botocore hooks ------------------------------------------------------------------------------

_active: CallRecorder | None = None
_installed = False


def _on_call(params: Mapping[str, Any], model: Any, context: Mapping[str, Any], **_: Any) -> None:
    recorder = _active
    if recorder is None:
        return
    if context.get("is_presign_request") and model.name == "CreateBucket":
        return  # botocore's step inside generate_presigned_post: recorded by its wrapper
    attribution = current_attribution()
    if attribution is None:
        return
    service = model.service_model.signing_name
    operation = f"{service}:{model.name}"
    recorder.record(attribution, operation, iam_requests(service, model.name, params, recorder.scope))


def _record_presigned_post(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def generate_presigned_post(
        self: Any, Bucket: str, Key: str, Fields: Any = None, Conditions: Any = None, ExpiresIn: int = 3600
    ) -> Any:
        recorder = _active
        attribution = current_attribution() if recorder else None
        if recorder and attribution:
            requests = presigned_post_requests(Bucket, Key, Fields, Conditions, recorder.scope)
            recorder.record(attribution, "s3:PresignedPost", requests)
        return original(self, Bucket, Key, Fields=Fields, Conditions=Conditions, ExpiresIn=ExpiresIn)

    generate_presigned_post.records_aws_calls = True  # type: ignore[attr-defined]
    return generate_presigned_post


def _on_s3_client_class(class_attributes: dict[str, Any], **_: Any) -> None:
    original = class_attributes.get("generate_presigned_post")
    if original is not None and not getattr(original, "records_aws_calls", False):
        class_attributes["generate_presigned_post"] = _record_presigned_post(original)


_original_submit = ThreadPoolExecutor.submit


def _submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    attribution = current_attribution() if _active else None
    if attribution is None:
        return _original_submit(self, fn, *args, **kwargs)

    def run(*run_args: Any, **run_kwargs: Any) -> Any:
        token = _inherited.set(attribution)
        try:
            return fn(*run_args, **run_kwargs)
        finally:
            _inherited.reset(token)

    return _original_submit(self, run, *args, **kwargs)


_HOOKS = (("before-parameter-build", _on_call), ("creating-client-class.s3", _on_s3_client_class))


def install(recorder: CallRecorder) -> CallRecorder:
    """Make `recorder` the one that records from now on (the hooks are registered once)."""
    global _active, _installed
    _active = recorder
    if not _installed:
        import boto3
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.extend(_HOOKS)
        if boto3.DEFAULT_SESSION is not None:
            for event, hook in _HOOKS:
                boto3.DEFAULT_SESSION.events.register(event, hook)
        ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]
        _installed = True
    return recorder


def active() -> CallRecorder | None:
    return _active
