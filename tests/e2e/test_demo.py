"""The README's first command as a newcomer runs it: `make demo` in a shell with no AWS configuration.

No `AWS_*` variable, an empty `HOME` (no ~/.aws), a fresh state and output directory; only PATH is
kept (python3.11, node, make). The demo starts its own local stack, so this test uses no fixture.
"""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import pytest
from PIL import Image

from tests.newcomer import run_as_newcomer

pytestmark = pytest.mark.slow

DEMO_TIMEOUT_S = 540
EXPECTED_FILES = [  # every take, its timed lyrics, and the cover
    "cover.png",
    "song-take1.lrc",
    "song-take1.wav",
    "song-take2.lrc",
    "song-take2.wav",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    root = tmp_path_factory.mktemp("newcomer")
    home, out, state = root / "home", root / "out", root / "state"
    home.mkdir()
    command = ["make", "--no-print-directory", "demo", f"DEMO_ARGS=--out {out} --state-dir {state}"]
    run = run_as_newcomer(command, home, timeout_s=DEMO_TIMEOUT_S)
    return run, out, state


def test_make_demo_succeeds_with_no_aws_configuration(demo) -> None:
    run, out, state = demo
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-6000:]
    assert "Traceback" not in run.stdout + run.stderr
    assert sorted(p.name for p in out.iterdir()) == EXPECTED_FILES
    assert not (state / "stack.json").exists()  # the stack stopped cleanly


def test_the_files_are_what_the_summary_says(demo) -> None:
    run, out, _ = demo
    for name in EXPECTED_FILES:
        assert str((out / name).resolve()) in run.stdout, f"{name} is not named in the summary"
    for take in ("song-take1.wav", "song-take2.wav"):
        with wave.open(io.BytesIO((out / take).read_bytes())) as audio:  # 10 s, 48 kHz stereo
            assert (audio.getframerate(), audio.getnchannels(), audio.getnframes()) == (48000, 2, 480000)
    cover = Image.open(out / "cover.png")
    cover.verify()
    assert cover.format == "PNG"


def test_the_summary_is_short_readable_and_honest(demo) -> None:
    run, _, _ = demo
    # What the demo itself prints: a first run's `make` also shows its install and web-build steps.
    summary = run.stdout[run.stdout.index("starting the local stack") :]
    for expected in ('"Night Drive"', "description", "10.0 s, 2 takes", "acestep at 48000 Hz", "8 left"):
        assert expected in summary, expected
    assert "random weights" in summary and "noise" in summary  # what the tiny profile's output is
    assert 'make local LOCAL_ARGS="--model-dir' in summary  # and how to get real weights
    assert "X-Amz-Signature" not in summary  # no job JSON (presigned URLs) without --json
    assert "botocore" not in summary + run.stderr and " INFO " not in summary + run.stderr  # quiet logs
    assert len(summary.splitlines()) < 30
