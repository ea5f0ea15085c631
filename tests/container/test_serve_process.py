"""The documented start command, as the local stack runs it: a subprocess on a chosen port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

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
