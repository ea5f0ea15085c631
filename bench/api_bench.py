"""REST API benchmark: cold import time of the handler module, warm per-request overhead.

    .venv/bin/python -m bench.api_bench [--imports 9] [--requests 1000]

Cold import: `import lambdas.api.handler` in a fresh interpreter, several runs, median.
Warm requests: the real handler (`lambda_handler`) on API Gateway proxy events, with every AWS
call answered by a canned HTTP response at botocore's `before-send` hook, so request
serialization, signing and response parsing still run; only the network is missing.
Targets (2-core x86_64, Python 3.11): import <= 300 ms, warm request <= 5 ms median.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from local import account
from local.api_front import api_event, authorizer_answer
from local.functions import environments, local_values
from local.resources import ResourceNames
from stacks.config import ServiceConfig

REPO = Path(__file__).resolve().parent.parent
CONFIG = ServiceConfig(stage_name="bench")
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:songs"
ENV = {
    "LAMBDA_TASK_ROOT": str(REPO),
    # As on Lambda: the X-Ray SDK takes its Lambda path (no sampling clients are built) and every
    # invocation runs under a sampled trace, so tracing overhead is part of the numbers.
    "AWS_LAMBDA_FUNCTION_NAME": "song-api",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    # The API function's own environment, as the stack gives it.
    **environments(
        local_values(
            CONFIG, ResourceNames.for_config(CONFIG), state_machine_arn=STATE_MACHINE_ARN, api_origins="*"
        )
    )["api"],
}


def _environment(environ: Any) -> Any:
    """ENV over `environ`, with fake local credentials for signing instead of any of the user's AWS
    settings (every call is answered here, nothing leaves the process)."""
    account.use_local_identity(environ)
    environ.update(ENV)
    return environ


USER = "0f8fad5b-d9cb-469f-a165-70867728950e"
JOB = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def cold_imports(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of `import lambdas.api.handler` in fresh interpreters."""
    code = (
        "import time; w = time.perf_counter(); c = time.process_time(); import lambdas.api.handler; "
        "print((time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000)"
    )
    env = _environment(dict(os.environ))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # One unmeasured run writes the .pyc files, as the deployed asset would have them.
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True)
    wall, cpu = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True)
        w, c = (float(x) for x in out.stdout.split())
        wall.append(w)
        cpu.append(c)
    return wall, cpu


# --- canned AWS answers --------------------------------------------------------------------------


def _ddb(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [_ddb(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: _ddb(v) for k, v in value.items()}}
    return {"NULL": True}


USER_ITEM = {"user_id": USER, "credits": 10, "created_at": "2026-01-01T00:00:00.000Z"}
JOB_ITEM = {
    "job_id": JOB,
    "user_id": USER,
    "status": "processed",
    "stage": "completed",
    "request": {"mode": "description", "description": "a calm lofi song", "formats": ["mp3", "wav"]},
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:05:00.000Z",
    "charged": True,
    "result": {
        "audio": [
            {"format": "mp3", "key": f"songs/{USER}/{JOB}/audio.mp3"},
            {"format": "wav", "key": f"songs/{USER}/{JOB}/audio.wav"},
        ],
        "cover_key": f"songs/{USER}/{JOB}/cover.png",
        "lyrics": "[verse]\nnight lights",
        "prompt": "lofi, chill",
        "categories": ["lofi", "chill"],
        "seed": 42,
        "duration_s": 30.0,
    },
}


def _answer(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    if operation == "GetItem":
        item = USER_ITEM if body["TableName"] == ENV["USERS_TABLE_NAME"] else JOB_ITEM
        return {"Item": {k: _ddb(v) for k, v in item.items()}}
    if operation == "StartExecution":
        return {"executionArn": f"{STATE_MACHINE_ARN}:{body['name']}", "startDate": time.time()}
    # PutItem, UpdateItem, TransactWriteItems, PutEvents: success without attributes. Whatever a
    # new AWS call expects beyond that fails its request, and the benchmark stops on it (_check).
    return {}


class CannedAws:
    """Answers every AWS call of every client (created after `install`) at botocore's `before-send`
    hook, so request serialization, signing and response parsing still run; counts the calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def install(self) -> None:
        import boto3

        # Clients copy their session's event hooks when they are created: register before any is.
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-send", self._before_send)

    def _before_send(self, request: Any, **_kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        target = request.headers.get("X-Amz-Target", b"").decode()
        if not target:
            raise SystemExit(f"no canned answer for a non-JSON AWS call: {request.method} {request.url}")
        operation = target.split(".")[-1]
        self.calls[operation] += 1
        data = json.dumps(_answer(operation, json.loads(request.body or b"{}"))).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(data))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs: Any) -> Any:
        yield self._data


def _event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Host": "api.example.com"}
    payload = json.dumps(body) if body is not None else None
    return api_event(method, path, authorizer=authorizer_answer(USER), body=payload, headers=headers)


class _Context:
    function_name = "song-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:song-api"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def warm_requests(count: int, warmup: int) -> dict[str, tuple[list[float], dict[str, float]]]:
    """Per-request milliseconds and AWS calls per request; the handler's log and EMF lines go to
    /dev/null, not the terminal."""
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            return _warm_requests(count, warmup)
        finally:
            sys.stdout.flush()
            os.dup2(saved_stdout, 1)


def _warm_requests(count: int, warmup: int) -> dict[str, tuple[list[float], dict[str, float]]]:
    _environment(os.environ)
    sys.path.insert(0, str(REPO))
    aws = CannedAws()
    aws.install()
    from lambdas.api.handler import lambda_handler

    song = {"mode": "description", "description": "an upbeat synthwave song about night drives"}
    scenarios = {
        "GET /me": _event("GET", "/me"),
        "POST /songs": _event("POST", "/songs", song),
        "GET /songs/{id} (processed, 3 presigned URLs)": _event("GET", f"/songs/{JOB}"),
    }
    results = {}
    for name, event in scenarios.items():
        for _ in range(warmup):  # first-call caches (clients, validation models)
            _check(lambda_handler(event, _Context()))
        aws.calls.clear()
        times = []
        for _ in range(count):
            start = time.perf_counter()
            response = lambda_handler(event, _Context())
            times.append((time.perf_counter() - start) * 1000)
            _check(response)
        results[name] = (times, {op: n / count for op, n in aws.calls.items()})
    return results


def _check(response: dict[str, Any]) -> None:
    if response["statusCode"] >= 300:
        raise SystemExit(f"benchmark request failed: {response}")


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=9)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests per route first")
    args = parser.parse_args(argv)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    wall, cpu = cold_imports(args.imports)
    print(
        f"cold import lambdas.api.handler: median {statistics.median(wall):.0f} ms wall "
        f"(min {min(wall):.0f}, max {max(wall):.0f}), median {statistics.median(cpu):.0f} ms CPU, "
        f"{len(wall)} runs; target <= 300 ms"
    )
    for name, (times, calls) in warm_requests(args.requests, args.warmup).items():
        per_request = ", ".join(f"{n:g} {op}" for op, n in sorted(calls.items())) or "none"
        print(
            f"warm {name}: median {statistics.median(times):.2f} ms, p95 {_p95(times):.2f} ms "
            f"({len(times)} requests; target <= 5 ms median); AWS calls per request: {per_request}"
        )


if __name__ == "__main__":
    main()
