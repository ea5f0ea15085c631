"""Running a command as a newcomer's shell would: the README's commands (tests/e2e/test_demo.py)
and the benchmarks' (tests/bench/) must work with no AWS configuration."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from local.paths import REPO_ROOT


def run_as_newcomer(
    command: list[str], home: Path, timeout_s: int, **env: str
) -> subprocess.CompletedProcess[str]:
    """`command` from the repository root with only PATH, HOME and `env` set (no AWS_*, no
    ~/.aws: what `env -i PATH="$PATH" HOME=...` leaves); its time is printed, never judged."""
    started = time.monotonic()
    run = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    print(f"{' '.join(command[:4])}: {time.monotonic() - started:.1f} s\n{run.stdout[-3000:]}")
    return run
