"""A stack.json left by a killed stack: every local tool says so in one line, `local up` replaces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.__main__ import main
from local.paths import REPO_ROOT
from local.stack_file import StackAlreadyRunning, clear_stale, process_command_line, read_stack

# Every tool that reads stack.json, as a user types it, given the stack's state directory.
TOOLS = {
    "token": lambda state: ["-m", "local", "token", "alice", "--state-dir", str(state)],
    "ops": lambda state: ["-m", "ops", "--local", "--stack-file", str(state / "stack.json"), "show", "alice"],
    "ops smoke": lambda state: ["-m", "ops", "--local", "--stack-file", str(state / "stack.json"), "smoke"],
}


def _gone_pid() -> int:
    """The id of a process that has ended and been reaped, as after a SIGKILL."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_stack(state_dir: Path, pid: int, **extra: object) -> Path:
    path = state_dir / "stack.json"
    closed = "http://127.0.0.1:9"  # the discard port: nothing answers there
    info = {
        "pid": pid,
        "api_url": f"{closed}/v1",
        "aws_endpoint_url": closed,
        "cognito": {"endpoint_url": closed, "user_pool_id": "us-east-1_x", "client_id": "x"},
        "tables": {"jobs": "jobs", "users": "users"},
        **extra,
    }
    path.write_text(json.dumps(info))
    return path


def _run_tool(tool: str, state_dir: Path, home: Path) -> subprocess.CompletedProcess[str]:
    # A newcomer's shell: no AWS configuration at all.
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    command = [sys.executable, *TOOLS[tool](state_dir)]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def _one_readable_line(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_a_stack_file_left_by_a_killed_stack_is_reported_in_one_line(tool, tmp_path) -> None:
    pid = _gone_pid()
    _write_stack(tmp_path, pid)

    line = _one_readable_line(_run_tool(tool, tmp_path, tmp_path))

    assert f"process {pid} is gone" in line
    assert f"python -m local up --state-dir {tmp_path}" in line  # what to do


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_no_stack_file_is_reported_in_one_line(tool, tmp_path) -> None:
    line = _one_readable_line(_run_tool(tool, tmp_path, tmp_path))
    assert "no local stack is running" in line and "python -m local up" in line


def test_the_default_state_directory_points_at_make_local(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("local.stack_file.DEFAULT_STATE_DIR", tmp_path)
    _write_stack(tmp_path, _gone_pid())
    with pytest.raises(RuntimeError, match="start it again with `make local`, which replaces the file"):
        read_stack(tmp_path)


def test_a_live_stack_is_read(tmp_path) -> None:
    _write_stack(tmp_path, os.getpid())
    assert read_stack(tmp_path)["pid"] == os.getpid()


def test_local_up_removes_a_stale_file_and_refuses_a_live_one(tmp_path, capsys) -> None:
    stale = _write_stack(tmp_path, _gone_pid())
    assert "removed a stale" in (clear_stale(tmp_path) or "")
    assert not stale.exists()
    assert clear_stale(tmp_path) is None

    live = _write_stack(tmp_path, os.getpid())
    with pytest.raises(StackAlreadyRunning):
        clear_stale(tmp_path)
    assert main(["up", "--state-dir", str(tmp_path)]) == 1  # refused before anything starts
    assert "already running" in capsys.readouterr().err
    assert live.exists()


def _fake_server(port: int) -> subprocess.Popen[bytes]:
    """A process whose command line reads like the container's model server on `port`."""
    code = "import time; time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, "song_model.serve", "--port", str(port)])
    deadline = time.monotonic() + 10
    while "song_model.serve" not in process_command_line(
        proc.pid
    ):  # until exec has replaced the forked child
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def test_replacing_a_stale_file_stops_the_container_that_outlived_its_stack(tmp_path) -> None:
    orphan, stranger = _fake_server(38815), _fake_server(40000)
    try:
        for proc in (orphan, stranger):
            _write_stack(
                tmp_path, _gone_pid(), container_pid=proc.pid, container_url="http://127.0.0.1:38815"
            )
            message = clear_stale(tmp_path) or ""
            if proc is orphan:
                assert f"stopped its container (process {orphan.pid})" in message
                assert orphan.wait(timeout=10) != 0  # ended by SIGTERM
            else:  # the id now names a process that is not that container: left alone
                assert "stopped" not in message
                assert stranger.poll() is None
    finally:
        for proc in (orphan, stranger):
            proc.kill()
            proc.wait()
