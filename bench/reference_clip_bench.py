"""How long POST /personas spends cutting a reference clip (lambdas/api/services/reference_clip.py):
seek to `start_s` in a source and encode up to 30 s as WAV, for the longest sources the API takes.

The download from S3 is not measured (it depends on the network: within a region, tens of MB
take well under a second at Lambda's throughput). Usage:

    .venv/bin/python -m bench.reference_clip_bench --minutes 10 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lambdas.api.services import reference_clip

RATE = 48_000
FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "mp3": ("MP3", None)}


def write_source(path: Path, fmt: str, minutes: float) -> None:
    """A stereo tone of `minutes`, written block by block (memory stays small)."""
    container, subtype = FORMATS[fmt]
    block = RATE * 10
    with sf.SoundFile(str(path), "w", RATE, 2, subtype=subtype, format=container) as out:
        for start in range(0, int(minutes * 60 * RATE), block):
            t = (start + np.arange(block)) / RATE
            tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
            out.write(np.stack([tone, 0.8 * tone], axis=1).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each source")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start_s = max(0.0, args.minutes * 60 - 40)  # near the end: the longest seek
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            path = Path(folder) / f"source.{fmt}"
            write_source(path, fmt, args.minutes)
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                clip = reference_clip.cut(path, start_s)
                times.append(time.perf_counter() - began)
            size_mb = path.stat().st_size / 1e6
            print(
                f"{fmt:4s} source {args.minutes:g} min ({size_mb:.1f} MB), clip from {start_s:g} s: "
                f"{clip.duration_s:g} s, {len(clip.wav) / 1e6:.1f} MB WAV; "
                f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
            )


if __name__ == "__main__":
    main()
