"""`make demo`: the whole service end to end on this machine, then stop.

Starts the local stack, signs a user in through Cognito, asks for a 10 s song described in words
(two takes), follows it to `processed`, downloads every take and the cover through their presigned
URLs into ./out/, stops the stack and prints a short summary (`--json` adds the whole job). Needs
no AWS account or configuration. Exit 0 on success; 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local import account
from local.client import ApiError, SongClient, download, media_urls, song_id
from local.launcher import StackStartError, running_stack
from local.paths import DEFAULT_STATE_DIR, REPO_ROOT

SONG = {
    "mode": "description",
    "description": "an upbeat synth-pop song about a night drive along the coast",
    "duration_s": 10,
    "seed": 7,
    "variants": 2,
    "title": "Night Drive",
}
USER = "demo-user"
# The README's command for real weights (section "Local stack").
REAL_WEIGHTS = 'make local LOCAL_ARGS="--model-dir /path/to/weights"'


def run(out_dir: Path, state_dir: Path, timeout_s: float, *, verbose: bool, as_json: bool) -> None:
    say("starting the local stack (moto, Cognito, workflow, async endpoint, tiny models)...")
    with running_stack(state_dir, ["--verbose"] if verbose else []) as stack:
        client = SongClient.for_user(stack, USER)
        say(f"signed in as {USER}: {client.me()['available_credits']} credits")
        started = time.monotonic()
        job = client.create_song(SONG)
        takes, seconds = SONG["variants"], SONG["duration_s"]
        say(f"asked for {SONG['title']!r}, {takes} takes of {seconds} s: {job['status']}, rendering...")
        job = client.wait(song_id(job), timeout_s)
        if job["status"] != "processed":
            raise RuntimeError(f"the song ended {job['status']}: {job.get('error')}")
        took_s = time.monotonic() - started
        saved = save_media(job, out_dir)
        manifest = render_manifest(stack, song_id(job))
        credits = client.me()["credits"]
    if as_json:
        print(json.dumps(job, indent=2))
    print(summary(job, manifest, saved, credits, took_s, stack, state_dir))


def say(line: str) -> None:
    print(line, flush=True)


def render_manifest(stack: dict[str, Any], job_id: str) -> dict[str, Any]:
    """What rendered the song: the container's manifest (the async endpoint's output object)."""
    s3 = account.client("s3", stack["aws_endpoint_url"])
    body = s3.get_object(Bucket=stack["buckets"]["inference"], Key=f"async-output/{job_id}.out")["Body"]
    return dict(json.loads(body.read()))


def save_media(job: dict, out_dir: Path) -> list[Path]:
    urls = media_urls(job)
    if not urls:
        raise RuntimeError("the processed job has no media URLs")
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, url in urls.items():
        path = out_dir / name
        path.write_bytes(download(url))
        saved.append(path)
    return saved


def summary(
    job: dict[str, Any],
    manifest: dict[str, Any],
    saved: list[Path],
    credits: int,
    took_s: float,
    stack: dict[str, Any],
    state_dir: Path,
) -> str:
    request = job["request"]
    music = manifest.get("music") or {}
    takes = job.get("takes") or []
    seeds = ", ".join(str(take["seed"]) for take in takes)
    files = "\n".join(f"{'' if i == 0 else ' ' * 13}{_shown(path)}" for i, path in enumerate(saved))
    lines = [
        "",
        f'"{job.get("title") or "untitled"}": processed in {took_s:.1f} s (song {song_id(job)})',
        f"  mode       {job['mode']}: {request.get('description') or request.get('prompt') or ''}",
        f"  duration   {job.get('duration_s')} s, {len(takes)} take{'s' * (len(takes) != 1)} (seeds {seeds})",
        f"  engine     {manifest.get('engine')} at {manifest.get('sample_rate')} Hz, "
        f"{music.get('inference_steps')} steps",
        f"  saved      {files}",
        f"  credits    {credits} left (this song cost {job.get('price_credits')})",
        f"  logs       {_shown(state_dir / 'stack.log')}, {_shown(state_dir / 'logs' / 'container.log')}",
        "",
    ]
    if stack.get("model_profile") == "tiny":
        lines += [
            "The demo runs the tiny profile: small models with random weights, so the audio and cover are "
            "noise and the lyrics gibberish (by design); the pipeline, files and lengths are real.",
            f"Real weights: {REAL_WEIGHTS} (README, 'Local stack').",
        ]
    lines.append(
        "The local stack has stopped. To keep one running and try the web app: `make local`, then open "
        "the 'Web app' URL it prints."
    )
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """A path as short as it is unambiguous: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out", help="where the files go")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR / "demo")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the song")
    parser.add_argument("--json", action="store_true", help="also print the whole job as the API returns it")
    parser.add_argument("--verbose", action="store_true", help="INFO logs here and in the stack's log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        run(args.out, args.state_dir, args.timeout, verbose=args.verbose, as_json=args.json)
    except (
        StackStartError,
        ApiError,
        TimeoutError,
        RuntimeError,
        OSError,
        BotoCoreError,
        ClientError,
    ) as exc:
        print(f"make demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
