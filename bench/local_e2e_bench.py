"""Local stack benchmark: POST /songs -> `processed` for a 10 s song with the tiny profile.

Reports, per run and as medians: the total seen by the client, the container's own time (the
manifest's `timings.total_s`, stored on the job row), and the rest: orchestration (API, workflow,
queueing, the async endpoint, SNS/SQS, the callback, publish and charge, plus the client's polling
granularity). Run: `.venv/bin/python -m bench.local_e2e_bench [--runs N] [--warmup N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from local import account
from local.client import SongClient, song_id
from local.launcher import running_stack

SONG = {
    "mode": "description",
    "description": "a bright ukulele tune",
    "duration_s": 10,
    "inference_steps": 2,
}
POLL_S = 0.1


def container_seconds(stack: dict, job_id: str) -> float:
    """The manifest's timings.total_s, from the job row (moto's DynamoDB)."""
    dynamodb = account.client("dynamodb", stack["aws_endpoint_url"])
    item = dynamodb.get_item(TableName=stack["tables"]["jobs"], Key={"job_id": {"S": job_id}})["Item"]
    return float(item["result"]["M"]["timings"]["M"]["total_s"]["N"])


def one_run(stack: dict, client: SongClient, seed: int) -> tuple[float, float]:
    started = time.perf_counter()
    job = client.create_song({**SONG, "seed": seed})
    done = client.wait(song_id(job), timeout_s=300, poll_s=POLL_S)
    total = time.perf_counter() - started
    if done["status"] != "processed":
        raise RuntimeError(f"run failed: {done.get('error')}")
    return total, container_seconds(stack, song_id(done))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured songs first (imports, lazy clients)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with running_stack(Path(tmp)) as stack:
            startup = time.perf_counter() - t0
            client = SongClient.for_user(stack, "bench-user")
            for seed in range(args.warmup):
                one_run(stack, client, seed=seed)
            rows = [one_run(stack, client, seed=args.warmup + i) for i in range(args.runs)]
    print(f"machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}")
    print(f"stack start-up (moto, resources, tiny models loaded): {startup:.1f} s")
    print("run  total_s  container_s  orchestration_s  share")
    for i, (total, model) in enumerate(rows, 1):
        print(f"{i:>3}  {total:7.2f}  {model:11.2f}  {total - model:15.2f}  {(total - model) / total:5.1%}")
    total = statistics.median(r[0] for r in rows)
    model = statistics.median(r[1] for r in rows)
    orch = statistics.median(r[0] - r[1] for r in rows)
    print(f"median  {total:6.2f}  {model:11.2f}  {orch:15.2f}  {orch / total:5.1%}")


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
