"""The documented start command, as the local stack runs it: a subprocess on a chosen port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CONTAINER_DIR, Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(CONTAINER_DIR), "MODEL_PROFILE": "tiny", **extra}
    return env


def test_serve_module_starts_loads_and_answers_ping() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "song_model.serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = client.call("GET", "/ping")
            except OSError:
                status = None  # not listening yet
            if status == 200:
                break
            time.sleep(0.3)
        assert status == 200, process.stdout.read().decode() if process.poll() is not None else "timeout"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_bad_setting_stops_the_server_at_start_up() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "song_model.serve", "--port", str(_free_port())],
        env=_env(MODEL_PROFILE="huge"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "MODEL_PROFILE='huge'" in result.stderr


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start listening")


def _serve_command(port: int) -> list[str]:
    # The image's start command: the `serve` script, which execs python (so python is the process).
    return [str(CONTAINER_DIR / "serve"), "--host", "127.0.0.1", "--port", str(port)]


def _serve_env() -> dict[str, str]:
    # `serve` runs `python3` from PATH (the image's venv); here: this interpreter's environment.
    bin_dir = os.path.dirname(sys.executable)
    return _env(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def _child_pid(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _stops_on_sigterm(command: list[str], port: int, target: Callable[[int], int] = lambda pid: pid) -> str:
    # The tiny profile loads in the background while we signal: the realistic case (SageMaker
    # may stop a container at any time).
    process = subprocess.Popen(command, env=_serve_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(port, process)
        os.kill(target(process.pid), signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.stdout.read().decode()


def test_serve_stops_cleanly_on_sigterm() -> None:
    port = _free_port()
    output = _stops_on_sigterm(_serve_command(port), port)
    assert "received SIGTERM; stopping" in output and "stopped" in output


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for a PID namespace"
)
def test_serve_stops_on_sigterm_as_pid_1() -> None:
    """As in the container: `serve` is PID 1 of its own PID namespace. unshare forks it as PID 1;
    we signal that process from outside, as the container runtime does: the kernel delivers a
    signal to a namespace's init only if it has a handler for it, and unshare exits with it."""
    port = _free_port()
    command = ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--", *_serve_command(port)]
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--", "sh", "-c", "echo $$"], capture_output=True, text=True
    )
    if probe.returncode != 0 or probe.stdout.strip() != "1":
        pytest.skip("PID namespaces are not available here")
    output = _stops_on_sigterm(command, port, target=_child_pid)
    assert "received SIGTERM; stopping" in output
