"""Workflow benchmark (moto): state transitions, Lambda invocations and AWS API calls per song,
and the orchestration overhead (workflow time minus inference time).

    .venv/bin/python -m bench.workflow_bench [--songs 20] [--inference-s 0.5] [--queued 3]

The real ASL runs in moto's engine with the real handlers in-process; a fake endpoint answers
each invocation after --inference-s. Overhead measured here is moto's and this machine's, not
AWS's: it shows what the orchestration adds, not what it costs on AWS (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(
    {
        "POWERTOOLS_SERVICE_NAME": "song-service",
        "POWERTOOLS_METRICS_NAMESPACE": "SongService",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",  # keep stdout for the report
    }
)

import boto3

from local import account, lambda_routing
from local.workflow_sandbox import Workflow, sandbox


@dataclass
class Counters:
    api_calls: Counter = field(default_factory=Counter)
    invocations: Counter = field(default_factory=Counter)
    invocation_s: Counter = field(default_factory=Counter)

    def count_call(self, model: Any, **_: Any) -> None:
        # The main thread plays the API and the test driver (user and job rows, StartExecution,
        # polling); the workflow, its functions and the fake endpoint run in other threads.
        if threading.current_thread() is not threading.main_thread():
            self.api_calls[f"{model.service_model.service_name}:{model.name}"] += 1


def _instrument(counters: Counters) -> None:
    """Count every boto3 API call (handlers and the ASL engine) and every Lambda invocation."""
    boto3.DEFAULT_SESSION.events.register("before-call", counters.count_call)
    original = lambda_routing.invoke_handler

    def timed(handler: Any, function_name: str, payload: Any) -> tuple[bytes, bool]:
        start = time.perf_counter()
        try:
            return original(handler, function_name, payload)
        finally:
            counters.invocations[function_name] += 1
            counters.invocation_s[function_name] += time.perf_counter() - start

    lambda_routing.invoke_handler = timed


def _run(
    flow: Workflow, users: list[str], songs_per_user: int, inference_s: float, *, one_at_a_time: bool
) -> dict[str, Any]:
    flow.endpoint.auto_delay_s = inference_s
    for user in users:
        flow.user(user, credits=1000)
    jobs = []
    for _ in range(songs_per_user):
        for user in users:
            jobs.append(flow.submit(user))
            if one_at_a_time:
                flow.wait(jobs[-1].job_id, timeout_s=120)
    durations = []
    transitions = []
    history_bytes = []
    for job in jobs:
        described = flow.wait(job.job_id, timeout_s=120)
        assert described["status"] == "SUCCEEDED", described
        durations.append((described["stopDate"] - described["startDate"]).total_seconds())
        events = flow.history(job.job_id)
        transitions.append(sum(1 for e in events if e["type"].endswith("StateEntered")))
        history_bytes.append(len(json.dumps(events, default=str)))
    return {
        "jobs": len(jobs),
        "durations": durations,
        "transitions": transitions,
        "history_bytes": history_bytes,
    }


def _per_song(counter: Counter, songs: int) -> dict[str, float]:
    return {key: round(value / songs, 2) for key, value in sorted(counter.items())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10, help="songs of distinct users, one after another")
    parser.add_argument("--inference-s", type=float, default=0.5, help="fake inference time per song")
    parser.add_argument("--queued", type=int, default=3, help="songs of one user, run one at a time")
    args = parser.parse_args(argv)
    account.use_local_identity(os.environ)  # moto in-process: fake credentials, none of the user's

    counters = Counters()
    with sandbox(os.environ.__setitem__) as flow:
        _instrument(counters)
        flow.endpoint.callback_responses.clear()
        sequential = _run(
            flow, [f"user-{i}" for i in range(args.songs)], 1, args.inference_s, one_at_a_time=True
        )
        songs = sequential["jobs"]
        calls, invocations, invocation_s = (
            Counter(counters.api_calls),
            Counter(counters.invocations),
            Counter(counters.invocation_s),
        )
        callbacks = len(flow.endpoint.callback_responses)
        inference_mean = flow.endpoint.inference_seconds / songs
        queued = _run(flow, ["queue-user"], args.queued, args.inference_s, one_at_a_time=False)

    # Inference time is measured per invocation by the fake endpoint (invocation -> notification).
    overhead = [d - inference_mean for d in sequential["durations"]]
    report = {
        "songs": songs,
        "inference_s_per_song": round(inference_mean, 3),
        "state_transitions_per_song": statistics.mean(sequential["transitions"]),
        "lambda_invocations_per_song": {
            **_per_song(invocations, songs),
            "inference-callback (SQS batch of 1)": round(callbacks / songs, 2),
        },
        "lambda_seconds_per_invocation_in_process": {
            name: round(invocation_s[name] / invocations[name], 4) for name in sorted(invocations)
        },
        "api_calls_per_song (workflow, functions, endpoint side)": _per_song(calls, songs),
        "workflow_s": {"mean": round(statistics.mean(sequential["durations"]), 3)},
        "orchestration_overhead_s": {
            "mean": round(statistics.mean(overhead), 3),
            "p50": round(statistics.median(overhead), 3),
            "max": round(max(overhead), 3),
        },
        "history_bytes_per_song": int(statistics.mean(sequential["history_bytes"])),
        "queued_user": {
            "songs": queued["jobs"],
            "state_transitions_per_song": [int(t) for t in queued["transitions"]],
            "workflow_s": [round(d, 2) for d in queued["durations"]],
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
