"""`python -m ops smoke` against the session's local stack: a passing run, and a run whose song the
container rejects (the stack's fault injection) reported as a failed stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops.__main__ import main

from .conftest import FAILURE_MARKER

STAGES = ("sign in", "credits", "submit", "queue", "generate", "publish", "download", "charge")


def smoke(stack: dict[str, Any], tmp_path: Path, *extra: str) -> int:
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps(stack))
    return main(["--local", "--stack-file", str(stack_file), "smoke", "--inference-steps", "2", *extra])


def test_a_song_goes_through_every_stage(stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke(stack, tmp_path, "--timeout", "180") == 0
    lines = capsys.readouterr().out.splitlines()
    passed = [line[8:17].strip() for line in lines if line.startswith("  ok    ")]  # the name column
    assert passed == list(STAGES)
    assert "song.wav" in next(line for line in lines if "download" in line)
    assert "charged 1 credit(s), once" in next(line for line in lines if line.startswith("  ok    charge"))
    assert lines[-1].startswith("smoke test passed in ")


def test_a_rejected_song_fails_its_stage_with_the_reason(
    stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smoke(stack, tmp_path, "--description", f"a calm song {FAILURE_MARKER}", "--timeout", "180") == 1
    out = capsys.readouterr().out
    assert 'smoke test FAILED at "generate": the song ended failed: ' in out
    assert "  look at: the endpoint's events and logs" in out
    assert "stage times: sign in" in out
