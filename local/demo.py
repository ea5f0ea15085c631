"""`make demo`: the whole service end to end on this machine, then stop.

Starts the local stack, signs a user in through Cognito, asks for a 10 s song described in words,
follows it to `processed`, downloads the audio and the cover through their presigned URLs into
./out/, prints the job, and stops the stack. Exit 0 on success; 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from local.client import ApiError, SongClient, download, media_urls, song_id
from local.launcher import StackStartError, running_stack
from local.paths import DEFAULT_STATE_DIR, REPO_ROOT

SONG = {
    "mode": "description",
    "description": "an upbeat synth-pop song about a night drive along the coast",
    "duration_s": 10,
    "seed": 7,
    "title": "Night Drive",
}


def run(out_dir: Path, state_dir: Path, timeout_s: float) -> None:
    print("starting the local stack (moto, Cognito, workflow, async endpoint, tiny models)...", flush=True)
    with running_stack(state_dir) as stack:
        print(f"API at {stack['api_url']}", flush=True)
        client = SongClient.for_user(stack, "demo-user")
        print(f"signed in as demo-user; {client.me()}", flush=True)
        started = time.monotonic()
        job = client.create_song(SONG)
        print(f"submitted song {song_id(job)}: {job['status']}", flush=True)
        job = client.wait(song_id(job), timeout_s)
        if job["status"] != "processed":
            raise RuntimeError(f"the song failed: {job.get('error')}")
        print(f"processed in {time.monotonic() - started:.1f} s", flush=True)
        saved = save_media(job, out_dir)
        print(json.dumps(job, indent=2))
        print(engine_summary(stack, song_id(job)), flush=True)
        for path in saved:
            print(f"saved {path}")
        print(f"credits left: {client.me()['credits']}")
    print("local stack stopped")


def engine_summary(stack: dict, job_id: str) -> str:
    """What rendered the song, from the container's manifest (the async endpoint's output object)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=stack["aws_endpoint_url"])
    body = s3.get_object(Bucket=stack["buckets"]["inference"], Key=f"async-output/{job_id}.out")["Body"]
    manifest = json.loads(body.read())
    music = manifest.get("music", {})
    return (
        f"engine: {manifest['engine']} at {manifest['sample_rate']} Hz, "
        f"{music.get('inference_steps')} steps, guidance {music.get('guidance_scale')}"
    )


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR / "demo")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the song")
    args = parser.parse_args(argv)
    try:
        run(args.out, args.state_dir, args.timeout)
    except (StackStartError, ApiError, TimeoutError, RuntimeError, OSError) as exc:
        print(f"make demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
