"""Run the local stack as a child process and wait until it is ready (demo, e2e tests, benchmark).

The child is `python -m local up` on free ports with its own state directory, exactly what
`make local` runs; readiness is its stack.json (written last), and stopping is SIGTERM, like Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.paths import REPO_ROOT
from local.stack_file import path_in as stack_file_in


class StackStartError(RuntimeError):
    pass


def start_stack(
    state_dir: Path,
    extra_args: Sequence[str] = (),
    ready_timeout_s: float = 300.0,
    log_name: str = "stack.log",
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start `python -m local up` and wait until ready; returns the process and its stack.json."""
    state_dir.mkdir(parents=True, exist_ok=True)
    # A stale stack.json is the child's to replace (and a live one's to refuse), as with `make local`;
    # until the child writes its own (its pid in it), whatever is there is not this stack's.
    stack_file = stack_file_in(state_dir)
    log_path = state_dir / log_name
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "local", "up", "--state-dir", str(state_dir), *extra_args],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, container included (see stop)
        )
    try:
        return proc, _wait_ready(proc, stack_file, log_path, ready_timeout_s)
    except BaseException:
        stop(proc)
        raise


@contextmanager
def running_stack(
    state_dir: Path, extra_args: Sequence[str] = (), ready_timeout_s: float = 300.0
) -> Iterator[dict[str, Any]]:
    """Start the stack, yield the contents of its stack.json, stop it (and wait) on exit."""
    proc, info = start_stack(state_dir, extra_args, ready_timeout_s)
    try:
        yield info
    finally:
        stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], stack_file: Path, log_path: Path, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackStartError(f"the local stack exited with code {proc.returncode}:\n{_tail(log_path)}")
        if stack_file.exists():
            info = json.loads(stack_file.read_text())
            if info.get("pid") == proc.pid:
                return info
        time.sleep(0.2)
    raise StackStartError(f"the local stack was not ready after {timeout_s:.0f} s:\n{_tail(log_path)}")


def stop(proc: subprocess.Popen[bytes], grace_s: float = 30.0) -> int:
    """SIGTERM (an orderly shutdown); if that hangs, SIGKILL the whole group, container included."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
